//! Errors getting a server from a pool.

use tokio_postgres::error::SqlState;

use crate::backend::BackendError;
use crate::error::{ClientError, Side};

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("no server connection became free in pool {pool} within {waited_ms} ms")]
    Timeout { pool: String, waited_ms: u64 },
    #[error(transparent)]
    Backend(std::sync::Arc<BackendError>),
    /// No server of a replicated shard accepts writes (a failover is under way, or two
    /// servers claim to be primary). Writes wait `primary_wait` and then get this, never a
    /// queue without end.
    #[error("shard {shard} has no primary: {reason}")]
    NoPrimary { shard: String, reason: String, waited_ms: u64 },
    /// The admin console paused the shard and did not resume it within the wait limit.
    #[error("shard {shard} is paused (waited {waited_ms} ms)")]
    Paused { shard: String, waited_ms: u64 },
}

impl ClientError for PoolError {
    fn sqlstate(&self) -> SqlState {
        match self {
            Self::Timeout { .. } => SqlState::TOO_MANY_CONNECTIONS,
            Self::Backend(e) => e.sqlstate(),
            Self::NoPrimary { .. } | Self::Paused { .. } => SqlState::CANNOT_CONNECT_NOW,
        }
    }

    fn client_message(&self) -> String {
        match self {
            Self::Timeout { waited_ms, .. } => {
                format!("no server connection became free within {waited_ms} ms (pool.checkout_timeout_ms)")
            }
            Self::Backend(e) => e.client_message(),
            Self::NoPrimary { shard, reason, waited_ms } => {
                format!("no primary for shard {shard} (waited {waited_ms} ms): {reason}")
            }
            Self::Paused { .. } => self.to_string(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Timeout { .. } => Some("all servers of the pool are busy: shorten transactions, raise pool.size, or raise pool.checkout_timeout_ms; the session is still usable".into()),
            Self::Backend(e) => e.hint(),
            Self::NoPrimary { .. } => Some(
                "a failover may be under way: writes resume as soon as a server of the shard is promoted; retry in a few seconds (reads still work)".into(),
            ),
            Self::Paused { .. } => Some("an operator paused this shard from the admin console (PAUSE); it serves again after RESUME".into()),
        }
    }

    fn is_fatal(&self) -> bool {
        false
    }

    fn side(&self) -> Side {
        match self {
            Self::Timeout { .. } | Self::Paused { .. } => Side::Internal,
            Self::Backend(_) | Self::NoPrimary { .. } => Side::Server,
        }
    }
}
