//! The shard map model: shards, their endpoints, sharding functions and table rules. Pure
//! data and validation: no I/O, no dependency on the rest of the crate.
//!
//! A map is built from its YAML form (`RawShardMap`, see `raw/`) by `TryFrom`, which does
//! all checking; a `ShardMap` that exists is valid. docs/shard-maps.md is the DBA's manual.

pub mod function;
pub mod hash;
pub mod key;
mod raw;
mod ring;
pub mod tables;
#[cfg(test)]
mod tests;

pub use function::{FunctionIdx, FunctionKind, Placement, ShardingFunction};
pub use key::{KeyError, KeyType, KeyValue};
pub use raw::RawShardMap;
pub use tables::{TableKind, TableRule, UnknownTables};

use std::collections::HashMap;
use std::fmt;

/// A shard's name as the DBA wrote it in the map. Stable across reloads; pools are keyed by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardName(String);

impl ShardName {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShardName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Index of a shard within one map version. Never a bare `usize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardIdx(pub u16);

/// The `version:` of the map format (not of its content).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatVersion(pub u32);

/// What a server of a shard is right now: health checks decide, the map only says what to
/// assume before the first check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Primary,
    Replica,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Replica => "replica",
        }
    }
}

/// How shardgate talks TLS to one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServerTlsMode {
    /// Plain TCP.
    #[default]
    Disable,
    /// TLS if the server offers it, else plain (libpq's `prefer`).
    Prefer,
    /// TLS or fail; the certificate is not verified (libpq's `require`).
    Require,
    /// TLS with the certificate verified against the system roots or `ca_file`.
    VerifyFull,
}

/// One PostgreSQL server: where it is and which database on it holds the shard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub tls: ServerTlsMode,
    pub ca_file: Option<String>,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.host, self.port, self.database)
    }
}

/// Index of a server within its shard's `servers`. Never a bare `usize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerIdx(pub u16);

/// What the map says a server is. Only a starting assumption: which server takes writes is
/// whatever `pg_is_in_recovery()` says now, so a promoted replica becomes the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Declared {
    /// Listed as `primary:`.
    Primary,
    /// Listed under `replicas:`.
    Replica,
    /// Listed under `servers:`: no fixed role; health checks find the primary.
    Auto,
}

/// Where reads go when nothing in the statement needs the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReadFrom {
    /// Healthy, caught-up replicas; the primary when there is none.
    #[default]
    Replica,
    /// Always the primary.
    Primary,
    /// Replicas and the primary alike.
    Any,
}

impl ReadFrom {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "replica" => Some(Self::Replica),
            "primary" => Some(Self::Primary),
            "any" => Some(Self::Any),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Replica => "replica",
            Self::Primary => "primary",
            Self::Any => "any",
        }
    }
}

/// One server of a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardServer {
    pub endpoint: Endpoint,
    pub declared: Declared,
    /// A replica with tags serves only reads that ask for one of them (`analytics`);
    /// untagged reads use untagged replicas.
    pub tags: Vec<String>,
    /// Share of reads relative to the shard's other replicas.
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub name: ShardName,
    /// The server the map names as primary (the first of `servers:` when none is): where
    /// writes go until health checks have said otherwise. Also in `servers`.
    pub primary: Endpoint,
    /// Every server of the shard: the declared primary first, then replicas, or the
    /// `servers:` list in its order.
    pub servers: Vec<ShardServer>,
}

impl Shard {
    /// More than one server: reads may be spread and the primary may move.
    pub fn replicated(&self) -> bool {
        self.servers.len() > 1
    }

    pub fn server(&self, idx: ServerIdx) -> Option<&ShardServer> {
        self.servers.get(usize::from(idx.0))
    }
}

/// A validated shard map.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardMap {
    pub format: FormatVersion,
    shards: Vec<Shard>,
    functions: Vec<ShardingFunction>,
    /// Rules for named tables.
    rules: Vec<TableRule>,
    /// The rule for every table not otherwise named.
    default_rule: Option<TableRule>,
    /// Reference tables (lower-case names, optionally `schema.table`).
    reference: Vec<String>,
    /// Tables that live on one shard only.
    unsharded: Vec<(String, ShardIdx)>,
    unknown_tables: UnknownTables,
    /// UPDATE/DELETE without a key on a sharded table may go to every shard.
    broadcast_writes: bool,
    /// Where plain reads go on shards with replicas.
    pub read_from: ReadFrom,
    /// Functions (lower-case) besides the built-in list whose calls make a read need the
    /// primary.
    pub write_functions: Vec<String>,
    /// Per table (`name` or `schema.name`, lower-case): where its reads go, overriding
    /// `read_from` (and a user's) for statements that read it.
    pub table_read_from: HashMap<String, ReadFrom>,
    /// Every named table (rules, reference, unsharded) by bare table name, with its schema
    /// if the map qualified it. Built from the fields above; lets `table()` answer without
    /// allocating.
    names: HashMap<String, Vec<(Option<String>, Named)>>,
}

