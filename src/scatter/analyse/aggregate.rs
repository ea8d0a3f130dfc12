//! Aggregating queries (aggregates, GROUP BY, HAVING): the shards compute partial
//! aggregates per group, the proxy combines the partials of equal groups, then applies
//! HAVING, ORDER BY and LIMIT itself. Every ORDER BY key and HAVING operand becomes a column
//! of the shards' rows — a select item, or a hidden item appended for the purpose.

use sqlparser::ast::{Expr, Function, GroupByExpr, SelectItem};

use super::call::{self, Call};
use super::expr::{aggregate_calls, first_call, same, unparen};
use super::function::{self, folded, Kind};
use super::projection::Projection;
use super::refuse;
use crate::scatter::plan::{ColumnMerge, ColumnRef};
use crate::scatter::ScatterError;

/// True when the query aggregates. Refuses calls that may be aggregates shardgate cannot
/// merge (including functions it does not know), since they would change the query's shape.
pub fn is_aggregated<'e>(
    items: impl Iterator<Item = &'e Expr>,
    group_by: &GroupByExpr,
    having: Option<&'e Expr>,
) -> Result<bool, ScatterError> {
    let mut aggregated =
        having.is_some() || !matches!(group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    for e in items.chain(having) {
        for f in aggregate_calls(e) {
            match function::classify(&f) {
                Kind::Aggregate(_) => aggregated = true,
                kind => return Err(call::refusal(&f, kind)),
            }
        }
    }
    Ok(aggregated)
}

pub struct Grouping<'p> {
    proj: &'p mut Projection,
    /// How each visible item merges.
    pub visible: Vec<ColumnMerge>,
    /// The GROUP BY expressions as the client wrote them, and the column holding each.
    pub groups: Vec<(Expr, ColumnRef)>,
    /// Aggregates appended as hidden columns: the client's call and its column.
    hidden_aggs: Vec<(Expr, ColumnRef)>,
    /// The argument of count(DISTINCT x): the shards add it to their GROUP BY.
    pub distinct_arg: Option<Expr>,
    /// Columns the proxy compares: min/max arguments and count(DISTINCT) values.
    pub compared: Vec<ColumnRef>,
}

impl<'p> Grouping<'p> {
    /// Classifies every select item, rewriting `shard_items` (the shards' select list) for
    /// avg and count(DISTINCT).
    pub fn new(proj: &'p mut Projection, shard_items: &mut [SelectItem]) -> Result<Self, ScatterError> {
        if proj.has_wildcard() {
            return Err(refuse(
                "* in an aggregating query across shards",
                "list the columns: shardgate must know each column to merge groups",
            ));
        }
        let mut g = Grouping {
            proj,
            visible: Vec::new(),
            groups: Vec::new(),
            hidden_aggs: Vec::new(),
            distinct_arg: None,
            compared: Vec::new(),
        };
        for (i, item) in shard_items.iter_mut().enumerate() {
            let merge = g.item(i, item)?;
            g.visible.push(merge);
        }
        Ok(g)
    }

