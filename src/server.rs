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
}

/// A running instance. Dropping it does not stop it; call [`Running::shutdown`].
pub struct Running {
    pub local_addr: SocketAddr,
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
    let shared = Arc::new(Shared::new(config, tls));
    let tracker = TaskTracker::new();
    tracker.spawn(serve(listener, shared.clone(), tracker.clone()));
    tracker.spawn(crate::reload::watch(shared.clone()));
    let config_source = shared.clone();
    tracker.spawn(crate::pool::health::watch(
        shared.health.clone(),
        move || config_source.config.load_full(),
        shared.shutdown.clone(),
    ));
    tracing::info!(listen = %local_addr, "shardgate is accepting connections");
    Ok(Running { local_addr, shared, tracker })
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
