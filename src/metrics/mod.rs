//! Prometheus metrics: the counters and histograms the client loop updates, the values sampled
//! at scrape time (pools, clients, plan caches), and the `/metrics` HTTP endpoint.
//!
//! Owns: metric names, label sets and their cardinality. Must never: label a series with
//! anything a client controls beyond names the config defines (database, shard, user), or
//! allocate on the hot path — per-kind handles are created once, at start.
//!
//! One [`Metrics`] per running instance (in `frontend::Shared`), not a process global, so the
//! in-process instances of parallel tests count apart. Every series is listed in
//! docs/metrics.md.

mod http;
mod labels;
mod sampled;
mod striped;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};
use striped::{StripedCounter, StripedFamily, StripedHistogram};

pub use http::{bind, serve, MetricsBindError};
pub use labels::{ErrorLabels, ErrorSource, ReloadResult, RouteKind, RouteLabels, TenantLimit};
pub use sampled::{CacheSample, PoolSample, ServerSample, Snapshot};

/// Latency buckets in seconds: 100 µs to ~13 s, doubling. Covers a pooled point read (well
/// under a millisecond) and a scatter over many shards or a slow report.
fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 18)
}

/// The hot-path handles. Cloning a metric clones an `Arc`, so the handles kept here and the
/// ones in the registry are the same series. What every transaction updates is striped
/// ([`striped`]): one add on a line of the current thread's own.
pub struct Metrics {
    clients_accepted: StripedCounter,
    client_bytes_received: StripedCounter,
    client_bytes_sent: StripedCounter,
    /// Series indexed by `RouteKind as usize`.
    routes: StripedFamily<RouteLabels>,
    /// Transactions (server cycles) by the route of their statements, indexed like `routes`.
    transactions: StripedFamily<RouteLabels>,
    errors: Family<ErrorLabels, Counter>,
    /// Their counts and sums also feed SHOW STATS.
    checkout_wait: StripedHistogram,
    statement_duration: StripedHistogram,
    reloads: [Counter; 2],
    reload_family: Family<labels::ReloadLabels, Counter>,
    /// Client statements prepared on a server under the proxy's names, and the ones closed to
    /// keep a server within `max_prepared_per_server`.
    prepared: Counter,
    prepared_evicted: Counter,
    /// Statements refused by a per-tenant cap: [transactions, statements].
    tenant_limited: [Counter; 2],
    tenant_limit_family: Family<labels::TenantLimitLabels, Counter>,
    /// Plan-cache counts of routers replaced by reloads, per database, so the exported
    /// counters never go backwards when a reload builds new routers with fresh caches.
    retired_cache: Mutex<BTreeMap<String, (u64, u64)>>,
}

