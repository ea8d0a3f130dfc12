//! Splitting a byte stream into whole messages. Lengths are checked before anything is
//! allocated, so a hostile length cannot make us reserve gigabytes.

use bytes::{Bytes, BytesMut};

use super::ProtocolError;

/// One whole regular message: type byte, 4-byte length (which counts itself) and body.
#[derive(Debug, Clone)]
pub struct Frame {
    pub tag: u8,
    /// The whole message including the tag and length, ready to forward untouched.
    pub bytes: Bytes,
}

impl Frame {
    /// The body, after the 5-byte header.
    pub fn body(&self) -> Bytes {
        self.bytes.slice(5.min(self.bytes.len())..)
    }
}

/// One whole regular message borrowed from the buffer it arrived in: the client path reads
/// each message in place and forwards it with one copy, so no message becomes a reference
/// into a shared buffer (an allocation for the first, reference counting for every one).
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    pub tag: u8,
    /// The whole message including the tag and length, ready to forward untouched.
    pub bytes: &'a [u8],
}

impl<'a> FrameRef<'a> {
    /// The body, after the 5-byte header.
    pub fn body(&self) -> &'a [u8] {
        self.bytes.get(5..).unwrap_or_default()
    }
}

/// The whole message at the front of `buf`, borrowed. `Ok(None)` = wait for more bytes.
pub fn peek_frame(buf: &[u8], max: u32) -> Result<Option<FrameRef<'_>>, ProtocolError> {
    let Some((tag, total)) = peek_header(buf, max)? else {
        return Ok(None);
    };
    Ok(buf.get(..total).map(|bytes| FrameRef { tag, bytes }))
}

/// Reads the header of the message at the front of `buf`: `(tag, total length incl. tag)`.
/// `Ok(None)` means fewer than 5 bytes are buffered.
pub fn peek_header(buf: &[u8], max: u32) -> Result<Option<(u8, usize)>, ProtocolError> {
    let (tag, len) = match buf.get(..5) {
        Some(&[tag, a, b, c, d]) => (tag, u32::from_be_bytes([a, b, c, d])),
        _ => return Ok(None),
    };
    if len < 4 {
        return Err(ProtocolError::BadLength { tag: tag as char, len });
    }
    if len > max {
        return Err(ProtocolError::TooLarge { tag: tag as char, len, max });
    }
    Ok(Some((tag, 1 + len as usize)))
}

/// Splits one whole message off `buf`. `Ok(None)` = wait for more bytes (normal, not an error).
pub fn split_frame(buf: &mut BytesMut, max: u32) -> Result<Option<Frame>, ProtocolError> {
    let Some((tag, total)) = peek_header(buf, max)? else {
        return Ok(None);
    };
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    Ok(Some(Frame { tag, bytes: buf.split_to(total).freeze() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_header_waits() {
        let mut b = BytesMut::from(&b"Q\0\0"[..]);
        assert!(split_frame(&mut b, 100).unwrap().is_none());
    }

    #[test]
    fn bad_and_huge_lengths_are_errors_before_allocation() {
        let mut b = BytesMut::from(&b"Q\0\0\0\x03"[..]);
        assert!(matches!(split_frame(&mut b, 100), Err(ProtocolError::BadLength { .. })));
        let mut b = BytesMut::from(&b"Q\x7f\xff\xff\xff"[..]);
        assert!(matches!(split_frame(&mut b, 100), Err(ProtocolError::TooLarge { .. })));
        assert!(b.capacity() < 1024);
    }

    #[test]
    fn frames_are_read_in_place_only_when_whole() {
        let b = b"S\0\0\0\x04Q\0\0\0\x06x";
        let f = peek_frame(b, 100).unwrap().unwrap();
        assert_eq!((f.tag, f.bytes.len(), f.body()), (b'S', 5, &b""[..]));
        assert!(peek_frame(&b[5..], 100).unwrap().is_none());
        assert!(matches!(peek_frame(b"Q\0\0\0\x03", 100), Err(ProtocolError::BadLength { .. })));
    }

    #[test]
    fn whole_frames_split_in_order() {
        let mut b = BytesMut::from(&b"S\0\0\0\x04Q\0\0\0\x06x\0rest"[..]);
        let f = split_frame(&mut b, 100).unwrap().unwrap();
        assert_eq!(f.tag, b'S');
        let f = split_frame(&mut b, 100).unwrap().unwrap();
        assert_eq!((f.tag, &f.body()[..]), (b'Q', &b"x\0"[..]));
        assert_eq!(&b[..], b"rest");
    }
}
