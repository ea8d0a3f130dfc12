//! Read/write splitting in the client loop: which server of a replicated shard a statement
//! needs, getting it (with failover waits and replica fallbacks), and read-your-writes.
//!
//! The pure choice is `pool::select`; this module supplies what only the session knows
//! (transaction state, hints, the LSNs of its own commits) and does the waiting.

use std::sync::Arc;
use std::time::Duration;

use super::client::Client;
use super::error::FrontendError;
use super::routing::unquote;
use crate::config::PoolMode;
use crate::pool::health::parse_lsn;
use crate::pool::select::{self, NoPrimary, Want};
use crate::pool::{PoolError, ShardPool};
use crate::protocol::messages::btag;
use crate::protocol::messages::ready_for_query::TxStatus;
use crate::router::hint;
use crate::router::lexer::Words;
use crate::shardmap::{ReadFrom, Role, ServerIdx, ShardIdx};

/// What a statement needs from a replicated shard (owned: it outlives the borrow of the
/// session it was read from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Need {
    Primary,
    Read { from: ReadFrom, tag: Option<String>, min_lsn: u64 },
}

impl Need {
    /// For logs and spans: the role this need asks for (a read may still land on the primary).
    pub(super) fn role(&self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Read { .. } => "replica",
        }
    }

    fn want(&self) -> Want<'_> {
        match self {
            Self::Primary => Want::Primary,
            Self::Read { from, tag, min_lsn } => Want::Read { from: *from, tag: tag.as_deref(), min_lsn: *min_lsn },
        }
    }
}

/// How many servers one checkout tries before giving up (each failure bans its server).
const CHECKOUT_ATTEMPTS: usize = 3;

impl Client {
    /// The server role `sql` needs on `shard`. Writes, transactions and session pooling take
    /// the primary; other reads follow, in this order: a hint (comment, then `SET
    /// shardgate.role`), the map's `table_read_from` for the tables read, the user's
    /// `read_from`, the map's.
    pub(super) fn need(&self, shard: ShardIdx, sql: &str, write: bool, table: Option<ReadFrom>) -> Need {
        if !self.routing.replicated(shard)
            || self.mode == PoolMode::Session
            || (self.tx != TxStatus::Idle && self.deferred_begin.is_none())
        {
            return Need::Primary;
        }
        if let Some(begin) = &self.deferred_begin {
            if !begin_read_only(begin) {
                return Need::Primary;
            }
        }
        if write {
            return Need::Primary;
        }
        let comment = hint::scan(sql);
        let setting = |name: &str| self.settings.get(name).map(unquote);
        let role = comment.role.or_else(|| setting("shardgate.role"));
        let from = match role.as_deref().and_then(ReadFrom::parse) {
            Some(r) => r,
            None => table.or(self.routing.user.read_from).unwrap_or(self.routing.db.map.read_from),
        };
        if from == ReadFrom::Primary {
            return Need::Primary;
        }
        let tag = comment.tag.or_else(|| setting("shardgate.tag")).or_else(|| self.routing.user.replica_tag.clone());
        let min_lsn = if self.config.replicas.read_your_writes {
            self.ryw_lsn.get(usize::from(shard.0)).copied().unwrap_or(0)
        } else {
            0
        };
        Need::Read { from, tag, min_lsn }
    }

    /// The pool of the server `need` picks on `shard`, without waiting (scatter and fan-out,
    /// which check out several shards at once).
    pub(super) fn pool_for(&mut self, shard: ShardIdx, need: &Need) -> Result<Arc<ShardPool>, FrontendError> {
        let server = self.pick(shard, need).map_err(|NoPrimary(reason)| self.no_primary(shard, reason, 0))?;
        self.routing.pool_of(&self.shared.pools, shard, server).ok_or_else(|| self.not_in_map(shard))
    }

    fn pick(&mut self, shard: ShardIdx, need: &Need) -> Result<ServerIdx, NoPrimary> {
        if !self.routing.replicated(shard) {
            return Ok(ServerIdx(0));
        }
        let board = self.shared.health.board();
        let Some(s) = self.routing.db.map.shard(shard) else { return Ok(ServerIdx(0)) };
        let routing = &self.routing;
        let mut load = |i: ServerIdx| routing.load(shard, i);
        select::pick(s, &board, &self.shared.health, need.want(), &self.config.replicas, &mut load)
    }

