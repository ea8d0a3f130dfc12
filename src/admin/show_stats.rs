//! SHOW STATS: traffic totals since start, PgBouncer's column names.
//!
//! shardgate counts per instance, not per database, so there is one row with database `*`.
//! Left out rather than faked: transaction counts and times (the proxy does not count
//! transactions), parse/bind counts, and PgBouncer's per-period averages of traffic; the
//! `avg_*` times here are averages since start.

use super::table::{text, Kind, Table};
use crate::frontend::Shared;

pub fn run(shared: &Shared) -> Table {
    let m = shared.metrics.totals();
    let avg = |sum: u64, n: u64| sum.checked_div(n).unwrap_or(0);
    let mut t = Table::new(&[
        ("database", Kind::Text),
        ("total_server_assignment_count", Kind::Int),
        ("total_query_count", Kind::Int),
        ("total_received", Kind::Int),
        ("total_sent", Kind::Int),
        ("total_query_time", Kind::Int),
        ("total_wait_time", Kind::Int),
        ("avg_query_time", Kind::Int),
        ("avg_wait_time", Kind::Int),
    ]);
    t.push(vec![
        text("*"),
        text(m.checkouts),
        text(m.statements),
        text(m.bytes_received),
        text(m.bytes_sent),
        text(m.statement_us),
        text(m.checkout_us),
        text(avg(m.statement_us, m.statements)),
        text(avg(m.checkout_us, m.checkouts)),
    ]);
    t
}
