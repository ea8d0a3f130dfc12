//! `RowDescription`: read when the proxy merges results from several shards (to check the
//! shards agree, hide helper columns and retype merged aggregates), and written back.

use bytes::{BufMut, BytesMut};

use crate::protocol::cursor::Cursor;
use crate::protocol::ProtocolError;

/// One column as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: Vec<u8>,
    /// Differs between databases for the same table, so shards are compared without it.
    pub table_oid: u32,
    pub attnum: i16,
    pub type_oid: u32,
    pub type_len: i16,
    pub type_mod: i32,
    /// 0 text, 1 binary.
    pub format: i16,
}

impl Column {
    /// Whether two shards describe this column alike (name, type, modifier, format).
    pub fn same_shape(&self, other: &Column) -> bool {
        self.name == other.name
            && self.type_oid == other.type_oid
            && self.type_mod == other.type_mod
            && self.format == other.format
    }
}

pub fn parse(body: &[u8]) -> Result<Vec<Column>, ProtocolError> {
    let mut c = Cursor::new(body, "RowDescription");
    let n = c.i16()?;
    let n = usize::try_from(n).map_err(|_| ProtocolError::malformed("RowDescription", "negative column count"))?;
    let mut cols = Vec::with_capacity(n);
    for _ in 0..n {
        cols.push(Column {
            name: c.cstr()?.to_vec(),
            table_oid: c.u32()?,
            attnum: c.i16()?,
            type_oid: c.u32()?,
            type_len: c.i16()?,
            type_mod: c.i32()?,
            format: c.i16()?,
        });
    }
    Ok(cols)
}

/// Appends a whole RowDescription message.
pub fn write(out: &mut BytesMut, cols: &[Column]) {
    crate::protocol::build::message(out, b'T', |b| {
        b.put_i16(cols.len() as i16);
        for col in cols {
            b.put_slice(&col.name);
            b.put_u8(0);
            b.put_u32(col.table_oid);
            b.put_i16(col.attnum);
            b.put_u32(col.type_oid);
            b.put_i16(col.type_len);
            b.put_i32(col.type_mod);
            b.put_i16(col.format);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_round_trips() {
        let cols = vec![
            Column {
                name: b"id".to_vec(),
                table_oid: 16384,
                attnum: 1,
                type_oid: 20,
                type_len: 8,
                type_mod: -1,
                format: 0,
            },
            Column {
                name: b"avg".to_vec(),
                table_oid: 0,
                attnum: 0,
                type_oid: 1700,
                type_len: -1,
                type_mod: -1,
                format: 1,
            },
        ];
        let mut out = BytesMut::new();
        write(&mut out, &cols);
        assert_eq!(out.first(), Some(&b'T'));
        assert_eq!(parse(out.get(5..).unwrap_or_default()).unwrap(), cols);
    }

    #[test]
    fn a_truncated_description_is_an_error() {
        let mut out = BytesMut::new();
        write(
            &mut out,
            &[Column {
                name: b"x".to_vec(),
                table_oid: 0,
                attnum: 0,
                type_oid: 23,
                type_len: 4,
                type_mod: -1,
                format: 0,
            }],
        );
        let body = out.get(5..out.len() - 3).unwrap_or_default();
        assert!(parse(body).is_err());
    }
}
