//! Combining aggregate partials: each shard sends `sum(x)` (and `count(x)` for `avg`), and
//! the proxy finishes the aggregate as the server would have over all rows — in the partial's
//! own type, with the server's overflow errors and, for `avg`, numeric division's scale.

use super::{oid, Numeric, Value, ValueError};
use crate::scatter::ScatterError;

/// Adds two partial sums of one column. The partial's type is the aggregate's result type:
/// int8 for sum(int2/int4) and count, numeric for sum(int8/numeric), float4, float8,
/// interval. Overflow fails as PostgreSQL's does ("bigint out of range", 22003).
pub fn add(a: &Value, b: &Value) -> Result<Value, ScatterError> {
    add_values(a, b).map_err(ScatterError::from)
}

fn add_values(a: &Value, b: &Value) -> Result<Value, ValueError> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => {
            Value::Int(x.checked_add(*y).ok_or(ValueError::OutOfRange("bigint out of range"))?)
        }
        (Value::Numeric(x), Value::Numeric(y)) => Value::Numeric(x.add(y)?),
        (Value::Float8(x), Value::Float8(y)) => {
            Value::Float8(checked_float(x + y, x.is_infinite() || y.is_infinite())?)
        }
        (Value::Float4(x), Value::Float4(y)) => {
            let sum = x + y;
            checked_float(f64::from(sum), x.is_infinite() || y.is_infinite())?;
            Value::Float4(sum)
        }
        (Value::Interval(x), Value::Interval(y)) => Value::Interval(x.add(y)?),
        _ => return Err(ValueError::Mismatch { operation: "add", left: a.kind(), right: b.kind() }),
    })
}

/// Float addition overflows to infinity silently; PostgreSQL raises an error unless an
/// operand already was infinite.
fn checked_float(sum: f64, operand_infinite: bool) -> Result<f64, ValueError> {
    if sum.is_infinite() && !operand_infinite {
        return Err(ValueError::OutOfRange("value out of range: overflow"));
    }
    Ok(sum)
}

/// `avg` from the merged sum and count of its non-null inputs; `result_oid` is avg's result
/// type. numeric (avg over int2, int4, int8, numeric) divides with numeric division's
/// result scale, so the digits equal the server's; float8 (avg over float4, float8) is
/// `sum / count`. `count` must be positive: an average over no rows is NULL, which the
/// caller writes without calling this. avg(interval) is refused.
pub fn avg(sum: &Value, count: i64, result_oid: u32) -> Result<Value, ScatterError> {
    avg_value(sum, count, result_oid).map_err(ScatterError::from)
}

fn avg_value(sum: &Value, count: i64, result_oid: u32) -> Result<Value, ValueError> {
    if count <= 0 {
        return Err(ValueError::DivisionByZero);
    }
    match (sum, result_oid) {
        (Value::Numeric(s), oid::NUMERIC) => Ok(Value::Numeric(s.div_by_count(count)?)),
        (Value::Int(s), oid::NUMERIC) => Ok(Value::Numeric(Numeric::from_i64(*s).div_by_count(count)?)),
        // The count converts exactly below 2^53 rows.
        (Value::Float8(s), oid::FLOAT8) => Ok(Value::Float8(s / count as f64)),
        (Value::Float4(s), oid::FLOAT8) => Ok(Value::Float8(f64::from(*s) / count as f64)),
        (_, oid::INTERVAL) => Err(ValueError::Unsupported("avg(interval) across shards".to_owned())),
        _ => Err(ValueError::Mismatch { operation: "average", left: sum.kind(), right: "result type" }),
    }
}
