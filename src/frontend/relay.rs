//! Server → client: relays the server's replies as raw frames, matching them against the
//! expectation queue to drop replies to injected messages, insert the proxy's own replies,
//! keep session state, and notice when the server is at rest. DataRow and CopyData frames
//! larger than a threshold are streamed through without being buffered whole.

use std::sync::Arc;

use bytes::{Buf, BytesMut};

use super::client::Client;
use super::error::FrontendError;
use super::expect::Expect;
use crate::protocol::frame::peek_header;
use crate::protocol::messages::btag;
use crate::protocol::messages::command_complete;
use crate::protocol::messages::error_response::ErrorFields;
use crate::protocol::messages::ready_for_query::TxStatus;
use crate::protocol::{build, ProtocolError};
use crate::router::session_command::SessionCommand;
use crate::session::Settings;

/// Rows bigger than this are relayed piecemeal instead of being buffered whole.
const STREAM_THRESHOLD: usize = 64 * 1024;
/// Everything the proxy must read whole from a server is small; rows are streamed.
const MAX_SERVER_MESSAGE: u32 = 1 << 30;

impl Client {
    /// Processes everything buffered from the server.
    pub(super) fn relay_server(&mut self) -> Result<(), FrontendError> {
        let Some(server) = self.server.as_mut() else { return Ok(()) };
        let mut rbuf = std::mem::take(&mut server.rbuf);
        let result = self.relay_buffer(&mut rbuf);
        if let Some(server) = self.server.as_mut() {
            server.rbuf = rbuf;
        }
        result
    }

    fn relay_buffer(&mut self, rbuf: &mut BytesMut) -> Result<(), FrontendError> {
        loop {
            if self.pass_remaining > 0 {
                let n = self.pass_remaining.min(rbuf.len());
                if n == 0 {
                    return Ok(());
                }
                if !self.pass_suppress {
                    self.wbuf.extend_from_slice(rbuf.get(..n).unwrap_or_default());
                }
                rbuf.advance(n);
                self.pass_remaining -= n;
                continue;
            }
            let Some((tag, total)) = peek_header(rbuf, MAX_SERVER_MESSAGE).map_err(server_protocol)? else {
                return Ok(());
            };
            if rbuf.len() < total {
                if (tag == btag::DATA_ROW || tag == btag::COPY_DATA) && total > STREAM_THRESHOLD {
                    let n = rbuf.len();
                    self.pass_suppress = !self.queue.front().is_none_or(Expect::forwards);
                    if !self.pass_suppress {
                        self.wbuf.extend_from_slice(rbuf);
                    }
                    rbuf.advance(n);
                    self.pass_remaining = total - n;
                    return Ok(());
                }
                rbuf.reserve(total - rbuf.len());
                return Ok(());
            }
            if let Some(run) = self.travelling_run(rbuf, tag, total) {
                rbuf.advance(run);
                continue;
            }
            // Read in place and then skipped: splitting a frame off would turn the buffer
            // into a shared one (an allocation, then reference counting per frame).
            let handled = self.on_server_frame(tag, rbuf.get(..total).unwrap_or_default());
            rbuf.advance(total);
            handled?;
        }
    }

    /// Frames that mean nothing to the proxy beyond their order: rows, row and parameter
    /// descriptions, and the replies that end an expectation with no effect of their own
    /// (ParseComplete, BindComplete, the RowDescription that answers a Describe, a
    /// CommandComplete of a statement that changes no session state). Such a run — in
    /// `pgbench -S` everything up to ReadyForQuery — is relayed (or dropped, for the proxy's
    /// own messages) with one copy per stretch of equal forwarding, and the expectations it
    /// ends are popped. `Some(length)` says how much of `rbuf` that was. For these frames
    /// `on_server_frame` would do the same, frame by frame, at ~160 instructions each.
    fn travelling_run(&mut self, rbuf: &[u8], tag: u8, total: usize) -> Option<usize> {
        let mut end = 0;
        let mut stretch = 0;
        let mut next = Some((tag, total));
        while let Some((t, len)) = next {
            let Some(front) = self.queue.front() else { break };
            let completes = front.completed_by(t);
            // A CommandComplete counts only when a ROLLBACK in it could drop nothing.
            let quiet_complete =
                t == btag::COMMAND_COMPLETE && self.pending.is_empty() && front.command_complete_is_quiet();
            if !(travels(t) || quiet_complete) || (completes && !front.completion_is_quiet()) || rbuf.len() < end + len
            {
                break;
            }
            end += len;
            if completes {
                if front.forwards() {
                    self.wbuf.extend_from_slice(rbuf.get(stretch..end).unwrap_or_default());
                }
                stretch = end;
                self.queue.pop_front();
                if self.queue.front().is_none_or(|e| !e.answered_by_server()) {
                    // The proxy's own replies (or nothing) come next: `on_server_frame`'s way.
                    self.emit_synthetic();
                    break;
                }
            }
            next = peek_header(rbuf.get(end..).unwrap_or_default(), MAX_SERVER_MESSAGE).ok().flatten();
        }
        if end == 0 {
            return None;
        }
        if end > stretch && self.queue.front().is_some_and(Expect::forwards) {
            self.wbuf.extend_from_slice(rbuf.get(stretch..end).unwrap_or_default());
        }
        Some(end)
    }

