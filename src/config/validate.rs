//! Turns `RawConfig` into `Config`, collecting every problem with its line and field.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::Spanned;

use super::raw::{RawConfig, RawPool, RawReplicas, RawUser};
use super::{
    ClientAuth, ClientTlsMode, Config, ConfigError, ConfigProblem, DatabaseConfig, Limits, PoolMode, PoolSettings,
    ReplicaSettings, Selection, TenantLimits, TlsConfig, UserConfig,
};
use crate::auth::md5::Md5Secret;
use crate::auth::scram::ScramVerifier;
use crate::shardmap::{RawShardMap, ReadFrom, ShardMap};

const DEFAULT_LISTEN: &str = "127.0.0.1:6432";
/// Loopback by default: metrics name shards and users, which is for operators only.
const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9930";
/// PostgreSQL's own limit on a message is 1 GB; 64 MiB keeps one client from exhausting memory.
const DEFAULT_MAX_MESSAGE: u32 = 64 << 20;
/// Below this a StartupMessage-sized frame could not pass; refuse nonsense settings.
const MIN_MAX_MESSAGE: u32 = 1024;

struct Problems<'a> {
    file: &'a Path,
    list: Vec<ConfigProblem>,
}

impl Problems<'_> {
    fn at<T>(&mut self, span: &Spanned<T>, field: &str, message: impl Into<String>) {
        let line = span.referenced.line();
        self.list.push(ConfigProblem {
            file: self.file.to_path_buf(),
            line: (line > 0).then_some(line as u32),
            field: Some(field.to_string()),
            message: message.into(),
        });
    }
}

pub(super) fn validate(raw: RawConfig, path: &Path) -> Result<Config, ConfigError> {
    let mut p = Problems { file: path, list: Vec::new() };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();

    let listen = match &raw.listen {
        None => DEFAULT_LISTEN.parse().ok(),
        Some(s) => match s.value.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                p.at(s, "listen", format!("{:?} is not an address like 127.0.0.1:6432", s.value));
                None
            }
        },
    };

    let metrics_listen = metrics_listen(&raw, &mut p);
    let tls = tls(&raw, &base, &mut p);
    let pool = pool(raw.pool.unwrap_or_default(), &mut p);
    let replicas = replicas(raw.replicas.unwrap_or_default(), &mut p);
    let tenant_limits = raw.tenant_limits.unwrap_or_default();
    let max_message_size = match raw.limits.and_then(|l| l.max_message_size) {
        None => DEFAULT_MAX_MESSAGE,
        Some(s) if s.value < MIN_MAX_MESSAGE => {
            p.at(&s, "limits.max_message_size", format!("must be at least {MIN_MAX_MESSAGE} bytes"));
            DEFAULT_MAX_MESSAGE
        }
        Some(s) => s.value,
    };

    let mut databases = BTreeMap::new();
    if raw.databases.value.is_empty() {
        p.at(&raw.databases, "databases", "at least one database is needed");
    }
    for (name, db) in raw.databases.value {
        if name == super::ADMIN_DATABASE {
            p.at(
                &db.shard_map,
                &format!("databases.{name}"),
                format!("the database name {name:?} is reserved for the admin console; rename this database"),
            );
            continue;
        }
        let map_path = base.join(&db.shard_map.value);
        match load_map(&map_path) {
            Ok(map) => {
                databases.insert(name.clone(), DatabaseConfig::new(name, map_path, map));
            }
            Err(e) => {
                p.at(&db.shard_map, &format!("databases.{name}.shard_map"), "shard map is invalid (see below)");
                p.list.extend(e.problems);
            }
        }
    }

    let mut users = BTreeMap::new();
    if raw.users.value.is_empty() {
        p.at(&raw.users, "users", "at least one user is needed");
    }
    for (i, u) in raw.users.value.into_iter().enumerate() {
        let name_span = u.name.clone();
        if let Some(user) = user(u, i, &pool, &mut p) {
            if users.contains_key(&user.name) {
                p.at(&name_span, &format!("users[{i}].name"), format!("duplicate user {:?}", user.name));
            }
            users.insert(user.name.clone(), user);
        }
    }

    if let Some(h) = replicas.health_user.as_ref() {
        if !users.contains_key(h) {
            p.list.push(ConfigProblem {
                file: path.to_path_buf(),
                line: None,
                field: Some("replicas.health_user".into()),
                message: format!("no user named {h:?} in `users`"),
            });
        }
    }
    let admin_users = admin_users(raw.admin_users, &users, &mut p);
    match (listen, metrics_listen, p.list.is_empty()) {
        (Some(listen), Some(metrics_listen), true) => Ok(Config {
            replicas,
            tenant_limits: TenantLimits {
                max_concurrent_transactions: tenant_limits.max_concurrent_transactions.filter(|n| *n > 0),
                max_statements_per_second: tenant_limits.max_statements_per_second.filter(|n| *n > 0),
            },
            path: path.to_path_buf(),
            listen,
            tls,
            databases,
            users,
            pool,
            limits: Limits { max_message_size },
            shutdown_timeout: Duration::from_millis(raw.shutdown_timeout_ms.unwrap_or(10_000)),
            workers: raw.workers.filter(|w| *w > 0).map(|w| w as usize),
            metrics_listen,
            slow_statement: raw.slow_statement_ms.filter(|ms| *ms > 0).map(Duration::from_millis),
            admin_users,
        }),
        _ => Err(ConfigError { problems: p.list }),
    }
}

