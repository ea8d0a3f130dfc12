//! `shardgate check <map>`: the summary of a valid map, and `--connect`, which holds the map
//! against the live shards. It lives outside `shardmap/` because `--connect` does I/O, which
//! the map model must never do.
//!
//! `--connect` catches what a map file alone cannot show: a server that does not answer, a
//! named table missing its key column on some shard (its rows could not be routed), a key
//! column of a type the function cannot hash, and tables nobody named that lack the default
//! rule's columns (the default rule would route them by a column they do not have).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::shardmap::{
    Declared, Endpoint, FunctionKind, KeyType, ServerTlsMode, ShardIdx, ShardMap, ShardingFunction, TableKind,
    TableRule,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Every column of every ordinary table outside the system schemas.
const COLUMNS_SQL: &str = "SELECT c.table_schema::text, c.table_name::text, c.column_name::text, \
            c.data_type::text, c.udt_name::text \
     FROM information_schema.columns c \
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
     WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema') \
     ORDER BY 1, 2, c.ordinal_position";

/// Who `--connect` logs in as: `--user`/`--password`, else `PGUSER`/`PGPASSWORD`.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub password: Option<String>,
}

impl Credentials {
    /// Flags first, then libpq's environment variables, then libpq's default user (`USER`).
    pub fn from_flags_or_env(user: Option<String>, password: Option<String>) -> Self {
        let user = user
            .or_else(|| std::env::var("PGUSER").ok())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".to_string());
        Self { user, password: password.or_else(|| std::env::var("PGPASSWORD").ok()) }
    }
}

/// What a valid map holds, for `check`'s success output. The first line keeps the form
/// `ok (N shard(s)…)` that scripts may grep for.
pub fn summary(map: &ShardMap) -> String {
    let mut out = format!(
        "ok ({} shard(s), {} function(s), {} table rule(s){})",
        map.shards().len(),
        map.functions().len(),
        map.rules().len(),
        if map.default_rule().is_some() { " and a default rule" } else { "" }
    );
    for s in map.shards() {
        let _ = write!(out, "\n  shard {}: {}", s.name, s.primary);
        let others: Vec<String> = s.servers.iter().skip(1).map(|r| r.endpoint.to_string()).collect();
        if !others.is_empty() {
            let what = if s.servers.iter().any(|r| r.declared == Declared::Auto) { "servers" } else { "replicas" };
            let _ = write!(out, " (+ {what} {})", others.join(", "));
        }
    }
    for f in map.functions() {
        let _ = write!(out, "\n  function {}: {}", f.name, describe(f));
    }
    let rule_line = |r: &TableRule| {
        let f = map.function(r.function).map_or("?", |f| f.name.as_str());
        format!("[{}] -> {f}", r.columns.join(", "))
    };
    for r in map.rules() {
        let _ = write!(out, "\n  table {}: {}", r.table.as_deref().unwrap_or("?"), rule_line(r));
    }
    if let Some(r) = map.default_rule() {
        let _ = write!(out, "\n  every other table: {}", rule_line(r));
    }
    if !map.reference_tables().is_empty() {
        let _ = write!(out, "\n  reference tables: {}", map.reference_tables().join(", "));
    }
    for (t, s) in map.unsharded_tables() {
        let _ = write!(out, "\n  table {t}: only on {}", shard_name(map, *s));
    }
    let unknown = match map.unknown_tables() {
        crate::shardmap::UnknownTables::Refuse => "refused".to_string(),
        crate::shardmap::UnknownTables::Shard(s) => format!("sent to {}", shard_name(map, s)),
    };
    let _ = write!(out, "\n  tables not named: {unknown}");
    if map.broadcast_writes() {
        out.push_str("\n  UPDATE/DELETE without a key go to every shard");
    }
    out
}

fn describe(f: &ShardingFunction) -> String {
    let key: Vec<&str> = f.key_types.iter().map(|t| t.as_str()).collect();
    let key = key.join(", ");
    match &f.kind {
        FunctionKind::HashRanges(r) => format!("hash of {key} in {} range(s)", r.len()),
        FunctionKind::HashRing(r) => {
            format!("hash of {key} on a ring of {} point(s), {} per shard", r.points.len(), r.vnodes)
        }
        FunctionKind::Range { ranges, default } => {
            format!("{} range(s) of {key}{}", ranges.len(), if default.is_some() { " and a default" } else { "" })
        }
        FunctionKind::List { entries, default } => {
            format!(
                "{} listed value(s) of ({key}){}",
                entries.len(),
                if default.is_some() { " and a default" } else { "" }
            )
        }
        FunctionKind::Lookup(l) => format!("lookup of {key} in {}", l.endpoint),
    }
}

fn shard_name(map: &ShardMap, s: ShardIdx) -> String {
    map.shard(s).map_or_else(|| "?".to_string(), |s| s.name.to_string())
}

/// One column as `information_schema.columns` reports it.
#[derive(Debug, Clone)]
pub struct Column {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub data_type: String,
    pub udt_name: String,
}

