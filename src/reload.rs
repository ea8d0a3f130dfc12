//! Reloading the config and shard maps without a restart: on SIGHUP, on a change of any
//! watched file, or when asked (`Running::reload`, the admin console's RELOAD).
//!
//! A reload parses and validates everything first and swaps only a valid result, atomically
//! (arc-swap). Clients pick the new maps up between transactions, so a transaction finishes on
//! the map it started with. Pools of shards that left the map (or whose endpoint changed) are
//! dropped and drain as their servers come back; the pools that stay take the new pool
//! settings and sizes (`Pools::apply`). Changes to `listen`, `tls` and `metrics.listen` need a
//! restart.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::{Config, ConfigError};
use crate::frontend::Shared;
use crate::metrics::ReloadResult;

/// How often watched files are checked. Polling modification times works the same on every
/// file system, bind mounts and ConfigMap symlink swaps included, where change notifications
/// are unreliable; one `stat` per file per second costs nothing.
const POLL: Duration = Duration::from_secs(1);

/// Validates and swaps in the config at the running config's path.
pub fn reload(shared: &Shared) -> Result<(), ConfigError> {
    let old = shared.config.load_full();
    let new = match Config::load(&old.path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(errors = %e, "reload refused: the running config keeps serving");
            shared.metrics.reloaded(ReloadResult::Failed);
            return Err(e);
        }
    };
    if new.listen != old.listen {
        tracing::warn!(old = %old.listen, new = %new.listen, "`listen` changes need a restart; still listening on the old address");
    }
    if new.metrics_listen != old.metrics_listen {
        tracing::warn!(old = ?old.metrics_listen, new = ?new.metrics_listen, "`metrics.listen` changes need a restart; /metrics stays where it is");
    }
    let dropped = shared.pools.retain(|key, endpoint| {
        new.databases
            .get(&key.database)
            .and_then(|db| db.map.shard_by_name(key.shard.as_str()).and_then(|i| db.map.shard(i)))
            .and_then(|shard| shard.server(key.server))
            .is_some_and(|server| server.endpoint == *endpoint)
    });
    // Pool sizes, timeouts and idle limits take effect on the pools that stay, not only on
    // pools made from now on (PgBouncer's RELOAD does the same).
    shared.pools.apply(&new.pool, |user| new.users.get(user).map(|u| u.pool_size));
    // The new routers start with empty plan caches; keep the old counts so the exported
    // counters never go backwards. (Clients still finishing a transaction on the old map add
    // a few lookups the metrics then miss.)
    for db in old.databases.values() {
        let (hits, misses) = db.router.cache_stats();
        shared.metrics.retire_cache(&db.name, hits, misses);
    }
    shared.config.store(Arc::new(new));
    shared.metrics.reloaded(ReloadResult::Ok);
    let generation = shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
    tracing::info!(generation, pools_dropped = dropped, "config and shard maps reloaded");
    Ok(())
}

/// Runs until shutdown: reloads on SIGHUP and when a watched file changes.
pub async fn watch(shared: Arc<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut seen = stamps(&shared);
    loop {
        let hangup = async {
            match hup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            () = hangup => {
                tracing::info!("SIGHUP: reloading");
                let _ = reload(&shared);
                seen = stamps(&shared);
            }
            () = tokio::time::sleep(POLL) => {
                if stamps(&shared) != seen {
                    tracing::info!("a config or shard map file changed: reloading");
                    let _ = reload(&shared);
                    // Watch the files the config now names (a reload may add maps).
                    seen = stamps(&shared);
                }
            }
        }
    }
}

/// Modification times of the config file and every map it names.
fn stamps(shared: &Shared) -> Vec<(PathBuf, Option<SystemTime>)> {
    let config = shared.config.load();
    let mut paths = vec![config.path.clone()];
    paths.extend(config.databases.values().map(|d| d.map_path.clone()));
    paths.into_iter().map(|p| (p.clone(), std::fs::metadata(&p).and_then(|m| m.modified()).ok())).collect()
}
