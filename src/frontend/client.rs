//! One client session: login completion, then the loop that reads client messages, hands them
//! to a pooled server and relays the answers.
//!
//! Transaction pooling: a server is checked out when the client sends something that needs
//! one and goes back at the first ReadyForQuery 'I' with nothing outstanding. Session pooling:
//! the server is held from login to disconnect and reset before it goes back.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::cancel::CancelKey;
use super::error::FrontendError;
use super::expect::Expect;
use super::handshake::{self, Authenticated, Startup};
use super::listener::{ClientGuard, Shared};
use super::prepared::{ClientPrepared, PreparedStatement};
use super::replicas::Need;
use super::routing::{PortalAnswer, Routing};
use crate::admin::stop_signal::Stop;
use crate::config::{Config, PoolMode};
use crate::error::{write_error, write_fatal, ClientError};
use crate::metrics::RouteKind;
use crate::pool::Checkout;
use crate::protocol::build;
use crate::protocol::messages::ready_for_query::TxStatus;
use crate::protocol::startup::parse_options;
use crate::router::session_command::SessionCommand;
use crate::session::Settings;
use crate::shardmap::{Role, ServerIdx, ShardIdx};
use crate::stream::Stream;

/// Startup parameters that are not settings.
const NOT_SETTINGS: [&str; 4] = ["user", "database", "options", "replication"];

pub(super) struct Client {
    pub stream: Stream,
    pub rbuf: BytesMut,
    /// Pending bytes for the client.
    pub wbuf: BytesMut,
    /// Pending bytes for the server.
    pub sout: BytesMut,
    pub shared: Arc<Shared>,
    pub config: Arc<Config>,
    pub mode: PoolMode,
    /// The map version this client routes with, and its shards' pools.
    pub routing: Routing,
    /// The shard of the server held, if any.
    pub server_shard: Option<ShardIdx>,
    /// Which of that shard's servers, and whether it was taken as primary or for reads.
    pub server_member: ServerIdx,
    pub server_role: Role,
    /// A write went to a replicated shard's primary in the current transaction: its commit
    /// position is fetched before the server goes back (read-your-writes).
    pub ryw_armed: bool,
    /// Per shard, the WAL position of this client's last committed write; reads of that shard
    /// use only replicas that have replayed it.
    pub ryw_lsn: Vec<u64>,
    /// The tenant transaction slot this client holds (`tenant_limits`), given back when its
    /// transaction ends.
    pub tenant_slot: Option<super::limits::Slot>,
    /// The server kept since the last transaction (single-shard transaction pooling, while
    /// its pool has room: `Checkout::keep`), reused by the next one and given back as soon as
    /// the pool has a checkout waiting.
    pub kept: Option<crate::pool::Kept>,
    /// The pool this client is listed with as a keeper (none yet: empty).
    pub keeper_of: crate::pool::KeeperOf,
    /// A BEGIN the proxy answered, sent to the server once a statement shows the shard.
    pub deferred_begin: Option<String>,
    /// Extended-protocol messages were sent since the last Sync; one of them was an Execute;
    /// the server reported an error in this batch.
    pub batch_open: bool,
    pub batch_executed: bool,
    pub batch_failed: bool,
    /// Sharded maps: the client's unnamed statement, sent with the Bind that routes it.
    pub unnamed: Option<Arc<PreparedStatement>>,
    /// The unnamed statement is already on the server held.
    pub unnamed_on_server: bool,
    /// The unnamed portal is one the proxy executes itself.
    pub portal_answer: Option<PortalAnswer>,
    pub max_message: u32,
    /// Settings the client asked for, committed.
    pub settings: Arc<Settings>,
    /// What RESET returns to: startup parameters and `options`.
    pub startup_settings: Arc<Settings>,
    /// Session changes seen in the current transaction, applied when it commits.
    pub pending: Vec<SessionCommand>,
    pub prepared: ClientPrepared,
    /// The effect of executing the unnamed statement / the unnamed portal.
    pub unnamed_statement_effect: Option<SessionCommand>,
    pub unnamed_portal_effect: Option<SessionCommand>,
    pub server: Option<Checkout>,
    pub queue: VecDeque<Expect>,
    /// Transaction status as last shown to the client.
    pub tx: TxStatus,
    /// The server last said ReadyForQuery and nothing was sent since.
    pub server_at_rest: bool,
    /// The server is skipping messages until Sync after an error in an extended batch.
    pub server_skipping: bool,
    /// The proxy refused a message of an extended batch: drop the client's messages until Sync.
    pub client_skipping: bool,
    /// Bytes of a streamed (large) DataRow/CopyData still to relay, and whether to drop them.
    pub pass_remaining: usize,
    pub pass_suppress: bool,
    /// The server is in COPY FROM STDIN mode and ignores Sync/Flush until CopyDone/CopyFail.
    pub copy_in: bool,
    /// The message of a FATAL the server sent before closing, reported as the reason.
    pub server_fatal: Option<String>,
    pub cancel: CancelKey,
    /// When the oldest outstanding request was sent (for query_timeout), and whether a cancel
    /// was already sent for it.
    pub busy_since: Option<Instant>,
    pub cancel_sent: bool,
    /// When the client sent the request (Query, Sync, FunctionCall) the next ReadyForQuery
    /// answers, for the statement latency histogram and the slow-statement log.
    pub request_started: Option<Instant>,
    /// The time read during the task's current wakeup, if any (see `Client::now`).
    pub clock: Option<Instant>,
    /// The routing decision of the current request (`None`: not routed, e.g. a single-shard
    /// database or a statement the proxy answered itself).
    pub last_route: Option<RouteKind>,
    /// Something was sent to the held server since its transaction began, under this route.
    pub tx_kind: Option<RouteKind>,
    /// This client's entry in the admin console's registry (state, KILL_CLIENT).
    pub entry: Arc<crate::admin::ClientEntry>,
}