/// Every admin must be a configured user: the console authenticates with that user's
/// credentials, and a misspelt name must not silently lock the operators out.
fn admin_users(
    raw: Option<Spanned<Vec<String>>>,
    users: &BTreeMap<String, UserConfig>,
    p: &mut Problems<'_>,
) -> BTreeSet<String> {
    let Some(raw) = raw else { return BTreeSet::new() };
    for name in raw.value.iter().filter(|n| !users.contains_key(n.as_str())) {
        p.at(&raw, "admin_users", format!("no user named {name:?} in `users`"));
    }
    raw.value.iter().filter(|n| users.contains_key(n.as_str())).cloned().collect()
}

/// The settings a config that says nothing gets, for the admin console's SHOW CONFIG.
pub(super) fn defaults() -> (PoolSettings, ReplicaSettings) {
    let file = Path::new("");
    let mut p = Problems { file, list: Vec::new() };
    (pool(RawPool::default(), &mut p), replicas(RawReplicas::default(), &mut p))
}

/// `Some(None)`: metrics are off; `None`: invalid (a problem was recorded).
fn metrics_listen(raw: &RawConfig, p: &mut Problems<'_>) -> Option<Option<SocketAddr>> {
    let Some(m) = &raw.metrics else { return DEFAULT_METRICS_LISTEN.parse().ok().map(Some) };
    let value = m.listen.value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Some(None);
    }
    match value.parse::<SocketAddr>() {
        Ok(a) => Some(Some(a)),
        Err(_) => {
            p.at(&m.listen, "metrics.listen", format!("{value:?} is not an address like 127.0.0.1:9930, or off"));
            None
        }
    }
}

fn tls(raw: &RawConfig, base: &Path, p: &mut Problems<'_>) -> TlsConfig {
    let Some(t) = &raw.tls else {
        return TlsConfig { mode: ClientTlsMode::Disable, cert: None, key: None };
    };
    let mode = match t.mode.value.as_str() {
        "disable" => ClientTlsMode::Disable,
        "allow" => ClientTlsMode::Allow,
        "require" => ClientTlsMode::Require,
        other => {
            p.at(&t.mode, "tls.mode", format!("unknown TLS mode {other:?}; use disable, allow or require"));
            ClientTlsMode::Disable
        }
    };
    let cert = t.cert.as_ref().map(|c| base.join(&c.value));
    let key = t.key.as_ref().map(|k| base.join(&k.value));
    if mode != ClientTlsMode::Disable && (cert.is_none() || key.is_none()) {
        p.at(&t.mode, "tls", "tls.cert and tls.key are needed unless mode is disable");
    }
    for (span, file, field) in [(&t.cert, &cert, "tls.cert"), (&t.key, &key, "tls.key")] {
        if let (Some(span), Some(file)) = (span, file) {
            if !file.exists() {
                p.at(span, field, format!("{} does not exist", file.display()));
            }
        }
    }
    TlsConfig { mode, cert, key }
}

