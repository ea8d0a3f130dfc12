//! Errors talking to a server. Errors the server itself reported keep its SQLSTATE and text,
//! so a client whose login the server refused sees the server's own reason.

use tokio_postgres::error::SqlState;

use crate::error::{ClientError, Side};
use crate::protocol::messages::error_response::ErrorFields;
use crate::protocol::ProtocolError;

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot connect to server {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("connecting to server {addr} timed out")]
    ConnectTimeout { addr: String },
    #[error("TLS to server {addr}: {reason}")]
    Tls { addr: String, reason: String },
    #[error("server {addr} refused the login: {} ({})", .fields.message, .fields.code)]
    Refused { addr: String, fields: Box<ErrorFields> },
    #[error("server {addr} asks for authentication method {method} which shardgate does not support")]
    UnsupportedAuth { addr: String, method: i32 },
    #[error("server {addr} asks for a password but none is configured for user {user}")]
    NoPassword { addr: String, user: String },
    #[error("SCRAM exchange with server {addr} failed: {reason}")]
    Scram { addr: String, reason: String },
    #[error("server {addr} sent a malformed message: {source}")]
    Protocol { addr: String, source: ProtocolError },
    #[error("server {addr} sent unexpected message {tag:?} during {during}")]
    Unexpected { addr: String, tag: char, during: &'static str },
    #[error("server connection lost: {0}")]
    Io(#[from] std::io::Error),
    #[error("server closed the connection")]
    Closed,
}

impl BackendError {
    /// The server cannot be used at all right now (down, unreachable, shutting down or still
    /// starting), as opposed to refusing this login or speaking nonsense: the kind of failure
    /// that bans a replica and sends its reads elsewhere.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::ConnectTimeout { .. } | Self::Io(_) | Self::Closed => true,
            // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now.
            Self::Refused { fields, .. } => fields.code.starts_with("57P"),
            _ => false,
        }
    }
}

impl ClientError for BackendError {
    fn sqlstate(&self) -> SqlState {
        match self {
            Self::Connect { .. } | Self::ConnectTimeout { .. } | Self::Tls { .. } => {
                SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION
            }
            Self::Refused { fields, .. } => SqlState::from_code(&fields.code),
            Self::UnsupportedAuth { .. } | Self::NoPassword { .. } | Self::Scram { .. } => {
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            }
            Self::Protocol { .. } | Self::Unexpected { .. } => SqlState::PROTOCOL_VIOLATION,
            Self::Io(_) | Self::Closed => SqlState::CONNECTION_FAILURE,
        }
    }

    fn client_message(&self) -> String {
        match self {
            Self::Refused { fields, .. } => fields.message.clone(),
            other => other.to_string(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Connect { .. } | Self::ConnectTimeout { .. } => {
                Some("the shard's server is down or unreachable; shardgate will retry on the next statement".into())
            }
            Self::NoPassword { .. } => Some("set server_password for this user in shardgate.yaml".into()),
            Self::Refused { fields, .. } => fields.hint.clone(),
            _ => None,
        }
    }

    fn is_fatal(&self) -> bool {
        false
    }

    fn side(&self) -> Side {
        Side::Server
    }
}
