//! One shard's part of a scatter: a task that owns a checked-out server, sends it the
//! request and passes its replies to the merge as events through a bounded channel. The
//! channel bound is what keeps proxy memory constant however many rows a shard returns: a
//! shard whose rows are not being consumed is simply not read.

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

/// Events per shard buffered between its task and the merge.
pub const CHANNEL_DEPTH: usize = 128;

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

/// Sends `request` to `server` and streams its replies into `tx` until ReadyForQuery.
/// The server goes back to its pool only if it reached ReadyForQuery 'I' with nothing
/// unread; a merge that stopped listening (LIMIT reached, client gone, another shard
/// failed) leaves it mid-result, and it is closed instead.
pub async fn run(mut checkout: Checkout, request: Bytes, tx: mpsc::Sender<ShardEvent>) {
    let server = &mut *checkout;
    server.clean = false;
    if let Err(e) = server.stream.write_all(&request).await {
        let _ = tx.send(ShardEvent::Failed(e.to_string())).await;
        return;
    }
    let mut errored = false;
    loop {
        loop {
            let frame = match split_frame(&mut server.rbuf, MAX_SERVER_MESSAGE) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(ShardEvent::Failed(e.to_string())).await;
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
                        let _ = tx.send(ShardEvent::Failed(String::new())).await;
                    }
                    return;
                }
                // ParseComplete, BindComplete, notices, parameter changes: nothing to merge.
                _ => continue,
            };
            let fatal = matches!(event, ShardEvent::Failed(_));
            if tx.send(event).await.is_err() || fatal {
                return;
            }
        }
        match server.stream.read_buf(&mut server.rbuf).await {
            Ok(0) => {
                let _ = tx.send(ShardEvent::Failed("server closed the connection".into())).await;
                return;
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(ShardEvent::Failed(e.to_string())).await;
                return;
            }
        }
    }
}
