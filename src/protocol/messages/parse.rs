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

/// A Parse read in place: the pooler's path forwards the message as it came and needs only
/// its statement name and SQL, so it takes no references to the client's buffer.
#[derive(Debug, Clone, Copy)]
pub struct ParseView<'a> {
    pub name: &'a [u8],
    pub sql: &'a [u8],
    pub param_types: &'a [u8],
}

impl<'a> ParseView<'a> {
    /// Reads and checks a Parse body exactly as [`Parse::parse`] does.
    pub fn read(body: &'a [u8]) -> Result<Self, ProtocolError> {
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
        Ok(Self { name, sql, param_types: rest })
    }
}

impl Parse {
    // Every message view is built by `parse`; the message is also called Parse.
    #[allow(clippy::self_named_constructors)]
    pub fn parse(body: &Bytes) -> Result<Self, ProtocolError> {
        let v = ParseView::read(body)?;
        Ok(Self {
            name: Cursor::share(body, v.name),
            sql: Cursor::share(body, v.sql),
            param_types: Cursor::share(body, v.param_types),
        })
    }

    /// The declared parameter type OIDs (0 = unspecified). Inline up to four: read for every
    /// routed Bind.
    pub fn type_oids(&self) -> smallvec::SmallVec<[u32; 4]> {
        let mut c = Cursor::new(&self.param_types, "Parse");
        let n = c.i16().unwrap_or(0).max(0) as usize;
        (0..n).map_while(|_| c.u32().ok()).collect()
    }

    /// Whether `view` is this same statement: name, text and parameter types.
    pub fn is(&self, view: &ParseView<'_>) -> bool {
        self.name[..] == *view.name && self.sql[..] == *view.sql && self.param_types[..] == *view.param_types
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
