//! PAUSE [<shard>] and RESUME [<shard>], PgBouncer's semantics adapted to shards: PAUSE stops
//! new checkouts of the shard's pools (every pool without a shard), then waits until the
//! servers checked out of them come back, so when it returns no query runs there. RESUME
//! lets the waiting checkouts through.
//!
//! Both waits are bounded. PAUSE gives up after [`DRAIN_LIMIT`] and lifts its own pause (an
//! operator script must not go on believing the shard is quiet); a checkout behind a pause
//! gives up after `pool::pause::PAUSE_WAIT_LIMIT`.

use std::time::Duration;

use tokio::time::Instant;

use super::error::AdminError;
use crate::frontend::Shared;

/// Longest PAUSE waits for checked-out servers to come back.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

/// Whether `shard` names a shard of some database's map.
fn exists(shared: &Shared, shard: &str) -> bool {
    shared.config.load().databases.values().any(|db| db.map.shard_by_name(shard).is_some())
}

/// Servers checked out of the pools `shard` covers now.
fn busy(shared: &Shared, shard: Option<&str>) -> usize {
    shared
        .pools
        .states()
        .iter()
        .filter(|(k, _, _)| shard.is_none_or(|s| k.shard.as_str() == s))
        .map(|(_, _, s)| s.connections.saturating_sub(s.idle) as usize)
        .sum()
}

pub async fn pause(shared: &Shared, shard: Option<&str>) -> Result<(), AdminError> {
    if let Some(s) = shard.filter(|s| !exists(shared, s)) {
        return Err(AdminError::NoSuchShard(s.to_string()));
    }
    let changed = shared.pools.pause.pause(shard);
    tracing::info!(shard = shard.unwrap_or("*"), "admin: PAUSE");
    let started = Instant::now();
    loop {
        let n = busy(shared, shard);
        if n == 0 {
            return Ok(());
        }
        if started.elapsed() >= DRAIN_LIMIT {
            if changed {
                shared.pools.pause.resume(shard);
            }
            return Err(AdminError::PauseTimeout { waited_ms: started.elapsed().as_millis() as u64, busy: n });
        }
        tokio::time::sleep(POLL).await;
    }
}

pub fn resume(shared: &Shared, shard: Option<&str>) -> Result<(), AdminError> {
    if let Some(s) = shard.filter(|s| !exists(shared, s) && !shared.pools.pause.paused().shards.contains(*s)) {
        return Err(AdminError::NoSuchShard(s.to_string()));
    }
    shared.pools.pause.resume(shard);
    tracing::info!(shard = shard.unwrap_or("*"), "admin: RESUME");
    Ok(())
}