/// What the map says about a table it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Rule(usize),
    Reference,
    Pinned(ShardIdx),
}

/// `sales.orders` → (Some("sales"), "orders"); `orders` → (None, "orders").
fn split_table_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once('.') {
        Some((schema, table)) => (Some(schema), table),
        None => (None, name),
    }
}

impl ShardMap {
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    pub fn shard(&self, idx: ShardIdx) -> Option<&Shard> {
        self.shards.get(usize::from(idx.0))
    }

    pub fn indices(&self) -> impl Iterator<Item = ShardIdx> + '_ {
        (0..self.shards.len()).map(|i| ShardIdx(i as u16))
    }

    /// The only shard when the map has exactly one (pure pooler mode).
    pub fn single(&self) -> Option<ShardIdx> {
        (self.shards.len() == 1).then_some(ShardIdx(0))
    }

    pub fn shard_by_name(&self, name: &str) -> Option<ShardIdx> {
        self.shards.iter().position(|s| s.name.as_str() == name).map(|i| ShardIdx(i as u16))
    }

    pub fn functions(&self) -> &[ShardingFunction] {
        &self.functions
    }

    pub fn function(&self, idx: FunctionIdx) -> Option<&ShardingFunction> {
        self.functions.get(usize::from(idx.0))
    }

    /// What the map says about a table. `schema` is the qualifier if the SQL had one; names
    /// are compared exactly, as PostgreSQL folds them (the caller lower-cases unquoted
    /// identifiers). An entry for `schema.table` wins over one for the bare `table`, whatever
    /// list either is in; a bare statement name matches only a bare entry, since the proxy
    /// cannot know the session's `search_path`. Tables the map does not name get the default
    /// rule, else `unknown_tables`.
    pub fn table(&self, schema: Option<&str>, name: &str) -> TableKind<'_> {
        let named = self.names.get(name).and_then(|entries| {
            let qualified = schema.and_then(|s| entries.iter().find(|(q, _)| q.as_deref() == Some(s)));
            qualified.or_else(|| entries.iter().find(|(q, _)| q.is_none())).map(|(_, n)| *n)
        });
        match named {
            Some(Named::Rule(i)) => match self.rules.get(i) {
                Some(rule) => TableKind::Sharded(rule),
                None => TableKind::Unknown,
            },
            Some(Named::Reference) => TableKind::Reference,
            Some(Named::Pinned(s)) => TableKind::Pinned(s),
            None => match (&self.default_rule, self.unknown_tables) {
                (Some(rule), _) => TableKind::Sharded(rule),
                (None, UnknownTables::Shard(s)) => TableKind::Pinned(s),
                (None, UnknownTables::Refuse) => TableKind::Unknown,
            },
        }
    }

    /// Reference tables as named in the map (`name` or `schema.name`).
    pub fn reference_tables(&self) -> &[String] {
        &self.reference
    }

    /// Tables pinned to one shard by `unsharded_tables`.
    pub fn unsharded_tables(&self) -> &[(String, ShardIdx)] {
        &self.unsharded
    }

    pub fn unknown_tables(&self) -> UnknownTables {
        self.unknown_tables
    }

    pub fn function_by_name(&self, name: &str) -> Option<FunctionIdx> {
        self.functions.iter().position(|f| f.name == name).map(|i| FunctionIdx(i as u16))
    }

    /// The function a rule names (validated maps always have it).
    pub fn rule_function(&self, rule: &TableRule) -> Option<&ShardingFunction> {
        self.function(rule.function)
    }

    /// Builds `names` from the rule, reference and unsharded lists (validation has already
    /// refused a table named twice).
    fn with_index(mut self) -> Self {
        let mut names: HashMap<String, Vec<(Option<String>, Named)>> = HashMap::new();
        let rules = self.rules.iter().enumerate().filter_map(|(i, r)| r.table.as_deref().map(|t| (t, Named::Rule(i))));
        let reference = self.reference.iter().map(|t| (t.as_str(), Named::Reference));
        let pinned = self.unsharded.iter().map(|(t, s)| (t.as_str(), Named::Pinned(*s)));
        for (full, named) in rules.chain(reference).chain(pinned) {
            let (schema, table) = split_table_name(full);
            names.entry(table.to_string()).or_default().push((schema.map(str::to_string), named));
        }
        self.names = names;
        self
    }

    pub fn rules(&self) -> &[TableRule] {
        &self.rules
    }

    pub fn default_rule(&self) -> Option<&TableRule> {
        self.default_rule.as_ref()
    }

    pub fn broadcast_writes(&self) -> bool {
        self.broadcast_writes
    }

    /// Places a canonical key for `rule` (shorthand for the rule's function).
    pub fn place(&self, rule: &TableRule, key: &[KeyValue]) -> Placement {
        match self.function(rule.function) {
            Some(f) => f.place(key),
            None => Placement::NoShard { reason: "rule names a missing function".into() },
        }
    }
}

/// A problem in a map, with the YAML location of the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, field `{field}`: {message}")]
pub struct MapError {
    pub line: u32,
    pub column: u32,
    pub field: String,
    pub message: String,
}
