//! The select list as the shards will return it: the client's items, then hidden items the
//! proxy needs (sort keys, group keys, aggregates for HAVING, avg's count, parameter
//! carriers). Hidden items are always appended, so the client's column positions never move
//! and `ORDER BY 2` means the same on the shards as in the client's statement.

use sqlparser::ast::{Expr, Ident, SelectItem, Value};

use super::expr::{output_name, same, unparen, OutputName};
use super::refuse;
use crate::scatter::plan::{ColumnMerge, ColumnRef};
use crate::scatter::ScatterError;

pub struct Projection {
    /// The client's items, unchanged: ORDER BY / GROUP BY / HAVING are matched against what
    /// the client wrote, not against the shards' rewrite.
    items: Vec<SelectItem>,
    /// Items before the first wildcard: their column position is known at plan time.
    known: usize,
    hidden: Vec<SelectItem>,
    /// How each hidden column merges (only read for grouping plans).
    merges: Vec<ColumnMerge>,
}

impl Projection {
    pub fn new(items: &[SelectItem]) -> Result<Self, ScatterError> {
        let mut known = None;
        for (i, item) in items.iter().enumerate() {
            match item {
                // sqlparser reads PostgreSQL's string continuation ('a' newline 'b') as an alias
                // and would print `'a' AS 'b'`: refuse rather than send something else.
                SelectItem::ExprWithAlias { alias, .. } if alias.quote_style == Some('\'') => {
                    return Err(refuse(
                        "string constants continued over a line break",
                        "write the constant as one string",
                    ));
                }
                SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. } => {}
                SelectItem::Wildcard(opts) | SelectItem::QualifiedWildcard(_, opts) => {
                    let plain = opts.opt_ilike.is_none()
                        && opts.opt_exclude.is_none()
                        && opts.opt_except.is_none()
                        && opts.opt_replace.is_none()
                        && opts.opt_rename.is_none()
                        && opts.opt_alias.is_none();
                    if !plain {
                        return Err(refuse("wildcard options (EXCLUDE, REPLACE…)", "list the columns"));
                    }
                    known.get_or_insert(i);
                }
                SelectItem::ExprWithAliases { .. } => {
                    return Err(refuse("a select item with several aliases", "give each item one alias"));
                }
            }
        }
        Ok(Self { items: items.to_vec(), known: known.unwrap_or(items.len()), hidden: Vec::new(), merges: Vec::new() })
    }

    pub fn has_wildcard(&self) -> bool {
        self.known < self.items.len()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn item(&self, i: usize) -> Option<&SelectItem> {
        self.items.get(i)
    }

    /// The expression of item `i` as the client wrote it (None for a wildcard).
    pub fn expr(&self, i: usize) -> Option<&Expr> {
        match self.items.get(i)? {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
            _ => None,
        }
    }

    /// `Item(i)` when the position of item `i` is known at plan time.
    pub fn item_ref(&self, i: usize) -> Option<ColumnRef> {
        (i < self.known).then_some(ColumnRef::Item(i))
    }

    /// Appends `expr AS "_sg_<tag><n>"` (n = its hidden index) and returns its reference.
    pub fn hide(&mut self, expr: Expr, tag: &str, merge: ColumnMerge) -> ColumnRef {
        let n = self.hidden.len();
        let alias = Ident::with_quote('"', format!("_sg_{tag}{n}"));
        self.hidden.push(SelectItem::ExprWithAlias { expr, alias });
        self.merges.push(merge);
        ColumnRef::Hidden(n)
    }

    /// The hidden items so far (their parameters count as kept on the shards).
    pub fn hidden(&self) -> &[SelectItem] {
        &self.hidden
    }

    pub fn hidden_merges(&self) -> &[ColumnMerge] {
        &self.merges
    }

    /// The absolute shard-row index the next hidden column will have (no wildcard allowed).
    pub fn next_index(&self) -> usize {
        self.items.len() + self.hidden.len()
    }

    /// `ORDER BY 2` / `GROUP BY 2`: the 0-based item, for an integer constant key.
    /// Refuses positions PostgreSQL would reject and positions behind a wildcard.
    pub fn position(&self, clause: &str, e: &Expr) -> Result<Option<usize>, ScatterError> {
        let Expr::Value(v) = unparen(e) else {
            return Ok(None);
        };
        match &v.value {
            Value::Number(n, _) => {
                let p = n.parse::<usize>().ok().filter(|p| *p >= 1 && *p <= self.items.len());
                match p {
                    Some(p) if p <= self.known => Ok(Some(p - 1)),
                    Some(_) => Err(refuse(
                        format!("{clause} {n} after a * in the select list"),
                        format!("{clause} the column's name or expression instead of its position"),
                    )),
                    None if !self.has_wildcard() => Err(refuse(
                        format!("{clause} position {n} is not in select list"),
                        format!("{clause} a position between 1 and {}", self.items.len()),
                    )),
                    None => Err(refuse(
                        format!("{clause} {n} after a * in the select list"),
                        format!("{clause} the column's name or expression instead of its position"),
                    )),
                }
            }
            Value::Placeholder(_) => Ok(None),
            _ => Err(refuse(
                format!("{clause} a constant ({v})"),
                format!("{clause} a column, an expression or a position"),
            )),
        }
    }

    /// The item a bare name in ORDER BY names (output names first, as PostgreSQL does).
    /// `None` when no item has that name. Refuses when an item's name cannot be worked out
    /// and might be this one, or when two different items share it.
    pub fn by_name(&self, name: &str) -> Result<Option<usize>, ScatterError> {
        let mut found: Option<usize> = None;
        for (i, item) in self.items.iter().enumerate() {
            match output_name(item) {
                OutputName::Known(n) if n == name => match (found.and_then(|f| self.expr(f)), self.expr(i)) {
                    (Some(first), Some(this)) if !same(first, this) => {
                        return Err(refuse(
                            format!("ORDER BY \"{name}\" is ambiguous"),
                            "order by position, or give the select items distinct aliases",
                        ));
                    }
                    _ => {
                        found.get_or_insert(i);
                    }
                },
                OutputName::Known(_) => {}
                OutputName::Unknown if self.expr(i).is_none() => {} // wildcard: see Stream rules
                OutputName::Unknown => {
                    return Err(refuse(
                        format!("ORDER BY \"{name}\" when select item {} has no name shardgate can work out", i + 1),
                        "give that select item an alias, or order by position",
                    ));
                }
            }
        }
        Ok(found)
    }

    /// The first item whose expression is the same as `e`.
    pub fn by_expr(&self, e: &Expr) -> Option<usize> {
        (0..self.items.len()).find(|&i| self.expr(i).is_some_and(|x| same(x, e)))
    }

    /// The hidden items to append to the shards' select list, and how each merges.
    pub fn finish(self) -> (Vec<SelectItem>, Vec<ColumnMerge>) {
        (self.hidden, self.merges)
    }
}
