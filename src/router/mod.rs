//! The router: reads statements and decides where they go. Pure: performs no I/O.
//!
//! `Router::route` turns (SQL, Bind parameters, session hints, shard map) into a `Route`.
//! Parsing is cached by statement text (and, for simple-protocol statements, by the text
//! with literals normalised), so a repeated statement costs a lookup plus reading its key.

pub mod cache;
pub mod classify;
pub mod hint;
pub mod lexer;
pub mod normalise;
pub mod plan;
pub mod route;
pub mod session_command;

pub use route::{Route, RouteError, SplitPart, Target};

use crate::shardmap::{FunctionIdx, KeyValue, ShardMap, ShardName};

/// Bind parameter values of an extended-protocol statement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Params<'a> {
    /// Parameter type OIDs from Parse (may be shorter than `values`; 0 = unspecified).
    pub types: &'a [u32],
    /// Format codes as in Bind: empty = all text, one = for all, else one per value.
    pub formats: &'a [i16],
    /// Values; `None` = NULL.
    pub values: &'a [Option<&'a [u8]>],
}

/// Directory answers the caller already has (the lookup cache). Pure: a miss makes the router
/// answer `Target::Lookup`, the caller queries the directory and routes again.
pub trait Lookups {
    fn get(&self, function: FunctionIdx, key: &[KeyValue]) -> Option<ShardName>;
}

/// No directory answers at all.
pub struct NoLookups;

impl Lookups for NoLookups {
    fn get(&self, _: FunctionIdx, _: &[KeyValue]) -> Option<ShardName> {
        None
    }
}

/// Routing hints from session state: `SET shardgate.shard = '…'` / `SET shardgate.<col> = …`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hints<'a> {
    pub shard: Option<&'a str>,
    /// (column, value as text), e.g. ("tenant_id", "42").
    pub keys: &'a [(&'a str, &'a str)],
}

/// What the router needs besides the statement.
pub struct Context<'a> {
    pub hints: Hints<'a>,
    pub lookups: &'a dyn Lookups,
}

/// The router for one map version, with its plan cache. Built on load and on every reload.
pub struct Router {
    map: std::sync::Arc<ShardMap>,
}

impl Router {
    pub fn new(map: std::sync::Arc<ShardMap>) -> Self {
        Self { map }
    }

    pub fn map(&self) -> &ShardMap {
        &self.map
    }

    /// Routes one statement. `params` is `None` for the simple protocol.
    pub fn route(&self, sql: &str, params: Option<&Params<'_>>, ctx: &Context<'_>) -> Route {
        let _ = (sql, params, ctx);
        match self.map.single() {
            Some(s) => Route { target: Target::Shard(s), write: true, reason: "the map has one shard".into() },
            None => Route {
                target: Target::Refuse(RouteError::unsupported("routing is not implemented", "")),
                write: true,
                reason: String::new(),
            },
        }
    }
}
