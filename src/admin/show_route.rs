//! SHOW ROUTE [<database>] <sql> (ours): the router's decision for a statement, the same
//! one `shardgate route` prints — target shard(s), write or read, the reason, and for a read
//! across shards the merge plan — for a database of the running config.

use super::table::{text, Kind, Table};
use crate::error::ClientError;
use crate::frontend::Shared;
use crate::router::{Context, Hints, NoLookups, Params, Router, Target};
use crate::shardmap::ShardMap;

/// Why a statement is refused, as the client would be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub sqlstate: String,
    pub message: String,
    pub hint: String,
}

impl Refusal {
    fn of(e: &dyn ClientError) -> Self {
        Self {
            sqlstate: e.sqlstate().code().to_string(),
            message: e.client_message(),
            hint: e.hint().unwrap_or_default(),
        }
    }
}

/// The router's decision, in words. Shared by the console and `shardgate route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub target: Result<String, Refusal>,
    pub write: bool,
    pub reason: String,
    /// Reads across several shards: the merge plan, or why it cannot be merged.
    pub merge: Option<Result<String, Refusal>>,
    /// Maps with replicas: which server takes the statement outside a transaction and
    /// without hints ("the primary", "a replica (read_from: …)").
    pub server: Option<String>,
}

/// Routes `sql` as a client of `map` would see it (no lookup functions are queried: a
/// statement that needs one says so).
pub fn explain(
    map: &ShardMap,
    router: &Router,
    sql: &str,
    params: Option<&Params<'_>>,
    shard_hint: Option<&str>,
) -> Explanation {
    let ctx = Context {
        hints: Hints { shard: shard_hint, keys: &[] },
        lookups: &NoLookups,
        explain: true,
        shapes: None,
        statement: None,
    };
    let route = router.route(sql, params, &ctx);
    let name = |s: crate::shardmap::ShardIdx| map.shard(s).map(|x| x.name.to_string()).unwrap_or_default();
    let target = match &route.target {
        Target::Refuse(e) => Err(Refusal::of(e)),
        Target::Shard(s) => Ok(name(*s)),
        Target::Shards(v) => {
            Ok(format!("{} (several shards)", v.iter().map(|s| name(*s)).collect::<Vec<_>>().join(", ")))
        }
        Target::Any => Ok("any shard".into()),
        Target::All => Ok("all shards".into()),
        Target::Split(parts) => {
            let mut out = String::from("split INSERT");
            for p in parts {
                out.push_str(&format!("\n  {}: {} (parameters {:?})", name(p.shard), p.sql, p.params));
            }
            Ok(out)
        }
        Target::Lookup(keys) => {
            let k: Vec<String> = keys
                .iter()
                .map(|(f, key)| {
                    let f = map.function(*f).map(|f| f.name.clone()).unwrap_or_default();
                    let key: Vec<String> = key.iter().map(ToString::to_string).collect();
                    format!("{f}({})", key.join(", "))
                })
                .collect();
            Ok(format!("directory lookup needed for {}", k.join(", ")))
        }
    };
    let merge = match &route.target {
        Target::Shards(v) if v.len() > 1 => Some(match crate::scatter::analyse::plan(sql) {
            Ok(plan) => Ok(plan.describe()),
            Err(e) => Err(Refusal::of(&e)),
        }),
        _ => None,
    };
    let server = map.shards().iter().any(|s| s.replicated()).then(|| {
        match (route.write, route.read_from.unwrap_or(map.read_from)) {
            (true, _) | (false, crate::shardmap::ReadFrom::Primary) => "the primary".to_string(),
            (false, from) => format!("a replica (read_from: {})", from.as_str()),
        }
    });
    Explanation { target, write: route.write, reason: route.reason.to_string(), merge, server }
}

/// `first_word` names the database when it is one; otherwise the whole text is the statement
/// and the config's first database (by name) is used.
pub fn run(shared: &Shared, first_word: &str, rest: &str, whole: &str) -> Table {
    let config = shared.config.load();
    let (db, sql) = match config.databases.get(first_word) {
        Some(db) if !rest.is_empty() => (Some(db), rest),
        _ => (config.databases.values().next(), whole),
    };
    let mut t = Table::new(&[
        ("database", Kind::Text),
        ("target", Kind::Text),
        ("write", Kind::Bool),
        ("reason", Kind::Text),
        ("merge", Kind::Text),
        ("server", Kind::Text),
        ("sqlstate", Kind::Text),
        ("hint", Kind::Text),
    ]);
    let Some(db) = db else { return t };
    let e = explain(&db.map, &db.router, sql, None, None);
    let refusal = match (&e.target, &e.merge) {
        (Err(r), _) | (Ok(_), Some(Err(r))) => Some(r.clone()),
        _ => None,
    };
    let target = match &e.target {
        Ok(t) => text(t),
        Err(_) => text("refused"),
    };
    let reason = match &refusal {
        Some(r) => text(format!("{} ({})", r.message, e.reason)),
        None => text(&e.reason),
    };
    t.push(vec![
        text(&db.name),
        target,
        super::table::boolean(e.write),
        reason,
        e.merge.and_then(Result::ok),
        e.server,
        refusal.as_ref().map(|r| r.sqlstate.clone()),
        refusal.map(|r| r.hint).filter(|h| !h.is_empty()),
    ]);
    t
}
