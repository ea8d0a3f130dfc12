//! Why a column value could not be read, compared or combined. Each variant carries the
//! SQLSTATE PostgreSQL itself would report for the same problem, so a client sees the error
//! it would have seen from one database holding every row.

use super::super::ScatterError;

/// At most this many bytes of a peer's value are quoted back in a message: the value came
/// from a shard and may be large.
const QUOTE_LIMIT: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Text that is not a value of the type (22P02), e.g. a DateStyle other than ISO.
    #[error("invalid input syntax for type {type_name}: \"{text}\"")]
    Syntax { type_name: &'static str, text: String },
    /// A binary value of the wrong length or with impossible fields (22P03).
    #[error("incorrect binary data format for type {type_name}")]
    Binary { type_name: &'static str },
    /// Arithmetic or a conversion left the type's range (22003), with PostgreSQL's wording.
    #[error("{0}")]
    OutOfRange(&'static str),
    /// An average over no rows reached the division (22012); callers return NULL instead.
    #[error("division by zero")]
    DivisionByZero,
    /// A date, timestamp or interval out of range (22008).
    #[error("{0}")]
    DatetimeOutOfRange(&'static str),
    /// The type or operation is one shardgate does not merge (0A000); the query is refused.
    #[error("{0}")]
    Unsupported(String),
    /// Two values of different types were combined: a bug in the caller (XX000).
    #[error("cannot {operation} values of types {left} and {right}")]
    Mismatch { operation: &'static str, left: &'static str, right: &'static str },
}

impl ValueError {
    /// A syntax error quoting at most [`QUOTE_LIMIT`] bytes of the offending text.
    pub fn syntax(type_name: &'static str, raw: &[u8]) -> Self {
        let quoted = raw.get(..QUOTE_LIMIT).unwrap_or(raw);
        let mut text = String::from_utf8_lossy(quoted).into_owned();
        if raw.len() > QUOTE_LIMIT {
            text.push('…');
        }
        ValueError::Syntax { type_name, text }
    }

    /// The SQLSTATE PostgreSQL uses for the same failure.
    pub fn code(&self) -> &'static str {
        match self {
            ValueError::Syntax { .. } => "22P02",
            ValueError::Binary { .. } => "22P03",
            ValueError::OutOfRange(_) => "22003",
            ValueError::DivisionByZero => "22012",
            ValueError::DatetimeOutOfRange(_) => "22008",
            ValueError::Unsupported(_) => "0A000",
            ValueError::Mismatch { .. } => "XX000",
        }
    }
}

impl From<ValueError> for ScatterError {
    fn from(e: ValueError) -> Self {
        match e {
            ValueError::Unsupported(message) => ScatterError::unsupported(
                message,
                "run the query on one shard (filter by the shard key), or compute this in the application",
            ),
            other => ScatterError::Value { code: other.code(), message: other.to_string() },
        }
    }
}
