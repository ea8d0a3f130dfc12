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
}

impl ClientError for PoolError {
    fn sqlstate(&self) -> SqlState {
        match self {
            Self::Timeout { .. } => SqlState::TOO_MANY_CONNECTIONS,
            Self::Backend(e) => e.sqlstate(),
        }
    }

    fn client_message(&self) -> String {
        match self {
            Self::Timeout { waited_ms, .. } => {
                format!("no server connection became free within {waited_ms} ms (pool.checkout_timeout_ms)")
            }
            Self::Backend(e) => e.client_message(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Timeout { .. } => Some("all servers of the pool are busy: shorten transactions, raise pool.size, or raise pool.checkout_timeout_ms; the session is still usable".into()),
            Self::Backend(e) => e.hint(),
        }
    }

    fn is_fatal(&self) -> bool {
        false
    }

    fn side(&self) -> Side {
        match self {
            Self::Timeout { .. } => Side::Internal,
            Self::Backend(_) => Side::Server,
        }
    }
}
