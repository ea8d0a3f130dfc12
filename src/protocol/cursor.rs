//! A checked reader over a message body. Every accessor returns `Err` instead of panicking.

use bytes::Bytes;

use super::ProtocolError;

pub struct Cursor<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, what }
    }

    fn short(&self) -> ProtocolError {
        ProtocolError::malformed(self.what, "message too short")
    }

    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn u8(&mut self) -> Result<u8, ProtocolError> {
        let (&b, rest) = self.buf.split_first().ok_or_else(|| self.short())?;
        self.buf = rest;
        Ok(b)
    }

    pub fn i16(&mut self) -> Result<i16, ProtocolError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0)]))
    }

    pub fn i32(&mut self) -> Result<i32, ProtocolError> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(i32::from_be_bytes(a))
    }

    pub fn u32(&mut self) -> Result<u32, ProtocolError> {
        Ok(self.i32()? as u32)
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if self.buf.len() < n {
            return Err(self.short());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// A NUL-terminated string, returned without its terminator. Names of statements and
    /// portals are mostly empty (five per extended-protocol transaction from most drivers):
    /// those are decided by their first byte, without memchr's call and set-up, which scans
    /// everything else (every Query's and Parse's SQL).
    pub fn cstr(&mut self) -> Result<&'a [u8], ProtocolError> {
        let what = self.what;
        let pos = if self.buf.first() == Some(&0) {
            0
        } else {
            memchr::memchr(0, self.buf).ok_or_else(|| ProtocolError::malformed(what, "missing string terminator"))?
        };
        let (s, rest) = self.buf.split_at(pos);
        self.buf = rest.get(1..).unwrap_or_default();
        Ok(s)
    }

    pub fn cstr_utf8(&mut self) -> Result<&'a str, ProtocolError> {
        let what = self.what;
        std::str::from_utf8(self.cstr()?).map_err(|_| ProtocolError::malformed(what, "string is not UTF-8"))
    }

    /// A length-prefixed value as in Bind / DataRow: `None` for SQL NULL (length -1).
    pub fn value(&mut self) -> Result<Option<&'a [u8]>, ProtocolError> {
        let len = self.i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(ProtocolError::malformed(self.what, "negative value length"));
        }
        Ok(Some(self.take(len as usize)?))
    }

    /// Turns a sub-slice of `parent` (which this cursor reads) into a zero-copy `Bytes`.
    pub fn share(parent: &Bytes, sub: &[u8]) -> Bytes {
        parent.slice_ref(sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_of_every_length_end_at_their_terminator() {
        for len in 0..40 {
            let mut buf = vec![b'x'; len];
            buf.extend_from_slice(b"\0rest");
            let mut c = Cursor::new(&buf, "test");
            assert_eq!(c.cstr().unwrap().len(), len, "length {len}");
            assert_eq!(c.remaining(), b"rest", "length {len}");
        }
    }

    #[test]
    fn a_missing_terminator_is_an_error_at_any_length() {
        for len in 0..40 {
            let buf = vec![b'x'; len];
            assert!(Cursor::new(&buf, "test").cstr().is_err(), "length {len}");
        }
    }
}
