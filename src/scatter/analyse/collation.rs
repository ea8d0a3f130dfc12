//! Text the proxy compares must compare as the shards would. The proxy compares bytes, which
//! is PostgreSQL's order only under the C/POSIX collations (in UTF-8, LATIN1 or SQL_ASCII
//! databases), and PostgreSQL's equality only under deterministic collations. Neither the
//! statement nor RowDescription tells which collation a column has, so each shard reports it
//! with the rows: one hidden boolean per compared text column, computed from
//! `pg_collation_for(<expression>)` (its result taken COLLATE "C", since it inherits the
//! column's collation and would clash with the catalog's) against catalog lists the shard evaluates once per query
//! (uncorrelated subqueries). The executor refuses the query when a shard says false.

use sqlparser::ast::{Expr, SelectItem};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::projection::Projection;
use crate::scatter::plan::{CollationCheck, ColumnMerge, ColumnRef};
use crate::scatter::ScatterError;

/// The collations under which byte order is PostgreSQL's order; `"default"` joins them when
/// the database's own collation is C/POSIX with the libc provider.
const ORDER_OK: &str = "(SELECT coalesce(array_agg(quote_ident(c.collname)), ARRAY[]::text[]) \
     FROM pg_catalog.pg_collation c WHERE c.collprovider = 'c' AND c.collcollate IN ('C', 'POSIX')) \
     || (SELECT CASE WHEN d.datcollate IN ('C', 'POSIX') \
                      AND coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' \
                     THEN ARRAY['\"default\"'] ELSE ARRAY[]::text[] END \
         FROM pg_catalog.pg_database d WHERE d.datname = current_database())";

/// Encodings in which byte order is code point order on the server and in what the client
/// receives.
const ENCODING_OK: &str = "(SELECT current_setting('server_encoding') IN ('UTF8', 'SQL_ASCII', 'LATIN1') \
     AND current_setting('client_encoding') IN ('UTF8', current_setting('server_encoding')))";

/// Deterministic collations: equal only when the bytes are equal.
/// (Cast, so that `= ANY (…)` reads an array, not a subquery's rows.)
const EQUALITY_OK: &str =
    "CAST((SELECT coalesce(array_agg(quote_ident(c.collname)), ARRAY[]::text[]) || ARRAY['\"default\"'] \
     FROM pg_catalog.pg_collation c WHERE c.collisdeterministic) AS text[])";

/// Adds one verdict column per compared column. `ordered`: the column is compared for order
/// (sort keys, min/max), not only for equality (grouping keys, DISTINCT, count(DISTINCT)).
pub fn checks(
    compared: &[ColumnRef],
    ordered: impl Fn(ColumnRef) -> bool,
    visible: &[SelectItem],
    proj: &mut Projection,
) -> Result<Vec<CollationCheck>, ScatterError> {
    let mut out = Vec::with_capacity(compared.len());
    for &c in compared {
        let expr = match c {
            ColumnRef::Item(i) => visible.get(i).and_then(item_expr),
            ColumnRef::Hidden(h) => proj.hidden().get(h).and_then(item_expr),
        };
        let Some(expr) = expr.cloned() else {
            return Err(ScatterError::unsupported(
                "internal: a compared column has no expression",
                "report this to the shardgate developers",
            ));
        };
        let ordered = ordered(c);
        let verdict = verdict(&expr, ordered)?;
        let at = proj.hide(verdict, "v", ColumnMerge::Key);
        out.push(CollationCheck { column: c, verdict: at, ordered });
    }
    Ok(out)
}

fn item_expr(item: &SelectItem) -> Option<&Expr> {
    match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    }
}

fn verdict(e: &Expr, ordered: bool) -> Result<Expr, ScatterError> {
    let sql = if ordered {
        format!("((pg_collation_for({e}) COLLATE \"C\") = ANY ({ORDER_OK}) AND {ENCODING_OK})")
    } else {
        format!("((pg_collation_for({e}) COLLATE \"C\") = ANY ({EQUALITY_OK}))")
    };
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|err| ScatterError::unsupported(format!("internal: collation check does not parse: {err}"), ""))
}
