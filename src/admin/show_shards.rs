//! SHOW SHARDS (ours): every server of every shard, with its role as the health board says
//! now and its replication lag. `up`, `banned` and the lag columns are NULL where they do not
//! apply: servers of unreplicated shards are never health-checked, primaries do not lag.

use super::table::{boolean, text, Kind, Table};
use crate::frontend::Shared;

pub fn run(shared: &Shared) -> Table {
    let config = shared.config.load();
    let board = shared.health.board();
    let paused = shared.pools.pause.paused();
    let now = std::time::Instant::now();
    let mut t = Table::new(&[
        ("database", Kind::Text),
        ("shard", Kind::Text),
        ("server", Kind::Text),
        ("server_database", Kind::Text),
        ("role", Kind::Text),
        ("up", Kind::Bool),
        ("banned", Kind::Bool),
        ("lag_bytes", Kind::Int),
        ("lag_seconds", Kind::Float),
        ("paused", Kind::Bool),
        ("last_error", Kind::Text),
    ]);
    for db in config.databases.values() {
        for shard in db.map.shards() {
            for member in &shard.servers {
                let e = &member.endpoint;
                let health = board.get(e);
                let replica = health.and_then(|h| h.status.as_ref()).filter(|s| s.in_recovery);
                t.push(vec![
                    text(&db.name),
                    text(shard.name.as_str()),
                    text(format!("{}:{}", e.host, e.port)),
                    text(&e.database),
                    text(board.role_now(e)),
                    health.and_then(|h| boolean(h.up(now))),
                    health.and_then(|h| boolean(h.banned(now))),
                    replica.map(|s| s.lag_bytes.to_string()),
                    replica.map(|s| format!("{:.3}", s.lag.as_secs_f64())),
                    boolean(paused.covers(shard.name.as_str())),
                    health.and_then(|h| h.last_error.clone()),
                ]);
            }
        }
    }
    t
}
