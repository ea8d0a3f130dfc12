//! Pools of authenticated servers, one per (database, shard, server, user).
//!
//! The pool is shardgate's own (`core.rs` says why not bb8). Lessons kept from bb8 (see
//! DESIGN.md, crate notes): a failure to open a server reaches every waiting client at once
//! with the server's own error (`failures.rs`), not as a bare timeout; a server goes back only
//! when `clean` (idle ReadyForQuery 'I', nothing unread), otherwise it is closed; and the
//! validity ping runs only for servers idle longer than a threshold.

pub mod control;
mod core;
mod directory;
mod error;
mod failures;
pub mod health;
mod opener;
pub mod pause;
pub mod select;
mod stats;
mod upkeep;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use self::core::Core;
pub use self::core::{Checkout, Keeper, KeeperOf, Kept, Limits, PoolState};
pub use directory::{Directory, DirectoryView};
pub use error::PoolError;
use failures::ConnectFailures;
use opener::Opener;
pub use opener::ServerParams;

use crate::backend::ConnectParams;
use crate::config::{PoolSettings, UserConfig};
use crate::shardmap::{Endpoint, ServerIdx, ServerTlsMode, ShardName};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub database: String,
    pub shard: ShardName,
    /// Which of the shard's servers. Pools are per server, not per role: which server is
    /// primary changes with failover, and the health board says which one it is now.
    pub server: ServerIdx,
    pub user: String,
}

impl std::fmt::Display for PoolKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.database, self.shard)?;
        if self.server.0 > 0 {
            write!(f, "#{}", self.server.0)?;
        }
        write!(f, "/{}", self.user)
    }
}

pub struct ShardPool {
    pub key: PoolKey,
    pub endpoint: Endpoint,
    core: Arc<Core>,
    startup_params: Arc<OnceLock<ServerParams>>,
    pause: Arc<pause::PauseGate>,
}

impl ShardPool {
    /// A server now, without waiting or arming a timer, when a slot is free and an idle
    /// server needs no ping (the common case); `None` means call [`ShardPool::checkout`],
    /// which does not try this again. `now` is a recent time the caller already read (the
    /// client's, from the wakeup that brought the request), so this path reads no clock.
    pub fn try_checkout(&self, now: std::time::Instant) -> Option<Checkout> {
        if self.pause.any_paused() {
            return None;
        }
        self.core.try_ready(now)
    }

    /// Waits up to the checkout timeout for a server, or until opening one fails (here or in
    /// another checkout of the pool). Cancel-safe: a dropped call takes nothing.
    pub async fn checkout(&self) -> Result<Checkout, PoolError> {
        if let Err(waited) = self.pause.wait(self.key.shard.as_str()).await {
            return Err(PoolError::Paused { shard: self.key.shard.to_string(), waited_ms: waited.as_millis() as u64 });
        }
        let failures = &self.core.failures;
        let checkout_timeout = self.core.limits().checkout_timeout;
        let woken = failures.notify.notified();
        tokio::pin!(woken);
        tokio::select! {
            biased;
            r = tokio::time::timeout(checkout_timeout, self.core.checkout()) => match r {
                Ok(Ok(c)) => Ok(c),
                Ok(Err(e)) => Err(PoolError::Backend(e)),
                Err(_) => {
                    self.core.timed_out.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Err(match failures.recent(checkout_timeout) {
                        Some(e) => PoolError::Backend(e),
                        None => PoolError::Timeout { pool: self.key.to_string(), waited_ms: checkout_timeout.as_millis() as u64 },
                    })
                }
            },
            () = &mut woken => match failures.recent(std::time::Duration::from_secs(1)) {
                Some(e) => Err(PoolError::Backend(e)),
                None => Err(PoolError::Timeout { pool: self.key.to_string(), waited_ms: 0 }),
            },
        }
    }

    /// The server the client kept since its last transaction, if it can serve this one (see
    /// [`Kept::reuse`]); otherwise it goes back to its pool and `None` sends the caller to
    /// the normal checkout.
    pub fn reuse(&self, kept: Kept, now: std::time::Instant) -> Option<Checkout> {
        kept.reuse(&self.core, self.pause.any_paused(), now)
    }

    /// The ParameterStatus values the first server of this pool reported at startup.
    pub fn startup_params(&self) -> Option<ServerParams> {
        self.startup_params.get().cloned()
    }

    pub fn state(&self) -> PoolState {
        self.core.state()
    }

