//! Sharding functions: named, reusable mappings from a key to a shard (the Vitess idea:
//! routing, which columns feed a function, is separate from placement, what the function
//! does). Every function is total over valid keys or says why not; none does I/O — a lookup
//! function answers `Placement::Lookup` and the caller consults its directory cache.

use std::collections::HashMap;
use std::time::Duration;

use super::key::{KeyType, KeyValue};
use super::{Endpoint, ShardIdx};

/// Index of a function within one map version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FunctionIdx(pub u16);

#[derive(Debug, Clone, PartialEq)]
pub struct ShardingFunction {
    pub name: String,
    /// One type per key column; several for composite keys (list functions only).
    pub key_types: Vec<KeyType>,
    pub kind: FunctionKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FunctionKind {
    /// PostgreSQL extended hash (signed 64-bit), split into explicit ranges.
    HashRanges(Vec<HashRange>),
    /// PostgreSQL extended hash placed on a consistent-hash ring of shard names.
    HashRing(HashRing),
    /// Key ranges, start inclusive, end exclusive.
    Range { ranges: Vec<KeyRange>, default: Option<ShardIdx> },
    /// Explicit (possibly composite) values.
    List { entries: HashMap<Vec<KeyValue>, ShardIdx>, default: Option<ShardIdx> },
    /// A directory query, cached.
    Lookup(LookupSpec),
}

/// `[from, to)` over the signed 64-bit hash; `None` = unbounded on that side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashRange {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub shard: ShardIdx,
}

/// `[from, to)` over key values (integers or text); `None` = unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub from: Option<KeyValue>,
    pub to: Option<KeyValue>,
    pub shard: ShardIdx,
}

/// A consistent-hash ring: `vnodes` points per shard, positions from the documented hash.
#[derive(Debug, Clone, PartialEq)]
pub struct HashRing {
    pub vnodes: u32,
    /// Sorted by position (the hash as unsigned 64-bit); ties broken by shard index.
    pub points: Vec<(u64, ShardIdx)>,
}

/// Where a lookup function finds a key's shard: a query returning one shard name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupSpec {
    pub endpoint: Endpoint,
    /// SQL with one parameter per key column (`$1` …) returning one text column: a shard name.
    pub query: String,
    pub cache_size: usize,
    pub ttl: Duration,
}

/// The result of placing one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Shard(ShardIdx),
    /// Ask the directory (through the lookup cache), then place again.
    Lookup,
    /// No shard holds this key (outside every range, not in the list, no default).
    NoShard {
        reason: String,
    },
}

impl ShardingFunction {
    /// Places a key whose values are already canonical for `key_types` (same length).
    pub fn place(&self, key: &[KeyValue]) -> Placement {
        let _ = key;
        Placement::NoShard { reason: "not implemented".into() }
    }
}
