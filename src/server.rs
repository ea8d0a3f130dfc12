//! Starting and stopping a shardgate instance: bind, accept, graceful shutdown. Used by the
//! binary and, in-process, by the integration tests.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{ClientTlsMode, Config};
use crate::frontend::{serve, Shared};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsBindError),
}

/// A running instance. Dropping it does not stop it; call [`Running::shutdown`].
pub struct Running {
    pub local_addr: SocketAddr,
    /// Where `GET /metrics` answers; `None` when `metrics.listen: off`.
    pub metrics_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    tracker: TaskTracker,
}

/// Binds the listener and starts accepting. Returns once clients can connect.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let tls = match (&config.tls.mode, &config.tls.cert, &config.tls.key) {
        (ClientTlsMode::Disable, _, _) => None,
        (_, Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
        _ => None,
    };
    let addr = config.listen;
    let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(crate::metrics::bind(addr).await?),
        None => None,
    };
    let shared = Arc::new(Shared::new(config, tls));
    // Not tracked: the hard-stop watcher must not hold up a graceful shutdown's wait.
    shared.registry.raise_when(shared.shutdown.clone(), crate::admin::stop_signal::Stop::Shutdown);
    shared.registry.raise_when(shared.hard_stop.clone(), crate::admin::stop_signal::Stop::Kill);
    let tracker = TaskTracker::new();
    tracker.spawn(serve(listener, shared.clone(), tracker.clone()));
    tracker.spawn(crate::reload::watch(shared.clone()));
    let config_source = shared.clone();
    tracker.spawn(crate::pool::health::watch(
        shared.health.clone(),
        move || config_source.config.load_full(),
        shared.shutdown.clone(),
    ));
    let metrics_addr = metrics_listener.map(|(metrics_listener, metrics_addr)| {
        // Weak: the registry lives in the endpoint's task, which must not keep the instance alive.
        let weak = Arc::downgrade(&shared);
        let registry = shared.metrics.registry(move || weak.upgrade().map(|s| snapshot(&s)));
        tracker.spawn(crate::metrics::serve(metrics_listener, registry, shared.shutdown.clone()));
        tracing::info!(metrics = %metrics_addr, "serving /metrics");
        metrics_addr
    });
    tracing::info!(listen = %local_addr, "shardgate is accepting connections");
    Ok(Running { local_addr, metrics_addr, shared, tracker })
}

/// What the metrics endpoint samples at each scrape.
fn snapshot(shared: &Shared) -> crate::metrics::Snapshot {
    use std::sync::atomic::Ordering;
    let config = shared.config.load();
    let board = shared.health.board();
    let now = std::time::Instant::now();
    let role = |endpoint: &crate::shardmap::Endpoint| board.role_now(endpoint);
    let mut pools = shared
        .pools
        .states()
        .into_iter()
        .map(|(key, endpoint, state)| crate::metrics::PoolSample {
            connecting: state.connecting,
            database: key.database,
            shard: key.shard.to_string(),
            server: format!("{}:{}", endpoint.host, endpoint.port),
            role: role(&endpoint),
            user: key.user,
            idle: u64::from(state.idle),
            active: u64::from(state.connections.saturating_sub(state.idle)),
            waiting: state.waiting,
            checkouts_direct: state.direct,
            checkouts_waited: state.waited,
            checkouts_timed_out: state.timed_out,
            servers_opened: state.opened,
        })
        .collect::<Vec<_>>();
    // A stable order keeps successive scrapes diffable by eye.
    pools.sort_by(|a, b| (&a.database, &a.shard, &a.server, &a.user).cmp(&(&b.database, &b.shard, &b.server, &b.user)));
    let mut servers = Vec::new();
    for db in config.databases.values() {
        for shard in db.map.shards().iter().filter(|s| s.replicated()) {
            for member in &shard.servers {
                let health = board.get(&member.endpoint);
                let status = health.and_then(|h| h.status.as_ref());
                let sample = crate::metrics::ServerSample {
                    shard: shard.name.to_string(),
                    server: format!("{}:{}", member.endpoint.host, member.endpoint.port),
                    role: role(&member.endpoint),
                    up: health.is_some_and(|h| h.up(now)),
                    banned: health.is_some_and(|h| h.banned(now)),
                    lag_bytes: status.filter(|s| s.in_recovery).map(|s| s.lag_bytes),
                    lag_seconds: status.filter(|s| s.in_recovery).map(|s| s.lag.as_secs_f64()),
                };
                if !servers
                    .iter()
                    .any(|x: &crate::metrics::ServerSample| x.shard == sample.shard && x.server == sample.server)
                {
                    servers.push(sample);
                }
            }
        }
    }
    let caches = config
        .databases
        .values()
        .map(|db| {
            let (hits, misses) = db.router.cache_stats();
            crate::metrics::CacheSample { database: db.name.clone(), hits, misses }
        })
        .collect();
    let (mut clients_active, mut clients_idle) = (0u64, 0u64);
    for c in shared.registry.list().iter().filter(|c| !c.info.admin) {
        match c.state() {
            crate::admin::ClientState::Active => clients_active += 1,
            crate::admin::ClientState::Idle => clients_idle += 1,
        }
    }
    let clients_waiting = pools.iter().map(|p| p.waiting).sum();
    crate::metrics::Snapshot {
        prepared_cached: shared.pools.prepared_total.load(Ordering::Relaxed).max(0) as u64,
        clients_active,
        clients_idle,
        clients_waiting,
        clients: shared.clients.load(Ordering::Relaxed) as u64,
        generation: shared.generation.load(Ordering::Acquire),
        pools,
        servers,
        caches,
    }
}

impl Running {
    /// The token that starts a graceful shutdown (as SIGTERM does).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }

    /// Stops accepting, lets clients finish their transactions for up to `shutdown_timeout`,
    /// then closes whatever is left.
    pub async fn shutdown(self) {
        let timeout = self.shared.config.load().shutdown_timeout;
        self.shared.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
        self.shared.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(timeout, self.tracker.wait()).await.is_err() {
            tracing::warn!("shutdown timeout reached; closing remaining clients");
            self.shared.hard_stop.cancel();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.tracker.wait()).await;
        }
        tracing::info!("shardgate stopped");
    }

    /// Reads the config and its shard maps again and swaps them in if they are valid; an
    /// invalid config is refused and the running one keeps serving. What SIGHUP and a change
    /// of a watched file do.
    pub fn reload(&self) -> Result<(), crate::config::ConfigError> {
        crate::reload::reload(&self.shared)
    }

    /// Clients currently connected.
    pub fn client_count(&self) -> usize {
        self.shared.clients.load(std::sync::atomic::Ordering::Relaxed)
    }
}
