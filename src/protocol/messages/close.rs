//! `Close`: of a statement ('S') or a portal ('P'). Same layout as Describe.

use bytes::Bytes;

use super::describe::TargetName;
use crate::protocol::ProtocolError;

pub type Close = TargetName;

pub fn parse(body: &Bytes) -> Result<Close, ProtocolError> {
    TargetName::parse(body, "Close")
}
