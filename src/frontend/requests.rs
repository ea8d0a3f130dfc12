//! Client → server: each client message is forwarded, rewritten (prepared statement names
//! under transaction pooling), answered by the proxy itself, or refused — and an expectation
//! is queued for every reply the client must see, in order.

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio::time::Instant;

use super::client::Client;
use super::error::FrontendError;
use super::expect::Expect;
use super::prepared::PreparedStatement;
use super::routing::{Decision, PortalAnswer};
use crate::config::PoolMode;
use crate::error::{write_error, ClientError};
use crate::protocol::frame::peek_header;
use crate::protocol::messages::bind::BindNames;
use crate::protocol::messages::describe::{Target, TargetName};
use crate::protocol::messages::parse::{Parse, ParseView};
use crate::protocol::messages::ready_for_query::TxStatus;
use crate::protocol::messages::{close, describe, query::Query, tag};
use crate::protocol::{build, peek_frame, FrameRef, ProtocolError};
use crate::router::lexer::statements;
use crate::router::session_command::{classify, may_affect_session, may_affect_session_single, SessionCommand};
use crate::router::Params;

/// SQL that cannot parse, sent only to make the server abort what the proxy refused.
const ABORT_SQL: &str = "shardgate: refused by the proxy";

impl Client {
    /// Processes every whole message buffered from the client. `Ok(true)`: the client said
    /// Terminate.
    pub(super) async fn handle_client_frames(&mut self) -> Result<bool, FrontendError> {
        // Messages are read in place and forwarded with one copy each; the buffer is taken
        // so they can be borrowed while the handlers borrow the client (only `serve` reads
        // into it), and what was handled is dropped from it once, at the end.
        let mut buf = std::mem::take(&mut self.rbuf);
        let mut used = 0;
        let result = self.handle_frames_in(&buf, &mut used).await;
        buf.advance(used);
        if let Ok(Some((_, total))) = peek_header(&buf, self.max_message) {
            // Room for the rest of a message that is still arriving.
            buf.reserve(total.saturating_sub(buf.len()));
        }
        self.rbuf = buf;
        result
    }

    /// Handles the whole messages of `buf`, counting what it has used in `used`.
    async fn handle_frames_in(&mut self, buf: &[u8], used: &mut usize) -> Result<bool, FrontendError> {
        while let Some(frame) = peek_frame(buf.get(*used..).unwrap_or_default(), self.max_message)? {
            *used += frame.bytes.len();
            if self.client_skipping && frame.tag != tag::SYNC {
                continue;
            }
            if matches!(frame.tag, tag::QUERY | tag::SYNC | tag::FUNCTION_CALL) {
                self.request_arrived();
            }
            match frame.tag {
                tag::QUERY => self.on_query(frame).await?,
                tag::PARSE => self.on_parse(frame).await?,
                tag::BIND => self.on_bind(frame).await?,
                tag::DESCRIBE => self.on_describe(frame).await?,
                tag::EXECUTE => self.on_execute(frame).await?,
                tag::CLOSE => self.on_close(frame).await?,
                tag::SYNC => self.on_sync(frame)?,
                tag::FLUSH => {
                    if self.server.is_some() {
                        self.send(frame.bytes);
                    }
                }
                tag::COPY_DATA => {
                    // Outside COPY these are ignored, as PostgreSQL does.
                    if self.server.is_some() {
                        self.send(frame.bytes);
                    }
                }
                tag::COPY_DONE | tag::COPY_FAIL => {
                    if self.server.is_some() {
                        self.send(frame.bytes);
                        self.copy_in = false;
                        self.await_reply(Expect::CopyEnd);
                    }
                }
                tag::FUNCTION_CALL => {
                    self.ensure_server().await?;
                    self.send(frame.bytes);
                    self.queue.push_back(Expect::FunctionCall);
                }
                tag::TERMINATE => return Ok(true),
                other => return Err(ProtocolError::Unexpected { tag: other as char, during: "a session" }.into()),
            }
            // Bound what one read can make us buffer for the server.
            if self.sout.len() > 256 * 1024 {
                self.flush_server().await?;
            }
        }
        Ok(false)
    }