fn pool_mode(s: &Spanned<String>, field: &str, p: &mut Problems<'_>) -> Option<PoolMode> {
    match s.value.as_str() {
        "transaction" => Some(PoolMode::Transaction),
        "session" => Some(PoolMode::Session),
        other => {
            p.at(s, field, format!("unknown pool mode {other:?}; use transaction or session"));
            None
        }
    }
}

fn pool(raw: RawPool, p: &mut Problems<'_>) -> PoolSettings {
    let mode = raw.mode.as_ref().and_then(|m| pool_mode(m, "pool.mode", p)).unwrap_or(PoolMode::Transaction);
    let size = raw.size.as_ref().map_or(20, |s| s.value);
    if let Some(s) = raw.size.as_ref().filter(|s| s.value == 0) {
        p.at(s, "pool.size", "pool size must be at least 1");
    }
    let min_idle = raw.min_idle.as_ref().map_or(0, |s| s.value);
    if let Some(s) = raw.min_idle.as_ref().filter(|s| s.value > size) {
        p.at(s, "pool.min_idle", format!("min_idle {} is above pool.size {size}", s.value));
    }
    let max_client_conn = raw.max_client_conn.as_ref().map_or(1000, |s| s.value);
    if let Some(s) = raw.max_client_conn.as_ref().filter(|s| s.value == 0) {
        p.at(s, "pool.max_client_conn", "must be at least 1");
    }
    let checkout_ms = raw.checkout_timeout_ms.as_ref().map_or(5000, |s| s.value);
    if let Some(s) = raw.checkout_timeout_ms.as_ref().filter(|s| s.value == 0) {
        p.at(s, "pool.checkout_timeout_ms", "must be above 0");
    }
    let connect_ms = raw.connect_timeout_ms.as_ref().map_or(5000, |s| s.value);
    let max_prepared = raw.max_prepared_per_server.as_ref().map_or(200, |s| s.value);
    if let Some(s) = raw.max_prepared_per_server.as_ref().filter(|s| s.value == 0) {
        p.at(s, "pool.max_prepared_per_server", "must be at least 1");
    }
    let nonzero = |v: Option<u64>, default: u64, unit: fn(u64) -> Duration| match v.unwrap_or(default) {
        0 => None,
        n => Some(unit(n)),
    };
    PoolSettings {
        mode,
        size,
        min_idle,
        max_client_conn,
        checkout_timeout: Duration::from_millis(checkout_ms),
        connect_timeout: Duration::from_millis(connect_ms.max(1)),
        idle_timeout: nonzero(raw.idle_timeout_s, 600, Duration::from_secs),
        lifetime: nonzero(raw.lifetime_s, 3600, Duration::from_secs),
        query_timeout: nonzero(raw.query_timeout_ms, 0, Duration::from_millis),
        reset_query: raw.reset_query.unwrap_or_else(|| "DISCARD ALL".to_string()),
        max_prepared_per_server: max_prepared as usize,
        ping_after_idle: Duration::from_millis(raw.ping_after_idle_ms.unwrap_or(1000)),
    }
}

fn replicas(raw: RawReplicas, p: &mut Problems<'_>) -> ReplicaSettings {
    let d = ReplicaSettings::default();
    let selection = match raw.selection.as_ref().map(|s| s.value.as_str()) {
        None | Some("least_outstanding") => Selection::LeastOutstanding,
        Some("round_robin") => Selection::RoundRobin,
        Some(other) => {
            if let Some(s) = &raw.selection {
                p.at(
                    s,
                    "replicas.selection",
                    format!("unknown selection {other:?}; use least_outstanding or round_robin"),
                );
            }
            Selection::LeastOutstanding
        }
    };
    let positive = |v: &Option<Spanned<u64>>, field: &str, default: Duration, p: &mut Problems<'_>| match v {
        None => default,
        Some(s) if s.value == 0 => {
            p.at(s, field, "must be above 0");
            default
        }
        Some(s) => Duration::from_millis(s.value),
    };
    ReplicaSettings {
        selection,
        health_interval: positive(&raw.health_interval_ms, "replicas.health_interval_ms", d.health_interval, p),
        health_timeout: positive(&raw.health_timeout_ms, "replicas.health_timeout_ms", d.health_timeout, p),
        max_lag_bytes: raw.max_lag_bytes.unwrap_or(d.max_lag_bytes),
        max_lag: raw.max_lag_ms.map_or(d.max_lag, Duration::from_millis),
        ban: positive(&raw.ban_ms, "replicas.ban_ms", d.ban, p),
        primary_wait: raw.primary_wait_ms.map_or(d.primary_wait, Duration::from_millis),
        read_your_writes_wait: raw.read_your_writes_wait_ms.map_or(d.read_your_writes_wait, Duration::from_millis),
        read_your_writes: raw.read_your_writes.unwrap_or(d.read_your_writes),
        health_user: raw.health_user.map(|u| u.value),
    }
}

