//! Refusals that do not depend on the merge shape: statement kinds and clauses shardgate
//! does not merge, window functions anywhere, and subqueries whose per-shard evaluation
//! would differ from one database's (a subquery runs on each shard over that shard's rows
//! only, so an aggregate, LIMIT or DISTINCT inside it would see a part of the data).

use std::ops::ControlFlow;

use sqlparser::ast::{Distinct, Expr, Query, Select, SelectFlavor, SetExpr, TableFactor, Visit, Visitor};

use super::function::{self, Kind};
use super::refuse;
use crate::scatter::ScatterError;

/// The outer query's own clauses, before any planning.
pub fn outer(query: &Query) -> Result<&Select, ScatterError> {
    if query.with.is_some() {
        return Err(refuse(
            "WITH (common table expressions) across shards",
            "inline the CTE as a subquery in FROM, or add the shard key to the WHERE clause",
        ));
    }
    if !query.locks.is_empty() {
        return Err(refuse(
            "SELECT … FOR UPDATE/SHARE across shards",
            "lock rows of one shard at a time: add the shard key to the WHERE clause",
        ));
    }
    if query.for_clause.is_some()
        || query.settings.is_some()
        || query.format_clause.is_some()
        || !query.pipe_operators.is_empty()
    {
        return Err(refuse("a clause PostgreSQL does not have", "use PostgreSQL syntax"));
    }
    let select = match query.body.as_ref() {
        SetExpr::Select(select) => select,
        SetExpr::SetOperation { op, .. } => {
            return Err(refuse(
                format!("{op} across shards"),
                "run each SELECT on its own, or add the shard key to the WHERE clause of each",
            ));
        }
        SetExpr::Values(_) => {
            return Err(refuse("VALUES across shards", "VALUES needs no shard: run it without tables"))
        }
        SetExpr::Query(_) => return Err(refuse("a parenthesised query across shards", "remove the parentheses")),
        _ => return Err(refuse("this statement across shards", "send one plain SELECT")),
    };
    clauses(select)?;
    Ok(select)
}

fn clauses(s: &Select) -> Result<(), ScatterError> {
    if let Some(Distinct::On(_)) = s.distinct {
        return Err(refuse(
            "SELECT DISTINCT ON across shards",
            "add the shard key to the WHERE clause, or use GROUP BY with min()/max()",
        ));
    }
    if s.into.is_some() {
        return Err(refuse("SELECT INTO across shards", "use CREATE TABLE … AS on one shard, or INSERT … SELECT"));
    }
    if !s.named_window.is_empty() {
        return Err(refuse(
            "window functions (WINDOW) across shards",
            "compute the window in the application, or add the shard key to the WHERE clause",
        ));
    }
    let foreign = s.top.is_some()
        || s.exclude.is_some()
        || s.select_modifiers.is_some()
        || !s.optimizer_hints.is_empty()
        || !s.lateral_views.is_empty()
        || s.prewhere.is_some()
        || !s.connect_by.is_empty()
        || !s.cluster_by.is_empty()
        || !s.distribute_by.is_empty()
        || !s.sort_by.is_empty()
        || s.qualify.is_some()
        || s.value_table_mode.is_some()
        || !matches!(s.flavor, SelectFlavor::Standard);
    if foreign {
        return Err(refuse("a SELECT clause PostgreSQL does not have", "use PostgreSQL syntax"));
    }
    Ok(())
}

/// Walks the whole statement: windows anywhere, TABLESAMPLE, and every subquery.
pub fn nested(query: &Query) -> Result<(), ScatterError> {
    let mut walk = Walk { depth: 0 };
    match query.visit(&mut walk) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct Walk {
    /// 1 = the outer query, more = inside a subquery.
    depth: usize,
}

const SUBQUERY_HINT: &str =
    "a subquery runs on each shard over that shard's rows only: move the aggregate, LIMIT or DISTINCT \
     to the outer query, or add the shard key to the WHERE clause";

impl Visitor for Walk {
    type Break = ScatterError;

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<ScatterError> {
        self.depth += 1;
        if self.depth > 1 {
            if let Err(e) = subquery(q) {
                return ControlFlow::Break(e);
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<ScatterError> {
        self.depth = self.depth.saturating_sub(1);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<ScatterError> {
        if let TableFactor::Table { sample: Some(_), .. } = t {
            return ControlFlow::Break(refuse(
                "TABLESAMPLE across shards",
                "sample each shard on its own, or add the shard key to the WHERE clause",
            ));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<ScatterError> {
        let Expr::Function(f) = e else {
            return ControlFlow::Continue(());
        };
        if f.over.is_some() {
            return ControlFlow::Break(refuse(
                format!("window function {} across shards", f.name),
                "compute the window in the application, or add the shard key to the WHERE clause",
            ));
        }
        if self.depth > 1 {
            match function::classify(f) {
                Kind::Scalar | Kind::SetReturning | Kind::Volatile => {}
                Kind::Aggregate(_) | Kind::OtherAggregate => {
                    return ControlFlow::Break(refuse(
                        format!("aggregate {} inside a subquery across shards", f.name),
                        SUBQUERY_HINT,
                    ));
                }
                Kind::Unknown => {
                    return ControlFlow::Break(refuse(
                        format!("function {} inside a subquery across shards (shardgate cannot tell whether it is an aggregate)", f.name),
                        SUBQUERY_HINT,
                    ));
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// A subquery is evaluated per shard: only row-by-row work gives the same answer there.
fn subquery(q: &Query) -> Result<(), ScatterError> {
    let what = if q.with.is_some() {
        Some("WITH")
    } else if q.limit_clause.is_some() || q.fetch.is_some() {
        Some("LIMIT/OFFSET/FETCH")
    } else if !q.locks.is_empty() {
        Some("FOR UPDATE/SHARE")
    } else {
        match q.body.as_ref() {
            SetExpr::Select(s) if s.distinct.is_some() => Some("DISTINCT"),
            SetExpr::Select(s) if s.having.is_some() || !is_ungrouped(s) => Some("GROUP BY/HAVING"),
            SetExpr::Select(s) if !s.named_window.is_empty() => Some("WINDOW"),
            SetExpr::Select(_) | SetExpr::Values(_) => None,
            SetExpr::Query(inner) => return subquery(inner),
            SetExpr::SetOperation { .. } => Some("UNION/INTERSECT/EXCEPT"),
            _ => Some("this statement"),
        }
    };
    match what {
        Some(w) => Err(refuse(format!("{w} inside a subquery across shards"), SUBQUERY_HINT)),
        None => Ok(()),
    }
}

fn is_ungrouped(s: &Select) -> bool {
    matches!(&s.group_by, sqlparser::ast::GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty())
}
