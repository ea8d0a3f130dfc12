//! `Bind`: creates a portal from a statement and parameter values. We only read the names;
//! the formats and values after them are forwarded as one untouched slice.

use bytes::{BufMut, BytesMut};
use smallvec::SmallVec;

use crate::protocol::cursor::Cursor;
use crate::protocol::ProtocolError;

/// A Bind's names read in place, the rest checked: what the proxy needs to forward a Bind
/// as it came, or renamed, without taking references to the client's buffer.
#[derive(Debug, Clone, Copy)]
pub struct BindNames<'a> {
    pub portal: &'a [u8],
    pub statement: &'a [u8],
    rest: &'a [u8],
}

impl<'a> BindNames<'a> {
    /// Reads and checks a Bind body: a malformed one is refused here rather than by the
    /// server after the proxy has rewritten it.
    pub fn read(body: &'a [u8]) -> Result<Self, ProtocolError> {
        let mut c = Cursor::new(body, "Bind");
        let portal = c.cstr()?;
        let statement = c.cstr()?;
        let rest = c.remaining();
        validate_rest(rest)?;
        Ok(Self { portal, statement, rest })
    }

    /// Parameter formats, values and result formats, as sent.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Writes this Bind naming another statement.
    pub fn write_renamed(&self, statement: &str, out: &mut BytesMut) {
        let len = 4 + self.portal.len() + 1 + statement.len() + 1 + self.rest.len();
        out.reserve(1 + len);
        out.put_u8(b'B');
        out.put_u32(len as u32);
        out.put_slice(self.portal);
        out.put_u8(0);
        out.put_slice(statement.as_bytes());
        out.put_u8(0);
        out.put_slice(self.rest);
    }
}

/// The parameter formats and values of a Bind, borrowed from its body; read only when a
/// statement must be routed by its parameters. Inline up to four of each: read for every
/// routed Bind, and two heap allocations per Bind were ~200 instructions of the routed path.
#[derive(Debug, Default)]
pub struct BindValues<'a> {
    pub formats: SmallVec<[i16; 4]>,
    pub values: SmallVec<[Option<&'a [u8]>; 4]>,
    /// Result column format codes: none = all text, one = for every column, else per column.
    pub results: SmallVec<[i16; 4]>,
}

impl<'a> BindNames<'a> {
    pub fn values(&self) -> Result<BindValues<'a>, ProtocolError> {
        let mut c = Cursor::new(self.rest, "Bind");
        let nformats = c.i16()?.max(0) as usize;
        let mut formats = SmallVec::with_capacity(nformats);
        for _ in 0..nformats {
            formats.push(c.i16()?);
        }
        let nvalues = c.i16()?.max(0) as usize;
        let mut values = SmallVec::with_capacity(nvalues);
        for _ in 0..nvalues {
            values.push(c.value()?);
        }
        let nresults = c.i16()?.max(0) as usize;
        let mut results = SmallVec::with_capacity(nresults);
        for _ in 0..nresults {
            results.push(c.i16()?);
        }
        Ok(BindValues { formats, values, results })
    }
}

/// Checks the formats/values/result-formats part is well formed, so a malformed Bind is
/// refused here rather than by the server after we have rewritten it.
fn validate_rest(rest: &[u8]) -> Result<(), ProtocolError> {
    let mut c = Cursor::new(rest, "Bind");
    let nformats = c.i16()?;
    if nformats < 0 {
        return Err(ProtocolError::malformed("Bind", "negative format count"));
    }
    c.take(2 * nformats as usize)?;
    let nvalues = c.i16()?;
    if nvalues < 0 {
        return Err(ProtocolError::malformed("Bind", "negative parameter count"));
    }
    for _ in 0..nvalues {
        c.value()?;
    }
    let nresults = c.i16()?;
    if nresults < 0 {
        return Err(ProtocolError::malformed("Bind", "negative result format count"));
    }
    c.take(2 * nresults as usize)?;
    if !c.is_empty() {
        return Err(ProtocolError::malformed("Bind", "trailing bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"p1\0s1\0\0\0\0\x01\0\0\0\x0242\0\0";

    #[test]
    fn renaming_keeps_values() {
        let b = BindNames::read(BODY).unwrap();
        assert_eq!((b.portal, b.statement), (&b"p1"[..], &b"s1"[..]));
        let mut out = BytesMut::new();
        b.write_renamed("sg_x", &mut out);
        let again = BindNames::read(&out[5..]).unwrap();
        assert_eq!((again.portal, again.statement), (&b"p1"[..], &b"sg_x"[..]));
        assert_eq!(again.rest(), b.rest());
    }

    #[test]
    fn truncated_binds_are_errors() {
        for cut in 0..BODY.len() {
            assert!(BindNames::read(&BODY[..cut]).is_err(), "cut {cut}");
        }
    }
}