pub(super) async fn run(tcp: TcpStream, id: super::ConnId, shared: Arc<Shared>, guard: ClientGuard) {
    let (addr, local) = (tcp.peer_addr().ok(), tcp.local_addr().ok());
    let auth = match handshake::startup(tcp, &shared).await {
        Ok(Startup::Cancelled) => return,
        Ok(Startup::Admin(a)) => {
            let info = crate::admin::NewClient {
                id: id.0,
                user: a.user.clone(),
                database: crate::config::ADMIN_DATABASE.to_string(),
                addr,
                local,
                tls: a.stream.is_tls(),
                application_name: String::new(),
                admin: true,
            };
            let registration = shared.registry.register(info, &shared.hard_stop, &shared.shutdown);
            crate::admin::serve(*a, shared.clone(), registration.entry()).await;
            drop(guard);
            return;
        }
        Ok(Startup::Session(a)) => a,
        Err(f) => {
            // A connection closed before its startup packet is a health probe (pg_isready,
            // a load balancer), not a failed login.
            if matches!(&f.error, FrontendError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof) {
                tracing::debug!("connection closed before startup");
                return;
            }
            tracing::info!(error = %f.error, "login failed");
            if let Some(stream) = f.stream {
                shared.metrics.error_sent(f.error.sqlstate().code());
                let mut out = BytesMut::new();
                write_fatal(&mut out, &f.error);
                close_with(stream, &out).await;
            }
            return;
        }
    };
    let registration = shared.registry.register(
        crate::admin::NewClient {
            id: id.0,
            user: auth.user.name.clone(),
            database: auth.database.name.clone(),
            addr,
            local,
            tls: auth.stream.is_tls(),
            application_name: auth.params.get("application_name").unwrap_or_default().to_string(),
            admin: false,
        },
        &shared.hard_stop,
        &shared.shutdown,
    );
    let mut client = match Client::login(*auth, shared.clone(), registration.entry()).await {
        Ok(c) => c,
        Err((stream, e)) => {
            tracing::info!(error = %e, "login refused");
            shared.metrics.error_sent(e.sqlstate().code());
            let mut out = BytesMut::new();
            write_fatal(&mut out, &e);
            close_with(stream, &out).await;
            return;
        }
    };
    tracing::debug!("client logged in");
    let result = client.serve().await;
    match &result {
        Ok(()) => tracing::debug!("client left"),
        Err(e) => {
            tracing::info!(error = %e, "client session ended with an error");
            if e.is_fatal() && !matches!(e, FrontendError::Io(_)) {
                client.wbuf.clear();
                client.shared.metrics.error_sent(e.sqlstate().code());
                write_error(&mut client.wbuf, e);
                let _ = client.stream.write_all(&client.wbuf).await;
                client.wbuf.clear();
                let _ = client.stream.shutdown().await;
                drain(&mut client.stream).await;
            }
        }
    }
    client.finish().await;
    drop(registration);
    drop(guard);
}

