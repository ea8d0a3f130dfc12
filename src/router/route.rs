//! The router's answer: where one statement goes, or why it cannot go anywhere.

use crate::error::{ClientError, Side};
use crate::shardmap::{FunctionIdx, KeyValue, ReadFrom, ShardIdx};
use tokio_postgres::error::SqlState;

/// Where a statement goes and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub target: Target,
    /// The statement may write (INSERT/UPDATE/DELETE/DDL/…); reads may later use replicas.
    pub write: bool,
    /// What decided it, for `shardgate route` and logs: e.g. `reservations.tenant_id = 42`.
    pub reason: String,
    /// The one shard key the statement is routed by (e.g. tenant_id 42, or a brand and
    /// region), for per-tenant limits. `None` without a key, or with several.
    pub tenant: Option<super::values::Keys>,
    /// The map's `table_read_from` for the tables read (the strictest of them), if any.
    pub read_from: Option<ReadFrom>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Exactly one shard.
    Shard(ShardIdx),
    /// A read on several shards (sorted, deduplicated): scatter-gather.
    Shards(Vec<ShardIdx>),
    /// Touches no sharded table (SET, `SELECT 1`, a reference-table read): any one shard —
    /// the one the client already holds, if any.
    Any,
    /// Every shard: DDL, reference-table writes, broadcast UPDATE/DELETE.
    All,
    /// A multi-row INSERT whose rows live on different shards, split per shard.
    Split(Vec<SplitPart>),
    /// Placement needs directory lookups first: resolve these keys, then route again.
    Lookup(Vec<(FunctionIdx, Vec<KeyValue>)>),
    /// Cannot be routed exactly.
    Refuse(RouteError),
}

/// One shard's share of a split INSERT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPart {
    pub shard: ShardIdx,
    /// The INSERT with only this shard's rows; parameters renumbered `$1…` in order.
    pub sql: String,
    /// For each `$n` of `sql`, the 0-based index of the original statement's parameter.
    pub params: Vec<usize>,
}

/// Why a statement cannot be routed. Every variant is SQLSTATE 0A000 (feature not supported)
/// except where noted, names the table, and hints at what would make it routable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("{message}")]
    Unsupported { message: String, hint: String },
    /// A key value that cannot be a key of the column's type (22P02-like, but reported as
    /// 0A000 is wrong: use invalid_text_representation).
    #[error("{message}")]
    BadKey { message: String, hint: String },
    /// The statement does not parse and the map has more than one shard.
    #[error("shardgate cannot parse this statement to route it: {message}")]
    Unparsable { message: String, hint: String },
}

impl RouteError {
    pub fn unsupported(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Unsupported { message: message.into(), hint: hint.into() }
    }
}

impl ClientError for RouteError {
    fn sqlstate(&self) -> SqlState {
        match self {
            RouteError::Unsupported { .. } | RouteError::Unparsable { .. } => SqlState::FEATURE_NOT_SUPPORTED,
            RouteError::BadKey { .. } => SqlState::INVALID_TEXT_REPRESENTATION,
        }
    }
    fn hint(&self) -> Option<String> {
        match self {
            RouteError::Unsupported { hint, .. }
            | RouteError::BadKey { hint, .. }
            | RouteError::Unparsable { hint, .. } => Some(hint.clone()),
        }
    }
    fn is_fatal(&self) -> bool {
        false
    }
    fn side(&self) -> Side {
        Side::Client
    }
}
