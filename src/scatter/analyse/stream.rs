//! ORDER BY keys for the two shapes that do not aggregate: a streaming merge (every shard
//! sorts, the proxy k-way merges) and SELECT DISTINCT (the proxy sorts the distinct rows).

use sqlparser::ast::Expr;

use super::expr::{first_call, unparen};
use super::function::{folded, Kind};
use super::projection::Projection;
use super::refuse;
use crate::scatter::plan::{ColumnMerge, ColumnRef};
use crate::scatter::ScatterError;

/// The item an ORDER BY key names: by position, by output name (PostgreSQL tries output
/// names before input columns for a bare name), or by being the same expression.
fn item(proj: &Projection, e: &Expr) -> Result<Option<usize>, ScatterError> {
    if let Some(i) = proj.position("ORDER BY", e)? {
        return Ok(Some(i));
    }
    if let Expr::Identifier(id) = unparen(e) {
        if let Some(i) = proj.by_name(&folded(id))? {
            return Ok(Some(i));
        }
    }
    Ok(proj.by_expr(e))
}

/// A streaming sort key. The shards keep the client's ORDER BY, so a hidden column only has
/// to carry the same value the shard sorted by: the named item's expression when the item
/// stands behind a wildcard (its position is unknown), else the key expression itself.
pub fn key(proj: &mut Projection, e: &Expr) -> Result<ColumnRef, ScatterError> {
    match item(proj, e)? {
        Some(i) => match (proj.item_ref(i), proj.expr(i).cloned()) {
            (Some(r), _) => Ok(r),
            (None, Some(x)) => match first_call(&x, Kind::Volatile) {
                // The copy would hold a new value, not the one the shard sorted by.
                Some(f) => Err(refuse(
                    format!(
                        "ORDER BY {e}: select item {} after a * calls {}, which changes at every call",
                        i + 1,
                        f.name
                    ),
                    "select the sort key before the *",
                )),
                None => Ok(proj.hide(x, "o", ColumnMerge::Key)),
            },
            (None, None) => Err(refuse(format!("ORDER BY {e}"), "order by a column name")),
        },
        None => Ok(proj.hide(e.clone(), "o", ColumnMerge::Key)),
    }
}

/// A SELECT DISTINCT sort key: PostgreSQL requires it to be a select item, and a hidden
/// column would change which rows are distinct.
pub fn distinct_key(proj: &Projection, e: &Expr) -> Result<ColumnRef, ScatterError> {
    item(proj, e)?.and_then(|i| proj.item_ref(i)).ok_or_else(|| {
        refuse(
            format!("ORDER BY {e}: for SELECT DISTINCT, ORDER BY expressions must appear in select list"),
            "add the expression to the select list, or order by one of the selected columns",
        )
    })
}
