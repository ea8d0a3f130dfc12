//! `DataRow`: only cross-shard merges read its fields (sort keys, group keys, aggregates).
//! Single-shard results are relayed without ever being parsed.

use bytes::{BufMut, BytesMut};

use crate::protocol::cursor::Cursor;
use crate::protocol::ProtocolError;

/// The fields of a DataRow body, borrowed; `None` is SQL NULL.
pub fn fields(body: &[u8]) -> Result<Vec<Option<&[u8]>>, ProtocolError> {
    let mut c = Cursor::new(body, "DataRow");
    let n = c.i16()?;
    let n = usize::try_from(n).map_err(|_| ProtocolError::malformed("DataRow", "negative column count"))?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(c.value()?);
    }
    Ok(out)
}

/// Appends a whole DataRow message of `values`.
pub fn write<'a>(out: &mut BytesMut, values: impl ExactSizeIterator<Item = Option<&'a [u8]>>) {
    crate::protocol::build::message(out, b'D', |b| crate::protocol::build::put_values(b, values));
}

/// Appends a DataRow message around a body as a server sent it.
pub fn write_raw(out: &mut BytesMut, body: &[u8]) {
    crate::protocol::build::message(out, b'D', |b| b.put_slice(body));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_round_trips_with_nulls() {
        let mut out = BytesMut::new();
        let vals: Vec<Option<&[u8]>> = vec![Some(b"42"), None, Some(b"")];
        write(&mut out, vals.iter().copied());
        assert_eq!(fields(out.get(5..).unwrap_or_default()).unwrap(), vals);
    }

    #[test]
    fn a_value_longer_than_the_row_is_an_error() {
        let body = [0u8, 1, 0, 0, 0, 9, b'x'];
        assert!(fields(&body).is_err());
    }
}