impl Client {
    async fn login(
        auth: Authenticated,
        shared: Arc<Shared>,
        entry: Arc<crate::admin::ClientEntry>,
    ) -> Result<Client, (Stream, FrontendError)> {
        let Authenticated { stream, rbuf, config, user, database, params } = auth;
        let max = config.pool.max_client_conn;
        if shared.clients.load(std::sync::atomic::Ordering::Relaxed) > max as usize {
            return Err((stream, FrontendError::TooManyClients(max)));
        }
        if shared.shutdown.is_cancelled() {
            return Err((stream, FrontendError::ShuttingDown));
        }
        let mut startup = Settings::default();
        for (k, v) in &params.params {
            if !NOT_SETTINGS.contains(&k.as_str()) {
                startup.set_literal(k, v);
            }
        }
        if let Some(options) = params.get("options") {
            match parse_options(options) {
                Ok(pairs) => pairs.iter().for_each(|(k, v)| startup.set_literal(k, v)),
                Err(e) => return Err((stream, FrontendError::BadOptions(e))),
            }
        }
        let generation = shared.generation.load(std::sync::atomic::Ordering::Acquire);
        let routing = Routing::new(database, user.clone(), generation);
        let cancel = shared.cancels.register();
        let startup = shared.share_startup_settings(startup);
        let mut client = Client {
            stream,
            rbuf,
            wbuf: BytesMut::with_capacity(8192),
            sout: BytesMut::with_capacity(8192),
            mode: user.pool_mode,
            max_message: config.limits.max_message_size,
            config,
            routing,
            server_shard: None,
            server_member: ServerIdx(0),
            server_role: Role::Primary,
            ryw_armed: false,
            ryw_lsn: Vec::new(),
            tenant_slot: None,
            kept: None,
            keeper_of: Default::default(),
            deferred_begin: None,
            batch_open: false,
            batch_executed: false,
            batch_failed: false,
            unnamed: None,
            unnamed_on_server: false,
            portal_answer: None,
            shared,
            settings: startup.clone(),
            startup_settings: startup,
            pending: Vec::new(),
            prepared: ClientPrepared::default(),
            unnamed_statement_effect: None,
            unnamed_portal_effect: None,
            server: None,
            queue: VecDeque::new(),
            tx: TxStatus::Idle,
            server_at_rest: true,
            server_skipping: false,
            client_skipping: false,
            pass_remaining: 0,
            pass_suppress: false,
            copy_in: false,
            server_fatal: None,
            cancel,
            busy_since: None,
            cancel_sent: false,
            request_started: None,
            clock: None,
            last_route: None,
            tx_kind: None,
            entry,
        };
        // The client must see the server's ParameterStatus values; the first server of a pool
        // reports them. Session mode keeps the server it checks out here.
        let first = client.routing.pool(&client.shared.pools, ShardIdx(0));
        let known = first.and_then(|p| p.startup_params());
        let defer_checkout = client.mode == PoolMode::Transaction || client.routing.is_sharded();
        let params = match known {
            Some(p) if defer_checkout => p,
            _ => match client.checkout(ShardIdx(0), &Need::Primary).await {
                Ok(()) => client.server.as_ref().map(|s| s.startup_params.clone()).unwrap_or_default(),
                Err(e) => return Err((client.stream, e)),
            },
        };
        if defer_checkout {
            client.release();
        }
        client.greet(&params, &startup_values(&params_list(&client)));
        if let Err(e) = client.flush_client().await {
            return Err((client.stream, e));
        }
        Ok(client)
    }

    /// AuthenticationOk, ParameterStatus (the server's values, the client's own where it set
    /// them at startup), BackendKeyData (ours), ReadyForQuery.
    fn greet(&mut self, server_params: &[(String, String)], client_values: &[(String, String)]) {
        build::auth_ok(&mut self.wbuf);
        for (name, value) in server_params {
            let own = client_values.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
            let value = match own {
                Some(v) if name == "client_encoding" => v.to_ascii_uppercase(),
                Some(v) => v.to_string(),
                None => value.clone(),
            };
            build::parameter_status(&mut self.wbuf, name, &value);
        }
        build::backend_key_data(&mut self.wbuf, self.cancel.pid, self.cancel.secret);
        build::ready_for_query(&mut self.wbuf, TxStatus::Idle);
    }

