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
    pub fn parse(body: &Bytes) -> Result<Self, ProtocolError> {
        let mut c = Cursor::new(body, "Query");
        let sql = c.cstr()?;
        Ok(Self { sql: Cursor::share(body, sql) })
    }
}