/// Instance totals since start, for SHOW STATS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub statements: u64,
    pub statement_us: u64,
    pub checkouts: u64,
    pub checkout_us: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let by_route = || StripedFamily::new(RouteKind::ALL.map(|route| RouteLabels { route }));
        let reload_family = Family::<labels::ReloadLabels, Counter>::default();
        let reloads = [ReloadResult::Ok, ReloadResult::Failed]
            .map(|result| reload_family.get_or_create(&labels::ReloadLabels { result }).clone());
        let tenant_limit_family = Family::<labels::TenantLimitLabels, Counter>::default();
        let tenant_limited = [TenantLimit::Transactions, TenantLimit::Statements]
            .map(|limit| tenant_limit_family.get_or_create(&labels::TenantLimitLabels { limit }).clone());
        Self {
            transactions: by_route(),
            prepared: Counter::default(),
            prepared_evicted: Counter::default(),
            tenant_limited,
            tenant_limit_family,
            clients_accepted: StripedCounter::default(),
            client_bytes_received: StripedCounter::default(),
            client_bytes_sent: StripedCounter::default(),
            routes: by_route(),
            errors: Family::default(),
            checkout_wait: StripedHistogram::new(latency_buckets()),
            statement_duration: StripedHistogram::new(latency_buckets()),
            reloads,
            reload_family,
            retired_cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// A client connection was accepted (before TLS and login).
    pub fn client_accepted(&self) {
        self.clients_accepted.inc();
    }

    pub fn bytes_received(&self, n: usize) {
        self.client_bytes_received.inc_by(n as u64);
    }

    pub fn bytes_sent(&self, n: usize) {
        self.client_bytes_sent.inc_by(n as u64);
    }

    /// Counts one routing decision and returns its kind, for the slow-statement log.
    pub fn route<T>(&self, decision: &Result<crate::router::Route, T>) -> RouteKind {
        let kind = RouteKind::of(decision);
        self.routes.inc(kind as usize);
        kind
    }

    /// An ErrorResponse the proxy itself wrote to a client. Error paths only: the label set
    /// is built here (two characters), never on a successful statement.
    pub fn error_sent(&self, sqlstate: &str) {
        self.error(sqlstate, ErrorSource::Proxy);
    }

    /// A server's ErrorResponse relayed to a client.
    pub fn error_relayed(&self, sqlstate: &str) {
        self.error(sqlstate, ErrorSource::Server);
    }

    fn error(&self, sqlstate: &str, source: ErrorSource) {
        // A server's code is five ASCII characters; anything else is not a class to label by.
        let class = sqlstate.get(..2).filter(|c| c.bytes().all(|b| b.is_ascii_alphanumeric())).unwrap_or("XX");
        self.errors.get_or_create(&ErrorLabels { class: class.to_string(), source }).inc();
    }

    /// How long a client waited for a pooled server.
    pub fn checkout_waited(&self, waited: Duration) {
        self.checkout_wait.observe(waited);
    }

    /// From the client's request (Query or Sync) to the ReadyForQuery that answers it.
    pub fn statement_took(&self, took: Duration) {
        self.statement_duration.observe(took);
    }

    /// Totals since start for the admin console.
    pub fn totals(&self) -> Totals {
        Totals {
            statements: self.statement_duration.count(),
            statement_us: self.statement_duration.sum().as_micros() as u64,
            checkouts: self.checkout_wait.count(),
            checkout_us: self.checkout_wait.sum().as_micros() as u64,
            bytes_received: self.client_bytes_received.get(),
            bytes_sent: self.client_bytes_sent.get(),
        }
    }

    /// A transaction ended: a server went back (or, in session pooling, came to rest) after
    /// statements of route `kind`, or a read across shards, DDL on every shard or a split
    /// INSERT completed.
    pub fn transaction_done(&self, kind: RouteKind) {
        self.transactions.inc(kind as usize);
    }

    /// A client's named statement was prepared on a server, closing `evicted` older ones.
    pub fn prepared_on_server(&self, evicted: usize) {
        self.prepared.inc();
        if evicted > 0 {
            self.prepared_evicted.inc_by(evicted as u64);
        }
    }

    /// A statement refused by a per-tenant cap (the tenant is not a label: unbounded).
    pub fn tenant_limited(&self, limit: TenantLimit) {
        if let Some(c) = self.tenant_limited.get(limit as usize) {
            c.inc();
        }
    }

    pub fn reloaded(&self, result: ReloadResult) {
        if let Some(c) = self.reloads.get(result as usize) {
            c.inc();
        }
    }

    /// Keeps the plan-cache counts of a router a reload is about to replace.
    pub fn retire_cache(&self, database: &str, hits: u64, misses: u64) {
        let mut retired = self.retired_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = retired.entry(database.to_string()).or_default();
        entry.0 += hits;
        entry.1 += misses;
    }

    fn retired_cache(&self) -> BTreeMap<String, (u64, u64)> {
        self.retired_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The registry served at `/metrics`: these handles plus `sample`, called at each scrape
    /// for what is cheaper to read when asked (pool states, client count, cache counts).
    pub fn registry(
        self: &std::sync::Arc<Self>,
        sample: impl Fn() -> Option<Snapshot> + Send + Sync + 'static,
    ) -> Registry {
        let mut r = Registry::with_prefix("shardgate");
        // Which version answers, so a rolling upgrade can be followed across instances.
        r.register(
            "build",
            "The running shardgate version",
            prometheus_client::metrics::info::Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        r.register(
            "client_connections_accepted",
            "Client connections accepted (before TLS and login)",
            self.clients_accepted.clone(),
        );
        r.register_with_unit(
            "client_received",
            "Bytes received from clients after login",
            Unit::Bytes,
            self.client_bytes_received.clone(),
        );
        r.register_with_unit(
            "client_sent",
            "Bytes sent to clients after login",
            Unit::Bytes,
            self.client_bytes_sent.clone(),
        );
        r.register("statements", "Statements routed on sharded databases, by routing decision", self.routes.clone());
        r.register(
            "errors",
            "ErrorResponses clients received, by SQLSTATE class and by who wrote them",
            self.errors.clone(),
        );
        r.register_with_unit(
            "pool_checkout_wait",
            "Time a client waited for a server from a pool",
            Unit::Seconds,
            self.checkout_wait.clone(),
        );
        r.register_with_unit(
            "statement_duration",
            "From a client's Query or Sync to the ReadyForQuery answering it",
            Unit::Seconds,
            self.statement_duration.clone(),
        );
        r.register("config_reloads", "Config and shard map reloads, by result", self.reload_family.clone());
        r.register(
            "transactions",
            "Transactions ended, by the route of their statements (single also counts unrouted pooling)",
            self.transactions.clone(),
        );
        r.register(
            "prepared_statements_prepared",
            "Client prepared statements prepared on a server under the proxy's names",
            self.prepared.clone(),
        );
        r.register(
            "prepared_statements_evicted",
            "Prepared statements closed on a server to stay within max_prepared_per_server",
            self.prepared_evicted.clone(),
        );
        r.register(
            "tenant_limit_rejections",
            "Statements refused with 53400 by a per-tenant cap, by cap",
            self.tenant_limit_family.clone(),
        );
        r.register_collector(Box::new(sampled::Sampler::new(std::sync::Arc::clone(self), sample)));
        r
    }
}