    /// The main loop. Returns when the client terminates or the connection fails.
    async fn serve(&mut self) -> Result<(), FrontendError> {
        // Stops are watched through the entry's signal (one atomic load per poll), not the
        // cancellation tokens (a lock per poll). A busy client watches only kills; an idle
        // one also a graceful shutdown. The query-timeout timer exists only while a
        // deadline does.
        let entry = self.entry.clone();
        let query_timeout = self.config.pool.query_timeout;
        loop {
            self.clock = None;
            // Fewer than a header's bytes hold no message (the usual state after a server
            // wakeup): skip the call and its future.
            if self.rbuf.len() >= 5 && self.handle_client_frames().await? {
                return Ok(());
            }
            if !self.sout.is_empty() {
                self.flush_server().await?;
            }
            // Replies the proxy gave itself (e.g. the ParseComplete of an unnamed statement held
            // until its Bind shows the shard) wait for the server's replies to the same batch,
            // so the client gets one write, not two: one wakeup fewer per extended-protocol
            // statement. Order is unchanged, and the server's replies are flushed as they come.
            if !self.awaits_server() {
                self.release_before_reply();
                if !self.wbuf.is_empty() {
                    self.flush_client().await?;
                }
            }
            if self.wants_commit_position() {
                self.note_commit_position().await?;
            }
            self.maybe_release();
            if self.shared.stopping.load(std::sync::atomic::Ordering::Relaxed)
                && self.server.is_none()
                && self.rbuf.is_empty()
            {
                return Err(FrontendError::ShuttingDown);
            }
            let deadline = match (query_timeout, self.busy_since) {
                (Some(t), Some(since)) if !self.queue.is_empty() => Some(since + t),
                _ => None,
            };
            let timer = async move {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let client_read;
            match self.server.as_mut() {
                Some(server) => {
                    let server = &mut **server;
                    // Fixed order, no random start (one RNG draw fewer per wakeup). Stop and
                    // timer come first so a server that streams without pause cannot starve
                    // them; the client is read after the server, which only delays pipelined
                    // requests until the replies that precede them are relayed.
                    tokio::select! {
                        biased;
                        _ = entry.stop.raised(&[Stop::Kill]) => return Err(self.kill_reason()),
                        () = timer => {
                            self.on_query_timeout().await?;
                            continue;
                        }
                        r = server.stream.read_buf(&mut server.rbuf) => {
                            // A reset (a crashed or killed server) is handled like a close:
                            // the client keeps its session when no transaction is lost.
                            let lost = match r {
                                Ok(0) => Some(self.server_fatal.take().unwrap_or_else(|| "server closed the connection".to_string())),
                                Ok(_) => None,
                                Err(e) => Some(self.server_fatal.take().unwrap_or_else(|| e.to_string())),
                            };
                            if let Some(why) = lost {
                                self.server_lost(&why).await?;
                                continue;
                            }
                            self.clock = None;
                            self.relay_server()?;
                            self.release_before_reply();
                            self.flush_client().await?;
                            continue;
                        }
                        r = self.stream.read_buf(&mut self.rbuf) => client_read = r?,
                    }
                }
                None => {
                    tokio::select! {
                        biased;
                        why = entry.stop.raised(&[Stop::Kill, Stop::Shutdown, Stop::GiveBack]) => match why {
                            Stop::Kill => return Err(self.kill_reason()),
                            Stop::Shutdown => return Err(FrontendError::ShuttingDown),
                            Stop::GiveBack => {
                                // A checkout of the pool is waiting: the kept server goes back.
                                entry.stop.clear(Stop::GiveBack);
                                drop(self.kept.take());
                                continue;
                            }
                        },
                        r = self.stream.read_buf(&mut self.rbuf) => client_read = r?,
                    }
                }
            }
            if client_read == 0 {
                return Ok(());
            }
            self.shared.metrics.bytes_received(client_read);
        }
    }

    /// Why the kill token fired: a hard stop of the proxy or KILL_CLIENT.
    fn kill_reason(&self) -> FrontendError {
        if self.shared.hard_stop.is_cancelled() {
            FrontendError::ShuttingDown
        } else {
            FrontendError::Killed
        }
    }

    /// Makes a freshly checked-out server the client's.
    pub(super) fn take_server(&mut self, shard: ShardIdx, server: crate::pool::Checkout) {
        self.server_shard = Some(shard);
        self.unnamed_on_server = false;
        self.batch_open = false;
        self.cancel.slot.point_at(&server.cancel);
        self.server = Some(server);
        self.entry.set_state(crate::admin::ClientState::Active);
        self.server_at_rest = true;
        self.server_skipping = false;
        self.copy_in = false;
    }

    /// A transaction that wrote on a replicated shard's primary just ended and the server is
    /// about to go back: read-your-writes wants its commit position first.
    fn wants_commit_position(&self) -> bool {
        self.ryw_armed
            && self.mode == PoolMode::Transaction
            && self.queue.is_empty()
            && self.server_at_rest
            && self.tx == TxStatus::Idle
            && self.sout.is_empty()
            && self.server.is_some()
    }

    /// Ends the transaction's hold on the server and the tenant slot before its last reply
    /// is written: a client that sees ReadyForQuery may at once start work elsewhere (another
    /// connection of the same tenant, or one waiting for this pool's only server), and must
    /// find the slot and the server free. Read-your-writes still needs the server to ask
    /// for the commit position, so that case keeps the server until after the write.
    fn release_before_reply(&mut self) {
        // The statement's timing and slow log name the shard, which releasing forgets.
        if self.request_started.is_some() && super::timing::ends_with_ready(&self.wbuf) {
            self.request_answered();
        }
        if self.wants_commit_position() {
            // The transaction is over; only the server is still needed.
            drop(self.tenant_slot.take());
        } else {
            self.maybe_release();
        }
    }

    /// Releases the server when transaction pooling allows it.
    pub fn maybe_release(&mut self) {
        if self.queue.is_empty() && self.server_at_rest && self.tx == TxStatus::Idle && self.sout.is_empty() {
            // The transaction is over, in either pooling mode.
            drop(self.tenant_slot.take());
            if let Some(kind) = self.tx_kind.take() {
                self.shared.metrics.transaction_done(kind);
            }
            if self.mode == PoolMode::Transaction {
                self.release();
            }
        }
    }

    pub fn release(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.clean =
                self.server_at_rest && server.rbuf.is_empty() && self.pass_remaining == 0 && self.tx == TxStatus::Idle;
            tracing::trace!(server_pid = server.backend_pid(), clean = server.clean, "server released");
            self.cancel.slot.clear();
            self.busy_since = None;
            self.cancel_sent = false;
            self.entry.set_state(crate::admin::ClientState::Idle);
            let now = self.now().into_std();
            if self.mode == PoolMode::Transaction && server.clean && !self.routing.routes() {
                // One shard, one server: the next transaction needs this pool again, so the
                // server is kept while the pool can spare it.
                let entry = &self.entry;
                let keeper = || {
                    let weak: std::sync::Weak<crate::admin::ClientEntry> = Arc::downgrade(entry);
                    weak as std::sync::Weak<dyn crate::pool::Keeper>
                };
                match server.keep(now, &mut self.keeper_of, keeper) {
                    Ok(kept) => self.kept = Some(kept),
                    Err(server) => server.return_at(now),
                }
            } else {
                server.return_at(now);
            }
        }
        self.server_shard = None;
        self.unnamed_on_server = false;
        if self.tx == TxStatus::Idle {
            drop(self.tenant_slot.take());
        }
    }