    /// `chosen` is the primary only because of read-your-writes: without the client's LSN a
    /// replica would have been picked. Pure check on the board; no I/O.
    fn read_your_writes_holds_back(&mut self, shard: ShardIdx, need: &Need, chosen: ServerIdx) -> bool {
        let Need::Read { from, tag, min_lsn } = need else { return false };
        if *min_lsn == 0 || self.config.replicas.read_your_writes_wait.is_zero() || !self.routing.replicated(shard) {
            return false;
        }
        let board = self.shared.health.board();
        let Some(s) = self.routing.db.map.shard(shard) else { return false };
        let is_primary = select::primary(s, &board, std::time::Instant::now()).is_ok_and(|p| p == chosen);
        if !is_primary {
            return false;
        }
        let without = Need::Read { from: *from, tag: tag.clone(), min_lsn: 0 };
        self.pick(shard, &without).is_ok_and(|other| other != chosen)
    }

    fn no_primary(&self, shard: ShardIdx, reason: String, waited_ms: u64) -> FrontendError {
        FrontendError::Pool(PoolError::NoPrimary { shard: self.routing.shard_name(shard), reason, waited_ms })
    }

    pub(super) fn not_in_map(&self, shard: ShardIdx) -> FrontendError {
        FrontendError::UnknownDatabase(format!("{} (shard #{} is not in the map)", self.routing.db.name, shard.0))
    }

    /// Gets a server of `shard` for `need`. A write waits (bounded by `primary_wait`) for a
    /// primary to appear during a failover; a server that cannot be reached is banned and the
    /// next candidate tried, so a dead replica costs its in-flight statements only.
    pub async fn checkout(&mut self, shard: ShardIdx, need: &Need) -> Result<(), FrontendError> {
        if let Some(kept) = self.kept.take() {
            // The server kept since the last transaction (one shard, one server: see
            // `release`), unless its pool now needs it back; then the normal way below.
            if let Some(pool) = self.routing.pool_of(&self.shared.pools, shard, ServerIdx(0)) {
                let now = self.now().into_std();
                if let Some(server) = pool.reuse(kept, now) {
                    self.server_member = ServerIdx(0);
                    self.server_role = Role::Primary;
                    self.take_server(shard, server);
                    return Ok(());
                }
            }
        }
        let replicated = self.routing.replicated(shard);
        // The clock is read only once something waits: a checkout that succeeds at once (the
        // common case) reads no time here.
        let mut started: Option<tokio::time::Instant> = None;
        let mut attempts = 0;
        loop {
            let server = match self.pick(shard, need) {
                Ok(s) if self.read_your_writes_holds_back(shard, need, s) => {
                    let ryw_deadline = *started.get_or_insert_with(tokio::time::Instant::now)
                        + self.config.replicas.read_your_writes_wait;
                    if tokio::time::Instant::now() >= ryw_deadline {
                        s
                    } else {
                        // Only the client's own commit keeps the replicas out: give check
                        // rounds (asked for now) a moment to show one has replayed it.
                        let changed = self.shared.health.changed.notified();
                        self.shared.health.check_soon();
                        let _ = Box::pin(tokio::time::timeout_at(ryw_deadline, changed)).await;
                        self.clock = None;
                        continue;
                    }
                }
                Ok(s) => s,
                Err(NoPrimary(reason)) => {
                    let deadline =
                        *started.get_or_insert_with(tokio::time::Instant::now) + self.config.replicas.primary_wait;
                    let now = tokio::time::Instant::now();
                    if now >= deadline {
                        let waited = self.config.replicas.primary_wait.as_millis() as u64;
                        return Err(self.no_primary(shard, reason, waited));
                    }
                    // A check round (or a ban lifting) may change the answer.
                    let wait = (deadline - now).min(Duration::from_millis(100));
                    let _ = Box::pin(tokio::time::timeout(wait, self.shared.health.changed.notified())).await;
                    self.clock = None;
                    continue;
                }
            };
            let pool = self.routing.pool_of(&self.shared.pools, shard, server).ok_or_else(|| self.not_in_map(shard))?;
            attempts += 1;
            let now = self.now();
            match super::timing::checkout(&pool, &self.shared.metrics, need.role(), now).await {
                Ok(checkout) => {
                    tracing::trace!(
                        server_pid = checkout.backend_pid(),
                        shard = shard.0,
                        server = server.0,
                        "server checked out"
                    );
                    self.server_member = server;
                    self.server_role = match need {
                        Need::Primary => Role::Primary,
                        Need::Read { .. } => Role::Replica,
                    };
                    self.take_server(shard, checkout);
                    return Ok(());
                }
                Err(PoolError::Backend(e)) if replicated && e.is_unreachable() && attempts < CHECKOUT_ATTEMPTS => {
                    self.shared.health.report_failure(&pool.endpoint, &e.to_string(), &self.config.replicas);
                    // The failed attempt may have waited: the next one reads a fresh time.
                    self.clock = None;
                }
                Err(e) => {
                    if replicated {
                        if let PoolError::Backend(b) = &e {
                            if b.is_unreachable() {
                                self.shared.health.report_failure(
                                    &pool.endpoint,
                                    &b.to_string(),
                                    &self.config.replicas,
                                );
                            }
                        }
                    }
                    return Err(e.into());
                }
            }
        }
    }

