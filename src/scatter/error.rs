//! Why a cross-shard read cannot be answered exactly. Every refusal says what would make the
//! statement work; shardgate never returns a partial or different answer instead.

use crate::error::{ClientError, Side};
use tokio_postgres::error::SqlState;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScatterError {
    /// The statement needs a merge shardgate does not do exactly (0A000).
    #[error("{message}")]
    Unsupported { message: String, hint: String },
    /// The shards described the result differently (their schemas differ).
    #[error("the shards return different columns for this query: {detail}")]
    ShapeMismatch { detail: String },
    /// A value the proxy must compare or combine could not be read (or overflowed).
    #[error("{message}")]
    Value { code: &'static str, message: String },
    /// The proxy would have to hold more than its bound to merge exactly (54000).
    #[error("{what} across shards exceeds shardgate's limit of {limit}")]
    TooLarge { what: &'static str, limit: usize },
}

impl ScatterError {
    pub fn unsupported(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Unsupported { message: message.into(), hint: hint.into() }
    }
}

impl ClientError for ScatterError {
    fn sqlstate(&self) -> SqlState {
        match self {
            ScatterError::Unsupported { .. } | ScatterError::ShapeMismatch { .. } => SqlState::FEATURE_NOT_SUPPORTED,
            ScatterError::Value { code, .. } => SqlState::from_code(code),
            ScatterError::TooLarge { .. } => SqlState::PROGRAM_LIMIT_EXCEEDED,
        }
    }
    fn hint(&self) -> Option<String> {
        match self {
            ScatterError::Unsupported { hint, .. } => Some(hint.clone()),
            ScatterError::ShapeMismatch { .. } => {
                Some("make the table definitions identical on every shard (shardgate check --connect)".into())
            }
            ScatterError::Value { .. } => None,
            ScatterError::TooLarge { .. } => Some("add the shard key to the WHERE clause, or narrow the query".into()),
        }
    }
    fn is_fatal(&self) -> bool {
        false
    }
    fn side(&self) -> Side {
        match self {
            ScatterError::Unsupported { .. } | ScatterError::TooLarge { .. } => Side::Client,
            ScatterError::ShapeMismatch { .. } | ScatterError::Value { .. } => Side::Server,
        }
    }
}