    /// A server is held and owes replies the client is waiting for.
    fn awaits_server(&self) -> bool {
        self.server.is_some() && self.queue.iter().any(Expect::answered_by_server)
    }

    pub async fn flush_client(&mut self) -> Result<(), FrontendError> {
        if !self.wbuf.is_empty() {
            if self.request_started.is_some() && super::timing::ends_with_ready(&self.wbuf) {
                self.request_answered();
            }
            self.stream.send_all(&self.wbuf).await?;
            self.shared.metrics.bytes_sent(self.wbuf.len());
            self.wbuf.clear();
        }
        Ok(())
    }

    pub async fn flush_server(&mut self) -> Result<(), FrontendError> {
        if self.sout.is_empty() {
            return Ok(());
        }
        let Some(server) = self.server.as_mut() else {
            self.sout.clear();
            return Ok(());
        };
        if let Err(e) = server.stream.send_all(&self.sout).await {
            self.sout.clear();
            return self.server_lost(&e.to_string()).await;
        }
        self.sout.clear();
        Ok(())
    }

    /// The server died under us. A client with no transaction open gets an error and keeps its
    /// session; one inside a transaction cannot continue it and is disconnected.
    pub(super) async fn server_lost(&mut self, why: &str) -> Result<(), FrontendError> {
        tracing::warn!(reason = why, "server connection lost");
        self.report_lost_server(why);
        self.ryw_armed = false;
        if let Some(mut s) = self.server.take() {
            s.clean = false;
        }
        self.entry.set_state(crate::admin::ClientState::Idle);
        self.server_shard = None;
        self.unnamed_on_server = false;
        self.batch_open = false;
        self.cancel.slot.clear();
        let had_work = !self.queue.is_empty();
        self.queue.clear();
        self.pass_remaining = 0;
        if self.tx != TxStatus::Idle || self.mode == PoolMode::Session {
            return Err(FrontendError::ServerLost(why.to_string()));
        }
        if had_work {
            let e = FrontendError::ServerLost(why.to_string());
            self.shared.metrics.error_sent(e.sqlstate().code());
            crate::protocol::build::error_response(
                &mut self.wbuf,
                crate::protocol::build::Severity::Error,
                e.sqlstate().code(),
                &e.client_message(),
                None,
            );
            build::ready_for_query(&mut self.wbuf, TxStatus::Idle);
        }
        self.server_at_rest = true;
        self.flush_client().await
    }

