//! `ReadyForQuery`: the server's transaction status after each cycle.

use crate::protocol::ProtocolError;

/// Transaction status as reported in ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    Idle,
    InTransaction,
    Failed,
}

impl TxStatus {
    pub fn from_body(body: &[u8]) -> Result<Self, ProtocolError> {
        match body {
            [b'I'] => Ok(Self::Idle),
            [b'T'] => Ok(Self::InTransaction),
            [b'E'] => Ok(Self::Failed),
            _ => Err(ProtocolError::malformed("ReadyForQuery", "unknown status")),
        }
    }

    pub fn byte(self) -> u8 {
        match self {
            Self::Idle => b'I',
            Self::InTransaction => b'T',
            Self::Failed => b'E',
        }
    }
}
