//! The YAML form of shardgate.yaml. Each field's doc reads like docs/configuration.md.
//! Unknown fields are rejected, so a misspelt setting never silently keeps its default.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address clients connect to. Default 127.0.0.1:6432.
    #[serde(default)]
    pub listen: Option<Spanned<String>>,
    #[serde(default)]
    pub tls: Option<RawTls>,
    /// Logical database name → the shard map that serves it.
    pub databases: Spanned<BTreeMap<String, RawDatabase>>,
    pub users: Spanned<Vec<RawUser>>,
    #[serde(default)]
    pub pool: Option<RawPool>,
    #[serde(default)]
    pub limits: Option<RawLimits>,
    /// Read/write splitting, health checks and failover for shards with several servers.
    #[serde(default)]
    pub replicas: Option<RawReplicas>,
    /// Caps per shard key (tenant), so one tenant cannot take every server.
    #[serde(default)]
    pub tenant_limits: Option<RawTenantLimits>,
    /// Runtime worker threads; absent or 0 = one per CPU core.
    #[serde(default)]
    pub workers: Option<u32>,
    /// How long SIGTERM waits for running transactions before closing them.
    #[serde(default)]
    pub shutdown_timeout_ms: Option<u64>,
    /// The Prometheus endpoint.
    #[serde(default)]
    pub metrics: Option<RawMetrics>,
    /// Statements slower than this (request to ReadyForQuery) are logged at WARN; 0 or
    /// absent = off.
    #[serde(default)]
    pub slow_statement_ms: Option<u64>,
    /// Users (names from `users`) who may open the admin console: database `shardgate`.
    #[serde(default)]
    pub admin_users: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Address of `GET /metrics`, or `off`. Default 127.0.0.1:9930.
    pub listen: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// disable | allow | require.
    pub mode: Spanned<String>,
    #[serde(default)]
    pub cert: Option<Spanned<String>>,
    #[serde(default)]
    pub key: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    /// Path of the shard map file, relative to this config file.
    pub shard_map: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: Spanned<String>,
    /// The client's password (also used towards PostgreSQL unless server_password is set).
    #[serde(default)]
    pub password: Option<Spanned<String>>,
    /// A stored SCRAM-SHA-256 verifier (pg_authid format) instead of a password.
    #[serde(default)]
    pub scram_verifier: Option<Spanned<String>>,
    /// scram-sha-256 (default) | md5 | trust.
    #[serde(default)]
    pub auth: Option<Spanned<String>>,
    /// Role used on the servers; defaults to `name`.
    #[serde(default)]
    pub server_user: Option<String>,
    #[serde(default)]
    pub server_password: Option<String>,
    /// transaction | session; overrides pool.mode.
    #[serde(default)]
    pub pool_mode: Option<Spanned<String>>,
    #[serde(default)]
    pub pool_size: Option<Spanned<u32>>,
    /// replica | primary | any: overrides the shard map's `read_from` for this user.
    #[serde(default)]
    pub read_from: Option<Spanned<String>>,
    /// This user's reads go to replicas carrying this tag (e.g. `analytics`).
    #[serde(default)]
    pub replica_tag: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    #[serde(default)]
    pub mode: Option<Spanned<String>>,
    #[serde(default)]
    pub size: Option<Spanned<u32>>,
    #[serde(default)]
    pub min_idle: Option<Spanned<u32>>,
    #[serde(default)]
    pub max_client_conn: Option<Spanned<u32>>,
    #[serde(default)]
    pub checkout_timeout_ms: Option<Spanned<u64>>,
    #[serde(default)]
    pub connect_timeout_ms: Option<Spanned<u64>>,
    /// 0 = never close idle servers.
    #[serde(default)]
    pub idle_timeout_s: Option<u64>,
    /// 0 = servers live forever.
    #[serde(default)]
    pub lifetime_s: Option<u64>,
    /// 0 = no limit.
    #[serde(default)]
    pub query_timeout_ms: Option<u64>,
    #[serde(default)]
    pub reset_query: Option<String>,
    #[serde(default)]
    pub max_prepared_per_server: Option<Spanned<u32>>,
    #[serde(default)]
    pub ping_after_idle_ms: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default)]
    pub max_message_size: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawReplicas {
    /// least_outstanding (default) | round_robin.
    #[serde(default)]
    pub selection: Option<Spanned<String>>,
    /// How often every server of a replicated shard is checked. Default 500.
    #[serde(default)]
    pub health_interval_ms: Option<Spanned<u64>>,
    /// A check slower than this counts as a failure. Default 2000.
    #[serde(default)]
    pub health_timeout_ms: Option<Spanned<u64>>,
    /// Replicas further behind the primary than this stop getting reads. Default 16 MiB.
    #[serde(default)]
    pub max_lag_bytes: Option<u64>,
    /// …or further behind in time than this. Default 10000.
    #[serde(default)]
    pub max_lag_ms: Option<u64>,
    /// First ban of a failed server; doubles per failure up to 30 s. Default 1000.
    #[serde(default)]
    pub ban_ms: Option<Spanned<u64>>,
    /// How long a write waits for a primary to appear (failover) before it gets an error.
    /// Default 2000.
    #[serde(default)]
    pub primary_wait_ms: Option<u64>,
    /// A read after the client's own write waits up to this long for a check round that
    /// shows a replica has replayed the write; then it goes to the primary. Default 20; 0 =
    /// straight to the primary.
    #[serde(default)]
    pub read_your_writes_wait_ms: Option<u64>,
    /// After a client's write commits, its reads go only to replicas that have replayed it.
    /// Default true.
    #[serde(default)]
    pub read_your_writes: Option<bool>,
    /// The configured user whose server credentials the health checks log in with.
    /// Default: the first user (by name) not in `admin_users`.
    #[serde(default)]
    pub health_user: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTenantLimits {
    /// Transactions (or single statements outside one) running at once for one key. 0 = no cap.
    #[serde(default)]
    pub max_concurrent_transactions: Option<u32>,
    /// Statements per second for one key. 0 = no cap.
    #[serde(default)]
    pub max_statements_per_second: Option<u32>,
}
