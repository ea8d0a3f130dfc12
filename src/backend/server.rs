//! A connected, authenticated server and what the proxy knows about its session.

use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{BackendError, ServerPrepared};
use crate::protocol::messages::btag;
use crate::protocol::messages::ready_for_query::TxStatus;
use crate::protocol::{build, split_frame};
use crate::session::Settings;
use crate::stream::Stream;

/// Largest message a server may send us in one piece when the proxy needs the whole of it;
/// DataRow and CopyData are streamed and never need to fit (PostgreSQL's limit is 1 GB).
pub const MAX_SERVER_MESSAGE: u32 = 1 << 30;

/// Where and how to cancel whatever this server is running.
#[derive(Debug, Clone)]
pub struct CancelTarget {
    pub host: String,
    pub port: u16,
    pub pid: i32,
    pub secret: i32,
}

impl CancelTarget {
    /// Sends a CancelRequest on a fresh connection, as libpq does. Best effort: PostgreSQL
    /// never answers a cancel, so errors only mean it could not be delivered.
    pub async fn send(&self) -> std::io::Result<()> {
        let mut s = tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await?;
        let mut b = BytesMut::with_capacity(16);
        build::cancel_request(&mut b, self.pid, self.secret);
        s.write_all(&b).await?;
        // Wait for the server to close, so the cancel is processed before we return.
        let mut sink = [0u8; 1];
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), s.read(&mut sink)).await;
        Ok(())
    }
}

pub struct Server {
    pub stream: Stream,
    /// Bytes read from the server and not yet relayed.
    pub rbuf: BytesMut,
    /// Shared so that registering it for a client's cancel key costs no allocation.
    pub cancel: Arc<CancelTarget>,
    /// ParameterStatus values reported at startup, in order.
    pub startup_params: Arc<Vec<(String, String)>>,
    /// Session settings the proxy has applied here (see `session::Settings`).
    pub settings: Arc<Settings>,
    pub prepared: ServerPrepared,
    /// `true` only when idle at ReadyForQuery 'I' with nothing unread: the only state in which
    /// the server may go back to the pool.
    pub clean: bool,
    pub created: Instant,
    pub last_used: Instant,
    /// When the pool retires this server (`created` + the pool's lifetime), if ever. Kept as
    /// deadlines rather than ages so the checkout and return paths compare times instead of
    /// subtracting them (a visible cost at one checkout per transaction).
    pub expires_at: Option<Instant>,
    /// Which of its pool's lifetime settings `expires_at` was computed from (the pool counts
    /// the reloads that changed `lifetime`), so a reload's new lifetime reaches servers that
    /// were already open.
    pub lifetime_epoch: u64,
    /// Past this, an idle server is pinged before it is handed out (`last_used` + the pool's
    /// `ping_after_idle`, set when it goes back idle).
    pub ping_due: Option<Instant>,
    /// This connection's own `server` span (addr, db, pid; shard and role once the pool that
    /// owns it first hands it out). A root span: the connection outlives the client that
    /// caused it to open, so its events must not be attributed to that client.
    pub span: tracing::Span,
    pub(super) span_named: bool,
}

impl Server {
    /// Names the span's shard and role the first time a pool hands the server out. A pooled
    /// server never changes pool, so later checkouts cost only this check.
    pub fn name_span(&mut self, shard: &str, role: &str) {
        if !self.span_named {
            self.span.record("shard", shard).record("role", role);
            self.span_named = true;
        }
    }

    pub(super) fn new_span(addr: &str, database: &str, pid: i32) -> tracing::Span {
        tracing::info_span!(
            parent: None,
            "server",
            addr = %addr,
            db = %database,
            pid,
            shard = tracing::field::Empty,
            role = tracing::field::Empty
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        tracing::debug!(parent: &self.span, clean = self.clean, "server connection closed");
    }
}

impl Server {
    pub fn backend_pid(&self) -> i32 {
        self.cancel.pid
    }

    /// Runs one simple query the proxy originated and discards its results; used for health
    /// checks, reset and rollback. Errors from the server are returned as `Refused`.
    pub async fn run_internal(&mut self, sql: &str) -> Result<TxStatus, BackendError> {
        let (status, error) = self.run_collect(sql, None).await?;
        match error {
            Some(fields) => Err(BackendError::Refused { addr: self.addr(), fields: Box::new(fields) }),
            None => Ok(status),
        }
    }

    /// Runs a simple query to its ReadyForQuery, appending every reply frame but the
    /// ReadyForQuery to `out` (if given). Returns the transaction status and the first error.
    /// Not cancel-safe: a dropped call leaves the server mid-reply (and not `clean`).
    pub async fn run_collect(
        &mut self,
        sql: &str,
        mut out: Option<&mut BytesMut>,
    ) -> Result<(TxStatus, Option<crate::protocol::messages::error_response::ErrorFields>), BackendError> {
        let mut msg = BytesMut::with_capacity(sql.len() + 6);
        build::query(&mut msg, sql);
        self.clean = false;
        self.stream.write_all(&msg).await?;
        let mut error = None;
        loop {
            while let Some(frame) = split_frame(&mut self.rbuf, MAX_SERVER_MESSAGE)
                .map_err(|source| BackendError::Protocol { addr: self.addr(), source })?
            {
                match frame.tag {
                    btag::ERROR_RESPONSE if error.is_none() => {
                        error = Some(crate::protocol::messages::error_response::ErrorFields::parse(&frame.body()))
                    }
                    btag::READY_FOR_QUERY => {
                        let status = TxStatus::from_body(&frame.body())
                            .map_err(|source| BackendError::Protocol { addr: self.addr(), source })?;
                        self.clean = status == TxStatus::Idle && self.rbuf.is_empty();
                        self.last_used = Instant::now();
                        return Ok((status, error));
                    }
                    _ => {}
                }
                if let Some(o) = out.as_deref_mut() {
                    o.extend_from_slice(&frame.bytes);
                }
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(BackendError::Closed);
            }
        }
    }

    /// Whether the server sent something while idle in the pool (usually a FATAL before it
    /// closed, e.g. 57P01 on shutdown) or closed the connection. Such a server is useless.
    /// Costs no syscall when tokio has seen no readiness on the socket.
    pub fn has_unsolicited_input(&self) -> bool {
        if !self.rbuf.is_empty() {
            return true;
        }
        match &self.stream {
            Stream::Plain(tcp) => {
                let mut probe = [0u8; 1];
                !matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            }
            // TLS records cannot be peeked without decrypting; the idle ping covers them.
            Stream::ServerTls(_) | Stream::ClientTls(_) => false,
        }
    }

    pub fn addr(&self) -> String {
        format!("{}:{}", self.cancel.host, self.cancel.port)
    }
}
