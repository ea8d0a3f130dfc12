//! A server's role as the health board says now, as SHOW POOLS, SERVERS and SHARDS print it.

use crate::pool::health::Board;
use crate::shardmap::Endpoint;

/// `primary`, `replica` or `down`. Servers of unreplicated shards are never health-checked:
/// they are their shard's primary by definition (the metrics endpoint says the same).
pub fn role_now(board: &Board, endpoint: &Endpoint) -> &'static str {
    match board.get(endpoint) {
        None => "primary",
        Some(h) => match &h.status {
            Some(s) if s.in_recovery => "replica",
            Some(_) => "primary",
            None => "down",
        },
    }
}
