//! Order and equality as PostgreSQL's default btree and hash operator classes define them.
//! The merge sorts with [`compare`] and groups by [`group_key`], so both must agree with the
//! server on every value the shards can send: -0 equals 0, NaN equals NaN and sorts above
//! everything, 1.0 equals 1.00, '1 mon' equals '30 days', bpchar ignores trailing spaces.

use std::cmp::Ordering;

use super::Value;

/// PostgreSQL's btree order for two values of one column. Values of different types (a
/// caller's bug) get a fixed order by kind rather than a panic.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float4(x), Value::Float4(y)) => cmp_float(f64::from(*x), f64::from(*y)),
        (Value::Float8(x), Value::Float8(y)) => cmp_float(*x, *y),
        (Value::Float4(x), Value::Float8(y)) => cmp_float(f64::from(*x), *y),
        (Value::Float8(x), Value::Float4(y)) => cmp_float(*x, f64::from(*y)),
        (Value::Numeric(x), Value::Numeric(y)) => x.cmp_sql(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Time(x), Value::Time(y))
        | (Value::Timestamp(x), Value::Timestamp(y))
        | (Value::TimestampTz(x), Value::TimestampTz(y)) => x.cmp(y),
        (Value::Interval(x), Value::Interval(y)) => x.cmp_sql(y),
        (Value::Uuid(x), Value::Uuid(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        (Value::Bpchar(x), Value::Bpchar(y)) => unpadded(x).cmp(unpadded(y)),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Appends bytes that are equal for two values exactly when `=` holds between them. Each
/// key delimits itself, so the keys of several grouping columns can be concatenated.
pub fn group_key(v: &Value, out: &mut Vec<u8>) {
    out.push(rank(v));
    match v {
        Value::Bool(x) => out.push(u8::from(*x)),
        Value::Int(x) => out.extend_from_slice(&x.to_be_bytes()),
        // float4 values widen exactly, so a float4 key equals the float8 key of its value.
        Value::Float4(x) => float_key(f64::from(*x), out),
        Value::Float8(x) => float_key(*x, out),
        Value::Numeric(x) => x.group_key(out),
        Value::Date(x) => out.extend_from_slice(&x.to_be_bytes()),
        Value::Time(x) | Value::Timestamp(x) | Value::TimestampTz(x) => out.extend_from_slice(&x.to_be_bytes()),
        Value::Interval(x) => out.extend_from_slice(&x.span().to_be_bytes()),
        Value::Uuid(x) => out.extend_from_slice(x),
        Value::Text(x) => bytes_key(x, out),
        Value::Bpchar(x) => bytes_key(unpadded(x), out),
    }
}

/// `float8_cmp`: NaN equals NaN and is above every number, Infinity included; -0 = 0.
fn cmp_float(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

fn float_key(x: f64, out: &mut Vec<u8>) {
    let canonical = if x.is_nan() {
        f64::NAN.to_bits()
    } else if x == 0.0 {
        0
    } else {
        x.to_bits()
    };
    out.extend_from_slice(&canonical.to_be_bytes());
}

fn bytes_key(x: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(x.len() as u64).to_be_bytes());
    out.extend_from_slice(x);
}

/// A character(n) value without its trailing spaces, as bpchar comparison sees it.
fn unpadded(x: &[u8]) -> &[u8] {
    let len = x.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    x.get(..len).unwrap_or(x)
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Bool(_) => 0,
        Value::Int(_) => 1,
        // Both float widths share a rank: their keys are built alike.
        Value::Float4(_) | Value::Float8(_) => 2,
        Value::Numeric(_) => 3,
        Value::Date(_) => 4,
        Value::Time(_) => 5,
        Value::Timestamp(_) => 6,
        Value::TimestampTz(_) => 7,
        Value::Interval(_) => 8,
        Value::Uuid(_) => 9,
        Value::Text(_) => 10,
        Value::Bpchar(_) => 11,
    }
}