    fn on_server_frame(&mut self, tag: u8, frame: &[u8]) -> Result<(), FrontendError> {
        let body = frame.get(5..).unwrap_or_default();
        match tag {
            // Asynchronous messages may come at any time and always reach the client.
            btag::NOTICE_RESPONSE | btag::NOTIFICATION | btag::PARAMETER_STATUS => {
                self.wbuf.extend_from_slice(frame);
                return Ok(());
            }
            btag::ERROR_RESPONSE => return self.on_server_error(frame),
            _ => {}
        }
        let Some(front) = self.queue.front_mut() else {
            // Nothing was asked: relay it and never pool this server again.
            tracing::warn!(tag = %(tag as char), "unsolicited message from server");
            self.wbuf.extend_from_slice(frame);
            if let Some(s) = self.server.as_mut() {
                s.clean = false;
            }
            return Ok(());
        };
        let forward =
            front.forwards() || (matches!(front, Expect::Abort { simple: true }) && tag == btag::READY_FOR_QUERY);
        if tag == btag::COMMAND_COMPLETE {
            let ctag = command_complete::tag(body);
            let effect = match front {
                Expect::Query { effects, next, .. } => {
                    let e = effects.get(*next).cloned();
                    *next += 1;
                    e
                }
                Expect::Execute { effect } => effect.take(),
                _ => None,
            };
            if ctag == b"ROLLBACK" {
                self.pending.clear();
            } else if let Some(e) = effect.filter(|e| tag_matches(e, ctag)) {
                self.pending.push(e);
            }
        }
        if forward {
            self.wbuf.extend_from_slice(frame);
        }
        if tag == btag::COPY_IN || tag == btag::COPY_BOTH {
            self.enter_copy_in();
            return Ok(());
        }
        if !front.completed_by(tag) {
            return Ok(());
        }
        let done = self.queue.pop_front();
        if tag == btag::READY_FOR_QUERY {
            let status = TxStatus::from_body(body).map_err(server_protocol)?;
            let internal = matches!(done, Some(Expect::Query { internal: true, .. } | Expect::Sync { internal: true }));
            if !internal {
                self.tx = status;
            }
            if status == TxStatus::Idle {
                self.commit_pending();
            }
            if self.queue.is_empty() {
                self.server_at_rest = true;
                self.busy_since = None;
            }
        }
        self.emit_synthetic();
        Ok(())
    }

    fn on_server_error(&mut self, frame: &[u8]) -> Result<(), FrontendError> {
        let fields = ErrorFields::parse(frame.get(5..).unwrap_or_default());
        if fields.severity == "FATAL" || fields.severity == "PANIC" {
            // The server is about to close. Its FATAL is not the client's: the client's session
            // may survive (see `server_lost`), so keep the reason and report it from there.
            self.server_fatal = Some(format!("{} ({})", fields.message, fields.code));
            if let Some(s) = self.server.as_mut() {
                s.clean = false;
            }
            return Ok(());
        }
        let Some(front) = self.queue.front() else {
            // A FATAL with nothing asked (e.g. the server is shutting down).
            self.relay_error(frame, &fields.code);
            if let Some(s) = self.server.as_mut() {
                s.clean = false;
            }
            return Ok(());
        };
        match front {
            Expect::Abort { simple: true } => {
                // Our refusal was already sent; ReadyForQuery follows and is relayed.
                return Ok(());
            }
            Expect::Query { pending_mark, .. } => {
                let mark = *pending_mark;
                self.pending.truncate(mark);
                self.relay_error(frame, &fields.code);
                return Ok(());
            }
            Expect::FunctionCall => {
                self.relay_error(frame, &fields.code);
                return Ok(());
            }
            Expect::Abort { simple: false } => {}
            _ => self.relay_error(frame, &fields.code),
        }
        self.batch_failed = true;
        // Extended protocol: the server now skips everything up to Sync, so do we.
        while let Some(e) = self.queue.front() {
            if matches!(e, Expect::Sync { .. }) {
                break;
            }
            if let Some(Expect::Parse { server_name, client_name, .. }) = self.queue.pop_front() {
                if let (Some(n), Some(s)) = (server_name, self.server.as_mut()) {
                    s.prepared.remove(&n);
                }
                if let Some(c) = client_name {
                    self.prepared.remove(&c);
                }
            }
        }
        if self.queue.is_empty() {
            self.server_skipping = true;
        }
        Ok(())
    }