    /// Appends bytes for the server; marks the server busy.
    pub(super) fn send(&mut self, bytes: &[u8]) {
        if self.tx_kind.is_none() {
            self.tx_kind = Some(self.last_route.unwrap_or(crate::metrics::RouteKind::Single));
        }
        self.sout.extend_from_slice(bytes);
        self.server_at_rest = false;
        if self.busy_since.is_none() && self.config.pool.query_timeout.is_some() {
            self.busy_since = Some(Instant::now());
            self.cancel_sent = false;
        }
    }

    /// Queues `e` unless the server is skipping to Sync (it would never answer).
    fn await_reply(&mut self, e: Expect) {
        match &e {
            Expect::Parse { .. } | Expect::Bind | Expect::Describe | Expect::Execute { .. } | Expect::Close { .. } => {
                self.batch_open = true
            }
            Expect::Sync { .. } => self.batch_open = false,
            _ => {}
        }
        if self.server_skipping && !matches!(e, Expect::Sync { .. }) {
            return;
        }
        if matches!(e, Expect::Sync { .. }) {
            self.server_skipping = false;
        }
        self.queue.push_back(e);
    }

    /// Answers with `bytes` once everything before has been answered.
    pub(super) fn synthetic(&mut self, bytes: Bytes) {
        if self.queue.is_empty() {
            self.wbuf.extend_from_slice(&bytes);
        } else {
            self.await_reply(Expect::Synthetic(bytes));
        }
    }

    /// Checks out a server if the client has none, and brings its settings in line with the
    /// client's whenever the server is between transactions.
    pub(super) async fn ensure_server(&mut self) -> Result<(), FrontendError> {
        if self.server.is_none() {
            self.checkout(self.default_shard(), &super::replicas::Need::Primary).await?;
        }
        if self.queue.is_empty() && self.server_at_rest && self.tx == TxStatus::Idle {
            self.apply_settings();
        }
        Ok(())
    }

    /// Brings the held server's session settings in line with the client's, by one pipelined
    /// query whose replies the client never sees. Only between transactions.
    pub(super) fn apply_settings(&mut self) {
        let Some(server) = self.server.as_mut() else { return };
        if Arc::ptr_eq(&server.settings, &self.settings) {
            return;
        }
        if let Some(sql) = server.settings.diff_sql(&self.settings) {
            tracing::debug!(sql = %sql, "applying session settings to server");
            server.settings = self.settings.clone();
            self.send_internal_query(&sql);
            return;
        }
        server.settings = self.settings.clone();
    }

    /// Pipelines a simple query of the proxy's own (settings, a deferred BEGIN) ahead of the
    /// client's next message; its replies are not relayed.
    pub(super) fn send_internal_query(&mut self, sql: &str) {
        build::query(&mut self.sout, sql);
        self.server_at_rest = false;
        self.queue.push_back(Expect::Query {
            effects: Vec::new(),
            next: 0,
            pending_mark: self.pending.len(),
            internal: true,
        });
    }

    /// Refuses one request the way PostgreSQL reports an error at that point: in an extended
    /// batch the rest of it is dropped up to Sync; in a transaction the server is made to fail
    /// the transaction too, so what the client sees next is exactly what PostgreSQL would say.
    pub(super) fn refuse(&mut self, e: FrontendError, simple: bool) -> Result<(), FrontendError> {
        if e.is_fatal() {
            return Err(e);
        }
        let mut err = BytesMut::new();
        self.shared.metrics.error_sent(e.sqlstate().code());
        write_error(&mut err, &e);
        let err = err.freeze();
        if self.server.is_some() && (self.tx != TxStatus::Idle || !self.server_at_rest || !self.queue.is_empty()) {
            self.synthetic(err);
            if self.server_skipping {
                // The server already skips to Sync: nothing more to abort.
            } else if simple {
                build::query(&mut self.sout, ABORT_SQL);
            } else {
                let mut p = BytesMut::new();
                Parse {
                    name: Bytes::new(),
                    sql: Bytes::from_static(ABORT_SQL.as_bytes()),
                    param_types: Bytes::from_static(&[0, 0]),
                }
                .write_renamed("", &mut p);
                self.sout.extend_from_slice(&p);
            }
            if !self.server_skipping {
                self.server_at_rest = false;
                self.queue.push_back(Expect::Abort { simple });
            }
        } else {
            if self.deferred_begin.is_some() {
                // A transaction the proxy has begun but not yet sent fails as PostgreSQL's would.
                self.tx = TxStatus::Failed;
            }
            self.synthetic(err);
            if simple {
                self.synthetic_ready();
            }
        }
        if !simple {
            self.client_skipping = true;
        }
        Ok(())
    }

