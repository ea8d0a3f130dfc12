//! `CommandComplete`: its tag tells which command finished ("SET", "ROLLBACK", "SELECT 3").

use crate::protocol::cursor::Cursor;

/// The command tag, without its terminator. Empty when malformed (the frame is relayed anyway).
pub fn tag(body: &[u8]) -> &[u8] {
    Cursor::new(body, "CommandComplete").cstr().unwrap_or_default()
}