fn user(u: RawUser, i: usize, pool: &PoolSettings, p: &mut Problems<'_>) -> Option<UserConfig> {
    let field = |f: &str| format!("users[{i}].{f}");
    let name = u.name.value.clone();
    if name.is_empty() {
        p.at(&u.name, &field("name"), "user name is empty");
        return None;
    }
    let method = u.auth.as_ref().map_or("scram-sha-256", |a| a.value.as_str());
    let auth = match method {
        "scram-sha-256" => match (&u.password, &u.scram_verifier) {
            (_, Some(v)) => match ScramVerifier::parse(&v.value) {
                Ok(v) => ClientAuth::Scram(v),
                Err(e) => {
                    p.at(v, &field("scram_verifier"), format!("not a SCRAM-SHA-256 verifier: {e}"));
                    return None;
                }
            },
            (Some(pw), None) => match ScramVerifier::from_password(&pw.value) {
                Ok(v) => ClientAuth::Scram(v),
                Err(e) => {
                    p.at(pw, &field("password"), format!("cannot derive a SCRAM verifier: {e}"));
                    return None;
                }
            },
            (None, None) => {
                p.at(&u.name, &field("password"), "scram-sha-256 needs password or scram_verifier");
                return None;
            }
        },
        "md5" => match &u.password {
            Some(pw) if pw.value.starts_with("md5") && pw.value.len() == 35 => match Md5Secret::parse(&pw.value) {
                Ok(s) => ClientAuth::Md5(s),
                Err(e) => {
                    p.at(pw, &field("password"), format!("not an md5 hash: {e}"));
                    return None;
                }
            },
            Some(pw) => ClientAuth::Md5(Md5Secret::from_password(&name, &pw.value)),
            None => {
                p.at(&u.name, &field("password"), "md5 needs a password");
                return None;
            }
        },
        "trust" => ClientAuth::Trust,
        other => {
            if let Some(a) = &u.auth {
                p.at(a, &field("auth"), format!("unknown auth method {other:?}; use scram-sha-256, md5 or trust"));
            }
            return None;
        }
    };
    let server_password = u.server_password.or_else(|| {
        u.password
            .as_ref()
            .map(|p| p.value.clone())
            .filter(|pw| !(method == "md5" && pw.starts_with("md5") && pw.len() == 35))
    });
    let pool_mode = u.pool_mode.as_ref().and_then(|m| pool_mode(m, &field("pool_mode"), p)).unwrap_or(pool.mode);
    let pool_size = u.pool_size.as_ref().map_or(pool.size, |s| s.value);
    if let Some(s) = u.pool_size.as_ref().filter(|s| s.value == 0) {
        p.at(s, &field("pool_size"), "pool size must be at least 1");
    }
    let read_from = u.read_from.as_ref().and_then(|r| {
        let parsed = ReadFrom::parse(&r.value);
        if parsed.is_none() {
            p.at(r, &field("read_from"), format!("unknown read_from {:?}; use replica, primary or any", r.value));
        }
        parsed
    });
    Some(UserConfig {
        read_from,
        replica_tag: u.replica_tag.map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()),
        server_user: u.server_user.unwrap_or_else(|| name.clone()),
        name,
        auth,
        server_password,
        pool_mode,
        pool_size,
    })
}

pub(super) fn load_map(path: &Path) -> Result<ShardMap, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
    let raw: RawShardMap = serde_saphyr::from_str(&text).map_err(|e| ConfigError::syntax(path, &e))?;
    ShardMap::try_from(raw).map_err(|errs| ConfigError {
        problems: errs
            .into_iter()
            .map(|e| ConfigProblem {
                file: PathBuf::from(path),
                line: (e.line > 0).then_some(e.line),
                field: Some(e.field),
                message: e.message,
            })
            .collect(),
    })
}
