//! Sharding functions: named, reusable mappings from a key to a shard (the Vitess idea:
//! routing, which columns feed a function, is separate from placement, what the function
//! does). Every function is total over valid keys or says why not; none does I/O — a lookup
//! function answers `Placement::Lookup` and the caller consults its directory cache.

use std::collections::HashMap;
use std::time::Duration;

use super::key::{KeyType, KeyValue};
pub use super::ring::{HashRing, RingCollision};
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
    /// PostgreSQL extended hash (signed 64-bit), split into explicit ranges. Validated maps
    /// keep them sorted and covering the whole `i64` space without overlap.
    HashRanges(Vec<HashRange>),
    /// PostgreSQL extended hash placed on a consistent-hash ring of shard names.
    HashRing(HashRing),
    /// Key ranges, start inclusive, end exclusive. Integers compare as numbers, text as bytes
    /// (C collation), uuids as bytes (PostgreSQL's uuid order).
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
    /// Number of key columns the function takes.
    pub fn arity(&self) -> usize {
        self.key_types.len()
    }

    /// `hash`, `range`, `list` or `lookup`: the `kind:` the DBA wrote.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            FunctionKind::HashRanges(_) | FunctionKind::HashRing(_) => "hash",
            FunctionKind::Range { .. } => "range",
            FunctionKind::List { .. } => "list",
            FunctionKind::Lookup(_) => "lookup",
        }
    }

    /// Places a key whose values are already canonical for `key_types` (same length). A key
    /// of the wrong length or type places nowhere rather than somewhere plausible.
    pub fn place(&self, key: &[KeyValue]) -> Placement {
        if key.len() != self.key_types.len() {
            return no_shard(format!("{} takes {} key column(s), got {}", self.name, self.key_types.len(), key.len()));
        }
        if let Some((v, ty)) = key.iter().zip(&self.key_types).find(|(v, ty)| !v.is_of(**ty)) {
            return no_shard(format!("{v} is not a {} key of {}", ty.as_str(), self.name));
        }
        match &self.kind {
            FunctionKind::HashRanges(ranges) => {
                let Some(hash) = key.first().map(KeyValue::hash) else {
                    return no_shard(format!("{} has no key column", self.name));
                };
                let at = ranges.partition_point(|r| r.from.is_none_or(|f| f <= hash));
                match at.checked_sub(1).and_then(|i| ranges.get(i)) {
                    Some(r) if r.to.is_none_or(|t| hash < t) => Placement::Shard(r.shard),
                    _ => no_shard(format!("hash {hash} is outside every range of {}", self.name)),
                }
            }
            FunctionKind::HashRing(ring) => match key.first().and_then(|k| ring.shard_for(k.hash())) {
                Some(s) => Placement::Shard(s),
                None => no_shard(format!("the ring of {} is empty", self.name)),
            },
            FunctionKind::Range { ranges, default } => {
                let found = key.first().and_then(|k| {
                    let at = ranges.partition_point(|r| r.from.as_ref().is_none_or(|f| f <= k));
                    at.checked_sub(1).and_then(|i| ranges.get(i)).filter(|r| r.to.as_ref().is_none_or(|t| k < t))
                });
                match (found, default) {
                    (Some(r), _) => Placement::Shard(r.shard),
                    (None, Some(d)) => Placement::Shard(*d),
                    (None, None) => no_shard(format!("{} is outside every range of {}", display(key), self.name)),
                }
            }
            FunctionKind::List { entries, default } => match (entries.get(key), default) {
                (Some(s), _) | (None, Some(s)) => Placement::Shard(*s),
                (None, None) => no_shard(format!("{} is not listed in {}", display(key), self.name)),
            },
            FunctionKind::Lookup(_) => Placement::Lookup,
        }
    }
}

fn no_shard(reason: String) -> Placement {
    Placement::NoShard { reason }
}

/// `42` for one column, `(marriott, us-northeast)` for a composite key.
fn display(key: &[KeyValue]) -> String {
    match key {
        [one] => one.to_string(),
        many => format!("({})", many.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    }
}
