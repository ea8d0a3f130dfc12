//! `functions:` — each named function checked on its own, with every problem reported.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::range::{hash_ranges, key_ranges};
use super::scalar::{RawKey, RawScalar};
use super::{endpoint, push, span, Check, RawEndpoint};
use crate::shardmap::function::{FunctionKind, HashRing, LookupSpec, ShardingFunction};
use crate::shardmap::key::{KeyType, KeyValue};
use crate::shardmap::ShardIdx;

/// Ring points per shard: beyond this, memory grows with no gain in balance.
const MAX_VNODES: u32 = 4096;
const DEFAULT_CACHE_SIZE: u64 = 100_000;
const DEFAULT_TTL_S: u64 = 300;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFunction {
    /// Unique name; table rules refer to the function by it.
    pub name: Spanned<String>,
    /// `hash`, `range`, `list` or `lookup`.
    pub kind: Spanned<String>,
    /// The key's SQL type (`bigint`, `text`, `uuid` …), or a list of types for a composite key
    /// (list functions only).
    pub key: Spanned<RawKey>,
    /// hash: ranges over the signed 64-bit hash. range: ranges over key values. `from`
    /// inclusive, `to` exclusive, either omitted = unbounded.
    #[serde(default)]
    pub ranges: Option<Spanned<Vec<RawRange>>>,
    /// hash only, instead of `ranges`: a consistent-hash ring.
    #[serde(default)]
    pub ring: Option<Spanned<RawRing>>,
    /// list only: explicit key values and their shards.
    #[serde(default)]
    pub values: Option<Spanned<Vec<RawListEntry>>>,
    /// range and list: the shard for keys no range or entry covers.
    #[serde(default)]
    pub default_shard: Option<Spanned<String>>,
    /// lookup only: the directory to ask.
    #[serde(default)]
    pub lookup: Option<Spanned<RawLookup>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRange {
    #[serde(default)]
    pub from: Option<Spanned<RawScalar>>,
    #[serde(default)]
    pub to: Option<Spanned<RawScalar>>,
    pub shard: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRing {
    /// Points per shard, 1 to 4096. Changing it moves keys.
    pub vnodes: Spanned<u32>,
    /// The shards on the ring; all shards of the map when absent.
    #[serde(default)]
    pub shards: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListEntry {
    /// A value, or a list of values for a composite key, canonicalised by the function's types.
    pub key: Spanned<RawKey>,
    pub shard: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLookup {
    pub endpoint: RawEndpoint,
    /// One parameter per key column (`$1`), returning one row with the shard's name.
    pub query: Spanned<String>,
    /// Directory answers kept in memory (default 100000).
    #[serde(default)]
    pub cache_size: Option<Spanned<u64>>,
    /// Seconds an answer is trusted (default 300).
    #[serde(default)]
    pub ttl_s: Option<Spanned<u64>>,
}

/// One function as far as validation got: table rules need its name and key types even when
/// the function itself has problems (they are reported once, at the function).
pub(super) struct Checked {
    pub name: String,
    pub key_types: Option<Vec<KeyType>>,
    pub built: Option<ShardingFunction>,
}

pub(super) fn functions(raw: Vec<RawFunction>, check: &mut Check) -> Vec<Checked> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, f) in raw.into_iter().enumerate() {
        let at = format!("functions[{i}]");
        let name = f.name.value.trim().to_string();
        if name.is_empty() {
            check.at(&f.name, &format!("{at}.name"), "function name is empty");
        } else if let Some(first) = seen.get(&name) {
            check.at(
                &f.name,
                &format!("{at}.name"),
                format!("duplicate function name {name:?} (first: functions[{first}])"),
            );
        } else {
            seen.insert(name.clone(), i);
        }
        let key_types = key_types(&f.key, &at, check);
        let built = key_types.as_ref().and_then(|types| function(f, name.clone(), types.clone(), &at, check));
        out.push(Checked { name, key_types, built });
    }
    if out.len() > usize::from(u16::MAX) {
        check.errors.push(crate::shardmap::MapError {
            line: 0,
            column: 0,
            field: "functions".into(),
            message: "too many functions".into(),
        });
    }
    out
}

fn key_types(key: &Spanned<RawKey>, at: &str, check: &mut Check) -> Option<Vec<KeyType>> {
    let field = format!("{at}.key");
    let names: Vec<(String, &str)> = match &key.value {
        RawKey::One(s) => vec![(field.clone(), s.0.as_str())],
        RawKey::Many(v) if v.is_empty() => {
            check.at(key, &field, "a key needs at least one type");
            return None;
        }
        RawKey::Many(v) => v.iter().enumerate().map(|(k, s)| (format!("{field}[{k}]"), s.value.0.as_str())).collect(),
    };
    let mut types = Vec::new();
    for (field, name) in names {
        match KeyType::from_sql_name(name) {
            Some(t) => types.push(t),
            None => check.at(key, &field, cannot_hash(name)),
        }
    }
    (types.len() == names_len(&key.value)).then_some(types)
}

fn names_len(key: &RawKey) -> usize {
    match key {
        RawKey::One(_) => 1,
        RawKey::Many(v) => v.len(),
    }
}

pub(super) fn cannot_hash(name: &str) -> String {
    format!("cannot hash type {name:?}: a shard key must be smallint, integer, bigint, text, varchar, char or uuid")
}

fn function(
    f: RawFunction,
    name: String,
    key_types: Vec<KeyType>,
    at: &str,
    check: &mut Check,
) -> Option<ShardingFunction> {
    let kind = f.kind.value.trim().to_ascii_lowercase();
    if key_types.len() > 1 && kind != "list" {
        check.at(&f.key, &format!("{at}.key"), format!("a composite key needs kind: list, not {kind}"));
        return None;
    }
    let ty = key_types.first().copied()?;
    let field = |name: &str| format!("{at}.{name}");
    let built = match kind.as_str() {
        "hash" => {
            unused(check, &f.values, &field("values"), &kind);
            unused(check, &f.default_shard, &field("default_shard"), &kind);
            unused(check, &f.lookup, &field("lookup"), &kind);
            match (&f.ranges, &f.ring) {
                (Some(_), Some(ring)) => {
                    check.at(ring, &field("ring"), "give either `ranges` or `ring`, not both");
                    None
                }
                (None, None) => {
                    check.at(&f.kind, &field("kind"), "kind: hash needs `ranges` or `ring`");
                    None
                }
                (Some(ranges), None) => hash_ranges(ranges, at, check).map(FunctionKind::HashRanges),
                (None, Some(ring)) => hash_ring(ring, at, check).map(FunctionKind::HashRing),
            }
        }
        "range" => {
            unused(check, &f.ring, &field("ring"), &kind);
            unused(check, &f.values, &field("values"), &kind);
            unused(check, &f.lookup, &field("lookup"), &kind);
            let default = default_shard(&f.default_shard, at, check);
            let ranges = match &f.ranges {
                None => {
                    check.at(&f.kind, &field("kind"), "kind: range needs `ranges`");
                    None
                }
                Some(ranges) => key_ranges(ranges, ty, f.default_shard.is_some(), at, check),
            };
            match (ranges, default) {
                (Some(ranges), Ok(default)) => Some(FunctionKind::Range { ranges, default }),
                _ => None,
            }
        }
        "list" => {
            unused(check, &f.ranges, &field("ranges"), &kind);
            unused(check, &f.ring, &field("ring"), &kind);
            unused(check, &f.lookup, &field("lookup"), &kind);
            let default = default_shard(&f.default_shard, at, check);
            let entries = match &f.values {
                None => {
                    check.at(&f.kind, &field("kind"), "kind: list needs `values`");
                    None
                }
                Some(values) => list(values, &key_types, at, check),
            };
            match (entries, default) {
                (Some(entries), Ok(default)) => Some(FunctionKind::List { entries, default }),
                _ => None,
            }
        }
        "lookup" => {
            unused(check, &f.ranges, &field("ranges"), &kind);
            unused(check, &f.ring, &field("ring"), &kind);
            unused(check, &f.values, &field("values"), &kind);
            unused(check, &f.default_shard, &field("default_shard"), &kind);
            match f.lookup {
                None => {
                    check.at(&f.kind, &field("kind"), "kind: lookup needs `lookup`");
                    None
                }
                Some(l) => lookup(l, at, check).map(FunctionKind::Lookup),
            }
        }
        other => {
            check.at(&f.kind, &field("kind"), format!("unknown kind {other:?}; use hash, range, list or lookup"));
            None
        }
    };
    built.map(|kind| ShardingFunction { name, key_types, kind })
}

/// A field that this kind of function does not read is a mistake, not a no-op.
fn unused<T>(check: &mut Check, given: &Option<Spanned<T>>, field: &str, kind: &str) {
    if let Some(span) = given {
        check.at(span, field, format!("not used by kind: {kind}"));
    }
}

/// `Ok(None)` when absent; `Err` when it names no shard (already reported).
fn default_shard(given: &Option<Spanned<String>>, at: &str, check: &mut Check) -> Result<Option<ShardIdx>, ()> {
    match given {
        None => Ok(None),
        Some(d) => check.shard(d, &format!("{at}.default_shard")).map(Some).ok_or(()),
    }
}

fn hash_ring(raw: &Spanned<RawRing>, at: &str, check: &mut Check) -> Option<HashRing> {
    let vnodes = raw.value.vnodes.value;
    let mut ok = true;
    if vnodes == 0 || vnodes > MAX_VNODES {
        check.at(&raw.value.vnodes, &format!("{at}.ring.vnodes"), format!("vnodes must be 1 to {MAX_VNODES}"));
        ok = false;
    }
    let mut members: Vec<(ShardIdx, String)> = Vec::new();
    match &raw.value.shards {
        None => {
            let mut all: Vec<_> = check.shards.iter().map(|(n, i)| (*i, n.clone())).collect();
            all.sort();
            members = all;
        }
        Some(list) if list.value.is_empty() => {
            check.at(list, &format!("{at}.ring.shards"), "a ring needs at least one shard");
            ok = false;
        }
        Some(list) => {
            for (k, name) in list.value.iter().enumerate() {
                let field = format!("{at}.ring.shards[{k}]");
                match check.shard(name, &field) {
                    Some(idx) if members.iter().any(|(i, _)| *i == idx) => {
                        check.at(name, &field, format!("shard {:?} is on the ring twice", name.value));
                        ok = false;
                    }
                    Some(idx) => members.push((idx, name.value.trim().to_string())),
                    None => ok = false,
                }
            }
        }
    }
    if !ok {
        return None;
    }
    let named: Vec<(ShardIdx, &str)> = members.iter().map(|(i, n)| (*i, n.as_str())).collect();
    match HashRing::new(vnodes, &named) {
        Ok(ring) => Some(ring),
        Err(e) => {
            check.at(raw, &format!("{at}.ring"), e.to_string());
            None
        }
    }
}

fn list(
    raw: &Spanned<Vec<RawListEntry>>,
    types: &[KeyType],
    at: &str,
    check: &mut Check,
) -> Option<HashMap<Vec<KeyValue>, ShardIdx>> {
    if raw.value.is_empty() {
        check.at(raw, &format!("{at}.values"), "needs at least one value");
        return None;
    }
    let mut ok = true;
    let mut entries: HashMap<Vec<KeyValue>, (ShardIdx, usize, u32)> = HashMap::new();
    for (j, e) in raw.value.iter().enumerate() {
        let field = format!("{at}.values[{j}].key");
        let shard = check.shard(&e.shard, &format!("{at}.values[{j}].shard"));
        let given: Vec<(String, (u32, u32), &str)> = match &e.key.value {
            RawKey::One(s) => vec![(field.clone(), span(&e.key), s.0.as_str())],
            RawKey::Many(v) => {
                v.iter().enumerate().map(|(k, s)| (format!("{field}[{k}]"), span(s), s.value.0.as_str())).collect()
            }
        };
        if given.len() != types.len() {
            let want = types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ");
            check.at(
                &e.key,
                &field,
                format!("the key has {} value(s) but the function takes {} ({want})", given.len(), types.len()),
            );
            ok = false;
            continue;
        }
        let mut key = Vec::with_capacity(types.len());
        for ((f, loc, text), ty) in given.into_iter().zip(types) {
            match KeyValue::from_text(*ty, text) {
                Ok(v) => key.push(v),
                Err(err) => push(check, (f, loc), err.to_string()),
            }
        }
        let (Some(shard), true) = (shard, key.len() == types.len()) else {
            ok = false;
            continue;
        };
        if let Some((_, first, line)) = entries.get(&key) {
            check.at(&e.key, &field, format!("duplicate key: same value as values[{first}] (line {line})"));
            ok = false;
            continue;
        }
        entries.insert(key, (shard, j, span(&e.key).0));
    }
    ok.then(|| entries.into_iter().map(|(k, (s, _, _))| (k, s)).collect())
}

fn lookup(raw: Spanned<RawLookup>, at: &str, check: &mut Check) -> Option<LookupSpec> {
    let l = raw.value;
    let before = check.errors.len();
    let endpoint = endpoint(l.endpoint, &format!("{at}.lookup.endpoint"), &mut check.errors);
    if l.query.value.trim().is_empty() {
        check.at(&l.query, &format!("{at}.lookup.query"), "the lookup query is empty");
    } else if !l.query.value.contains("$1") {
        check.at(&l.query, &format!("{at}.lookup.query"), "the lookup query must take the key as $1");
    }
    let cache_size = l.cache_size.as_ref().map_or(DEFAULT_CACHE_SIZE, |c| c.value);
    if let Some(c) = l.cache_size.as_ref().filter(|c| c.value == 0) {
        check.at(c, &format!("{at}.lookup.cache_size"), "cache_size must be at least 1");
    }
    let ttl = l.ttl_s.as_ref().map_or(DEFAULT_TTL_S, |t| t.value);
    if let Some(t) = l.ttl_s.as_ref().filter(|t| t.value == 0) {
        check.at(t, &format!("{at}.lookup.ttl_s"), "ttl_s must be at least 1");
    }
    (check.errors.len() == before).then(|| LookupSpec {
        endpoint,
        query: l.query.value,
        cache_size: usize::try_from(cache_size).unwrap_or(usize::MAX),
        ttl: Duration::from_secs(ttl),
    })
}
