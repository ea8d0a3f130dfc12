//! Accepting connections and running one task per client under a `TaskTracker`, so shutdown
//! can wait for them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{field, info_span, Instrument};

use super::cancel::CancelRegistry;
use super::{client, ConnId};
use crate::config::Config;
use crate::pool::{Directory, Pools};

/// State shared by every client task.
pub struct Shared {
    pub config: ArcSwap<Config>,
    pub pools: Pools,
    pub cancels: Arc<CancelRegistry>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Clients currently connected (for max_client_conn).
    pub clients: AtomicUsize,
    next_id: AtomicU64,
    /// Stop accepting; idle clients leave, clients in a transaction finish it first.
    pub shutdown: CancellationToken,
    /// Close everything now.
    pub hard_stop: CancellationToken,
    /// Mirrors `shutdown` for the per-message check: `CancellationToken::is_cancelled` takes
    /// a lock shared by every client.
    pub stopping: std::sync::atomic::AtomicBool,
    /// Bumped by every successful reload; clients pick up the new config between
    /// transactions when theirs is older.
    pub generation: AtomicU64,
    /// Cached answers of lookup sharding functions.
    pub directory: Directory,
    /// Which server of each replicated shard is primary, how far replicas lag, bans.
    pub health: Arc<crate::pool::health::Health>,
    /// Per-tenant usage, for `tenant_limits`.
    pub tenants: Arc<super::limits::Tenants>,
    /// This instance's counters and histograms (per instance, so in-process tests count apart).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Logged-in clients, for the admin console's SHOW CLIENTS and KILL_CLIENT.
    pub registry: crate::admin::ClientRegistry,
    /// The startup settings of the last client that logged in, shared with every later client
    /// whose settings are equal (an app's connections usually are). A server then carries the
    /// very `Arc` its next client holds, and bringing the server in line between transactions
    /// is a pointer compare instead of a map compare.
    startup_settings: std::sync::Mutex<Arc<crate::session::Settings>>,
}

impl Shared {
    pub fn new(config: Config, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        Self {
            pools: Pools::new(config.pool.clone()),
            config: ArcSwap::from_pointee(config),
            cancels: Arc::new(CancelRegistry::default()),
            tls,
            clients: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            shutdown: CancellationToken::new(),
            hard_stop: CancellationToken::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            generation: AtomicU64::new(0),
            directory: Directory::default(),
            health: Arc::default(),
            tenants: Arc::default(),
            metrics: Arc::new(crate::metrics::Metrics::new()),
            registry: crate::admin::ClientRegistry::default(),
            startup_settings: std::sync::Mutex::default(),
        }
    }

    /// `settings`, or an equal `Arc` that other clients already share.
    pub(super) fn share_startup_settings(&self, settings: crate::session::Settings) -> Arc<crate::session::Settings> {
        let mut last = self.startup_settings.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if **last != settings {
            *last = Arc::new(settings);
        }
        last.clone()
    }
}

/// Counts a connected client for as long as it lives.
pub(super) struct ClientGuard(Arc<Shared>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts until `shared.shutdown` fires. Client tasks are spawned on `tracker`.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, tracker: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = shared.shutdown.cancelled() => {
                shared.stopping.store(true, Ordering::Relaxed);
                break;
            }
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let id = ConnId(shared.next_id.fetch_add(1, Ordering::Relaxed));
        shared.clients.fetch_add(1, Ordering::Relaxed);
        shared.metrics.client_accepted();
        let guard = ClientGuard(shared.clone());
        let span = info_span!("client", conn = %id, peer = %peer, user = field::Empty, db = field::Empty);
        let shared = shared.clone();
        tracker.spawn(
            async move {
                client::run(tcp, id, shared, guard).await;
            }
            .instrument(span),
        );
    }
}
