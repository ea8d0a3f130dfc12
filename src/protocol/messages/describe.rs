//! `Describe`: of a statement ('S') or a portal ('P').

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::cursor::Cursor;
use crate::protocol::ProtocolError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Statement,
    Portal,
}

impl Target {
    fn from_byte(b: u8, what: &'static str) -> Result<Self, ProtocolError> {
        match b {
            b'S' => Ok(Self::Statement),
            b'P' => Ok(Self::Portal),
            _ => Err(ProtocolError::malformed(what, "target is neither 'S' nor 'P'")),
        }
    }

    pub fn byte(self) -> u8 {
        match self {
            Self::Statement => b'S',
            Self::Portal => b'P',
        }
    }
}

/// Describe and Close share one layout: a target byte and a name.
#[derive(Debug, Clone)]
pub struct TargetName {
    pub target: Target,
    pub name: Bytes,
}

/// A Describe or Close read in place: the client loop needs only the target and name, and
/// forwards the message as it came.
#[derive(Debug, Clone, Copy)]
pub struct TargetView<'a> {
    pub target: Target,
    pub name: &'a [u8],
}

impl<'a> TargetView<'a> {
    /// Reads and checks a Describe or Close body exactly as [`TargetName::parse`] does.
    pub fn read(body: &'a [u8], what: &'static str) -> Result<Self, ProtocolError> {
        let mut c = Cursor::new(body, what);
        let target = Target::from_byte(c.u8()?, what)?;
        let name = c.cstr()?;
        if !c.is_empty() {
            return Err(ProtocolError::malformed(what, "trailing bytes"));
        }
        Ok(Self { target, name })
    }
}

impl TargetName {
    pub fn parse(body: &Bytes, what: &'static str) -> Result<Self, ProtocolError> {
        let v = TargetView::read(body, what)?;
        Ok(Self { target: v.target, name: Cursor::share(body, v.name) })
    }

    pub fn write(tag: u8, target: Target, name: &str, out: &mut BytesMut) {
        out.put_u8(tag);
        out.put_u32((4 + 1 + name.len() + 1) as u32);
        out.put_u8(target.byte());
        out.put_slice(name.as_bytes());
        out.put_u8(0);
    }
}

pub type Describe = TargetName;

pub fn parse(body: &Bytes) -> Result<Describe, ProtocolError> {
    TargetName::parse(body, "Describe")
}

/// A Describe read in place.
pub fn read(body: &[u8]) -> Result<TargetView<'_>, ProtocolError> {
    TargetView::read(body, "Describe")
}
