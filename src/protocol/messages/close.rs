//! `Close`: of a statement ('S') or a portal ('P'). Same layout as Describe.

use bytes::Bytes;

use super::describe::{TargetName, TargetView};
use crate::protocol::ProtocolError;

pub type Close = TargetName;

pub fn parse(body: &Bytes) -> Result<Close, ProtocolError> {
    TargetName::parse(body, "Close")
}

/// A Close read in place.
pub fn read(body: &[u8]) -> Result<TargetView<'_>, ProtocolError> {
    TargetView::read(body, "Close")
}
