//! The YAML form of a shard map, as the DBA writes it. Field docs read like the manual
//! (docs/shard-maps.md). Unknown fields are rejected so a typo never silently does nothing.
//!
//! `TryFrom<RawShardMap> for ShardMap` checks everything and reports every problem at once,
//! each with its line, column and field path (`functions[2].ranges[1].from`).

mod function;
mod range;
mod scalar;
mod table;

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{
    Declared, Endpoint, FormatVersion, MapError, ReadFrom, ServerTlsMode, Shard, ShardIdx, ShardMap, ShardName,
    ShardServer,
};
use function::RawFunction;
use table::{RawDefaultRule, RawTable, RawUnknownTables, RawUnsharded};

const SUPPORTED_FORMAT: u32 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShardMap {
    /// Format version of this file. Only `1` exists.
    pub version: Spanned<u32>,
    /// The shards, each with a unique name. Order matters to nothing but display.
    pub shards: Spanned<Vec<RawShard>>,
    /// Named, reusable sharding functions; table rules refer to them by name.
    #[serde(default)]
    pub functions: Vec<RawFunction>,
    /// Sharded tables: which columns feed which function.
    #[serde(default)]
    pub tables: Vec<RawTable>,
    /// The rule for every table not named anywhere else in the map.
    #[serde(default)]
    pub default_rule: Option<Spanned<RawDefaultRule>>,
    /// Tables with a full copy on every shard: reads go to any one, writes to all.
    #[serde(default)]
    pub reference_tables: Vec<Spanned<String>>,
    /// Tables that live on exactly one shard.
    #[serde(default)]
    pub unsharded_tables: Vec<RawUnsharded>,
    /// `refuse` or `{ shard: <name> }`: what happens to tables the map does not name. Default:
    /// refuse with more than one shard; the shard itself when there is exactly one.
    #[serde(default)]
    pub unknown_tables: Option<Spanned<RawUnknownTables>>,
    /// Whether UPDATE/DELETE without a key on a sharded table may go to every shard.
    #[serde(default)]
    pub broadcast_writes: Option<Spanned<bool>>,
    /// replica (default) | primary | any: where plain reads go on shards with replicas.
    #[serde(default)]
    pub read_from: Option<Spanned<String>>,
    /// Functions whose calls make a SELECT need the primary, besides the built-in ones
    /// (nextval, setval, advisory locks, txid_current…).
    #[serde(default)]
    pub write_functions: Vec<String>,
    /// Per table: replica | primary | any, overriding `read_from` for reads of that table.
    #[serde(default)]
    pub table_read_from: std::collections::BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShard {
    /// Unique name of the shard (e.g. `shard-001`). Placement refers to shards by this name.
    pub name: Spanned<String>,
    /// The server that takes writes (until a failover promotes another).
    #[serde(default)]
    pub primary: Option<RawEndpoint>,
    /// Streaming replicas for reads.
    #[serde(default)]
    pub replicas: Vec<RawEndpoint>,
    /// Instead of `primary` and `replicas`: servers without a fixed role; the one not in
    /// recovery takes writes, the others serve reads.
    #[serde(default)]
    pub servers: Vec<RawEndpoint>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub host: Spanned<String>,
    #[serde(default = "default_port")]
    pub port: Spanned<u16>,
    /// The database on that server that holds this shard's data.
    pub database: Spanned<String>,
    /// disable (default) | prefer | require | verify-full.
    #[serde(default)]
    pub tls: Option<Spanned<String>>,
    /// CA bundle for verify-full; the system roots when absent.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Replicas only: tagged replicas serve only reads that ask for a tag they carry.
    #[serde(default)]
    pub tags: Option<Spanned<Vec<String>>>,
    /// Replicas only: share of reads relative to the other replicas (default 1).
    #[serde(default)]
    pub weight: Option<Spanned<u32>>,
}

fn default_port() -> Spanned<u16> {
    Spanned::new(5432, serde_saphyr::Location::UNKNOWN, serde_saphyr::Location::UNKNOWN)
}

fn err<T>(at: &Spanned<T>, field: &str, message: impl Into<String>) -> MapError {
    MapError {
        line: at.referenced.line() as u32,
        column: at.referenced.column() as u32,
        field: field.to_string(),
        message: message.into(),
    }
}

/// Line and column of a spanned value, for problems built by hand.
fn span<T>(s: &Spanned<T>) -> (u32, u32) {
    (s.referenced.line() as u32, s.referenced.column() as u32)
}

/// Records a problem at a (field, (line, column)) computed by hand.
fn push(check: &mut Check, (field, (line, column)): (String, (u32, u32)), message: String) {
    check.errors.push(crate::shardmap::MapError { line, column, field, message });
}

/// What validation of one map has learned so far: the shards by name and every problem.
struct Check {
    shards: HashMap<String, ShardIdx>,
    errors: Vec<MapError>,
}

impl Check {
    fn at<T>(&mut self, span: &Spanned<T>, field: &str, message: impl Into<String>) {
        self.errors.push(err(span, field, message));
    }

    /// The shard named by `name`, or a problem at `field`.
    fn shard(&mut self, name: &Spanned<String>, field: &str) -> Option<ShardIdx> {
        let found = self.shards.get(name.value.trim()).copied();
        if found.is_none() {
            self.at(name, field, format!("no shard named {:?} in `shards`", name.value));
        }
        found
    }
}

impl TryFrom<RawShardMap> for ShardMap {
    type Error = Vec<MapError>;

    /// Checks everything and reports every problem found, not just the first.
    fn try_from(raw: RawShardMap) -> Result<Self, Self::Error> {
        let mut check = Check { shards: HashMap::new(), errors: Vec::new() };
        if raw.version.value != SUPPORTED_FORMAT {
            check.at(
                &raw.version,
                "version",
                format!(
                    "unsupported map format {}; this shardgate reads version {SUPPORTED_FORMAT}",
                    raw.version.value
                ),
            );
        }
        let shards = shards(raw.shards, &mut check);
        let functions = function::functions(raw.functions, &mut check);
        let tables = table::tables(
            table::RawTables {
                tables: raw.tables,
                default_rule: raw.default_rule,
                reference: raw.reference_tables,
                unsharded: raw.unsharded_tables,
                unknown: raw.unknown_tables,
            },
            &functions,
            shards.len(),
            &mut check,
        );
        let functions: Option<Vec<_>> = functions.into_iter().map(|f| f.built).collect();
        let read_from = match &raw.read_from {
            None => ReadFrom::default(),
            Some(r) => ReadFrom::parse(&r.value).unwrap_or_else(|| {
                check.at(r, "read_from", format!("unknown read_from {:?}; use replica, primary or any", r.value));
                ReadFrom::default()
            }),
        };
        let mut table_read_from = HashMap::new();
        for (table, r) in &raw.table_read_from {
            match ReadFrom::parse(&r.value) {
                Some(v) => {
                    table_read_from.insert(table.trim().to_ascii_lowercase(), v);
                }
                None => check.at(
                    r,
                    &format!("table_read_from.{table}"),
                    format!("unknown read_from {:?}; use replica, primary or any", r.value),
                ),
            }
        }
        match (functions, check.errors.is_empty()) {
            (Some(functions), true) => Ok(ShardMap {
                format: FormatVersion(raw.version.value),
                shards,
                functions,
                rules: tables.rules,
                default_rule: tables.default_rule,
                reference: tables.reference,
                unsharded: tables.unsharded,
                unknown_tables: tables.unknown,
                broadcast_writes: raw.broadcast_writes.is_some_and(|b| b.value),
                read_from,
                table_read_from,
                write_functions: raw.write_functions.iter().map(|f| f.trim().to_ascii_lowercase()).collect(),
                names: HashMap::new(),
            }
            .with_index()),
            (_, _) => Err(check.errors),
        }
    }
}

fn shards(raw: Spanned<Vec<RawShard>>, check: &mut Check) -> Vec<Shard> {
    if raw.value.is_empty() {
        check.at(&raw, "shards", "a map needs at least one shard");
    }
    if raw.value.len() > usize::from(u16::MAX) {
        check.at(&raw, "shards", "too many shards");
    }
    let mut seen = HashSet::new();
    let mut shards = Vec::new();
    for (i, s) in raw.value.into_iter().enumerate() {
        let name = s.name.value.trim().to_string();
        if name.is_empty() {
            check.at(&s.name, &format!("shards[{i}].name"), "shard name is empty");
        } else if !seen.insert(name.clone()) {
            check.at(&s.name, &format!("shards[{i}].name"), format!("duplicate shard name {name:?}"));
        } else if let Ok(idx) = u16::try_from(i) {
            check.shards.insert(name.clone(), ShardIdx(idx));
        }
        let at = format!("shards[{i}]");
        let mut servers = Vec::new();
        match (s.primary, s.servers.is_empty()) {
            (Some(p), true) => {
                servers.push(server(p, Declared::Primary, &format!("{at}.primary"), &mut check.errors));
                for (j, r) in s.replicas.into_iter().enumerate() {
                    servers.push(server(r, Declared::Replica, &format!("{at}.replicas[{j}]"), &mut check.errors));
                }
            }
            (None, false) => {
                if !s.replicas.is_empty() {
                    check.at(
                        &s.name,
                        &format!("{at}.replicas"),
                        "`replicas` goes with `primary`; with `servers` every server's role comes from health checks",
                    );
                }
                for (j, r) in s.servers.into_iter().enumerate() {
                    servers.push(server(r, Declared::Auto, &format!("{at}.servers[{j}]"), &mut check.errors));
                }
            }
            (Some(_), false) => check.at(
                &s.name,
                &format!("{at}.servers"),
                "give either `primary` (with optional `replicas`) or `servers`, not both",
            ),
            (None, true) => check.at(
                &s.name,
                &format!("{at}.primary"),
                "a shard needs `primary` (with optional `replicas`) or `servers`",
            ),
        }
        if servers.len() > usize::from(u16::MAX) {
            check.at(&s.name, &format!("{at}.replicas"), "too many servers");
        }
        let primary = servers.first().map(|s| s.endpoint.clone()).unwrap_or_else(|| Endpoint {
            host: String::new(),
            port: 0,
            database: String::new(),
            tls: ServerTlsMode::Disable,
            ca_file: None,
        });
        shards.push(Shard { name: ShardName(name), primary, servers });
    }
    shards
}

/// One server of a shard; `tags` and `weight` only mean something on servers that serve reads.
fn server(mut raw: RawEndpoint, declared: Declared, field: &str, errors: &mut Vec<MapError>) -> ShardServer {
    let tags = raw.tags.take();
    let weight = raw.weight.take();
    if declared == Declared::Primary {
        if let Some(t) = &tags {
            errors.push(err(t, &format!("{field}.tags"), "tags select replicas; a primary has none"));
        }
        if let Some(w) = &weight {
            errors.push(err(w, &format!("{field}.weight"), "weight shares reads among replicas; a primary has none"));
        }
    }
    if let Some(w) = weight.as_ref().filter(|w| w.value == 0) {
        errors.push(err(w, &format!("{field}.weight"), "weight 0 would never be used; remove the replica instead"));
    }
    let tags: Vec<String> =
        tags.map(|t| t.value).unwrap_or_default().into_iter().map(|t| t.trim().to_ascii_lowercase()).collect();
    ShardServer { endpoint: endpoint(raw, field, errors), declared, tags, weight: weight.map_or(1, |w| w.value.max(1)) }
}

fn endpoint(raw: RawEndpoint, field: &str, errors: &mut Vec<MapError>) -> Endpoint {
    if raw.host.value.trim().is_empty() {
        errors.push(err(&raw.host, &format!("{field}.host"), "host is empty"));
    }
    if raw.port.value == 0 {
        errors.push(err(&raw.port, &format!("{field}.port"), "port 0 is not a server port"));
    }
    if raw.database.value.is_empty() {
        errors.push(err(&raw.database, &format!("{field}.database"), "database is empty"));
    }
    let tls = match raw.tls.as_ref().map(|t| t.value.as_str()) {
        None | Some("disable") => ServerTlsMode::Disable,
        Some("prefer") => ServerTlsMode::Prefer,
        Some("require") => ServerTlsMode::Require,
        Some("verify-full") => ServerTlsMode::VerifyFull,
        Some(other) => {
            if let Some(t) = raw.tls.as_ref() {
                errors.push(err(
                    t,
                    &format!("{field}.tls"),
                    format!("unknown TLS mode {other:?}; use disable, prefer, require or verify-full"),
                ));
            }
            ServerTlsMode::Disable
        }
    };
    Endpoint { host: raw.host.value, port: raw.port.value, database: raw.database.value, tls, ca_file: raw.ca_file }
}

impl ShardMap {
    /// Parses and validates a map from YAML text. A YAML or type error is reported as one
    /// problem (field empty unless the message names one); otherwise every problem found.
    pub fn from_yaml(text: &str) -> Result<ShardMap, Vec<MapError>> {
        let raw: RawShardMap = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line() as u32, l.column() as u32));
            let message = e.to_string();
            let field = message.split('`').nth(1).filter(|_| message.contains(" field ")).unwrap_or_default();
            vec![MapError { line, column, field: field.to_string(), message }]
        })?;
        ShardMap::try_from(raw)
    }
}
