//! SHOW POOLS: one row per pool (database, shard, server, user), PgBouncer's column names
//! where the concept is the same.
//!
//! Left out: sv_used and sv_tested (the pool keeps no such states: a server is idle or
//! handed out, and a ping happens inside a checkout), sv_login (servers being opened: the
//! `connecting` state of the pool series on /metrics) and maxwait (the pool does not keep
//! waiters' ages). A server checked out is held by exactly one client, so cl_active equals
//! sv_active.

use super::table::{boolean, text, Kind, Table};
use crate::frontend::Shared;

pub fn run(shared: &Shared) -> Table {
    let config = shared.config.load();
    let board = shared.health.board();
    let paused = shared.pools.pause.paused();
    let mut t = Table::new(&[
        ("database", Kind::Text),
        ("user", Kind::Text),
        ("cl_active", Kind::Int),
        ("cl_waiting", Kind::Int),
        ("sv_active", Kind::Int),
        ("sv_idle", Kind::Int),
        ("pool_mode", Kind::Text),
        ("shard", Kind::Text),
        ("server", Kind::Text),
        ("role", Kind::Text),
        ("pool_size", Kind::Int),
        ("paused", Kind::Bool),
    ]);
    let mut states = shared.pools.states();
    states.sort_by(|(a, ea, _), (b, eb, _)| {
        (&a.database, a.shard.as_str(), &ea.host, ea.port, &a.user).cmp(&(
            &b.database,
            b.shard.as_str(),
            &eb.host,
            eb.port,
            &b.user,
        ))
    });
    for (key, endpoint, state) in states {
        let active = state.connections.saturating_sub(state.idle);
        let user = config.users.get(&key.user);
        t.push(vec![
            text(&key.database),
            text(&key.user),
            text(active),
            text(state.waiting),
            text(active),
            text(state.idle),
            user.map(|u| u.pool_mode.as_str().to_string()),
            text(key.shard.as_str()),
            text(format!("{}:{}", endpoint.host, endpoint.port)),
            text(board.role_now(&endpoint)),
            user.map(|u| u.pool_size.to_string()),
            boolean(paused.covers(key.shard.as_str())),
        ]);
    }
    t
}