    /// The held server of a replicated shard died: ban it so the next statements go elsewhere.
    pub(super) fn report_lost_server(&self, why: &str) {
        let Some(shard) = self.server_shard.filter(|s| self.routing.replicated(*s)) else { return };
        let Some(server) = self.routing.db.map.shard(shard).and_then(|s| s.server(self.server_member)) else { return };
        self.shared.health.report_failure(&server.endpoint, why, &self.config.replicas);
    }

    /// Read-your-writes: once a transaction that wrote on a replicated shard's primary has
    /// committed, asks that primary for its WAL position (one round trip on the server, after
    /// the client already has its reply). Later reads of this client then only use replicas
    /// that have replayed that far.
    pub(super) async fn note_commit_position(&mut self) -> Result<(), FrontendError> {
        self.ryw_armed = false;
        let Some(shard) = self.server_shard else { return Ok(()) };
        let Some(server) = self.server.as_mut() else { return Ok(()) };
        let mut frames = bytes::BytesMut::new();
        let lsn = match server.run_collect("SELECT pg_current_wal_insert_lsn()::text", Some(&mut frames)).await {
            Ok((TxStatus::Idle, None)) => first_text_value(&frames).and_then(|v| parse_lsn(&v)),
            Ok(_) => None,
            Err(e) => return self.server_lost(&e.to_string()).await,
        };
        let i = usize::from(shard.0);
        if self.ryw_lsn.len() <= i {
            self.ryw_lsn.resize(i + 1, 0);
        }
        if let Some(slot) = self.ryw_lsn.get_mut(i) {
            // Unknown (the query failed): every later read of this shard goes to the primary.
            *slot = (*slot).max(lsn.unwrap_or(u64::MAX));
        }
        Ok(())
    }
}

/// `BEGIN READ ONLY`, `START TRANSACTION ISOLATION LEVEL … READ ONLY`: may run on a replica.
pub(super) fn begin_read_only(sql: &str) -> bool {
    let mut prev_read = false;
    for w in Words::new(sql) {
        if prev_read && w.eq_ignore_ascii_case("only") {
            return true;
        }
        prev_read = w.eq_ignore_ascii_case("read");
    }
    false
}

/// The first column of the first DataRow among `frames`, as text.
fn first_text_value(frames: &[u8]) -> Option<String> {
    let mut rest = frames;
    while rest.len() >= 5 {
        let tag = *rest.first()?;
        let len = u32::from_be_bytes(rest.get(1..5)?.try_into().ok()?) as usize;
        let body = rest.get(5..1 + len)?;
        if tag == btag::DATA_ROW {
            let n = i32::from_be_bytes(body.get(2..6)?.try_into().ok()?);
            let value = body.get(6..6 + usize::try_from(n).ok()?)?;
            return String::from_utf8(value.to_vec()).ok();
        }
        rest = rest.get(1 + len..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_transactions_are_recognised() {
        assert!(begin_read_only("BEGIN READ ONLY"));
        assert!(begin_read_only("start transaction isolation level repeatable read, read only"));
        assert!(!begin_read_only("BEGIN ISOLATION LEVEL READ COMMITTED"));
        assert!(!begin_read_only("BEGIN READ WRITE"));
        assert!(!begin_read_only("BEGIN"));
    }

    #[test]
    fn the_wal_position_is_read_from_the_data_row() {
        let mut frames = bytes::BytesMut::new();
        crate::protocol::build::command_complete(&mut frames, "X");
        frames.extend_from_slice(&[b'D', 0, 0, 0, 19, 0, 1, 0, 0, 0, 9]);
        frames.extend_from_slice(b"0/16B3748");
        assert_eq!(first_text_value(&frames).as_deref(), Some("0/16B3748"));
    }
}
