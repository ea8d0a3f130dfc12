//! Shard routing in the client loop: which shard's server a statement needs, moving the client
//! between shards between transactions, and keeping a transaction on the shard it started on.
//!
//! The router (pure) decides; this module acts: it checks out the right server, defers a BEGIN
//! until the first statement shows the shard, settles a server before the client leaves it,
//! and refuses what would cross shards inside one transaction.

use std::sync::Arc;

use tokio::io::AsyncReadExt;

use super::client::Client;
use super::error::FrontendError;
use super::expect::Expect;
use super::replicas::Need;
use crate::config::{DatabaseConfig, UserConfig};
use crate::pool::{PoolKey, Pools, ShardPool};
use crate::protocol::build;
use crate::protocol::messages::ready_for_query::TxStatus;
use crate::router::lexer::Words;
use crate::router::{Context, Hints, Params, Route, RouteError, StatementPlan, Target};
use crate::shardmap::{Role, ServerIdx, ShardIdx};

/// How many times a statement is routed again after directory lookups filled the cache.
const MAX_LOOKUP_ROUNDS: usize = 3;

/// One map version as this client uses it: the database (map + router) and the pools of its
/// shards, created on first use. Replaced as a whole when the map is reloaded, and only when
/// the client holds no server, so a transaction finishes on the map it started with.
pub(super) struct Routing {
    pub db: DatabaseConfig,
    pub user: Arc<UserConfig>,
    pub generation: u64,
    /// Per shard, per server of the shard.
    pools: Vec<Vec<Option<Arc<ShardPool>>>>,
    /// Some shard has more than one server: statements are read for read/write splitting
    /// even with one shard.
    replicated: bool,
    /// The statement shapes this client sends, so a repeated simple-protocol statement is
    /// routed without normalising it (`router::shape`).
    pub shapes: std::cell::RefCell<crate::router::shape::Shapes>,
}

impl Routing {
    pub fn new(db: DatabaseConfig, user: Arc<UserConfig>, generation: u64) -> Self {
        let pools = db.map.shards().iter().map(|s| vec![None; s.servers.len()]).collect();
        let replicated = db.map.shards().iter().any(|s| s.replicated());
        Self { db, user, generation, pools, replicated, shapes: Default::default() }
    }

    /// More than one shard: statements must be routed. With one shard shardgate is a pooler
    /// and reads no SQL beyond what session tracking needs.
    pub fn is_sharded(&self) -> bool {
        self.db.map.single().is_none()
    }

    /// Statements are read and routed: several shards, or servers to choose between.
    pub fn routes(&self) -> bool {
        self.replicated || self.is_sharded()
    }

    /// `shard` has several servers (primary and replicas, or failover candidates).
    pub fn replicated(&self, shard: ShardIdx) -> bool {
        self.replicated && self.db.map.shard(shard).is_some_and(|s| s.replicated())
    }

    pub fn shard_name(&self, shard: ShardIdx) -> String {
        self.db.map.shard(shard).map(|s| s.name.to_string()).unwrap_or_else(|| format!("#{}", shard.0))
    }

    /// The pool of the shard's first server: the only one of an unreplicated shard.
    pub fn pool(&mut self, pools: &Pools, shard: ShardIdx) -> Option<Arc<ShardPool>> {
        self.pool_of(pools, shard, ServerIdx(0))
    }

    /// The pool of one server of a shard, created on first use.
    pub fn pool_of(&mut self, pools: &Pools, shard: ShardIdx, server: ServerIdx) -> Option<Arc<ShardPool>> {
        let slot = self.pools.get_mut(usize::from(shard.0))?.get_mut(usize::from(server.0))?;
        if let Some(p) = slot {
            return Some(p.clone());
        }
        let s = self.db.map.shard(shard)?;
        let key =
            PoolKey { database: self.db.name.clone(), shard: s.name.clone(), server, user: self.user.name.clone() };
        let pool = pools.get(key, &s.server(server)?.endpoint, &self.user);
        *slot = Some(pool.clone());
        Some(pool)
    }