    /// Passes a server's ErrorResponse on to the client, counted by its SQLSTATE class.
    fn relay_error(&mut self, frame: &[u8], code: &str) {
        self.shared.metrics.error_relayed(code);
        self.wbuf.extend_from_slice(frame);
    }

    /// The server entered copy-in mode: Syncs the client sent after the COPY started and
    /// before it ended will never be answered, so stop expecting replies to them.
    fn enter_copy_in(&mut self) {
        let end = self.queue.iter().position(|e| matches!(e, Expect::CopyEnd));
        let limit = end.unwrap_or(self.queue.len());
        let mut i = 1;
        let mut seen = 1;
        while seen < limit {
            if matches!(self.queue.get(i), Some(Expect::Sync { .. })) {
                self.queue.remove(i);
            } else {
                i += 1;
            }
            seen += 1;
        }
        self.copy_in = end.is_none();
    }

    /// Releases the proxy's own replies that have reached the front of the queue.
    fn emit_synthetic(&mut self) {
        while let Some(front) = self.queue.front() {
            match front {
                Expect::Synthetic(b) => {
                    self.wbuf.extend_from_slice(b);
                }
                Expect::SyntheticReady => build::ready_for_query(&mut self.wbuf, self.tx),
                Expect::CopyEnd => {}
                _ => return,
            }
            self.queue.pop_front();
        }
    }

    /// The transaction ended committed (ReadyForQuery 'I'): session changes made in it now
    /// belong to the client, and the server holds them too.
    fn commit_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut client = (*self.settings).clone();
        let mut server = self.server.as_ref().map(|s| (*s.settings).clone()).unwrap_or_default();
        for cmd in self.pending.drain(..) {
            match cmd {
                SessionCommand::Set { name, value } => {
                    client.set(&name, &value);
                    server.set(&name, &value);
                }
                SessionCommand::Reset { name } => {
                    // RESET returns to the startup value on a real server, and to the server's
                    // own default on ours.
                    client.reset(&name);
                    if let Some(v) = self.startup_settings.get(&name) {
                        client.set(&name, v);
                    }
                    server.reset(&name);
                }
                SessionCommand::ResetAll => {
                    client = (*self.startup_settings).clone();
                    server = Settings::default();
                }
                SessionCommand::DiscardAll => {
                    client = (*self.startup_settings).clone();
                    server = Settings::default();
                    self.prepared.clear();
                    if let Some(s) = self.server.as_mut() {
                        s.prepared.clear();
                    }
                }
                SessionCommand::Deallocate { .. }
                | SessionCommand::Listen
                | SessionCommand::TransactionScoped
                | SessionCommand::Other => {}
            }
        }
        let client = Arc::new(client);
        self.settings = client.clone();
        if let Some(s) = self.server.as_mut() {
            s.settings = if *client == server { client } else { Arc::new(server) };
        }
    }
}

/// Whether a server message only travels to the client, with no meaning for the proxy beyond
/// completing an expectation: everything but the asynchronous messages (which always reach
/// the client), errors, CommandComplete (session effects, ROLLBACK), the start of COPY FROM
/// and ReadyForQuery (transaction state), which `on_server_frame` handles one by one.
fn travels(tag: u8) -> bool {
    !matches!(
        tag,
        btag::NOTICE_RESPONSE
            | btag::NOTIFICATION
            | btag::PARAMETER_STATUS
            | btag::ERROR_RESPONSE
            | btag::COMMAND_COMPLETE
            | btag::COPY_IN
            | btag::COPY_BOTH
            | btag::READY_FOR_QUERY
    )
}

fn tag_matches(cmd: &SessionCommand, tag: &[u8]) -> bool {
    match cmd {
        SessionCommand::Set { .. } => tag == b"SET",
        SessionCommand::Reset { .. } | SessionCommand::ResetAll => tag == b"RESET",
        SessionCommand::DiscardAll => tag == b"DISCARD ALL",
        SessionCommand::Deallocate { .. }
        | SessionCommand::Listen
        | SessionCommand::TransactionScoped
        | SessionCommand::Other => false,
    }
}

fn server_protocol(e: ProtocolError) -> FrontendError {
    FrontendError::ServerLost(format!("malformed message from server: {e}"))
}
