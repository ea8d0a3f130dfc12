//! Errors of the client side: handshake, authentication, and the requests the proxy refuses.

use tokio_postgres::error::SqlState;

use crate::auth::AuthError;
use crate::error::{ClientError, Side};
use crate::pool::PoolError;
use crate::protocol::ProtocolError;
use crate::router::RouteError;
use crate::scatter::ScatterError;

#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    #[error("received unencrypted data after SSL request")]
    PlaintextAfterSslRequest,
    #[error("TLS handshake failed: {0}")]
    TlsHandshake(std::io::Error),
    #[error("this server requires TLS (tls.mode: require)")]
    TlsRequired,
    #[error("no user name specified in startup packet")]
    MissingUser,
    #[error("no such user \"{0}\"")]
    UnknownUser(String),
    #[error("database \"{0}\" does not exist in shardgate")]
    UnknownDatabase(String),
    #[error("password authentication failed for user \"{0}\"")]
    WrongPassword(String),
    #[error("authentication failed: {0}")]
    Auth(AuthError),
    #[error("invalid startup options: {0}")]
    BadOptions(String),
    #[error("sorry, too many clients already (max_client_conn = {0})")]
    TooManyClients(u32),
    #[error("shardgate is shutting down")]
    ShuttingDown,
    /// Database `shardgate` (the admin console) asked for by a user not in `admin_users`.
    #[error("user \"{0}\" is not allowed to use the admin console (not in admin_users)")]
    NotAdmin(String),
    /// The admin console's KILL_CLIENT ended this session.
    #[error("terminating connection due to administrator command (KILL_CLIENT)")]
    Killed,
    #[error("{what} is not supported in transaction pooling mode")]
    NeedsSessionMode { what: &'static str },
    #[error("prepared statement \"{0}\" already exists")]
    PreparedExists(String),
    #[error("prepared statement \"{0}\" does not exist")]
    PreparedMissing(String),
    #[error("the server connection was lost: {0}")]
    ServerLost(String),
    #[error("query exceeded query_timeout and the server did not respond to cancel")]
    QueryTimeout,
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Scatter(#[from] ScatterError),
    /// A shard failed during a cross-shard read: its own error, named.
    #[error("shard {shard}: {message}")]
    ShardFailed { shard: String, code: String, message: String, hint: Option<String> },
    /// A statement of an open transaction (or of one extended batch that already executed
    /// something) routes to another shard than the one the transaction runs on.
    #[error("this transaction runs on shard {held}, but the statement routes to {wanted}: transactions across shards are not supported")]
    CrossShard { held: String, wanted: String },
    /// DDL or a split INSERT failed on some shards.
    #[error("{message}")]
    Fanout { code: String, message: String, hint: Option<String> },
    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    TransactionAborted,
    /// The directory query of a lookup function failed.
    #[error("shard lookup failed: {0}")]
    Lookup(String),
    /// A per-tenant cap (`tenant_limits`) refused the statement.
    #[error("tenant {tenant} is over its limit of {what}")]
    TenantLimit { tenant: String, what: String },
    #[error("client connection: {0}")]
    Io(#[from] std::io::Error),
}

impl ClientError for FrontendError {
    fn sqlstate(&self) -> SqlState {
        match self {
            Self::Protocol(_) | Self::PlaintextAfterSslRequest | Self::TlsHandshake(_) => SqlState::PROTOCOL_VIOLATION,
            Self::TlsRequired | Self::MissingUser | Self::UnknownUser(_) => {
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            }
            Self::UnknownDatabase(_) => SqlState::INVALID_CATALOG_NAME,
            Self::WrongPassword(_) => SqlState::INVALID_PASSWORD,
            Self::Auth(e) => SqlState::from_code(e.sqlstate()),
            Self::BadOptions(_) => SqlState::INVALID_PARAMETER_VALUE,
            Self::TooManyClients(_) => SqlState::TOO_MANY_CONNECTIONS,
            Self::ShuttingDown | Self::Killed => SqlState::ADMIN_SHUTDOWN,
            Self::NotAdmin(_) => SqlState::INSUFFICIENT_PRIVILEGE,
            Self::NeedsSessionMode { .. } => SqlState::FEATURE_NOT_SUPPORTED,
            Self::PreparedExists(_) => SqlState::DUPLICATE_PSTATEMENT,
            Self::PreparedMissing(_) => SqlState::INVALID_SQL_STATEMENT_NAME,
            Self::ServerLost(_) | Self::QueryTimeout => SqlState::CONNECTION_FAILURE,
            Self::Pool(e) => e.sqlstate(),
            Self::Route(e) => e.sqlstate(),
            Self::Scatter(e) => e.sqlstate(),
            Self::ShardFailed { code, .. } => SqlState::from_code(code),
            Self::CrossShard { .. } => SqlState::FEATURE_NOT_SUPPORTED,
            Self::Fanout { code, .. } => SqlState::from_code(code),
            Self::Lookup(_) => SqlState::CONNECTION_EXCEPTION,
            Self::TransactionAborted => SqlState::IN_FAILED_SQL_TRANSACTION,
            Self::TenantLimit { .. } => SqlState::CONFIGURATION_LIMIT_EXCEEDED,
            Self::Io(_) => SqlState::CONNECTION_FAILURE,
        }
    }

    fn client_message(&self) -> String {
        match self {
            // Do not tell an unauthenticated peer why its credentials failed beyond the user.
            Self::Auth(e) => match e.sqlstate() {
                "28P01" => "password authentication failed".into(),
                _ => e.to_string(),
            },
            Self::Pool(e) => e.client_message(),
            Self::Route(e) => e.client_message(),
            Self::Scatter(e) => e.client_message(),
            other => other.to_string(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::NeedsSessionMode { .. } => {
                Some("use a user whose pool_mode is session for LISTEN/NOTIFY and other session features".into())
            }
            Self::UnknownDatabase(_) => Some("the database must be listed under `databases:` in shardgate.yaml".into()),
            Self::TooManyClients(_) => Some("raise pool.max_client_conn or close idle clients".into()),
            Self::Pool(e) => e.hint(),
            Self::Route(e) => e.hint(),
            Self::Scatter(e) => e.hint(),
            Self::ShardFailed { hint, .. } => hint.clone(),
            Self::CrossShard { .. } => Some(
                "keep each transaction on one shard key (e.g. one tenant_id), or send the statements outside a transaction; \
                 ROLLBACK to end this transaction"
                    .into(),
            ),
            Self::Fanout { hint, .. } => hint.clone(),
            Self::Lookup(_) => Some("check the lookup function's endpoint and query in the shard map".into()),
            Self::TenantLimit { .. } => Some(
                "retry shortly; other tenants are not affected (tenant_limits in shardgate.yaml sets the caps)".into(),
            ),
            _ => None,
        }
    }

    fn is_fatal(&self) -> bool {
        match self {
            Self::NeedsSessionMode { .. }
            | Self::PreparedExists(_)
            | Self::PreparedMissing(_)
            | Self::Pool(_)
            | Self::Route(_)
            | Self::Scatter(_)
            | Self::ShardFailed { .. }
            | Self::CrossShard { .. }
            | Self::Fanout { .. }
            | Self::Lookup(_)
            | Self::TenantLimit { .. }
            | Self::TransactionAborted => false,
            Self::Protocol(_)
            | Self::PlaintextAfterSslRequest
            | Self::TlsHandshake(_)
            | Self::TlsRequired
            | Self::MissingUser
            | Self::UnknownUser(_)
            | Self::UnknownDatabase(_)
            | Self::WrongPassword(_)
            | Self::Auth(_)
            | Self::BadOptions(_)
            | Self::TooManyClients(_)
            | Self::ShuttingDown
            | Self::NotAdmin(_)
            | Self::Killed
            | Self::ServerLost(_)
            | Self::QueryTimeout
            | Self::Io(_) => true,
        }
    }

    fn side(&self) -> Side {
        match self {
            Self::ServerLost(_)
            | Self::QueryTimeout
            | Self::Fanout { .. }
            | Self::Lookup(_)
            | Self::ShardFailed { .. } => Side::Server,
            Self::Scatter(e) => e.side(),
            Self::Pool(e) => e.side(),
            Self::TooManyClients(_) | Self::ShuttingDown | Self::Killed => Side::Internal,
            _ => Side::Client,
        }
    }
}
