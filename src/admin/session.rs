//! One admin console session: the simple query protocol only. Each Query is one command;
//! the answer is a result set or an ErrorResponse, then ReadyForQuery. Extended-protocol
//! messages are refused with one error per batch (up to Sync), so a driver that tries them
//! gets a clear message instead of a hang.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::error::AdminError;
use super::registry::ClientEntry;
use super::{execute, AdminCommand};
use crate::error::{write_error, ClientError};
use crate::frontend::{FrontendError, Shared};
use crate::protocol::build;
use crate::protocol::messages::query::Query;
use crate::protocol::messages::ready_for_query::TxStatus;
use crate::protocol::messages::tag;
use crate::protocol::split_frame;
use crate::stream::Stream;

/// Console statements are short; a SHOW ROUTE of a large statement still fits.
const MAX_ADMIN_MESSAGE: u32 = 1 << 20;

/// An authenticated admin, handed over by the handshake instead of a database session.
pub struct AdminLogin {
    pub stream: Stream,
    /// Bytes the client sent after its last authentication message.
    pub rbuf: BytesMut,
    pub user: String,
}

/// Runs until the client leaves, is killed, or the proxy shuts down.
pub async fn serve(login: AdminLogin, shared: Arc<Shared>, entry: Arc<ClientEntry>) {
    let AdminLogin { mut stream, mut rbuf, user } = login;
    tracing::info!(user = %user, "admin console session");
    let mut out = BytesMut::with_capacity(4096);
    greet(&mut out);
    let killed = entry.killed();
    let shutdown = shared.shutdown.child_token().cancelled_owned();
    tokio::pin!(killed, shutdown);
    let mut skipping = false;
    loop {
        loop {
            let frame = match split_frame(&mut rbuf, MAX_ADMIN_MESSAGE) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return close(stream, out, &FrontendError::Protocol(e)).await,
            };
            match frame.tag {
                tag::QUERY => {
                    skipping = false;
                    match Query::parse(&frame.body()) {
                        Ok(q) => answer(&shared, &String::from_utf8_lossy(&q.sql), &mut out).await,
                        Err(e) => return close(stream, out, &FrontendError::Protocol(e)).await,
                    }
                    build::ready_for_query(&mut out, TxStatus::Idle);
                }
                tag::TERMINATE => return,
                tag::SYNC => {
                    skipping = false;
                    build::ready_for_query(&mut out, TxStatus::Idle);
                }
                tag::PARSE
                | tag::BIND
                | tag::DESCRIBE
                | tag::EXECUTE
                | tag::CLOSE
                | tag::FLUSH
                | tag::FUNCTION_CALL => {
                    if !skipping {
                        skipping = true;
                        write_error(&mut out, &AdminError::ExtendedProtocol);
                    }
                }
                other => {
                    let e = crate::protocol::ProtocolError::Unexpected { tag: other as char, during: "admin console" };
                    return close(stream, out, &FrontendError::Protocol(e)).await;
                }
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        tokio::select! {
            r = stream.read_buf(&mut rbuf) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            () = &mut killed => return close(stream, out, &FrontendError::Killed).await,
            () = &mut shutdown => return close(stream, out, &FrontendError::ShuttingDown).await,
        }
    }
}

/// Runs one statement and appends its answer (without ReadyForQuery).
async fn answer(shared: &Shared, sql: &str, out: &mut BytesMut) {
    let result = match AdminCommand::parse(sql) {
        Ok(None) => {
            build::message(out, crate::protocol::messages::btag::EMPTY_QUERY, |_| {});
            return;
        }
        Ok(Some(cmd)) => execute(cmd, shared, out).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::info!(error = %e, sqlstate = e.sqlstate().code(), "admin command failed");
        shared.metrics.error_sent(e.sqlstate().code());
        write_error(out, &e);
    }
}

/// AuthenticationOk, the ParameterStatus values psql and drivers expect, ReadyForQuery. No
/// BackendKeyData: there is nothing to cancel.
fn greet(out: &mut BytesMut) {
    build::auth_ok(out);
    let version = format!("16.0 (shardgate {})", env!("CARGO_PKG_VERSION"));
    for (name, value) in [
        ("server_version", version.as_str()),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("integer_datetimes", "on"),
        ("standard_conforming_strings", "on"),
    ] {
        build::parameter_status(out, name, value);
    }
    build::ready_for_query(out, TxStatus::Idle);
}

/// Sends what is pending and a FATAL, then closes.
async fn close(mut stream: Stream, mut out: BytesMut, why: &FrontendError) {
    write_error(&mut out, why);
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
}
