//! Rendering one shard's share of a multi-row INSERT: the statement with only that shard's
//! VALUES rows (RETURNING and ON CONFLICT kept), its `$n` parameters renumbered from `$1` in
//! order of appearance, and for each new `$n` the index of the original parameter.

use std::ops::ControlFlow;

use sqlparser::ast::{visit_expressions_mut, Expr, SetExpr, Statement, Value};

use super::SplitPart;
use crate::shardmap::ShardIdx;

/// `None` when `stmt` is not an INSERT … VALUES (the plan guarantees it is).
pub fn render(stmt: &Statement, shard: ShardIdx, rows: &[usize]) -> Option<SplitPart> {
    let mut s = stmt.clone();
    let Statement::Insert(ins) = &mut s else { return None };
    let source = ins.source.as_mut()?;
    let SetExpr::Values(values) = source.body.as_mut() else { return None };
    let all = std::mem::take(&mut values.rows);
    values.rows = rows.iter().filter_map(|&r| all.get(r).cloned()).collect();
    let mut params: Vec<usize> = Vec::new();
    let _ = visit_expressions_mut(&mut s, |e| {
        if let Expr::Value(v) = e {
            if let Value::Placeholder(p) = &mut v.value {
                if let Some(orig) =
                    p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()).and_then(|n| n.checked_sub(1))
                {
                    let new = params.iter().position(|&x| x == orig).unwrap_or_else(|| {
                        params.push(orig);
                        params.len() - 1
                    });
                    *p = format!("${}", new + 1);
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Some(SplitPart { shard, sql: s.to_string(), params })
}
