//! One shard's part of a scatter: a task that owns a checked-out server, sends it the
//! request and passes its replies to the merge as events through a bounded channel. The
//! channel bound is what keeps proxy memory constant however many rows a shard returns: a
//! shard whose rows are not being consumed is simply not read.
//!
//! Events travel in batches, one per read from the server (at most what one read returned),
//! so a channel send — a semaphore permit, a list push and a wakeup of the merge — is paid
//! per read and not per row: an `ORDER BY … LIMIT 10` over 4 shards made ~48 sends a query,
//! about a tenth of the proxy's instructions for it.

use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// As for any server reply the proxy needs whole (PostgreSQL's own limit is 1 GB).
const MAX_SERVER_MESSAGE: u32 = 1 << 30;
use crate::pool::Checkout;
use crate::protocol::messages::btag;
use crate::protocol::messages::error_response::ErrorFields;
use crate::protocol::messages::ready_for_query::TxStatus;
use crate::protocol::messages::row_description::{self, Column};
use crate::protocol::split_frame;

/// Batches per shard buffered between its task and the merge. A batch holds what one read
/// from the server returned, so a shard buffers at most this many reads' worth of rows.
pub const CHANNEL_DEPTH: usize = 8;

/// What a shard said, in order. Exactly one of `Complete` / `Failed` ends a shard's stream
/// (after `Error`, `Failed` follows once the server is at rest).
#[derive(Debug)]
pub enum ShardEvent {
    Description(Vec<Column>),
    /// A DataRow body (without tag and length).
    Row(Bytes),
    /// The statement's rows are complete (CommandComplete).
    Complete,
    /// The server reported an error for the statement.
    Error(ErrorFields),
    /// The connection broke or spoke nonsense.
    Failed(String),
}

/// The merge's end of one shard's stream: events in order, taken from batches.
pub struct Events {
    rx: mpsc::Receiver<Vec<ShardEvent>>,
    batch: std::vec::IntoIter<ShardEvent>,
}

impl Events {
    /// Starts `request` on `checkout` in a task of its own.
    pub fn start(checkout: Checkout, request: Bytes) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        tokio::spawn(run(checkout, request, tx));
        Self { rx, batch: Vec::new().into_iter() }
    }

    /// The next event; `None` once the shard's task has ended and everything was taken.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<ShardEvent>> {
        loop {
            if let Some(ev) = self.batch.next() {
                return Poll::Ready(Some(ev));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => self.batch = batch.into_iter(),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    pub async fn next(&mut self) -> Option<ShardEvent> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Stops listening: the shard's task ends at its next send.
    pub fn close(&mut self) {
        self.batch = Vec::new().into_iter();
        self.rx.close();
    }
}

/// Sends `request` to `server` and streams its replies into `tx` until ReadyForQuery.
/// The server goes back to its pool only if it reached ReadyForQuery 'I' with nothing
/// unread; a merge that stopped listening (LIMIT reached, client gone, another shard
/// failed) leaves it mid-result, and it is closed instead.
async fn run(mut checkout: Checkout, request: Bytes, tx: mpsc::Sender<Vec<ShardEvent>>) {
    let server = &mut *checkout;
    server.clean = false;
    if let Err(e) = server.stream.write_all(&request).await {
        let _ = tx.send(vec![ShardEvent::Failed(e.to_string())]).await;
        return;
    }
    let mut errored = false;
    loop {
        let mut batch = Vec::new();
        loop {
            let frame = match split_frame(&mut server.rbuf, MAX_SERVER_MESSAGE) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    batch.push(ShardEvent::Failed(e.to_string()));
                    let _ = tx.send(batch).await;
                    return;
                }
            };
            let event = match frame.tag {
                btag::ROW_DESCRIPTION => match row_description::parse(&frame.body()) {
                    Ok(cols) => ShardEvent::Description(cols),
                    Err(e) => ShardEvent::Failed(e.to_string()),
                },
                btag::NO_DATA => ShardEvent::Description(Vec::new()),
                btag::DATA_ROW => ShardEvent::Row(frame.body()),
                btag::COMMAND_COMPLETE | btag::EMPTY_QUERY => ShardEvent::Complete,
                btag::ERROR_RESPONSE => {
                    errored = true;
                    ShardEvent::Error(ErrorFields::parse(&frame.body()))
                }
                btag::READY_FOR_QUERY => {
                    let status = TxStatus::from_body(&frame.body()).ok();
                    server.clean = status == Some(TxStatus::Idle) && server.rbuf.is_empty();
                    if errored {
                        batch.push(ShardEvent::Failed(String::new()));
                    }
                    let _ = tx.send(batch).await;
                    return;
                }
                // ParseComplete, BindComplete, notices, parameter changes: nothing to merge.
                _ => continue,
            };
            let fatal = matches!(event, ShardEvent::Failed(_));
            batch.push(event);
            if fatal {
                let _ = tx.send(batch).await;
                return;
            }
        }
        if !batch.is_empty() && tx.send(batch).await.is_err() {
            return;
        }
        let failed = match server.stream.read_buf(&mut server.rbuf).await {
            Ok(0) => "server closed the connection".to_string(),
            Ok(_) => continue,
            Err(e) => e.to_string(),
        };
        let _ = tx.send(vec![ShardEvent::Failed(failed)]).await;
        return;
    }
}
