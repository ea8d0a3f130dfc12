//! Health of the servers of replicated shards: which one is primary right now, how far each
//! replica is behind, and which are banned after failing.
//!
//! One background task checks every server of every shard that has more than one, each
//! interval, over a connection of its own (not a pooled one: a check must not wait behind
//! clients). Results are published as a whole [`Board`] through arc-swap, so a checkout reads
//! them without a lock. Shards with a single server are never checked: their behaviour is the
//! pooler's (a failed connect is the client's error).

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ReplicaSettings, UserConfig};
use crate::shardmap::Endpoint;

/// Shortest time between the starts of two check rounds, however often one is asked for.
const MIN_ROUND_SPACING: Duration = Duration::from_millis(10);

/// Longest ban of a failing server, whatever the number of failures.
const MAX_BAN: Duration = Duration::from_secs(30);

/// What the last check of one server found.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub in_recovery: bool,
    /// A primary's `pg_current_wal_insert_lsn()`, a replica's `pg_last_wal_replay_lsn()`.
    /// The insert position, not the write position: with `synchronous_commit = off` a commit
    /// record can sit in WAL buffers past the write position, and a replica that reached the
    /// write position would still miss it.
    pub lsn: u64,
    /// Replicas: how far replay is behind the shard's primary (0 when no primary answered).
    pub lag_bytes: u64,
    /// Replicas: time since the last replayed transaction, counted only while behind (an
    /// idle primary must not make a caught-up replica look late).
    pub lag: Duration,
    /// `pg_is_wal_replay_paused()`.
    pub paused: bool,
}

/// One server's entry on the board.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerHealth {
    /// The last successful check; `None` before the first one or after a failure.
    pub status: Option<Status>,
    pub banned_until: Option<Instant>,
    /// Failures in a row; sets the ban's length.
    pub failures: u32,
    /// When the last failure was seen: a check that started before it cannot lift its ban.
    pub failed_at: Option<Instant>,
    pub last_error: Option<String>,
}

impl ServerHealth {
    pub fn banned(&self, now: Instant) -> bool {
        self.banned_until.is_some_and(|t| t > now)
    }

    /// Answered its last check and is not banned.
    pub fn up(&self, now: Instant) -> bool {
        self.status.is_some() && !self.banned(now)
    }
}

/// Every checked server's health, by endpoint.
#[derive(Debug, Clone, Default)]
pub struct Board {
    pub servers: HashMap<Endpoint, ServerHealth>,
    /// Completed check rounds; lets a writer waiting for a primary see that a round passed.
    pub rounds: u64,
}

impl Board {
    pub fn get(&self, e: &Endpoint) -> Option<&ServerHealth> {
        self.servers.get(e)
    }

    /// `primary`, `replica` or `down`, as the console and /metrics print a server's role.
    /// Servers of unreplicated shards are never checked: they are their shard's primary.
    pub fn role_now(&self, e: &Endpoint) -> &'static str {
        match self.get(e) {
            None => "primary",
            Some(h) => match &h.status {
                Some(s) if s.in_recovery => "replica",
                Some(_) => "primary",
                None => "down",
            },
        }
    }
}

/// The shared health state: the board, and the signals around it.
#[derive(Default)]
pub struct Health {
    board: ArcSwap<Board>,
    /// Woken after every check round.
    pub changed: Notify,
    /// Wakes the checker early (a server just failed a client).
    recheck: Notify,
    /// Round-robin position, shared by every client.
    pub turn: AtomicUsize,
}

impl Health {
    pub fn board(&self) -> Arc<Board> {
        self.board.load_full()
    }

    /// Asks the checker for a round now (a read waits to see a replica catch up).
    pub fn check_soon(&self) {
        self.recheck.notify_one();
    }

    /// A client could not use `endpoint` (connect refused, connection lost): ban it now rather
    /// than at the next check, and check sooner.
    pub fn report_failure(&self, endpoint: &Endpoint, why: &str, settings: &ReplicaSettings) {
        let now = Instant::now();
        self.board.rcu(|b| {
            let mut b = (**b).clone();
            let entry = b.servers.entry(endpoint.clone()).or_default();
            if !entry.banned(now) {
                entry.failures = entry.failures.saturating_add(1);
                entry.banned_until = Some(now + ban_length(settings.ban, entry.failures));
            }
            entry.status = None;
            entry.failed_at = Some(now);
            entry.last_error = Some(why.to_string());
            b
        });
        tracing::warn!(server = %endpoint, reason = why, "server banned after a failure");
        self.recheck.notify_one();
    }

