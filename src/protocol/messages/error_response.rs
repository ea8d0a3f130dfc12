//! `ErrorResponse` / `NoticeResponse` fields, read when the proxy must act on a server error
//! (login failures are passed on with the server's own SQLSTATE and message).

use crate::protocol::cursor::Cursor;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorFields {
    pub severity: String,
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl ErrorFields {
    /// Reads the fields it knows; a malformed message yields what was read so far.
    pub fn parse(body: &[u8]) -> Self {
        let mut out = Self::default();
        let mut c = Cursor::new(body, "ErrorResponse");
        while let Ok(kind) = c.u8() {
            if kind == 0 {
                break;
            }
            let Ok(v) = c.cstr() else { break };
            let v = String::from_utf8_lossy(v).into_owned();
            match kind {
                b'V' => out.severity = v,
                b'S' if out.severity.is_empty() => out.severity = v,
                b'C' => out.code = v,
                b'M' => out.message = v,
                b'D' => out.detail = Some(v),
                b'H' => out.hint = Some(v),
                _ => {}
            }
        }
        out
    }
}