    fn synthetic_ready(&mut self) {
        if self.queue.is_empty() {
            build::ready_for_query(&mut self.wbuf, self.tx);
        } else {
            self.await_reply(Expect::SyntheticReady);
        }
    }

    async fn on_query(&mut self, frame: FrameRef<'_>) -> Result<(), FrontendError> {
        let text = Query::read(frame.body())?;
        // A plain statement on an unrouted database needs neither the text nor its words.
        let affects = may_affect_session(text);
        let sql = if affects || self.routing.routes() { std::str::from_utf8(text).unwrap_or_default() } else { "" };
        let mut effects = Vec::new();
        let mut count = 0usize;
        let lexed = if affects { Some(statements(sql)) } else { None };
        for stmt in lexed.into_iter().flatten() {
            count += 1;
            let cmd = classify(stmt);
            if self.mode == PoolMode::Transaction {
                match &cmd {
                    SessionCommand::Listen => {
                        return self.refuse(FrontendError::NeedsSessionMode { what: "LISTEN/UNLISTEN" }, true)
                    }
                    SessionCommand::Deallocate { name } if count == 1 && statements(sql).nth(1).is_none() => {
                        let tag = match name {
                            Some(n) => {
                                self.prepared.remove(n.as_bytes());
                                "DEALLOCATE"
                            }
                            None => {
                                self.prepared.clear();
                                "DEALLOCATE ALL"
                            }
                        };
                        let mut b = BytesMut::new();
                        build::command_complete(&mut b, tag);
                        self.synthetic(b.freeze());
                        self.synthetic_ready();
                        return Ok(());
                    }
                    _ => {}
                }
            }
            if !matches!(cmd, SessionCommand::Other) || !effects.is_empty() {
                effects.resize(count - 1, SessionCommand::Other);
                effects.push(cmd);
            }
        }
        if self.routing.routes() {
            self.refresh_routing();
            match self.deferred_answer(sql) {
                Some(Ok(ctl)) => {
                    let mut b = BytesMut::new();
                    build::command_complete(&mut b, ctl.tag());
                    self.synthetic(b.freeze());
                    self.synthetic_ready();
                    return Ok(());
                }
                Some(Err(e)) => return self.refuse(e, true),
                None => {}
            }
            if let Decision::Handled = self.route_statement(sql, None, true).await? {
                return Ok(());
            }
        }
        if let Err(e) = self.ensure_server().await {
            return self.refuse(e, true);
        }
        self.send(frame.bytes);
        let mark = self.pending.len();
        self.await_reply(Expect::Query { effects, next: 0, pending_mark: mark, internal: false });
        Ok(())
    }

