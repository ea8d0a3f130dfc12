//! Classification: from one parsed statement to a `Plan` for one map version. One file per
//! statement kind; this file holds the analyser they share: the table occurrences found so
//! far, the stack of query scopes used to resolve column references, and the column
//! equalities that make sharded tables co-located.
//!
//! Everything here runs once per distinct statement text; the route-time half is
//! `router/resolve.rs`.

mod delete;
mod expr;
mod insert;
mod scope;
mod select;
mod update;
mod utility;

use sqlparser::ast::Statement;

use super::plan::{Body, Plan, StatementKind};
use crate::shardmap::ShardMap;

pub use scope::Analyzer;

/// The plan for one statement.
pub fn plan(stmt: &Statement, map: &ShardMap) -> Plan {
    match stmt {
        Statement::Query(q) => select::plan(stmt, q, map),
        Statement::Insert(i) => insert::plan(stmt, i, map),
        Statement::Update(u) => update::plan(stmt, u, map),
        Statement::Delete(d) => delete::plan(stmt, d, map),
        Statement::Explain { statement, analyze, .. } => {
            let mut p = plan(statement, map);
            // Plain EXPLAIN runs nothing; EXPLAIN ANALYZE runs the statement.
            if !analyze {
                p.write = false;
            }
            p
        }
        other => utility::plan(other),
    }
}

/// A plan for a statement whose only routing question is the WHERE of a query.
fn tables_plan(kind: StatementKind, write: bool, analyzer: Analyzer<'_>) -> Plan {
    match analyzer.finish() {
        Ok(tables) if tables.instances.is_empty() => Plan { kind, write, body: Body::NoTable },
        Ok(tables) => Plan { kind, write, body: Body::Tables(tables) },
        Err(error) => Plan { kind, write, body: Body::NeedsHint { error, key_hint_ok: false } },
    }
}