    /// Servers of this pool checked out right now.
    pub fn in_use(&self) -> usize {
        self.core.in_use()
    }
}

/// All pools of this process, created on first use.
pub struct Pools {
    /// The pool settings in force (a reload replaces them: `Pools::apply`).
    settings: Mutex<PoolSettings>,
    pools: Mutex<HashMap<PoolKey, Arc<ShardPool>>>,
    tls_no_verify: Option<tokio_rustls::TlsConnector>,
    /// The admin console's PAUSE/RESUME, consulted by every checkout.
    pub pause: Arc<pause::PauseGate>,
    /// Statements prepared on all servers of this instance now (for /metrics).
    pub prepared_total: Arc<std::sync::atomic::AtomicI64>,
}

impl Pools {
    pub fn new(settings: PoolSettings) -> Self {
        Self {
            settings: Mutex::new(settings),
            pools: Mutex::new(HashMap::new()),
            tls_no_verify: crate::tls::connector_no_verify().ok(),
            pause: Arc::default(),
            prepared_total: Arc::default(),
        }
    }

    pub fn settings(&self) -> PoolSettings {
        self.settings.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// A reload's pool settings and users' pool sizes: in force for pools made from now on,
    /// and put in force on the pools that exist (`Core::apply`: a larger size frees slots at
    /// once, a smaller one closes servers as they come back). `pool_size` gives a user's size
    /// in the new config; pools of users it does not know keep their limits and drain.
    pub fn apply(&self, settings: &PoolSettings, pool_size: impl Fn(&str) -> Option<u32>) {
        *self.settings.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = settings.clone();
        let pools: Vec<Arc<ShardPool>> = {
            let pools = self.pools.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            pools.values().cloned().collect()
        };
        for pool in pools {
            if let Some(size) = pool_size(&pool.key.user) {
                pool.core.apply(limits_for(settings, size));
            }
        }
    }

    /// The pool for `key`, created lazily (no connection is opened until first use or min_idle).
    pub fn get(&self, key: PoolKey, endpoint: &Endpoint, user: &UserConfig) -> Arc<ShardPool> {
        let mut pools = match self.pools.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(p) = pools.get(&key) {
            if &p.endpoint == endpoint {
                return p.clone();
            }
        }
        let pool = Arc::new(self.build(key.clone(), endpoint, user));
        pools.insert(key, pool.clone());
        pool
    }

    /// Drops the pools `keep` rejects (shards that left the map after a reload). Servers
    /// checked out of them finish their work and are closed when returned; idle ones close
    /// when the last client lets go of the pool.
    pub fn retain(&self, mut keep: impl FnMut(&PoolKey, &Endpoint) -> bool) -> usize {
        let mut pools = match self.pools.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        let before = pools.len();
        pools.retain(|k, p| keep(k, &p.endpoint));
        before - pools.len()
    }

    fn build(&self, key: PoolKey, endpoint: &Endpoint, user: &UserConfig) -> ShardPool {
        let settings = self.settings();
        let tls = match endpoint.tls {
            ServerTlsMode::Disable => None,
            ServerTlsMode::Prefer | ServerTlsMode::Require => self.tls_no_verify.clone(),
            ServerTlsMode::VerifyFull => {
                crate::tls::connector_verify(endpoint.ca_file.as_deref().map(std::path::Path::new)).ok()
            }
        };
        let startup_params = Arc::new(OnceLock::new());
        let failures = Arc::new(ConnectFailures::default());
        let opener = Opener {
            params: ConnectParams {
                endpoint: endpoint.clone(),
                user: user.server_user.clone(),
                password: user.server_password.clone(),
                tls,
                timeout: settings.connect_timeout,
            },
            startup_params: startup_params.clone(),
            connecting: std::sync::atomic::AtomicUsize::new(0),
            prepared_total: self.prepared_total.clone(),
        };
        let core = Arc::new(Core::new(limits_for(&settings, user.pool_size), opener, failures));
        upkeep::start(&core);
        ShardPool { key, endpoint: endpoint.clone(), core, startup_params, pause: self.pause.clone() }
    }
}

/// A pool's limits under `settings`, for a user whose pool size is `size`.
fn limits_for(settings: &PoolSettings, size: u32) -> Limits {
    Limits {
        size,
        min_idle: settings.min_idle.min(size),
        idle_timeout: settings.idle_timeout,
        lifetime: settings.lifetime,
        ping_after_idle: settings.ping_after_idle,
        checkout_timeout: settings.checkout_timeout,
        connect_timeout: settings.connect_timeout,
    }
}
