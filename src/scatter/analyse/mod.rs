//! Planning a cross-shard SELECT: how each shard's statement is rewritten and how the proxy
//! combines the answers so the client sees what one database holding every row would
//! return — or a refusal (0A000 with a hint) when that cannot be done exactly.
//!
//! Pure: text in, plan out; no catalog, no I/O. Without a catalog the planner cannot know
//! column types or whether a function is an aggregate, so it only plans what it can prove
//! from the statement's text, and refuses everything else ("never a wrong answer").

mod aggregate;
mod call;
mod check;
mod collation;
mod expr;
mod function;
mod having;
mod limit;
mod order;
mod param;
mod projection;
mod stream;
#[cfg(test)]
mod tests;

use sqlparser::ast::{Distinct, Expr, LimitClause, Query, Select, SelectItem, SetExpr, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use self::aggregate::Grouping;
use self::projection::Projection;
use super::plan::{ColumnMerge, ColumnRef, GroupPlan, MergePlan, Predicate, Shape, SortKey};
use super::ScatterError;

fn refuse(message: impl Into<String>, hint: impl Into<String>) -> ScatterError {
    ScatterError::unsupported(message, hint)
}

/// Plans one SELECT that the router sends to several shards, without collation verdicts:
/// enough when `text_compared` is empty, and what tells the executor which columns to look
/// up (their types come from a Describe of `shard_sql` on one shard).
pub fn plan(sql: &str) -> Result<MergePlan, ScatterError> {
    plan_checked(sql, &|_| false)
}

/// Plans with a collation verdict (`collation.rs`) for each compared column `needs` picks:
/// those of a collatable type. `pg_collation_for` raises an error on any other type, so
/// verdicts can only be asked for columns known to be text.
pub fn plan_checked(sql: &str, needs: &dyn Fn(ColumnRef) -> bool) -> Result<MergePlan, ScatterError> {
    let query = parse(sql)?;
    let select = check::outer(&query)?;
    check::nested(&query)?;
    let window = limit::window(&query)?;
    let order = order::keys(query.order_by.as_ref())?;
    let items = select.projection.iter().filter_map(|i| match i {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    });
    let aggregated =
        aggregate::is_aggregated(items.chain(order.iter().map(|k| k.0)), &select.group_by, select.having.as_ref())?;
    let distinct = matches!(select.distinct, Some(Distinct::Distinct));

    let mut proj = Projection::new(&select.projection)?;
    let mut shard = query.clone();
    let (partial, sort, compared) = match (aggregated, distinct) {
        (true, true) => {
            return Err(refuse(
                "SELECT DISTINCT with aggregates across shards",
                "drop DISTINCT (GROUP BY already makes the groups distinct), or add the shard key to the WHERE clause",
            ));
        }
        (true, false) => grouped(select, &mut shard, &mut proj, &order)?,
        (false, true) => deduplicated(&proj, &order)?,
        (false, false) => (Partial::Stream, order::resolve(&order, |e| stream::key(&mut proj, e))?, Vec::new()),
    };
    shard_window(&query, &mut shard, &partial, window);
    let having = matches!(partial, Partial::Group { .. }).then_some(select.having.as_ref()).flatten();
    param::carry(&query, &shard, having, &mut proj)?;

    let mut text_compared: Vec<ColumnRef> = Vec::new();
    let group_keys = match &partial {
        Partial::Group { keys, .. } => keys.clone(),
        Partial::Stream => Vec::new(),
    };
    for c in sort.iter().map(|k| k.column).chain(compared.iter().copied()).chain(group_keys.iter().copied()) {
        if !text_compared.contains(&c) {
            text_compared.push(c);
        }
    }
    let merge_of = |c: ColumnRef, proj: &Projection| -> Option<ColumnMerge> {
        match (c, &partial) {
            (ColumnRef::Item(i), Partial::Group { visible, .. }) => visible.get(i).copied(),
            (ColumnRef::Hidden(h), _) => proj.hidden_merges().get(h).copied(),
            _ => None,
        }
    };
    let ordered: Vec<bool> = text_compared
        .iter()
        .map(|&c| {
            sort.iter().any(|k| k.column == c)
                || matches!(merge_of(c, &proj), Some(ColumnMerge::Min | ColumnMerge::Max))
        })
        .collect();
    let visible_items = body(&mut shard)?.projection.clone();
    let checked: Vec<ColumnRef> = text_compared.iter().copied().filter(|c| needs(*c)).collect();
    let collations = collation::checks(
        &checked,
        |c| text_compared.iter().position(|x| *x == c).and_then(|i| ordered.get(i).copied()).unwrap_or(true),
        &visible_items,
        &mut proj,
    )?;

    let (hidden_items, hidden_merges) = proj.finish();
    let hidden = hidden_items.len();
    body(&mut shard)?.projection.extend(hidden_items);
    let shape = match partial {
        Partial::Stream => Shape::Stream,
        Partial::Group { keys, mut visible, having } => {
            visible.extend(hidden_merges);
            Shape::Group(GroupPlan { keys, columns: visible, having })
        }
    };
    Ok(MergePlan {
        shard_sql: shard.to_string(),
        hidden,
        shape,
        order: sort,
        offset: window.offset,
        limit: window.limit,
        text_compared,
        collations,
    })
}

/// SELECT DISTINCT: the shards keep DISTINCT, the proxy removes duplicates between shards.
fn deduplicated(
    proj: &Projection,
    order: &[(&Expr, bool, bool)],
) -> Result<(Partial, Vec<SortKey>, Vec<ColumnRef>), ScatterError> {
    if proj.has_wildcard() {
        return Err(refuse("SELECT DISTINCT * across shards", "list the columns"));
    }
    let sort = order::resolve(order, |e| stream::distinct_key(proj, e))?;
    let keys: Vec<ColumnRef> = (0..proj.len()).map(ColumnRef::Item).collect();
    let partial = Partial::Group { keys, visible: vec![ColumnMerge::Key; proj.len()], having: None };
    Ok((partial, sort, Vec::new()))
}

/// The shards' LIMIT (see `limit`): streaming keeps what it safely can, grouping moves
/// ORDER BY and the whole window to the proxy, since groups are complete only after merging.
fn shard_window(query: &Query, shard: &mut Query, partial: &Partial, window: limit::Window) {
    match partial {
        Partial::Stream => {
            let original = match (&query.limit_clause, &query.fetch) {
                (Some(LimitClause::LimitOffset { limit: Some(l), .. }), _) => Some(l),
                (_, Some(f)) => f.quantity.as_ref(),
                _ => None,
            };
            shard.limit_clause = limit::shard_limit(window, original).map(|l| LimitClause::LimitOffset {
                limit: Some(l),
                offset: None,
                limit_by: Vec::new(),
            });
        }
        Partial::Group { .. } => {
            shard.order_by = None;
            shard.limit_clause = None;
        }
    }
    shard.fetch = None;
}

/// What the shape-specific planning decided, before the hidden columns are final.
enum Partial {
    Stream,
    Group { keys: Vec<ColumnRef>, visible: Vec<ColumnMerge>, having: Option<Predicate> },
}

fn parse(sql: &str) -> Result<Query, ScatterError> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| {
        refuse(
            format!("shardgate cannot parse this statement to merge it across shards: {e}"),
            "simplify the statement, or add the shard key to the WHERE clause so it runs on one shard",
        )
    })?;
    match (statements.pop(), statements.is_empty()) {
        (Some(Statement::Query(q)), true) => Ok(*q),
        (Some(_), true) => {
            Err(refuse("only a SELECT can be merged across shards", "add the shard key to the WHERE clause"))
        }
        _ => Err(refuse("several statements in one query across shards", "send one statement at a time")),
    }
}