    /// Servers of `shard`'s `server` this client's user has checked out (for least
    /// outstanding selection); 0 for pools not created yet.
    pub fn load(&self, shard: ShardIdx, server: ServerIdx) -> usize {
        let slot = self.pools.get(usize::from(shard.0)).and_then(|v| v.get(usize::from(server.0)));
        slot.and_then(|p| p.as_ref()).map_or(0, |p| p.in_use())
    }
}

/// What became of a statement after routing.
pub(super) enum Decision {
    /// The right server is checked out; send the statement.
    Proceed,
    /// Answered or refused already; send nothing.
    Handled,
}

/// An unnamed portal the proxy runs itself when the client executes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PortalAnswer {
    /// BEGIN/COMMIT/ROLLBACK of a transaction that has no server yet.
    TxControl(TxControl),
    /// A parameterless statement for every shard (DDL through the extended protocol).
    Broadcast(String),
    /// A read across shards, merged by the proxy.
    Scatter(Box<super::scatter::ScatterJob>),
}

/// Transaction control the proxy may answer itself while no server is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TxControl {
    Begin,
    Commit,
    Rollback,
}

impl TxControl {
    /// Reads a single statement's first words. `ROLLBACK TO`, `ROLLBACK PREPARED`, `COMMIT
    /// PREPARED` and `… AND CHAIN` are not plain transaction ends.
    pub fn of(sql: &str) -> Option<Self> {
        // Every statement comes through here: most are rejected on their first word, before
        // the scan for a second statement below.
        const FIRST: [&str; 6] = ["begin", "start", "commit", "end", "rollback", "abort"];
        if !may_be_tx_control(sql) {
            return None;
        }
        let first = Words::new(sql).next()?;
        if !FIRST.iter().any(|k| first.eq_ignore_ascii_case(k)) {
            return None;
        }
        // Only a query that is this one statement: `BEGIN; INSERT …; COMMIT` is routed whole.
        let mut stmts = crate::router::lexer::statements(sql);
        let (Some(sql), None) = (stmts.next(), stmts.next()) else { return None };
        let mut w = Words::new(sql);
        let first = w.next()?;
        let second = w.next();
        let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let plain_end = |second: Option<&str>| match second {
            None => true,
            Some(s) => is(s, "work") || is(s, "transaction"),
        };
        let chained = sql.to_ascii_lowercase().contains("chain");
        if is(first, "begin") || (is(first, "start") && second.is_some_and(|s| is(s, "transaction"))) {
            Some(Self::Begin)
        } else if (is(first, "commit") || is(first, "end")) && plain_end(second) && !chained {
            Some(Self::Commit)
        } else if (is(first, "rollback") || is(first, "abort")) && plain_end(second) && !chained {
            Some(Self::Rollback)
        } else {
            None
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Self::Begin => "BEGIN",
            Self::Commit => "COMMIT",
            Self::Rollback => "ROLLBACK",
        }
    }
}

/// Whether the first word of `sql` may be one of [`TxControl::of`]'s: its first two letters
/// are those of one of them, or a comment comes first (then the word reader decides). Saves
/// the word reader (~100 instructions) on every routed SELECT, INSERT, UPDATE and DELETE.
fn may_be_tx_control(sql: &str) -> bool {
    const PREFIXES: [[u8; 2]; 6] = [*b"be", *b"st", *b"co", *b"en", *b"ro", *b"ab"];
    let b = sql.as_bytes();
    let Some(at) = b.iter().position(|&c| !crate::router::lexer::is_space(c)) else { return false };
    match (b.get(at), b.get(at + 1)) {
        (Some(b'-' | b'/'), _) => true,
        (Some(x), Some(y)) => PREFIXES.contains(&[x.to_ascii_lowercase(), y.to_ascii_lowercase()]),
        _ => false,
    }
}

