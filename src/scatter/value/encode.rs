//! Values back into DataRow fields, in the client's format for the column's type.
//!
//! Only what a merge creates needs writing — sums, averages and counts (int, numeric, float,
//! interval) — since min/max and grouping keys pass a shard's own bytes through. Dates and
//! timestamps without time zone are written too; a timestamptz in text would need the
//! session's TimeZone and is refused.

use super::{datetime, float, oid, Format, Value, ValueError};
use crate::scatter::ScatterError;

/// Writes `v` as a field of a column of `type_oid` in `format` (without the length word).
pub fn encode(v: &Value, type_oid: u32, format: Format, out: &mut Vec<u8>) -> Result<(), ScatterError> {
    encode_value(v, type_oid, format, out).map_err(ScatterError::from)
}

fn encode_value(v: &Value, type_oid: u32, format: Format, out: &mut Vec<u8>) -> Result<(), ValueError> {
    use oid::*;
    use Format::{Binary, Text};
    match (v, type_oid, format) {
        (Value::Bool(b), BOOL, Text) => out.push(if *b { b't' } else { b'f' }),
        (Value::Bool(b), BOOL, Binary) => out.push(u8::from(*b)),
        (Value::Int(i), INT2 | INT4 | INT8 | OID, Text) => {
            int_in_range(*i, type_oid)?;
            out.extend_from_slice(i.to_string().as_bytes());
        }
        // The casts cannot truncate: the range was checked first.
        (Value::Int(i), INT2, Binary) => out.extend_from_slice(&(int_in_range(*i, INT2)? as i16).to_be_bytes()),
        (Value::Int(i), INT4, Binary) => out.extend_from_slice(&(int_in_range(*i, INT4)? as i32).to_be_bytes()),
        (Value::Int(i), OID, Binary) => out.extend_from_slice(&(int_in_range(*i, OID)? as u32).to_be_bytes()),
        (Value::Int(i), INT8, Binary) => out.extend_from_slice(&i.to_be_bytes()),
        (Value::Float4(x), FLOAT4, Text) => float::write_f32(*x, out),
        (Value::Float4(x), FLOAT4, Binary) => out.extend_from_slice(&x.to_be_bytes()),
        (Value::Float8(x), FLOAT8, Text) => float::write_f64(*x, out),
        (Value::Float8(x), FLOAT8, Binary) => out.extend_from_slice(&x.to_be_bytes()),
        (Value::Numeric(n), NUMERIC, Text) => n.write_text(out),
        (Value::Numeric(n), NUMERIC, Binary) => n.write_binary(out),
        (Value::Date(d), DATE, Text) => datetime::write_date(*d, out),
        (Value::Date(d), DATE, Binary) => out.extend_from_slice(&d.to_be_bytes()),
        (Value::Time(t), TIME, Text) => datetime::write_time(*t, out),
        (Value::Timestamp(t), TIMESTAMP, Text) => datetime::write_timestamp(*t, out),
        (Value::Time(t), TIME, Binary)
        | (Value::Timestamp(t), TIMESTAMP, Binary)
        | (Value::TimestampTz(t), TIMESTAMPTZ, Binary) => out.extend_from_slice(&t.to_be_bytes()),
        (Value::TimestampTz(_), TIMESTAMPTZ, Text) => {
            return Err(ValueError::Unsupported(
                "writing a timestamptz in text needs the session's TimeZone".to_owned(),
            ))
        }
        (Value::Interval(i), INTERVAL, Text) => i.write_text(out),
        (Value::Interval(i), INTERVAL, Binary) => i.write_binary(out),
        (Value::Uuid(u), UUID, Text) => write_uuid(u, out),
        (Value::Uuid(u), UUID, Binary) => out.extend_from_slice(u),
        // Text types have the same bytes in both formats.
        (Value::Text(t), TEXT | VARCHAR | NAME, _) | (Value::Bpchar(t), BPCHAR, _) => out.extend_from_slice(t),
        (v, other, _) => {
            return Err(if super::is_supported(other) {
                ValueError::Mismatch { operation: "encode", left: v.kind(), right: "column of another type" }
            } else {
                ValueError::Unsupported(format!("merging values of type oid {other} across shards"))
            })
        }
    }
    Ok(())
}

/// `i` if the column's type holds it, else the error the server's cast would raise.
fn int_in_range(i: i64, type_oid: u32) -> Result<i64, ValueError> {
    let (min, max, message) = match type_oid {
        oid::INT2 => (i64::from(i16::MIN), i64::from(i16::MAX), "smallint out of range"),
        oid::INT4 => (i64::from(i32::MIN), i64::from(i32::MAX), "integer out of range"),
        oid::OID => (0, i64::from(u32::MAX), "OID out of range"),
        _ => (i64::MIN, i64::MAX, "bigint out of range"),
    };
    (min..=max).contains(&i).then_some(i).ok_or(ValueError::OutOfRange(message))
}

fn write_uuid(u: &[u8; 16], out: &mut Vec<u8>) {
    for (i, byte) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.extend_from_slice(format!("{byte:02x}").as_bytes());
    }
}