    /// Publishes a round's results. Through `rcu`, so a failure a client reports meanwhile is
    /// not overwritten.
    fn publish(
        &self,
        started: Instant,
        results: Vec<(Endpoint, Result<Status, CheckError>)>,
        settings: &ReplicaSettings,
    ) {
        let now = Instant::now();
        let before = self.board.load_full();
        for (endpoint, result) in &results {
            let old = before.servers.get(endpoint);
            match result {
                Ok(status) if old.is_none_or(|o| o.failures > 0 || o.status.is_none()) => {
                    tracing::info!(server = %endpoint, in_recovery = status.in_recovery, "server is up");
                }
                // Once a minute or so at the default interval, not every round.
                Err(CheckError::Login(e)) if before.rounds.is_multiple_of(100) => {
                    tracing::error!(
                        server = %endpoint,
                        error = %e,
                        "health check cannot log in (replicas are not used until it can); fix replicas.health_user"
                    );
                }
                Err(CheckError::Down(e)) if old.is_none_or(|o| o.status.is_some() || o.failures == 0) => {
                    tracing::warn!(server = %endpoint, error = %e, "health check failed");
                }
                _ => {}
            }
        }
        self.board.rcu(|old| next_board(old, &results, started, now, settings));
        self.changed.notify_waiters();
    }
}

/// The board after a round: each checked server's entry updated from its result.
fn next_board(
    old: &Board,
    results: &[(Endpoint, Result<Status, CheckError>)],
    started: Instant,
    now: Instant,
    settings: &ReplicaSettings,
) -> Board {
    let mut b = Board { servers: HashMap::new(), rounds: old.rounds + 1 };
    for (endpoint, result) in results {
        let mut entry = old.servers.get(endpoint).cloned().unwrap_or_default();
        match result {
            // A client saw this server fail after the check had started: the check's answer
            // is older than the failure and must not lift the ban.
            Ok(_) if entry.failed_at.is_some_and(|t| t > started) => {}
            // A ban runs its course even if a check answers meanwhile: a killed server's
            // backends die one by one, and the check's may be the last to go.
            Ok(status) => {
                entry.status = Some(status.clone());
                if !entry.banned(now) {
                    entry.failures = 0;
                    entry.banned_until = None;
                    entry.last_error = None;
                }
            }
            // The checks' own credentials are wrong, not the server: say nothing about it
            // (selection then falls back to the map's roles) rather than ban every server
            // and block all writes over a monitoring misconfiguration.
            Err(CheckError::Login(_)) => continue,
            Err(CheckError::Down(e)) => {
                if !entry.banned(now) {
                    entry.failures = entry.failures.saturating_add(1);
                    entry.banned_until = Some(now + ban_length(settings.ban, entry.failures));
                }
                entry.status = None;
                entry.failed_at = Some(now);
                entry.last_error = Some(e.clone());
            }
        }
        b.servers.insert(endpoint.clone(), entry);
    }
    b
}

fn ban_length(first: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    first.saturating_mul(1 << doublings).min(MAX_BAN)
}

/// Why a check failed.
#[derive(Debug, Clone)]
enum CheckError {
    /// The server is down, unreachable, or not answering in time: ban it.
    Down(String),
    /// The server refused the health check's login (class 28, or no such database).
    Login(String),
}

impl From<tokio_postgres::Error> for CheckError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.code().map(|c| c.code()) {
            Some(code) if code.starts_with("28") || code == "3D000" => Self::Login(e.to_string()),
            _ => Self::Down(e.to_string()),
        }
    }
}