/// Connects to every endpoint of the map (primaries, replicas, lookup directories) and checks
/// every shard primary's tables against the rules. Returns one line per problem; none = ok.
pub async fn connect_check(map: &ShardMap, creds: &Credentials) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut endpoints: Vec<(String, Endpoint, Option<ShardIdx>)> = Vec::new();
    for (i, s) in map.shards().iter().enumerate() {
        let idx = u16::try_from(i).ok().map(ShardIdx);
        endpoints.push((format!("{} primary", s.name), s.primary.clone(), idx));
        for (j, r) in s.servers.iter().enumerate().skip(1) {
            endpoints.push((format!("{} server {j}", s.name), r.endpoint.clone(), None));
        }
    }
    for f in map.functions() {
        if let FunctionKind::Lookup(l) = &f.kind {
            endpoints.push((format!("directory of {}", f.name), l.endpoint.clone(), None));
        }
    }
    for (n, (label, endpoint, shard)) in endpoints.into_iter().enumerate() {
        let creds = creds.clone();
        tasks.spawn(async move {
            let result = columns(&endpoint, &creds, shard.is_some()).await;
            (n, label, endpoint, shard, result)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => {
                results.push((usize::MAX, "an endpoint check".into(), unknown_endpoint(), None, Err(e.to_string())))
            }
        }
    }
    results.sort_by_key(|r| r.0);
    let mut problems = Vec::new();
    for (_, label, endpoint, shard, result) in results {
        match (result, shard) {
            (Err(e), _) => problems.push(format!("{label} {endpoint}: {e}")),
            (Ok(cols), Some(shard)) => problems.extend(compare(map, shard, &cols)),
            (Ok(_), None) => {}
        }
    }
    problems
}

fn unknown_endpoint() -> Endpoint {
    Endpoint { host: "?".into(), port: 0, database: "?".into(), tls: ServerTlsMode::Disable, ca_file: None }
}

/// Connects; for a shard primary also reads its columns.
async fn columns(endpoint: &Endpoint, creds: &Credentials, read: bool) -> Result<Vec<Column>, String> {
    if endpoint.tls != ServerTlsMode::Disable {
        return Err("not checked: --connect does not speak TLS yet (tls: disable only)".into());
    }
    let mut config = tokio_postgres::Config::new();
    config
        .host(&endpoint.host)
        .port(endpoint.port)
        .dbname(&endpoint.database)
        .user(&creds.user)
        .application_name("shardgate-check")
        .connect_timeout(CONNECT_TIMEOUT);
    if let Some(p) = &creds.password {
        config.password(p);
    }
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(tokio_postgres::NoTls));
    let (client, connection) = match connect.await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(format!("cannot connect: {}", error_text(&e))),
        Err(_) => return Err(format!("cannot connect: no answer within {}s", CONNECT_TIMEOUT.as_secs())),
    };
    let conn = tokio::spawn(connection);
    let result = if read {
        match client.query(COLUMNS_SQL, &[]).await {
            Ok(rows) => rows.iter().map(column).collect(),
            Err(e) => Err(format!("cannot read columns: {}", error_text(&e))),
        }
    } else {
        Ok(Vec::new())
    };
    drop(client);
    let _ = conn.await;
    result
}

/// One row of `COLUMNS_SQL`. `try_get`: a server answering oddly is a problem to report,
/// not a reason to panic.
fn column(r: &tokio_postgres::Row) -> Result<Column, String> {
    let text = |i: usize| r.try_get::<_, String>(i).map_err(|e| format!("unexpected answer to the column query: {e}"));
    Ok(Column { schema: text(0)?, table: text(1)?, name: text(2)?, data_type: text(3)?, udt_name: text(4)? })
}

/// The server's own message when there is one (`password authentication failed …`).
fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// The problems one shard's tables show against the map. Pure, for unit tests.
pub fn compare(map: &ShardMap, shard: ShardIdx, columns: &[Column]) -> Vec<String> {
    let name = shard_name(map, shard);
    let mut tables: BTreeMap<(&str, &str), Vec<&Column>> = BTreeMap::new();
    for c in columns {
        tables.entry((c.schema.as_str(), c.table.as_str())).or_default().push(c);
    }
    let mut problems = Vec::new();
    for rule in map.rules() {
        let Some(full) = rule.table.as_deref() else { continue };
        let found = match full.split_once('.') {
            Some((schema, table)) => tables.get(&(schema, table)),
            None => {
                tables.get(&("public", full)).or_else(|| tables.iter().find(|((_, t), _)| *t == full).map(|(_, c)| c))
            }
        };
        if found.is_none() {
            problems.push(format!("{name}: table {full} is named in the map but does not exist on this shard"));
        }
    }
    for ((schema, table), cols) in &tables {
        let TableKind::Sharded(rule) = map.table(Some(schema), table) else { continue };
        let Some(f) = map.function(rule.function) else { continue };
        for (k, key) in rule.columns.iter().enumerate() {
            let want = f.key_types.get(k).copied();
            match cols.iter().find(|c| &c.name == key) {
                None if rule.table.is_none() => problems.push(format!(
                    "{name}: table {schema}.{table} has no rule and no column {key}, the default rule's key: \
                     it would be routed by a column it does not have; name it in the map"
                )),
                None => {
                    problems.push(format!("{name}: table {schema}.{table} has no key column {key} (for {})", f.name))
                }
                Some(c) => {
                    let got = KeyType::from_sql_name(&c.data_type).or_else(|| KeyType::from_sql_name(&c.udt_name));
                    match (got, want) {
                        (None, _) => problems.push(format!(
                            "{name}: column {schema}.{table}.{key} is {}, which {} cannot hash",
                            c.data_type, f.name
                        )),
                        (Some(g), Some(w)) if g != w => problems.push(format!(
                            "{name}: column {schema}.{table}.{key} is {} but {} hashes a {} key",
                            c.data_type,
                            f.name,
                            w.as_str()
                        )),
                        _ => {}
                    }
                }
            }
        }
    }
    problems
}
