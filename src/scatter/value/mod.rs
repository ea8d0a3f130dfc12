//! Column values of merged rows: read from the shards' DataRows (text or binary format, by
//! the column's type OID), ordered and grouped exactly as PostgreSQL's btree and hash
//! operators do, combined for `sum` and `avg`, and written back for the client.
//!
//! Pure: no I/O. Anything this cannot read with certainty (an unknown type, a DateStyle other
//! than ISO, an IntervalStyle other than `postgres`) is an error, so that the caller refuses
//! the query instead of merging values it might misorder. NULLs never reach this module.

mod arith;
mod compare;
pub mod datetime;
mod encode;
mod error;
pub mod float;
pub mod interval;
pub mod numeric;

pub use arith::{add, avg};
pub use compare::{compare, group_key};
pub use encode::encode;
pub use error::ValueError;
pub use interval::Interval;
pub use numeric::Numeric;

use super::ScatterError;

/// Type OIDs of the built-in types this module handles (`pg_type.oid`, fixed since forever).
/// <https://github.com/postgres/postgres/blob/master/src/include/catalog/pg_type.dat>
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
}

/// How a value travels: the format code of Bind and RowDescription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Binary,
}

impl Format {
    /// 1 is binary; every other code is read as text, as the server treats 0 — codes other
    /// than 0 and 1 are rejected by the server before any row is sent.
    pub fn from_code(code: i16) -> Self {
        if code == 1 {
            Format::Binary
        } else {
            Format::Text
        }
    }
}

/// A decoded column value. `PartialEq` is structural (NaN differs from NaN, 1.0 from 1.00);
/// SQL order and equality are [`compare`] and [`group_key`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    /// int2, int4, int8 and oid.
    Int(i64),
    /// Kept apart from float8 because `float4 + float4` rounds (and overflows) as float4.
    Float4(f32),
    Float8(f64),
    Numeric(Numeric),
    /// Days since 2000-01-01; `i32::MIN`/`MAX` are -infinity/infinity.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 2000-01-01 00:00; `i64::MIN`/`MAX` are -infinity/infinity.
    Timestamp(i64),
    /// Microseconds since 2000-01-01 00:00 UTC.
    TimestampTz(i64),
    Interval(Interval),
    Uuid([u8; 16]),
    /// text, varchar and name: compared byte by byte (the caller has made sure the collation
    /// orders as bytes do).
    Text(Vec<u8>),
    /// character(n): as stored, with its padding; trailing spaces do not count when
    /// comparing.
    Bpchar(Vec<u8>),
}

impl Value {
    /// The variant's name, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float4(_) => "real",
            Value::Float8(_) => "double precision",
            Value::Numeric(_) => "numeric",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::Timestamp(_) => "timestamp",
            Value::TimestampTz(_) => "timestamptz",
            Value::Interval(_) => "interval",
            Value::Uuid(_) => "uuid",
            Value::Text(_) => "text",
            Value::Bpchar(_) => "character",
        }
    }
}

/// Whether [`decode`] handles columns of this type, so the planner can refuse a merge over
/// any other type before running anything.
pub fn is_supported(type_oid: u32) -> bool {
    use oid::*;
    matches!(
        type_oid,
        BOOL | NAME
            | INT8
            | INT2
            | INT4
            | TEXT
            | OID
            | FLOAT4
            | FLOAT8
            | BPCHAR
            | VARCHAR
            | DATE
            | TIME
            | TIMESTAMP
            | TIMESTAMPTZ
            | INTERVAL
            | NUMERIC
            | UUID
    )
}

/// Reads one DataRow field (without its length) of a column of `type_oid`.
pub fn decode(type_oid: u32, format: Format, raw: &[u8]) -> Result<Value, ScatterError> {
    decode_value(type_oid, format, raw).map_err(ScatterError::from)
}

