//! Planner unit tests: exact shard SQL and plan fields per rule, and a table of refusals.

mod collation;
mod describe;
mod group;
mod params;
mod print;
mod refuse;
mod stream;

use super::{plan, plan_checked};
use crate::scatter::plan::{ColumnRef, MergePlan, SortKey};
use crate::scatter::ScatterError;

/// The plan without the shards' collation verdicts (tested in `collation.rs`).
fn ok(sql: &str) -> MergePlan {
    match plan(sql) {
        Ok(p) => p,
        Err(e) => panic!("{sql}\n  refused: {e:?}"),
    }
}

fn refused(sql: &str) -> (String, String) {
    match plan(sql) {
        Ok(p) => panic!("{sql}\n  was planned: {p:?}"),
        Err(ScatterError::Unsupported { message, hint }) => (message, hint),
        Err(e) => panic!("{sql}\n  wrong error kind: {e:?}"),
    }
}

fn item(i: usize) -> ColumnRef {
    ColumnRef::Item(i)
}

fn hidden(h: usize) -> ColumnRef {
    ColumnRef::Hidden(h)
}

fn asc(column: ColumnRef) -> SortKey {
    SortKey { column, descending: false, nulls_first: false }
}

fn desc(column: ColumnRef) -> SortKey {
    SortKey { column, descending: true, nulls_first: true }
}
