//! `Query` (simple protocol): one string that may hold several statements.

use bytes::Bytes;

use crate::protocol::cursor::Cursor;
use crate::protocol::ProtocolError;

/// The SQL text of a simple Query, borrowed from its frame.
#[derive(Debug, Clone)]
pub struct Query {
    pub sql: Bytes,
}

impl Query {
    /// The SQL text read in place.
    pub fn read(body: &[u8]) -> Result<&[u8], ProtocolError> {
        Cursor::new(body, "Query").cstr()
    }

    pub fn parse(body: &Bytes) -> Result<Self, ProtocolError> {
        Ok(Self { sql: Cursor::share(body, Self::read(body)?) })
    }
}
