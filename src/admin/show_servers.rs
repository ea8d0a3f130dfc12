//! SHOW SERVERS: one row per open server connection, PgBouncer's column names.
//!
//! The pool library tracks connections by count, not one by one, so each row says what is
//! true of every connection of its pool (user, database, state, address, shard, role);
//! per-connection details (connect_time, remote_pid, local port) are left out.

use super::table::{text, Kind, Table};
use crate::frontend::Shared;

pub fn run(shared: &Shared) -> Table {
    let board = shared.health.board();
    let mut t = Table::new(&[
        ("type", Kind::Text),
        ("user", Kind::Text),
        ("database", Kind::Text),
        ("state", Kind::Text),
        ("addr", Kind::Text),
        ("port", Kind::Int),
        ("server_database", Kind::Text),
        ("shard", Kind::Text),
        ("role", Kind::Text),
    ]);
    let mut states = shared.pools.states();
    states.sort_by_key(|(key, _, _)| key.to_string());
    for (key, endpoint, state) in states {
        let active = state.connections.saturating_sub(state.idle);
        let rows =
            std::iter::repeat_n("active", active as usize).chain(std::iter::repeat_n("idle", state.idle as usize));
        for s in rows {
            t.push(vec![
                text("S"),
                text(&key.user),
                text(&key.database),
                text(s),
                text(&endpoint.host),
                text(endpoint.port),
                text(&endpoint.database),
                text(key.shard.as_str()),
                text(board.role_now(&endpoint)),
            ]);
        }
    }
    t
}
