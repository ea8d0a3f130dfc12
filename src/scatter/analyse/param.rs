//! Parameters the shards' statement must keep. The client's Bind values are forwarded
//! unchanged, so every `$n` of the client's statement must still occur in `shard_sql` with
//! the type PostgreSQL infers for it there; otherwise the shard would reject the Bind (too
//! many values) or fail to infer a type for a gap in the numbering.
//!
//! When planning moves a clause to the proxy (HAVING, LIMIT, OFFSET), its parameters are
//! carried by a hidden column the proxy ignores: the HAVING condition itself (same context,
//! same inferred types) or `CAST($n AS BIGINT)` (LIMIT and OFFSET take bigint).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, Value, ValueWithSpan, Visit, Visitor};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::limit::param_index;
use super::projection::Projection;
use super::refuse;
use crate::scatter::plan::ColumnMerge;
use crate::scatter::ScatterError;

fn params<V: Visit>(node: &V, into: &mut BTreeSet<usize>) {
    struct Collect<'a>(&'a mut BTreeSet<usize>);
    impl Visitor for Collect<'_> {
        type Break = ();
        fn pre_visit_value(&mut self, v: &ValueWithSpan) -> ControlFlow<()> {
            if let Value::Placeholder(p) = &v.value {
                // An unnumbered placeholder cannot be carried: usize::MAX is never kept.
                self.0.insert(param_index(p).unwrap_or(usize::MAX));
            }
            ControlFlow::Continue(())
        }
    }
    let _ = node.visit(&mut Collect(into));
}

fn missing(original: &Query, shard: &Query, proj: &Projection) -> BTreeSet<usize> {
    let (mut wanted, mut kept) = (BTreeSet::new(), BTreeSet::new());
    params(original, &mut wanted);
    params(shard, &mut kept);
    for item in proj.hidden() {
        params(item, &mut kept);
    }
    wanted.difference(&kept).copied().collect()
}

/// Adds carriers to `proj` until `shard` plus the hidden items use every parameter of
/// `original`. `having` is the client's HAVING when the shards no longer run it.
pub fn carry(
    original: &Query,
    shard: &Query,
    having: Option<&Expr>,
    proj: &mut Projection,
) -> Result<(), ScatterError> {
    let lost = missing(original, shard, proj);
    if lost.is_empty() {
        return Ok(());
    }
    if let Some(h) = having {
        let mut in_having = BTreeSet::new();
        params(h, &mut in_having);
        if !in_having.is_disjoint(&lost) {
            proj.hide(Expr::Nested(Box::new(h.clone())), "p", ColumnMerge::Key);
        }
    }
    let mut in_window = BTreeSet::new();
    if let Some(l) = &original.limit_clause {
        params(l, &mut in_window);
    }
    if let Some(f) = &original.fetch {
        params(f, &mut in_window);
    }
    for n in missing(original, shard, proj) {
        if !in_window.contains(&n) {
            return Err(refuse(
                format!("parameter ${} would be lost when the query is split across shards", n.saturating_add(1)),
                "use the parameter in the WHERE clause or the select list, or add the shard key to the WHERE clause",
            ));
        }
        let sql = format!("CAST(${} AS BIGINT)", n.saturating_add(1));
        let carrier =
            Parser::new(&PostgreSqlDialect {}).try_with_sql(&sql).and_then(|mut p| p.parse_expr()).map_err(|e| {
                refuse(format!("internal: cannot build {sql}: {e}"), "report this to the shardgate developers")
            })?;
        proj.hide(carrier, "p", ColumnMerge::Key);
    }
    Ok(())
}