    fn item(&mut self, i: usize, item: &mut SelectItem) -> Result<ColumnMerge, ScatterError> {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e.clone(), None),
            SelectItem::ExprWithAlias { expr, alias } => (expr.clone(), Some(alias.clone())),
            _ => return Err(refuse("* in an aggregating query across shards", "list the columns")),
        };
        let f = match unparen(&expr) {
            Expr::Function(f) if matches!(function::classify(f), Kind::Aggregate(_)) => f,
            _ => return key_column(&expr),
        };
        let kind = function::classify(f);
        // The column keeps the name PostgreSQL gives the client's call (avg, count).
        let name = alias.unwrap_or_else(|| sqlparser::ast::Ident::new(function::name(f).unwrap_or_default()));
        Ok(match call::analyse(f, kind)? {
            Call::Plain(m) => self.plain(m, ColumnRef::Item(i)),
            Call::Avg { sum, count } => {
                let count = self.proj.hide(Expr::Function(*count), "c", ColumnMerge::AvgCount);
                *item = SelectItem::ExprWithAlias { expr: Expr::Function(*sum), alias: name };
                ColumnMerge::AvgSum { count: self.absolute(count) }
            }
            Call::CountDistinct(x) => {
                self.distinct(&x)?;
                *item = SelectItem::ExprWithAlias { expr: *x, alias: name };
                self.compared.push(ColumnRef::Item(i));
                ColumnMerge::CountDistinct
            }
        })
    }

    /// Min and max are compared in the proxy: their columns join `compared`.
    fn plain(&mut self, merge: ColumnMerge, at: ColumnRef) -> ColumnMerge {
        if let ColumnMerge::Min | ColumnMerge::Max = merge {
            self.compared.push(at);
        }
        merge
    }

    /// A hidden column's index in the shards' rows (aggregating plans have no wildcard).
    fn absolute(&self, r: ColumnRef) -> usize {
        match r {
            ColumnRef::Item(i) => i,
            ColumnRef::Hidden(h) => self.proj.len() + h,
        }
    }

    fn distinct(&mut self, x: &Expr) -> Result<(), ScatterError> {
        match &self.distinct_arg {
            Some(d) if !same(d, x) => Err(refuse(
                "count(DISTINCT …) of two different expressions across shards",
                "count distinct values of one expression per query, or run one query per expression",
            )),
            Some(_) => Ok(()),
            None => {
                self.distinct_arg = Some(x.clone());
                Ok(())
            }
        }
    }

    /// The GROUP BY clause → `groups`.
    pub fn group_by(&mut self, group_by: &GroupByExpr) -> Result<(), ScatterError> {
        let exprs = match group_by {
            GroupByExpr::Expressions(e, modifiers) if modifiers.is_empty() => e,
            _ => return Err(refuse("GROUP BY ALL / WITH ROLLUP / WITH CUBE", "list the grouping expressions")),
        };
        for g in exprs {
            let column = self.group_key(g)?;
            self.groups.push((g.clone(), column));
        }
        Ok(())
    }

    fn group_key(&mut self, g: &Expr) -> Result<ColumnRef, ScatterError> {
        if let Expr::GroupingSets(_) | Expr::Cube(_) | Expr::Rollup(_) | Expr::Tuple(_) = unparen(g) {
            return Err(refuse(
                format!("GROUP BY {g} across shards"),
                "group by plain expressions, and run one query per grouping set",
            ));
        }
        if let Some(i) = self.proj.position("GROUP BY", g)? {
            return match self.visible.get(i) {
                Some(ColumnMerge::Key) => Ok(ColumnRef::Item(i)),
                _ => Err(refuse(format!("GROUP BY {g} names an aggregate"), "group by a column or expression")),
            };
        }
        if let Expr::Identifier(id) = unparen(g) {
            self.alias_clash(&folded(id))?;
        }
        match self.proj.by_expr(g) {
            Some(i) if self.visible.get(i) == Some(&ColumnMerge::Key) => Ok(ColumnRef::Item(i)),
            _ => Ok(self.proj.hide(g.clone(), "g", ColumnMerge::Key)),
        }
    }

    /// PostgreSQL resolves a GROUP BY name to an input column first and to an output alias
    /// only when no column has that name; without the schema the two cannot be told apart.
    fn alias_clash(&self, name: &str) -> Result<(), ScatterError> {
        for i in 0..self.proj.len() {
            let Some(SelectItem::ExprWithAlias { alias, expr }) = self.proj.item(i) else {
                continue;
            };
            let names_column = match unparen(expr) {
                Expr::Identifier(c) => folded(c) == name,
                Expr::CompoundIdentifier(p) => p.last().is_some_and(|c| folded(c) == name),
                _ => false,
            };
            if folded(alias) == name && !names_column {
                return Err(refuse(
                    format!("GROUP BY \"{name}\": shardgate cannot tell whether it means a column or the alias of select item {}", i + 1),
                    format!("write GROUP BY {} (the position) or repeat the expression", i + 1),
                ));
            }
        }
        Ok(())
    }

    /// An ORDER BY key: a position or output name first (as PostgreSQL resolves ORDER BY),
    /// then any expression over the groups.
    pub fn order_key(&mut self, e: &Expr) -> Result<ColumnRef, ScatterError> {
        if let Some(i) = self.proj.position("ORDER BY", e)? {
            return Ok(ColumnRef::Item(i));
        }
        if let Expr::Identifier(id) = unparen(e) {
            if let Some(i) = self.proj.by_name(&folded(id))? {
                return Ok(ColumnRef::Item(i));
            }
        }
        self.operand(e, "o")
    }

    /// True when some column is taken from "any row of the group" rather than aggregated.
    pub fn has_key_columns(&self) -> bool {
        self.visible.contains(&ColumnMerge::Key) || self.proj.hidden_merges().contains(&ColumnMerge::Key)
    }

    /// An ORDER BY key or HAVING operand that is not a select item: an aggregate (hidden
    /// with its merge) or an expression of the group keys (hidden, taken from any row).
    pub fn operand(&mut self, e: &Expr, tag: &str) -> Result<ColumnRef, ScatterError> {
        if let Some(i) = self.proj.by_expr(e) {
            return Ok(ColumnRef::Item(i));
        }
        if let Expr::Function(f) = unparen(e) {
            if let Kind::Aggregate(_) = function::classify(f) {
                return self.aggregate(f);
            }
        }
        if !aggregate_calls(e).is_empty() {
            return Err(around(e));
        }
        if let Some((_, r)) = self.groups.iter().find(|(g, _)| same(g, e)) {
            return Ok(*r);
        }
        key_column(e)?;
        Ok(self.proj.hide(e.clone(), tag, ColumnMerge::Key))
    }

    fn aggregate(&mut self, f: &Function) -> Result<ColumnRef, ScatterError> {
        let e = Expr::Function(f.clone());
        if let Some((_, r)) = self.hidden_aggs.iter().find(|(h, _)| same(h, &e)) {
            return Ok(*r);
        }
        let r = match call::analyse(f, function::classify(f))? {
            Call::Plain(m) => {
                let at = ColumnRef::Hidden(self.proj.hidden().len());
                let merge = self.plain(m, at);
                self.proj.hide(e.clone(), "a", merge)
            }
            Call::Avg { sum, count } => {
                let sum_at = self.proj.next_index();
                let r = self.proj.hide(Expr::Function(*sum), "a", ColumnMerge::AvgSum { count: sum_at + 1 });
                self.proj.hide(Expr::Function(*count), "c", ColumnMerge::AvgCount);
                r
            }
            Call::CountDistinct(x) => {
                self.distinct(&x)?;
                let r = self.proj.hide(*x, "d", ColumnMerge::CountDistinct);
                self.compared.push(r);
                r
            }
        };
        self.hidden_aggs.push((e, r));
        Ok(r)
    }
}

/// A non-aggregate column of an aggregating query: one value per group, taken from any row.
fn key_column(e: &Expr) -> Result<ColumnMerge, ScatterError> {
    if !aggregate_calls(e).is_empty() {
        return Err(around(e));
    }
    if let Some(f) = first_call(e, Kind::SetReturning) {
        return Err(refuse(
            format!("set-returning function {} in an aggregating query across shards", f.name),
            "expand the rows in the application, or add the shard key to the WHERE clause",
        ));
    }
    Ok(ColumnMerge::Key)
}

fn around(e: &Expr) -> ScatterError {
    refuse(
        format!("an expression around an aggregate ({e}) across shards"),
        "select the aggregate plainly (e.g. sum(x) rather than sum(x) * 2) and compute the rest in the application",
    )
}
