//! The YAML form of a shard map, as the DBA writes it. Field docs read like the manual
//! (docs/shard-maps.md). Unknown fields are rejected so a typo never silently does nothing.

use std::collections::HashSet;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{Endpoint, FormatVersion, MapError, ServerTlsMode, Shard, ShardIdx, ShardMap, ShardName, UnknownTables};

const SUPPORTED_FORMAT: u32 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShardMap {
    /// Format version of this file. Only `1` exists.
    pub version: Spanned<u32>,
    /// The shards, each with a unique name. Order matters to nothing but display.
    pub shards: Spanned<Vec<RawShard>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShard {
    /// Unique name of the shard (e.g. `shard-001`). Placement refers to shards by this name.
    pub name: Spanned<String>,
    /// The server that takes writes.
    pub primary: RawEndpoint,
    /// Streaming replicas for reads.
    #[serde(default)]
    pub replicas: Vec<RawEndpoint>,
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

impl TryFrom<RawShardMap> for ShardMap {
    type Error = Vec<MapError>;

    /// Checks everything and reports every problem found, not just the first.
    fn try_from(raw: RawShardMap) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        if raw.version.value != SUPPORTED_FORMAT {
            errors.push(err(
                &raw.version,
                "version",
                format!(
                    "unsupported map format {}; this shardgate reads version {SUPPORTED_FORMAT}",
                    raw.version.value
                ),
            ));
        }
        if raw.shards.value.is_empty() {
            errors.push(err(&raw.shards, "shards", "a map needs at least one shard"));
        }
        if raw.shards.value.len() > usize::from(u16::MAX) {
            errors.push(err(&raw.shards, "shards", "too many shards"));
        }
        let mut seen = HashSet::new();
        let mut shards = Vec::new();
        for (i, s) in raw.shards.value.into_iter().enumerate() {
            let name = s.name.value.trim().to_string();
            if name.is_empty() {
                errors.push(err(&s.name, &format!("shards[{i}].name"), "shard name is empty"));
            } else if !seen.insert(name.clone()) {
                errors.push(err(&s.name, &format!("shards[{i}].name"), format!("duplicate shard name {name:?}")));
            }
            let primary = endpoint(s.primary, &format!("shards[{i}].primary"), &mut errors);
            let replicas = s
                .replicas
                .into_iter()
                .enumerate()
                .map(|(j, r)| endpoint(r, &format!("shards[{i}].replicas[{j}]"), &mut errors))
                .collect();
            shards.push(Shard { name: ShardName(name), primary, replicas });
        }
        if errors.is_empty() {
            let unknown_tables =
                if shards.len() == 1 { UnknownTables::Shard(ShardIdx(0)) } else { UnknownTables::Refuse };
            Ok(ShardMap {
                format: FormatVersion(raw.version.value),
                shards,
                functions: Vec::new(),
                rules: Vec::new(),
                default_rule: None,
                reference: Vec::new(),
                unsharded: Vec::new(),
                unknown_tables,
                broadcast_writes: false,
            })
        } else {
            Err(errors)
        }
    }
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