    async fn on_parse(&mut self, frame: FrameRef<'_>) -> Result<(), FrontendError> {
        // Read in place; the owned `Parse` is built only where the statement is kept.
        let view = ParseView::read(frame.body())?;
        let unnamed = view.name.is_empty();
        let effect = if may_affect_session_single(view.sql) {
            let sql = std::str::from_utf8(view.sql).unwrap_or_default();
            statements(sql).next().map(classify).filter(|c| !matches!(c, SessionCommand::Other))
        } else {
            None
        };
        if self.mode == PoolMode::Transaction && matches!(effect, Some(SessionCommand::Listen)) {
            return self.refuse(FrontendError::NeedsSessionMode { what: "LISTEN/UNLISTEN" }, false);
        }
        if unnamed && self.routing.routes() {
            // Sent with the Bind that shows its shard (or a Describe that needs a server).
            // Clients re-send the same unnamed statement for every execution (libpq's
            // PQexecParams): an identical one is kept rather than rebuilt.
            let same = self.unnamed.as_ref().is_some_and(|u| u.parse.is(&view));
            if !same {
                let parse = Parse::parse(&Bytes::copy_from_slice(frame.body()))?;
                self.unnamed = Some(Arc::new(PreparedStatement::unnamed(parse, effect.clone())));
            }
            self.unnamed_statement_effect = effect;
            self.unnamed_on_server = false;
            self.synthetic(bytes::Bytes::from_static(build::PARSE_COMPLETE));
            return Ok(());
        }
        if unnamed || self.mode == PoolMode::Session {
            if let Err(e) = self.ensure_server().await {
                return self.refuse(e, false);
            }
            if unnamed {
                self.unnamed_statement_effect = effect;
            }
            self.send(frame.bytes);
            self.await_reply(Expect::Parse { server_name: None, client_name: None, forward: true });
            return Ok(());
        }
        let parse = Parse::parse(&Bytes::copy_from_slice(frame.body()))?;
        if self.prepared.contains(&parse.name) {
            let name = String::from_utf8_lossy(&parse.name).into_owned();
            return self.refuse(FrontendError::PreparedExists(name), false);
        }
        let name = parse.name.clone();
        let stmt = Arc::new(PreparedStatement::new(parse, effect));
        self.prepared.insert(name.clone(), stmt.clone());
        if self.server.is_none() {
            // Outside a transaction the statement is prepared lazily, on whichever server first
            // binds or describes it. No checkout for a Parse+Sync cycle: it costs nothing, and
            // a client that blocks on PQprepare while holding servers for other connections
            // (pgbench -M prepared) cannot starve the pool. A statement that fails to prepare
            // later is forgotten, so the client sees the same state as on PostgreSQL after an
            // error.
            self.synthetic(bytes::Bytes::from_static(build::PARSE_COMPLETE));
            return Ok(());
        }
        if self.server_has(&stmt) {
            self.synthetic(bytes::Bytes::from_static(build::PARSE_COMPLETE));
        } else {
            self.prepare_on_server(&stmt, Some(name), true);
        }
        Ok(())
    }

    fn server_has(&mut self, stmt: &PreparedStatement) -> bool {
        self.server.as_mut().is_some_and(|s| s.prepared.contains(&stmt.server_name))
    }

    /// Sends Parse under the proxy name (closing what falls out of the server's bounded set).
    fn prepare_on_server(&mut self, stmt: &PreparedStatement, client_name: Option<Bytes>, forward: bool) {
        let max = self.config.pool.max_prepared_per_server;
        let evicted = match self.server.as_mut() {
            Some(s) => s.prepared.insert(stmt.server_name.clone(), max),
            None => return,
        };
        let mut out = BytesMut::new();
        self.shared.metrics.prepared_on_server(evicted.len());
        for old in evicted {
            TargetName::write(tag::CLOSE, Target::Statement, &old, &mut out);
            self.await_reply(Expect::Close { forward: false });
        }
        stmt.parse.write_renamed(&stmt.server_name, &mut out);
        self.send(&out);
        self.await_reply(Expect::Parse { server_name: Some(stmt.server_name.clone()), client_name, forward });
    }

    /// The client's statement `name`, prepared on the current server if it is not there yet.
    async fn resolve_statement(&mut self, name: &[u8]) -> Result<Option<Arc<PreparedStatement>>, FrontendError> {
        let Some(stmt) = self.prepared.get(name).cloned() else {
            return Err(FrontendError::PreparedMissing(String::from_utf8_lossy(name).into_owned()));
        };
        self.ensure_server().await?;
        if !self.server_has(&stmt) {
            self.prepare_on_server(&stmt, Some(Bytes::copy_from_slice(name)), false);
        }
        Ok(Some(stmt))
    }