/// Checks every server of every replicated shard until `stop`, at the configured interval
/// (re-read every round, so a reload applies).
pub async fn watch(health: Arc<Health>, config: impl Fn() -> Arc<Config>, stop: CancellationToken) {
    let mut conns: HashMap<Endpoint, tokio_postgres::Client> = HashMap::new();
    loop {
        let cfg = config();
        let settings = cfg.replicas.clone();
        let shards = replicated_shards(&cfg);
        let started = Instant::now();
        if !shards.is_empty() {
            if let Some(user) = health_user(&cfg) {
                let results = check_round(&shards, user, &settings, &mut conns).await;
                health.publish(started, results, &settings);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(settings.health_interval) => {}
            () = health.recheck.notified() => {
                // Early rounds (a failure, a read waiting for its own write) are spaced, so
                // a busy proxy cannot turn the checks into a flood.
                tokio::time::sleep_until((started + MIN_ROUND_SPACING).into()).await;
            }
            () = stop.cancelled() => return,
        }
    }
}

/// The servers of each replicated shard, deduplicated by endpoint within a shard.
fn replicated_shards(cfg: &Config) -> Vec<Vec<Endpoint>> {
    let mut out: Vec<Vec<Endpoint>> = Vec::new();
    for db in cfg.databases.values() {
        for s in db.map.shards().iter().filter(|s| s.replicated()) {
            let servers: Vec<Endpoint> = s.servers.iter().map(|m| m.endpoint.clone()).collect();
            if !out.contains(&servers) {
                out.push(servers);
            }
        }
    }
    out
}

/// The configured `health_user`, else the first user (by name) that is not an admin: admin
/// users may exist only for the console and have no role on the servers.
fn health_user(cfg: &Config) -> Option<&UserConfig> {
    match &cfg.replicas.health_user {
        Some(name) => cfg.users.get(name),
        None => cfg.users.values().find(|u| !cfg.admin_users.contains(&u.name)).or_else(|| cfg.users.values().next()),
    }
}

/// One round: every server checked in parallel; replica lag computed against the shard's
/// primary of this same round.
async fn check_round(
    shards: &[Vec<Endpoint>],
    user: &UserConfig,
    settings: &ReplicaSettings,
    conns: &mut HashMap<Endpoint, tokio_postgres::Client>,
) -> Vec<(Endpoint, Result<Status, CheckError>)> {
    let mut all: Vec<Endpoint> = shards.iter().flatten().cloned().collect();
    all.sort_by(|a, b| (&a.host, a.port, &a.database).cmp(&(&b.host, b.port, &b.database)));
    all.dedup();
    let checks = all.iter().map(|e| {
        let conn = conns.remove(e);
        async move {
            let r = tokio::time::timeout(settings.health_timeout, check(e, conn, user)).await;
            match r {
                Ok(Ok((status, conn))) => (e.clone(), Ok(status), Some(conn)),
                Ok(Err(msg)) => (e.clone(), Err(msg), None),
                Err(_) => {
                    let msg = format!("no answer within {} ms", settings.health_timeout.as_millis());
                    (e.clone(), Err(CheckError::Down(msg)), None)
                }
            }
        }
    });
    let done = futures_util::future::join_all(checks).await;
    let mut results: HashMap<Endpoint, Result<Status, CheckError>> = HashMap::new();
    for (e, r, conn) in done {
        if let Some(c) = conn {
            conns.insert(e.clone(), c);
        }
        results.insert(e, r);
    }
    for servers in shards {
        let primaries: Vec<u64> = servers
            .iter()
            .filter_map(|e| results.get(e).and_then(|r| r.as_ref().ok()))
            .filter(|s| !s.in_recovery)
            .map(|s| s.lsn)
            .collect();
        // Without exactly one primary answering there is nothing to measure lag against:
        // replicas count as current (they cannot fall further behind a primary that is down).
        let primary_lsn = match primaries.as_slice() {
            [lsn] => Some(*lsn),
            _ => None,
        };
        for e in servers {
            if let Some(Ok(s)) = results.get_mut(e) {
                if s.in_recovery {
                    s.lag_bytes = primary_lsn.map_or(0, |p| p.saturating_sub(s.lsn));
                    if s.lag_bytes == 0 {
                        s.lag = Duration::ZERO;
                    }
                }
            }
        }
    }
    all.into_iter().filter_map(|e| results.remove(&e).map(|r| (e, r))).collect()
}

const CHECK_SQL: &str = "SELECT pg_is_in_recovery(), \
     (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text, \
     COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8::text, \
     (CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END)";

/// Checks one server, reusing its health connection when there is one.
async fn check(
    e: &Endpoint,
    conn: Option<tokio_postgres::Client>,
    user: &UserConfig,
) -> Result<(Status, tokio_postgres::Client), CheckError> {
    let client = match conn.filter(|c| !c.is_closed()) {
        Some(c) => c,
        None => connect(e, user).await?,
    };
    let rows = client.simple_query(CHECK_SQL).await?;
    let row = rows
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .ok_or_else(|| CheckError::Down("the health query returned no row".into()))?;
    let in_recovery = row.get(0) == Some("t");
    // A replica that has replayed nothing yet reports NULL: treat as the very beginning.
    let lsn = row.get(1).and_then(parse_lsn).unwrap_or(0);
    let since_replay = row.get(2).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    let lag = if in_recovery && since_replay > 0.0 { Duration::from_secs_f64(since_replay) } else { Duration::ZERO };
    let paused = row.get(3) == Some("t");
    Ok((Status { in_recovery, lsn, lag_bytes: 0, lag, paused }, client))
}

async fn connect(e: &Endpoint, user: &UserConfig) -> Result<tokio_postgres::Client, CheckError> {
    super::control::connect(e, user, "shardgate health check", Duration::from_secs(2)).await.map_err(|err| match err {
        super::control::ControlError::Postgres(pg) => CheckError::from(pg),
        super::control::ControlError::Tls(msg) => CheckError::Down(msg),
    })
}

/// `16/B374D848` → 0x16_B374D848, as PostgreSQL's pg_lsn.
pub fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    (hi <= u64::from(u32::MAX) && lo <= u64::from(u32::MAX)).then_some((hi << 32) | lo)
}

/// Whether this process has any replicated shard to watch.
pub fn any_replicated(cfg: &Config) -> bool {
    cfg.databases.values().any(|db| db.map.shards().iter().any(|s| s.replicated()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text_parses_as_postgres_orders_it() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert!(parse_lsn("1/FF").unwrap_or(0) > parse_lsn("0/FFFFFFFF").unwrap_or(u64::MAX));
        assert_eq!(parse_lsn("nonsense"), None);
    }

    #[test]
    fn bans_double_and_stop_at_thirty_seconds() {
        let first = Duration::from_millis(500);
        assert_eq!(ban_length(first, 1), first);
        assert_eq!(ban_length(first, 3), Duration::from_secs(2));
        assert_eq!(ban_length(first, 40), MAX_BAN);
    }
}
