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
