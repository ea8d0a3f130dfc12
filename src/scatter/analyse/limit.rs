//! LIMIT / OFFSET / FETCH FIRST: what the proxy applies after merging, and what LIMIT each
//! shard may safely use so that the merged rows still contain the client's window.
//!
//! A shard never gets OFFSET (the rows to skip are spread over all shards). It gets
//! `LIMIT limit + offset` when both are literals, `LIMIT $n` when there is a parameter limit
//! and no offset, and no LIMIT otherwise: adding a parameter to anything (`$1 + 5`) would
//! change the type PostgreSQL infers for it and so the meaning of the client's Bind values.

use sqlparser::ast::{Expr, LimitClause, Query, Value};

use super::expr::unparen;
use super::refuse;
use crate::scatter::plan::Count;
use crate::scatter::ScatterError;

/// The client's window over the merged rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: Option<Count>,
    pub offset: Option<Count>,
}

pub fn window(q: &Query) -> Result<Window, ScatterError> {
    let (limit, offset) = match &q.limit_clause {
        None => (None, None),
        Some(LimitClause::LimitOffset { limit, offset, limit_by }) => {
            if !limit_by.is_empty() {
                return Err(refuse("LIMIT … BY", "use PostgreSQL's LIMIT"));
            }
            let limit = limit.as_ref().map(|e| count("LIMIT", e)).transpose()?.flatten();
            let offset = offset.as_ref().map(|o| count("OFFSET", &o.value)).transpose()?.flatten();
            (limit, offset)
        }
        Some(LimitClause::OffsetCommaLimit { .. }) => {
            return Err(refuse("LIMIT offset, count", "write LIMIT count OFFSET offset"));
        }
    };
    let limit = match &q.fetch {
        None => limit,
        Some(_) if limit.is_some() => {
            return Err(refuse("LIMIT together with FETCH FIRST", "use one of LIMIT or FETCH FIRST"));
        }
        Some(f) if f.with_ties => {
            return Err(refuse(
                "FETCH FIRST … WITH TIES across shards",
                "use FETCH FIRST … ROWS ONLY, or add the shard key to the WHERE clause",
            ));
        }
        Some(f) if f.percent => return Err(refuse("FETCH FIRST … PERCENT", "give a row count")),
        Some(f) => match &f.quantity {
            None => Some(Count::Literal(1)),
            Some(e) => count("FETCH FIRST", e)?,
        },
    };
    Ok(Window { limit, offset })
}

/// A literal count, a parameter, or NULL (= no limit / no offset, as in PostgreSQL).
fn count(clause: &str, e: &Expr) -> Result<Option<Count>, ScatterError> {
    let bad = || {
        refuse(
            format!("{clause} {e} across shards"),
            format!("write {clause} as a non-negative integer literal or a parameter ($1)"),
        )
    };
    let Expr::Value(v) = unparen(e) else {
        return Err(bad());
    };
    match &v.value {
        Value::Number(n, _) => n.parse::<u64>().map(|n| Some(Count::Literal(n))).map_err(|_| bad()),
        Value::Placeholder(p) => param_index(p).map(|i| Some(Count::Param(i))).ok_or_else(bad),
        Value::Null => Ok(None),
        _ => Err(bad()),
    }
}

/// `$3` → 2 (0-based, as Bind orders its values).
pub fn param_index(p: &str) -> Option<usize> {
    p.strip_prefix('$')?.parse::<usize>().ok()?.checked_sub(1)
}

/// The LIMIT each shard may apply in a streaming merge, as an expression to print.
/// `None` = the shards return every row and the proxy cuts.
pub fn shard_limit(w: Window, original: Option<&Expr>) -> Option<Expr> {
    let offset = match w.offset {
        None | Some(Count::Literal(0)) => 0,
        Some(Count::Literal(m)) => m,
        Some(Count::Param(_)) => return None,
    };
    match w.limit? {
        Count::Literal(n) => {
            let total = n.checked_add(offset).filter(|t| i64::try_from(*t).is_ok())?;
            Some(Expr::value(Value::Number(total.to_string(), false)))
        }
        Count::Param(_) if offset == 0 => original.cloned(),
        Count::Param(_) => None,
    }
}