fn decode_value(type_oid: u32, format: Format, raw: &[u8]) -> Result<Value, ValueError> {
    use oid::*;
    use Format::{Binary, Text};
    Ok(match (type_oid, format) {
        (TEXT | VARCHAR | NAME, _) => Value::Text(raw.to_vec()),
        (BPCHAR, _) => Value::Bpchar(raw.to_vec()),
        (BOOL, Text) => Value::Bool(parse_bool(raw)?),
        // boolrecv reads any non-zero byte as true.
        (BOOL, Binary) => Value::Bool(fixed::<1>(raw, "boolean")? != [0]),
        (INT2 | INT4 | INT8 | OID, Text) => Value::Int(parse_int(type_oid, raw)?),
        (INT2, Binary) => Value::Int(i16::from_be_bytes(fixed(raw, "smallint")?).into()),
        (INT4, Binary) => Value::Int(i32::from_be_bytes(fixed(raw, "integer")?).into()),
        (INT8, Binary) => Value::Int(i64::from_be_bytes(fixed(raw, "bigint")?)),
        (OID, Binary) => Value::Int(u32::from_be_bytes(fixed(raw, "oid")?).into()),
        (FLOAT4, Text) => Value::Float4(float::parse_f32(raw)?),
        (FLOAT4, Binary) => Value::Float4(f32::from_be_bytes(fixed(raw, "real")?)),
        (FLOAT8, Text) => Value::Float8(float::parse_f64(raw)?),
        (FLOAT8, Binary) => Value::Float8(f64::from_be_bytes(fixed(raw, "double precision")?)),
        (NUMERIC, Text) => Value::Numeric(Numeric::parse_text(raw)?),
        (NUMERIC, Binary) => Value::Numeric(Numeric::parse_binary(raw)?),
        (DATE, Text) => Value::Date(datetime::parse_date(raw)?),
        (DATE, Binary) => Value::Date(i32::from_be_bytes(fixed(raw, "date")?)),
        (TIME, Text) => Value::Time(datetime::parse_time(raw)?),
        (TIME, Binary) => Value::Time(i64::from_be_bytes(fixed(raw, "time without time zone")?)),
        (TIMESTAMP, Text) => Value::Timestamp(datetime::parse_timestamp(raw, false)?),
        (TIMESTAMP, Binary) => Value::Timestamp(i64::from_be_bytes(fixed(raw, "timestamp without time zone")?)),
        (TIMESTAMPTZ, Text) => Value::TimestampTz(datetime::parse_timestamp(raw, true)?),
        (TIMESTAMPTZ, Binary) => Value::TimestampTz(i64::from_be_bytes(fixed(raw, "timestamp with time zone")?)),
        (INTERVAL, Text) => Value::Interval(Interval::parse_text(raw)?),
        (INTERVAL, Binary) => Value::Interval(Interval::parse_binary(raw)?),
        (UUID, Text) => Value::Uuid(parse_uuid(raw)?),
        (UUID, Binary) => Value::Uuid(fixed(raw, "uuid")?),
        (other, _) => return Err(ValueError::Unsupported(format!("merging values of type oid {other} across shards"))),
    })
}

/// Exactly `N` bytes, as every fixed-width binary format requires.
fn fixed<const N: usize>(raw: &[u8], type_name: &'static str) -> Result<[u8; N], ValueError> {
    raw.try_into().map_err(|_| ValueError::Binary { type_name })
}

/// `boolin`: t/f as printed, and the spellings a literal may use.
fn parse_bool(raw: &[u8]) -> Result<bool, ValueError> {
    let s = raw.trim_ascii();
    let is = |words: &[&str]| words.iter().any(|w| s.eq_ignore_ascii_case(w.as_bytes()));
    if is(&["t", "true", "yes", "y", "on", "1"]) {
        Ok(true)
    } else if is(&["f", "false", "no", "n", "off", "0"]) {
        Ok(false)
    } else {
        Err(ValueError::syntax("boolean", raw))
    }
}

/// Integers in text, with the range check (and message) of the column's type.
fn parse_int(type_oid: u32, raw: &[u8]) -> Result<i64, ValueError> {
    let (type_name, min, max) = match type_oid {
        oid::INT2 => ("smallint", i64::from(i16::MIN), i64::from(i16::MAX)),
        oid::INT4 => ("integer", i64::from(i32::MIN), i64::from(i32::MAX)),
        oid::OID => ("oid", 0, i64::from(u32::MAX)),
        _ => ("bigint", i64::MIN, i64::MAX),
    };
    let s = std::str::from_utf8(raw.trim_ascii()).map_err(|_| ValueError::syntax(type_name, raw))?;
    if s.is_empty() || !s.trim_start_matches(['+', '-']).bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::syntax(type_name, raw));
    }
    let v: i128 = s.parse().map_err(|_| ValueError::syntax(type_name, raw))?;
    i64::try_from(v).ok().filter(|v| (min..=max).contains(v)).ok_or(ValueError::OutOfRange(match type_oid {
        oid::INT2 => "value out of range for type smallint",
        oid::INT4 => "value out of range for type integer",
        oid::OID => "value out of range for type oid",
        _ => "value out of range for type bigint",
    }))
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, also braced or without hyphens, as `uuid_in` takes.
fn parse_uuid(raw: &[u8]) -> Result<[u8; 16], ValueError> {
    let syntax = || ValueError::syntax("uuid", raw);
    let s = raw.trim_ascii();
    let s = s.strip_prefix(b"{").and_then(|t| t.strip_suffix(b"}")).unwrap_or(s);
    let mut out = [0u8; 16];
    let mut nibbles = 0usize;
    let mut previous_hyphen = true;
    for &b in s {
        if b == b'-' {
            // A hyphen may follow a group of four hex digits, never start or double.
            if previous_hyphen || !nibbles.is_multiple_of(4) {
                return Err(syntax());
            }
            previous_hyphen = true;
            continue;
        }
        previous_hyphen = false;
        let v = (b as char).to_digit(16).ok_or_else(syntax)? as u8;
        let slot = out.get_mut(nibbles / 2).ok_or_else(syntax)?;
        *slot |= if nibbles.is_multiple_of(2) { v << 4 } else { v };
        nibbles += 1;
    }
    if nibbles != 32 || previous_hyphen {
        return Err(syntax());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
