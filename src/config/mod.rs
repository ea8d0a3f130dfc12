//! shardgate.yaml: raw (serde) → validated (`Config`) → swapped on reload.
//!
//! Owns: reading config and shard-map files and turning every problem into an error that
//! names the file, line and field. Must never: start I/O other than reading those files.

mod error;
mod raw;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use error::{ConfigError, ConfigProblem};

use crate::auth::md5::Md5Secret;
use crate::auth::scram::ScramVerifier;
use crate::shardmap::ShardMap;

/// How clients reach us over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientTlsMode {
    /// Answer SSLRequest with 'N'.
    Disable,
    /// Accept TLS when asked, plain otherwise.
    Allow,
    /// Refuse clients that do not negotiate TLS.
    Require,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub mode: ClientTlsMode,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// How long a client keeps its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// Until the transaction ends (ReadyForQuery 'I'). The default, as in PgBouncer deployments.
    Transaction,
    /// Until the client disconnects; the server is then reset with `reset_query`.
    Session,
}

impl PoolMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transaction => "transaction",
            Self::Session => "session",
        }
    }
}

/// How a client proves who it is.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    Scram(ScramVerifier),
    Md5(Md5Secret),
    Trust,
}

impl ClientAuth {
    pub fn method_name(&self) -> &'static str {
        match self {
            Self::Scram(_) => "scram-sha-256",
            Self::Md5(_) => "md5",
            Self::Trust => "trust",
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserConfig {
    pub name: String,
    pub auth: ClientAuth,
    /// The role shardgate logs into PostgreSQL as (defaults to `name`).
    pub server_user: String,
    /// The password shardgate uses towards PostgreSQL; `None` works only with trust servers.
    pub server_password: Option<String>,
    /// Overrides `pool.mode` for this user.
    pub pool_mode: PoolMode,
    /// Overrides `pool.size` for this user.
    pub pool_size: u32,
    /// Overrides the shard map's `read_from`.
    pub read_from: Option<crate::shardmap::ReadFrom>,
    /// Reads of this user prefer replicas with this tag.
    pub replica_tag: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub mode: PoolMode,
    pub size: u32,
    pub min_idle: u32,
    pub max_client_conn: u32,
    pub checkout_timeout: Duration,
    pub idle_timeout: Option<Duration>,
    pub lifetime: Option<Duration>,
    pub query_timeout: Option<Duration>,
    pub connect_timeout: Duration,
    pub reset_query: String,
    pub max_prepared_per_server: usize,
    /// Idle servers older than this are pinged before being handed out (a ping on every checkout
    /// costs ~30 % of pgbench throughput).
    pub ping_after_idle: Duration,
}

/// How a read picks among a shard's eligible replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The replica with the fewest servers checked out by this user, relative to its weight.
    LeastOutstanding,
    /// In turn, each replica as often as its weight says.
    RoundRobin,
}

/// Read/write splitting, health checks and failover (shards with more than one server).
#[derive(Debug, Clone)]
pub struct ReplicaSettings {
    pub selection: Selection,
    pub health_interval: Duration,
    pub health_timeout: Duration,
    pub max_lag_bytes: u64,
    pub max_lag: Duration,
    pub ban: Duration,
    pub primary_wait: Duration,
    pub read_your_writes: bool,
    /// A read after the client's own write waits this long for a health round to show a
    /// replica that has replayed it, before going to the primary.
    pub read_your_writes_wait: Duration,
    /// Name of the configured user whose server credentials the health checks use.
    pub health_user: Option<String>,
}

impl Default for ReplicaSettings {
    fn default() -> Self {
        Self {
            selection: Selection::LeastOutstanding,
            health_interval: Duration::from_millis(500),
            health_timeout: Duration::from_millis(2000),
            max_lag_bytes: 16 << 20,
            max_lag: Duration::from_secs(10),
            ban: Duration::from_secs(1),
            primary_wait: Duration::from_secs(2),
            read_your_writes_wait: Duration::from_millis(20),
            read_your_writes: true,
            health_user: None,
        }
    }
}

/// Per-tenant caps (per shard key, per shardgate instance). `None` = no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantLimits {
    pub max_concurrent_transactions: Option<u32>,
    pub max_statements_per_second: Option<u32>,
}

impl TenantLimits {
    pub fn any(&self) -> bool {
        self.max_concurrent_transactions.is_some() || self.max_statements_per_second.is_some()
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_message_size: u32,
}

/// A logical database a client names in its startup packet, served by one shard map.
#[derive(Clone)]
pub struct DatabaseConfig {
    pub name: String,
    pub map_path: PathBuf,
    pub map: Arc<ShardMap>,
    /// The router for this map version, with its plan cache; rebuilt with every reload so a
    /// cached plan never outlives the map it was made for.
    pub router: Arc<crate::router::Router>,
    /// Merge plans of cross-shard reads, cached by text like the router's plans.
    pub scatter: Arc<crate::scatter::planner::Planner>,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig").field("name", &self.name).field("map_path", &self.map_path).finish()
    }
}

impl DatabaseConfig {
    pub fn new(name: String, map_path: PathBuf, map: ShardMap) -> Self {
        let map = Arc::new(map);
        let router = Arc::new(crate::router::Router::new(map.clone()));
        let scatter = Arc::new(crate::scatter::planner::Planner::new());
        Self { name, map_path, map, router, scatter }
    }
}

/// The database name of the admin console; no configured database may take it.
pub const ADMIN_DATABASE: &str = "shardgate";

/// A complete, validated configuration. Existing means valid.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub listen: SocketAddr,
    pub tls: TlsConfig,
    pub databases: BTreeMap<String, DatabaseConfig>,
    pub users: BTreeMap<String, UserConfig>,
    pub pool: PoolSettings,
    pub limits: Limits,
    pub replicas: ReplicaSettings,
    pub tenant_limits: TenantLimits,
    pub shutdown_timeout: Duration,
    /// Runtime worker threads (`None`: one per core). Read only at start.
    pub workers: Option<usize>,
    /// Where `GET /metrics` is served; `None` = off. Read only at start.
    pub metrics_listen: Option<SocketAddr>,
    /// Statements slower than this are logged at WARN; `None` = off.
    pub slow_statement: Option<Duration>,
    /// Users allowed into the admin console (database [`ADMIN_DATABASE`]).
    pub admin_users: std::collections::BTreeSet<String>,
}

impl Config {
    /// What `pool:` and `replicas:` hold when the file leaves them out (SHOW CONFIG's
    /// `default` column), taken from the validator so they cannot drift from it.
    pub fn defaults() -> (PoolSettings, ReplicaSettings) {
        validate::defaults()
    }

    /// Reads and validates the config and every shard map it names.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
        Self::from_yaml(&text, path)
    }

    /// Validates `text` as if it were the file at `path` (relative paths resolve against it).
    pub fn from_yaml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: raw::RawConfig = serde_saphyr::from_str(text).map_err(|e| ConfigError::syntax(path, &e))?;
        validate::validate(raw, path)
    }
}

/// Reads and validates one shard map file on its own (`shardgate check` on a map).
pub fn load_map(path: &Path) -> Result<ShardMap, ConfigError> {
    validate::load_map(path)
}
