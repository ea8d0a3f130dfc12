//! SHOW DATABASES: one row per configured database and server of its shard map, PgBouncer's
//! column names (`name` is the database clients ask for, `database` the one on the server).
//!
//! Left out: force_user, reserve_pool_size, max_connections, disabled (no such settings).

use super::table::{boolean, text, Kind, Table};
use crate::frontend::Shared;

pub fn run(shared: &Shared) -> Table {
    let config = shared.config.load();
    let paused = shared.pools.pause.paused();
    let states = shared.pools.states();
    let mut t = Table::new(&[
        ("name", Kind::Text),
        ("host", Kind::Text),
        ("port", Kind::Int),
        ("database", Kind::Text),
        ("pool_size", Kind::Int),
        ("min_pool_size", Kind::Int),
        ("server_lifetime", Kind::Int),
        ("pool_mode", Kind::Text),
        ("current_connections", Kind::Int),
        ("paused", Kind::Bool),
        ("shard", Kind::Text),
        ("shard_map", Kind::Text),
    ]);
    for db in config.databases.values() {
        for shard in db.map.shards() {
            for member in &shard.servers {
                let e = &member.endpoint;
                let current: u32 = states
                    .iter()
                    .filter(|(k, ep, _)| k.database == db.name && k.shard == shard.name && ep == e)
                    .map(|(_, _, s)| s.connections)
                    .sum();
                t.push(vec![
                    text(&db.name),
                    text(&e.host),
                    text(e.port),
                    text(&e.database),
                    text(config.pool.size),
                    text(config.pool.min_idle),
                    config.pool.lifetime.map(|l| l.as_secs().to_string()),
                    text(config.pool.mode.as_str()),
                    text(current),
                    boolean(paused.covers(shard.name.as_str())),
                    text(shard.name.as_str()),
                    text(db.map_path.display()),
                ]);
            }
        }
    }
    t
}