    fn renames(&self, name: &[u8]) -> bool {
        self.mode == PoolMode::Transaction && !name.is_empty()
    }

    async fn on_bind(&mut self, frame: FrameRef<'_>) -> Result<(), FrontendError> {
        // Read in place, and renamed (transaction pooling) straight from the view.
        let names = BindNames::read(frame.body())?;
        let (unnamed_portal, unnamed_statement) = (names.portal.is_empty(), names.statement.is_empty());
        let renames = self.renames(names.statement);
        if self.routing.routes() {
            match self.route_bind(names).await? {
                Decision::Handled => return Ok(()),
                Decision::Proceed => {}
            }
        }
        let effect = if renames {
            let stmt = match self.resolve_statement(names.statement).await {
                Ok(s) => s,
                Err(e) => return self.refuse(e, false),
            };
            let mut out = BytesMut::new();
            if let Some(stmt) = &stmt {
                names.write_renamed(&stmt.server_name, &mut out);
            }
            self.send(&out);
            stmt.and_then(|s| s.effect.clone())
        } else {
            if let Err(e) = self.ensure_server().await {
                return self.refuse(e, false);
            }
            self.send(frame.bytes);
            if unnamed_statement {
                self.unnamed_statement_effect.clone()
            } else {
                None
            }
        };
        if unnamed_portal {
            self.unnamed_portal_effect = effect;
        }
        self.await_reply(Expect::Bind);
        Ok(())
    }

    async fn on_describe(&mut self, frame: FrameRef<'_>) -> Result<(), FrontendError> {
        let d = describe::read(frame.body())?;
        if d.target == Target::Portal && d.name.is_empty() {
            if let Some(PortalAnswer::Scatter(job)) = self.portal_answer.clone() {
                if let Err(e) = Box::pin(self.scatter_describe(&job)).await {
                    return self.refuse(e, false);
                }
                return Ok(());
            }
        }
        if d.target == Target::Statement && d.name.is_empty() && self.routing.routes() {
            // Every shard has the same schema: any server describes the statement.
            if let Err(e) = self.ensure_server().await {
                return self.refuse(e, false);
            }
            self.send_unnamed_parse();
        }
        if d.target == Target::Statement && self.renames(d.name) {
            let stmt = match self.resolve_statement(d.name).await {
                Ok(s) => s,
                Err(e) => return self.refuse(e, false),
            };
            let mut out = BytesMut::new();
            if let Some(stmt) = &stmt {
                TargetName::write(tag::DESCRIBE, Target::Statement, &stmt.server_name, &mut out);
            }
            self.send(&out);
        } else {
            if let Err(e) = self.ensure_server().await {
                return self.refuse(e, false);
            }
            self.send(frame.bytes);
        }
        self.await_reply(Expect::Describe);
        Ok(())
    }

    async fn on_execute(&mut self, frame: FrameRef<'_>) -> Result<(), FrontendError> {
        let portal_is_unnamed = frame.body().first() == Some(&0);
        if portal_is_unnamed {
            match self.portal_answer.take() {
                Some(PortalAnswer::TxControl(ctl)) => {
                    let mut b = BytesMut::new();
                    build::command_complete(&mut b, ctl.tag());
                    self.synthetic(b.freeze());
                    return Ok(());
                }
                Some(PortalAnswer::Broadcast(sql)) => {
                    if let Err(e) = Box::pin(self.broadcast(&sql, false)).await {
                        return self.refuse(e, false);
                    }
                    return Ok(());
                }
                Some(PortalAnswer::Scatter(job)) => {
                    let max_rows =
                        frame.body().get(1..5).and_then(|b| <[u8; 4]>::try_from(b).ok()).map_or(0, i32::from_be_bytes);
                    if max_rows != 0 {
                        let e = crate::scatter::ScatterError::unsupported(
                            "fetching a cross-shard read in batches (Execute with a row limit)",
                            "fetch all rows at once (e.g. no JDBC fetch size outside transactions)",
                        );
                        return self.refuse(e.into(), false);
                    }
                    if let Err(e) = Box::pin(self.scatter(&job, false, false)).await {
                        return self.refuse(e, false);
                    }
                    return Ok(());
                }
                None => {}
            }
        }
        self.batch_executed = true;
        if let Err(e) = self.ensure_server().await {
            return self.refuse(e, false);
        }
        let effect = if portal_is_unnamed { self.unnamed_portal_effect.clone() } else { None };
        self.send(frame.bytes);
        self.await_reply(Expect::Execute { effect });
        Ok(())
    }