    async fn on_query_timeout(&mut self) -> Result<(), FrontendError> {
        if self.cancel_sent {
            if let Some(mut s) = self.server.take() {
                s.clean = false;
            }
            return Err(FrontendError::QueryTimeout);
        }
        self.cancel_sent = true;
        self.busy_since = Some(Instant::now());
        if let Some(s) = self.server.as_ref() {
            let target = s.cancel.clone();
            tracing::info!("query_timeout reached; cancelling the statement");
            tokio::spawn(async move {
                let _ = target.send().await;
            });
        }
        Ok(())
    }

    /// Returns the server (if any) clean: rolled back when the client left inside a
    /// transaction, reset in session mode, or closed when neither is possible.
    async fn finish(&mut self) {
        let Some(mut server) = self.server.take() else { return };
        self.cancel.slot.clear();
        let idle_between_queries =
            self.queue.is_empty() && self.server_at_rest && server.rbuf.is_empty() && self.pass_remaining == 0;
        let timeout = Duration::from_secs(5);
        server.clean = false;
        if !idle_between_queries {
            return; // mid-statement: closing is the only safe choice
        }
        if self.tx != TxStatus::Idle {
            match tokio::time::timeout(timeout, server.run_internal("ROLLBACK")).await {
                Ok(Ok(TxStatus::Idle)) => {}
                _ => return,
            }
        }
        if self.mode == PoolMode::Session {
            let reset = self.config.pool.reset_query.clone();
            if !reset.is_empty() {
                match tokio::time::timeout(timeout, server.run_internal(&reset)).await {
                    Ok(Ok(TxStatus::Idle)) => {
                        server.settings = Arc::new(Settings::default());
                        server.prepared.clear();
                    }
                    _ => return,
                }
            }
        }
        server.clean = server.rbuf.is_empty();
    }
}

/// Sends a last message and closes so that the client reads it: the write side is shut
/// first and unread input is drained briefly, because closing a socket with unread input
/// makes the kernel send a reset that can overtake the message.
async fn close_with(mut stream: Stream, last: &[u8]) {
    let _ = stream.write_all(last).await;
    let _ = stream.shutdown().await;
    drain(&mut stream).await;
}

async fn drain(stream: &mut Stream) {
    let mut sink = vec![0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_millis(200);
    let mut total = 0usize;
    while total < 1 << 20 {
        match tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => total += n,
            _ => break,
        }
    }
}

fn params_list(c: &Client) -> Vec<(String, String)> {
    c.startup_settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Startup settings are stored as quoted literals; ParameterStatus wants the bare value.
fn startup_values(list: &[(String, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| {
            let bare = v
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .map(|s| s.replace("''", "'"))
                .unwrap_or_else(|| v.clone());
            (k.clone(), bare)
        })
        .collect()
}
