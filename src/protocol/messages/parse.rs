//! `Parse`: creates a prepared statement. Named statements are renamed by the proxy in
//! transaction pooling (see `frontend::prepared`).

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::cursor::Cursor;
use crate::protocol::ProtocolError;

#[derive(Debug, Clone)]
pub struct Parse {
    pub name: Bytes,
    pub sql: Bytes,
    /// The parameter type OIDs exactly as sent (count + OIDs), reused verbatim.
    pub param_types: Bytes,
}

impl Parse {
    // Every message view is built by `parse`; the message is also called Parse.
    #[allow(clippy::self_named_constructors)]
    pub fn parse(body: &Bytes) -> Result<Self, ProtocolError> {
        let mut c = Cursor::new(body, "Parse");
        let name = c.cstr()?;
        let sql = c.cstr()?;
        let rest = c.remaining();
        let mut t = Cursor::new(rest, "Parse");
        let n = t.i16()?;
        if n < 0 {
            return Err(ProtocolError::malformed("Parse", "negative parameter count"));
        }
        t.take(4 * n as usize)?;
        if !t.is_empty() {
            return Err(ProtocolError::malformed("Parse", "trailing bytes"));
        }
        Ok(Self {
            name: Cursor::share(body, name),
            sql: Cursor::share(body, sql),
            param_types: Cursor::share(body, rest),
        })
    }

    /// The declared parameter type OIDs (0 = unspecified).
    pub fn type_oids(&self) -> Vec<u32> {
        let mut c = Cursor::new(&self.param_types, "Parse");
        let n = c.i16().unwrap_or(0).max(0) as usize;
        (0..n).map_while(|_| c.u32().ok()).collect()
    }

    /// Writes this Parse under another statement name.
    pub fn write_renamed(&self, name: &str, out: &mut BytesMut) {
        let len = 4 + name.len() + 1 + self.sql.len() + 1 + self.param_types.len();
        out.reserve(1 + len);
        out.put_u8(b'P');
        out.put_u32(len as u32);
        out.put_slice(name.as_bytes());
        out.put_u8(0);
        out.put_slice(&self.sql);
        out.put_u8(0);
        out.put_slice(&self.param_types);
    }
}