impl Client {
    /// Picks up a reloaded map between transactions.
    pub(super) fn refresh_routing(&mut self) {
        if self.server.is_some() || self.deferred_begin.is_some() {
            return;
        }
        let generation = self.shared.generation.load(std::sync::atomic::Ordering::Acquire);
        if generation == self.routing.generation {
            return;
        }
        let config = self.shared.config.load_full();
        let db = config.databases.get(&self.routing.db.name).cloned();
        let user = config.users.get(&self.routing.user.name).cloned().map(Arc::new);
        if let (Some(db), Some(user)) = (db, user) {
            self.routing = Routing::new(db, user, generation);
            self.config = config;
        } else {
            // The database or user left the config: keep serving this session on what it had.
            self.routing.generation = generation;
        }
    }

    /// The shard for statements that touch no sharded table: the one held, else the first.
    pub(super) fn default_shard(&self) -> ShardIdx {
        self.server_shard.unwrap_or(ShardIdx(0))
    }

    /// Answers BEGIN / COMMIT / ROLLBACK itself while no server is held, so a transaction
    /// reaches a server only once its first statement shows the shard. `Some(Ok(tag))`: answer
    /// with that tag; `Some(Err(e))`: refuse (the deferred transaction already failed);
    /// `None`: the statement goes to a server.
    pub(super) fn deferred_answer(&mut self, sql: &str) -> Option<Result<TxControl, FrontendError>> {
        if !self.routing.routes() || self.server.is_some() || !self.queue.is_empty() {
            return None;
        }
        let ctl = TxControl::of(sql);
        match ctl {
            Some(TxControl::Begin) if self.tx == TxStatus::Idle => {
                self.deferred_begin = Some(sql.to_string());
                self.tx = TxStatus::InTransaction;
            }
            Some(TxControl::Commit | TxControl::Rollback) if self.deferred_begin.is_some() => {
                let failed = self.tx == TxStatus::Failed;
                self.deferred_begin = None;
                self.tx = TxStatus::Idle;
                self.pending.clear();
                // COMMIT of a failed transaction reports ROLLBACK, as PostgreSQL does.
                return Some(Ok(if failed { TxControl::Rollback } else { ctl.unwrap_or(TxControl::Rollback) }));
            }
            _ if self.deferred_begin.is_some() && self.tx == TxStatus::Failed => {
                return Some(Err(FrontendError::TransactionAborted));
            }
            _ => return None,
        }
        ctl.map(Ok)
    }

