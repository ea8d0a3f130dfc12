//! ORDER BY: each key becomes a column of the shards' rows the proxy can compare, with
//! PostgreSQL's defaults for direction and NULL placement. How a key expression is found
//! in (or added to) the select list depends on the merge shape, so the caller resolves it.

use sqlparser::ast::{Expr, OrderBy, OrderByKind, OrderBySort};

use super::refuse;
use crate::scatter::plan::{ColumnRef, SortKey};
use crate::scatter::ScatterError;

/// The keys of the client's ORDER BY, in order, before resolution.
pub fn keys(order_by: Option<&OrderBy>) -> Result<Vec<(&Expr, bool, bool)>, ScatterError> {
    let Some(order_by) = order_by else {
        return Ok(Vec::new());
    };
    if order_by.interpolate.is_some() {
        return Err(refuse("ORDER BY … INTERPOLATE", "use PostgreSQL's ORDER BY"));
    }
    let OrderByKind::Expressions(exprs) = &order_by.kind else {
        return Err(refuse("ORDER BY ALL", "list the sort keys"));
    };
    let mut keys = Vec::with_capacity(exprs.len());
    for o in exprs {
        if o.with_fill.is_some() {
            return Err(refuse("ORDER BY … WITH FILL", "use PostgreSQL's ORDER BY"));
        }
        let descending = match &o.options.sort {
            None | Some(OrderBySort::Asc) => false,
            Some(OrderBySort::Desc) => true,
            Some(OrderBySort::Using(op)) => {
                return Err(refuse(
                    format!("ORDER BY … USING {op} across shards"),
                    "use ASC or DESC: shardgate merges with the default sort order of the column's type",
                ));
            }
        };
        // PostgreSQL: NULLs sort as if larger than any value unless told otherwise.
        let nulls_first = o.options.nulls_first.unwrap_or(descending);
        keys.push((&o.expr, descending, nulls_first));
    }
    Ok(keys)
}

/// Resolves every key with `resolve`, which may append hidden select items.
pub fn resolve(
    keys: &[(&Expr, bool, bool)],
    mut resolve: impl FnMut(&Expr) -> Result<ColumnRef, ScatterError>,
) -> Result<Vec<SortKey>, ScatterError> {
    keys.iter()
        .map(|&(e, descending, nulls_first)| Ok(SortKey { column: resolve(e)?, descending, nulls_first }))
        .collect()
}