fn body(q: &mut Query) -> Result<&mut Select, ScatterError> {
    match q.body.as_mut() {
        SetExpr::Select(s) => Ok(s),
        _ => Err(refuse("internal: the shards' statement lost its SELECT", "report this to the shardgate developers")),
    }
}

/// Aggregates, GROUP BY, HAVING: partials on the shards, everything after grouping in the proxy.
fn grouped(
    select: &Select,
    shard: &mut Query,
    proj: &mut Projection,
    order: &[(&Expr, bool, bool)],
) -> Result<(Partial, Vec<SortKey>, Vec<ColumnRef>), ScatterError> {
    let shard_select = body(shard)?;
    let mut g = Grouping::new(proj, &mut shard_select.projection)?;
    g.group_by(&select.group_by)?;
    let having = match &select.having {
        Some(h) => Some(having::predicate(h, &mut |e: &Expr| g.operand(e, "h"))?),
        None => None,
    };
    let sort = order::resolve(order, |e| g.order_key(e))?;
    if g.groups.is_empty() && g.distinct_arg.is_some() && g.has_key_columns() {
        // The shards group by x for count(DISTINCT x), so over no rows they return no row at
        // all, and a constant column would come back NULL instead of its value.
        return Err(refuse(
            "count(DISTINCT …) without GROUP BY next to non-aggregate columns across shards",
            "select only aggregates, or add a GROUP BY",
        ));
    }
    shard_select.having = None;
    if let (Some(x), sqlparser::ast::GroupByExpr::Expressions(exprs, _)) = (&g.distinct_arg, &mut shard_select.group_by)
    {
        exprs.push(x.clone());
    }
    let keys = g.groups.iter().map(|(_, r)| *r).collect();
    let partial = Partial::Group { keys, visible: g.visible.clone(), having };
    Ok((partial, sort, g.compared.clone()))
}
