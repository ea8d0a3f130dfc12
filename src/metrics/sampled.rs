//! Values read at scrape time rather than counted as they change: the state of every pool
//! (the pool keeps it), connected clients, the config generation and the plan caches' counts.
//! Reading them once per scrape costs nothing on the hot path.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::Metrics;

/// One pool's servers. Labels are configured names only.
#[derive(Debug, Clone)]
pub struct PoolSample {
    pub database: String,
    pub shard: String,
    /// `host:port` of the server, from the shard map.
    pub server: String,
    /// What the health board says the server is now: primary, replica, or down.
    pub role: &'static str,
    pub user: String,
    pub idle: u64,
    pub active: u64,
    /// Connections being opened now.
    pub connecting: u64,
    /// Checkouts waiting for a server now.
    pub waiting: u64,
    /// The pool's counts since it was created: checkouts served at once, after a wait,
    /// timed out; servers opened.
    pub checkouts_direct: u64,
    pub checkouts_waited: u64,
    pub checkouts_timed_out: u64,
    pub servers_opened: u64,
}

/// One server of a shard with replicas, as the health checks see it.
#[derive(Debug, Clone)]
pub struct ServerSample {
    pub shard: String,
    pub server: String,
    pub role: &'static str,
    pub up: bool,
    pub banned: bool,
    /// Replicas only.
    pub lag_bytes: Option<u64>,
    pub lag_seconds: Option<f64>,
}

/// One database's plan cache, counted since its router was built.
#[derive(Debug, Clone)]
pub struct CacheSample {
    pub database: String,
    pub hits: u64,
    pub misses: u64,
}

/// What the running instance reports when scraped.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub clients: u64,
    /// Application clients (not admin sessions) by state: holding a server, holding none,
    /// waiting for one (the pools' waiting checkouts).
    pub clients_active: u64,
    pub clients_idle: u64,
    pub clients_waiting: u64,
    /// Client statements prepared on this instance's servers now.
    pub prepared_cached: u64,
    pub generation: u64,
    pub pools: Vec<PoolSample>,
    /// Servers of replicated shards (health, bans, lag).
    pub servers: Vec<ServerSample>,
    pub caches: Vec<CacheSample>,
}

pub(super) struct Sampler<F> {
    metrics: Arc<Metrics>,
    sample: F,
}

impl<F> Sampler<F> {
    pub fn new(metrics: Arc<Metrics>, sample: F) -> Self {
        Self { metrics, sample }
    }
}

impl<F> std::fmt::Debug for Sampler<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler").finish_non_exhaustive()
    }
}