    async fn on_close(&mut self, frame: FrameRef<'_>) -> Result<(), FrontendError> {
        let c = close::read(frame.body())?;
        if c.target == Target::Statement && self.renames(c.name) {
            // The server copy stays for other clients; the bounded set closes it eventually.
            self.prepared.remove(c.name);
            let mut b = BytesMut::new();
            build::close_complete(&mut b);
            self.synthetic(b.freeze());
            return Ok(());
        }
        if self.server.is_none() && c.target == Target::Portal {
            // No server: no portal can exist, and closing a missing portal is not an error.
            let mut b = BytesMut::new();
            build::close_complete(&mut b);
            self.synthetic(b.freeze());
            return Ok(());
        }
        if let Err(e) = self.ensure_server().await {
            return self.refuse(e, false);
        }
        self.send(frame.bytes);
        self.await_reply(Expect::Close { forward: true });
        Ok(())
    }

    fn on_sync(&mut self, frame: FrameRef<'_>) -> Result<(), FrontendError> {
        self.client_skipping = false;
        self.batch_executed = false;
        self.batch_failed = false;
        self.portal_answer = None;
        if self.copy_in {
            // The server ignores Sync in copy-in mode: it will not answer this one.
            self.send(frame.bytes);
            return Ok(());
        }
        if self.server.is_some() {
            self.send(frame.bytes);
            self.await_reply(Expect::Sync { internal: false });
        } else {
            self.synthetic_ready();
        }
        Ok(())
    }
}

impl Client {
    /// Sharded maps: routes a Bind by its statement's SQL and parameter values, and answers
    /// transaction control the proxy defers. Leaves the right server checked out, with the
    /// unnamed statement on it when the Bind names that.
    async fn route_bind(&mut self, bind: BindNames<'_>) -> Result<Decision, FrontendError> {
        self.refresh_routing();
        let stmt =
            if bind.statement.is_empty() { self.unnamed.clone() } else { self.prepared.get(bind.statement).cloned() };
        let Some(stmt) = stmt else { return Ok(Decision::Proceed) };
        let sql = stmt.sql();
        match self.deferred_answer(sql) {
            Some(Ok(ctl)) if bind.portal.is_empty() => {
                self.portal_answer = Some(PortalAnswer::TxControl(ctl));
                self.synthetic(bytes::Bytes::from_static(build::BIND_COMPLETE));
                return Ok(Decision::Handled);
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                self.refuse(e, false)?;
                return Ok(Decision::Handled);
            }
            None => {}
        }
        let types = stmt.parse.type_oids();
        let values = bind.values()?;
        let params = Params { types: &types, formats: &values.formats, values: &values.values };
        let decision = self.route_statement(sql, Some((&params, &stmt.plan)), false).await?;
        if let Some(PortalAnswer::Scatter(job)) = self.portal_answer.as_mut() {
            if let Some(p) = job.params.as_mut() {
                p.results = values.results.to_vec();
            }
        }
        if matches!(decision, Decision::Proceed) && bind.statement.is_empty() {
            self.send_unnamed_parse();
        }
        Ok(decision)
    }

    /// Sends the client's unnamed statement to the held server unless it is there already.
    fn send_unnamed_parse(&mut self) {
        if self.unnamed_on_server || self.server.is_none() {
            return;
        }
        let Some(stmt) = self.unnamed.as_ref() else { return };
        // Written straight into the server-bound buffer; `send` then does its bookkeeping.
        stmt.parse.write_renamed("", &mut self.sout);
        self.send(&[]);
        self.await_reply(Expect::Parse { server_name: None, client_name: None, forward: false });
        self.unnamed_on_server = true;
    }
}