    /// Routes one statement and leaves the right server checked out (`Proceed`), or answers
    /// it (`Handled`): refusals, DDL on every shard, split INSERTs.
    pub(super) async fn route_statement(
        &mut self,
        sql: &str,
        bound: Option<(&Params<'_>, &StatementPlan)>,
        simple: bool,
    ) -> Result<Decision, FrontendError> {
        let params = bound.map(|(p, _)| p);
        let route = self.route_with_lookups(sql, bound).await?;
        self.last_route = Some(self.shared.metrics.route(&route));
        let route = match route {
            Ok(r) => r,
            Err(e) => {
                self.refuse(e, simple)?;
                return Ok(Decision::Handled);
            }
        };
        tracing::debug!(reason = %route.reason, "routed");
        let shard = match route.target {
            Target::Shard(s) => s,
            Target::Any => self.default_shard(),
            Target::Shards(v) if v.len() == 1 => v[0],
            Target::Shards(v) => {
                Box::pin(self.start_scatter(sql, v, params, simple, route.read_from)).await?;
                self.shared.metrics.transaction_done(crate::metrics::RouteKind::Scatter);
                return Ok(Decision::Handled);
            }
            Target::All => {
                if params.is_some_and(|p| !p.values.is_empty()) {
                    let e = RouteError::unsupported(
                        "statements with parameters cannot run on every shard",
                        "put the values in the statement text, or send it as a simple query",
                    );
                    self.refuse(e.into(), simple)?;
                    return Ok(Decision::Handled);
                }
                if !self.outside_transaction().await? {
                    self.refuse(self.cross_shard_error("every shard"), simple)?;
                    return Ok(Decision::Handled);
                }
                self.shared.metrics.transaction_done(crate::metrics::RouteKind::Broadcast);
                if simple {
                    if let Err(e) = Box::pin(self.broadcast(sql, true)).await {
                        self.refuse(e, simple)?;
                    }
                } else {
                    // Extended protocol: BindComplete now, the statement runs at Execute.
                    self.portal_answer = Some(PortalAnswer::Broadcast(sql.to_string()));
                    self.synthetic(bytes::Bytes::from_static(build::BIND_COMPLETE));
                }
                return Ok(Decision::Handled);
            }
            Target::Split(parts) => {
                if !simple {
                    let e = RouteError::unsupported(
                        "a multi-row INSERT whose rows live on different shards is split only in the simple query protocol",
                        "insert the rows of each shard key separately, or send the statement as a simple query",
                    );
                    self.refuse(e.into(), simple)?;
                    return Ok(Decision::Handled);
                }
                if !self.outside_transaction().await? {
                    self.refuse(self.cross_shard_error("several shards"), simple)?;
                    return Ok(Decision::Handled);
                }
                self.shared.metrics.transaction_done(crate::metrics::RouteKind::Split);
                if let Err(e) = Box::pin(self.split_insert(&parts)).await {
                    self.refuse(e, simple)?;
                }
                return Ok(Decision::Handled);
            }
            Target::Lookup(_) => {
                return Err(FrontendError::Lookup("the directory did not answer for every key".into()));
            }
            Target::Refuse(e) => {
                self.refuse(e.into(), simple)?;
                return Ok(Decision::Handled);
            }
        };
        if let Some(tenant) = route.tenant.as_deref() {
            if self.config.tenant_limits.any() {
                if let Err(e) = self.admit_tenant(tenant) {
                    self.refuse(e, simple)?;
                    return Ok(Decision::Handled);
                }
            }
        }
        let need = self.need(shard, sql, route.write, route.read_from);
        let armed = need == Need::Primary && route.write;
        let decision = self.use_shard(shard, &need, simple).await?;
        if armed && matches!(decision, Decision::Proceed) && self.routing.replicated(shard) {
            self.ryw_armed |= self.config.replicas.read_your_writes;
        }
        Ok(decision)
    }

    /// A read on several shards: run now (simple protocol), or at Execute (the Bind is
    /// answered here; its result formats are added by the caller).
    async fn start_scatter(
        &mut self,
        sql: &str,
        shards: Vec<ShardIdx>,
        params: Option<&Params<'_>>,
        simple: bool,
        read_from: Option<crate::shardmap::ReadFrom>,
    ) -> Result<(), FrontendError> {
        if !self.outside_transaction().await? {
            let e = crate::scatter::ScatterError::unsupported(
                format!("a read across shards ({} shards) inside a transaction", shards.len()),
                "run cross-shard reads outside transactions, or add the shard key (e.g. tenant_id = <value>) to the WHERE clause",
            );
            return self.refuse(e.into(), simple);
        }
        let plan = self.routing.db.scatter.plan(sql);
        if let Err(e) = &plan.base {
            return self.refuse(e.clone().into(), simple);
        }
        let bound = params.map(|p| super::scatter::BoundParams {
            types: p.types.to_vec(),
            formats: p.formats.to_vec(),
            values: p.values.iter().map(|v| v.map(bytes::Bytes::copy_from_slice)).collect(),
            results: Vec::new(),
        });
        let job = super::scatter::ScatterJob { sql: sql.to_string(), plan, shards, params: bound, read_from };
        if simple {
            if let Err(e) = self.scatter(&job, true, true).await {
                self.refuse(e, true)?;
            }
        } else {
            self.portal_answer = Some(PortalAnswer::Scatter(Box::new(job)));
            self.synthetic(bytes::Bytes::from_static(build::BIND_COMPLETE));
        }
        Ok(())
    }

    /// Routes, resolving directory lookups (which need I/O the router must not do) until the
    /// router has every answer. `Err` inside: the statement is refused with that error.
    async fn route_with_lookups(
        &mut self,
        sql: &str,
        bound: Option<(&Params<'_>, &StatementPlan)>,
    ) -> Result<Result<Route, FrontendError>, FrontendError> {
        let (params, statement) = (bound.map(|(p, _)| p), bound.map(|(_, s)| s));
        let mut hint_shard = None;
        let mut keys: Vec<(String, String)> = Vec::new();
        for (k, v) in self.settings.proxy_own() {
            match k {
                "shard" => hint_shard = Some(unquote(v)),
                "role" | "tag" => {}
                key => keys.push((key.to_string(), unquote(v))),
            }
        }
        let key_refs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        for _ in 0..MAX_LOOKUP_ROUNDS {
            let route = {
                let lookups = self.shared.directory.view(&self.routing.db.map);
                let ctx = Context {
                    hints: Hints { shard: hint_shard.as_deref(), keys: &key_refs },
                    lookups: &lookups,
                    explain: tracing::enabled!(tracing::Level::DEBUG),
                    shapes: Some(&self.routing.shapes),
                    statement,
                };
                self.routing.db.router.route(sql, params, &ctx)
            };
            let Target::Lookup(missing) = &route.target else { return Ok(Ok(route)) };
            for (function, key) in missing {
                let Some(f) = self.routing.db.map.function(*function) else { continue };
                if let Err(e) = Box::pin(self.shared.directory.resolve(f, key, &self.routing.user)).await {
                    return Ok(Err(e));
                }
            }
        }
        Ok(Err(FrontendError::Lookup("the directory answers kept missing from the cache".into())))
    }

    /// Applies the per-tenant caps to a statement placed by `tenant`'s key.
    fn admit_tenant(&mut self, tenant: &[crate::shardmap::KeyValue]) -> Result<(), FrontendError> {
        use super::limits::LimitHit;
        let holding = self.tenant_slot.is_some();
        match self.shared.tenants.admit(tenant, holding, &self.config.tenant_limits) {
            Ok(Some(slot)) => {
                self.tenant_slot = Some(slot);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(hit) => {
                let (limit, what) = match hit {
                    LimitHit::Transactions(n) => {
                        (crate::metrics::TenantLimit::Transactions, format!("{n} concurrent transactions"))
                    }
                    LimitHit::Statements(n) => {
                        (crate::metrics::TenantLimit::Statements, format!("{n} statements per second"))
                    }
                };
                self.shared.metrics.tenant_limited(limit);
                Err(FrontendError::TenantLimit { tenant: super::limits::show(tenant), what })
            }
        }
    }

    pub(super) fn cross_shard_error(&self, wanted: &str) -> FrontendError {
        let held = self.server_shard.map(|s| self.routing.shard_name(s)).unwrap_or_else(|| "?".into());
        FrontendError::CrossShard { held, wanted: wanted.to_string() }
    }

    /// Whether the client is between transactions (after letting a busy server finish).
    async fn outside_transaction(&mut self) -> Result<bool, FrontendError> {
        if self.deferred_begin.is_some() {
            return Ok(false);
        }
        if self.server.is_some() && !(self.queue.is_empty() && self.server_at_rest) {
            if self.batch_executed {
                return Ok(false);
            }
            Box::pin(self.settle()).await?;
        }
        Ok(self.tx == TxStatus::Idle && !self.batch_executed)
    }

    /// Makes `shard`'s server the client's: keeps the one held if it is that shard's, moves
    /// between shards only between transactions, and sends a deferred BEGIN first.
    pub(super) async fn use_shard(
        &mut self,
        shard: ShardIdx,
        need: &Need,
        simple: bool,
    ) -> Result<Decision, FrontendError> {
        if self.server.is_some() && self.server_shard == Some(shard) {
            // The primary serves anything; a replica serves reads, and whatever a read-only
            // transaction already running on it sends (the server refuses writes itself).
            let fits = self.server_role == Role::Primary || *need != Need::Primary;
            if fits || !self.outside_transaction().await? {
                return Ok(Decision::Proceed);
            }
            self.release();
        }
        if self.server.is_some() {
            if self.mode == crate::config::PoolMode::Session {
                let e = RouteError::unsupported(
                    format!(
                        "this session holds a server of shard {}; session pooling cannot move it to shard {}",
                        self.routing.shard_name(self.default_shard()),
                        self.routing.shard_name(shard)
                    ),
                    "use pool_mode: transaction for sharded databases",
                );
                self.refuse(e.into(), simple)?;
                return Ok(Decision::Handled);
            }
            if !self.outside_transaction().await? {
                let e = self.cross_shard_error(&self.routing.shard_name(shard));
                self.refuse(e, simple)?;
                return Ok(Decision::Handled);
            }
            self.release();
        }
        if let Err(e) = self.checkout(shard, need).await {
            self.refuse(e, simple)?;
            return Ok(Decision::Handled);
        }
        self.apply_settings();
        if let Some(begin) = self.deferred_begin.take() {
            self.send_internal_query(&begin);
        }
        Ok(Decision::Proceed)
    }

    /// Lets the held server answer everything sent to it, closing an open extended batch
    /// with a Sync of the proxy's own, so the client can move to another shard.
    pub(super) async fn settle(&mut self) -> Result<(), FrontendError> {
        if self.batch_open {
            build::sync(&mut self.sout);
            self.queue.push_back(Expect::Sync { internal: true });
            self.batch_open = false;
            self.server_at_rest = false;
        }
        self.flush_server().await?;
        while !self.queue.is_empty() {
            let Some(server) = self.server.as_mut() else { break };
            let server = &mut **server;
            let lost = match server.stream.read_buf(&mut server.rbuf).await {
                Ok(0) => Some(self.server_fatal.take().unwrap_or_else(|| "server closed the connection".to_string())),
                Ok(_) => None,
                Err(e) => Some(self.server_fatal.take().unwrap_or_else(|| e.to_string())),
            };
            if let Some(why) = lost {
                return self.server_lost(&why).await;
            }
            self.relay_server()?;
            self.flush_client().await?;
        }
        Ok(())
    }
}

/// Settings are stored as SQL literals; hints want the bare value.
pub(super) fn unquote(v: &str) -> String {
    v.strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .map(|s| s.replace("''", "'"))
        .unwrap_or_else(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::TxControl;

    #[test]
    fn transaction_control_is_read_from_the_first_words_only() {
        let cases: [(&str, Option<TxControl>); 22] = [
            ("BEGIN", Some(TxControl::Begin)),
            ("  begin isolation level serializable", Some(TxControl::Begin)),
            ("\n\tStart Transaction", Some(TxControl::Begin)),
            ("START", None),
            ("/* shardgate: shard=shard-0 */ BEGIN", Some(TxControl::Begin)),
            ("-- first\nCOMMIT", Some(TxControl::Commit)),
            ("commit work", Some(TxControl::Commit)),
            ("END", Some(TxControl::Commit)),
            ("COMMIT AND CHAIN", None),
            ("COMMIT PREPARED 'x'", None),
            ("ROLLBACK", Some(TxControl::Rollback)),
            ("abort transaction", Some(TxControl::Rollback)),
            ("ROLLBACK TO SAVEPOINT a", None),
            ("BEGIN; SELECT 1; COMMIT", None),
            ("SELECT 1", None),
            ("select balance from tenant_accounts where tenant_id = 1", None),
            ("STATEMENT", None),
            ("ENDX", None),
            ("(SELECT 1)", None),
            ("", None),
            ("   ", None),
            ("b", None),
        ];
        for (sql, want) in cases {
            assert_eq!(TxControl::of(sql), want, "{sql:?}");
        }
    }
}
