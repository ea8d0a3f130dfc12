//! Errors found while reading peer bytes. Each is the peer's fault (malformed input).

/// A malformed or oversized message. Every variant is a protocol violation (SQLSTATE 08P01).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("invalid length {len} in message of type {tag:?}")]
    BadLength { tag: char, len: u32 },
    #[error("message of type {tag:?} is {len} bytes, over the maximum of {max}")]
    TooLarge { tag: char, len: u32, max: u32 },
    #[error("invalid startup packet length {len}")]
    BadStartupLength { len: u32 },
    #[error("unsupported frontend protocol {major}.{minor}")]
    UnsupportedVersion { major: u16, minor: u16 },
    #[error("malformed {what} message: {reason}")]
    Malformed { what: &'static str, reason: &'static str },
    #[error("unexpected message type {tag:?} {during}")]
    Unexpected { tag: char, during: &'static str },
}

impl ProtocolError {
    pub fn malformed(what: &'static str, reason: &'static str) -> Self {
        Self::Malformed { what, reason }
    }
}