impl<F: Fn() -> Option<Snapshot> + Send + Sync + 'static> Collector for Sampler<F> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // `None`: the instance has stopped; report nothing rather than zeros.
        let Some(s) = (self.sample)() else { return Ok(()) };

        let g = ConstGauge::new(s.clients as i64);
        g.encode(encoder.encode_descriptor(
            "client_connections",
            "Client connections open now.",
            None,
            g.metric_type(),
        )?)?;

        let mut e = encoder.encode_descriptor(
            "clients",
            "Application clients by state: active (holding a server), idle, waiting (for a server).",
            None,
            MetricType::Gauge,
        )?;
        for (state, n) in [("active", s.clients_active), ("idle", s.clients_idle), ("waiting", s.clients_waiting)] {
            ConstGauge::new(n as i64).encode(e.encode_family(&[("state", state)])?)?;
        }

        let g = ConstGauge::new(s.prepared_cached as i64);
        g.encode(encoder.encode_descriptor(
            "prepared_statements_cached",
            "Client statements prepared on this instance's servers now (each server counts its own).",
            None,
            g.metric_type(),
        )?)?;

        let g = ConstGauge::new(s.generation as i64);
        g.encode(encoder.encode_descriptor(
            "config_generation",
            "Config and shard map version served: 0 at start, +1 per successful reload.",
            None,
            g.metric_type(),
        )?)?;

        let mut e = encoder.encode_descriptor(
            "server_connections",
            "Server connections per pool, sampled from the pool at scrape time.",
            None,
            MetricType::Gauge,
        )?;
        for p in &s.pools {
            for (state, n) in [("idle", p.idle), ("active", p.active), ("connecting", p.connecting)] {
                let [d, sh, sv, r, u] = pool_labels(p);
                ConstGauge::new(n as i64).encode(e.encode_family(&[d, sh, sv, r, u, ("state", state)])?)?;
            }
        }

        let mut e = encoder.encode_descriptor(
            "pool_waiting_clients",
            "Checkouts waiting for a server of the pool now.",
            None,
            MetricType::Gauge,
        )?;
        for p in &s.pools {
            ConstGauge::new(p.waiting as i64).encode(e.encode_family(&pool_labels(p))?)?;
        }
        let mut e = encoder.encode_descriptor(
            "pool_checkouts",
            "Checkouts since the pool was created, by outcome (a pool dropped by a reload starts again).",
            None,
            MetricType::Counter,
        )?;
        for p in &s.pools {
            let [d, sh, sv, r, u] = pool_labels(p);
            for (outcome, n) in
                [("direct", p.checkouts_direct), ("waited", p.checkouts_waited), ("timed_out", p.checkouts_timed_out)]
            {
                ConstCounter::new(n).encode(e.encode_family(&[d, sh, sv, r, u, ("outcome", outcome)])?)?;
            }
        }
        let mut e = encoder.encode_descriptor(
            "server_connections_opened",
            "Server connections the pool opened since it was created.",
            None,
            MetricType::Counter,
        )?;
        for p in &s.pools {
            ConstCounter::new(p.servers_opened).encode(e.encode_family(&pool_labels(p))?)?;
        }

        // Health of the servers of replicated shards (absent for unreplicated ones: their
        // state shows in the pools and in errors).
        for (name, help, value) in [
            ("server_up", "1 when the server answered its last health check and is not banned.", 0usize),
            ("server_banned", "1 while the server is banned after a failure.", 1),
        ] {
            let mut e = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for sv in &s.servers {
                let v = if value == 0 { sv.up } else { sv.banned };
                let labels = [("shard", sv.shard.as_str()), ("server", sv.server.as_str()), ("role", sv.role)];
                ConstGauge::new(i64::from(v)).encode(e.encode_family(&labels)?)?;
            }
        }
        let mut e = encoder.encode_descriptor(
            "replica_lag_bytes",
            "How far the replica's replay is behind its primary, in WAL bytes.",
            None,
            MetricType::Gauge,
        )?;
        for sv in &s.servers {
            if let Some(v) = sv.lag_bytes {
                let labels = [("shard", sv.shard.as_str()), ("server", sv.server.as_str())];
                ConstGauge::new(v as i64).encode(e.encode_family(&labels)?)?;
            }
        }
        let mut e = encoder.encode_descriptor(
            "replica_lag_seconds",
            "Time since the replica's last replayed commit, counted while it is behind.",
            None,
            MetricType::Gauge,
        )?;
        for sv in &s.servers {
            if let Some(v) = sv.lag_seconds {
                let labels = [("shard", sv.shard.as_str()), ("server", sv.server.as_str())];
                ConstGauge::new(v).encode(e.encode_family(&labels)?)?;
            }
        }

        // Counters of routers replaced by reloads are added, so these never go backwards.
        let mut totals = self.metrics.retired_cache();
        for c in &s.caches {
            let t = totals.entry(c.database.clone()).or_default();
            t.0 += c.hits;
            t.1 += c.misses;
        }
        for (name, help, pick) in [
            ("plan_cache_hits", "Statements routed with a cached plan (no parse).", 0usize),
            ("plan_cache_misses", "Statements parsed because their plan was not cached.", 1),
        ] {
            let mut e = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (database, (hits, misses)) in &totals {
                let v = if pick == 0 { *hits } else { *misses };
                let labels = [("database", database.as_str())];
                ConstCounter::new(v).encode(e.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

fn pool_labels(p: &PoolSample) -> [(&'static str, &str); 5] {
    [
        ("database", p.database.as_str()),
        ("shard", p.shard.as_str()),
        ("server", p.server.as_str()),
        ("role", p.role),
        ("user", p.user.as_str()),
    ]
}
