//! Router tests, table-driven, against an inline map with every kind of table and function.
//! `tenant(n)` is the shard the map places tenant `n` on, so expectations never hard-code
//! hash results.

mod hints;
mod normalise;
mod params;
mod point;
mod reads;
mod replicas;
mod statement_plan;
mod writes;

use std::sync::Arc;

use super::*;
use crate::error::ClientError;
use crate::shardmap::{KeyValue, Placement, ShardIdx, ShardMap};

pub const MAP: &str = "version: 1
shards:
  - { name: shard-0, primary: { host: 127.0.0.1, port: 5432, database: pms_0 } }
  - { name: shard-1, primary: { host: 127.0.0.1, port: 5432, database: pms_1 } }
  - { name: shard-2, primary: { host: 127.0.0.1, port: 5432, database: pms_2 } }
  - { name: shard-3, primary: { host: 127.0.0.1, port: 5432, database: pms_3 } }
functions:
  - name: tenant_hash
    kind: hash
    key: bigint
    ranges:
      - { to: -4611686018427387904, shard: shard-0 }
      - { from: -4611686018427387904, to: 0, shard: shard-1 }
      - { from: 0, to: 4611686018427387904, shard: shard-2 }
      - { from: 4611686018427387904, shard: shard-3 }
  - name: brand_region
    kind: list
    key: [text, text]
    values:
      - { key: [marriott, us-northeast], shard: shard-0 }
      - { key: [marriott, us-west], shard: shard-1 }
      - { key: [hilton, us-northeast], shard: shard-2 }
    default_shard: shard-3
  - name: property_directory
    kind: lookup
    key: bigint
    lookup:
      endpoint: { host: 127.0.0.1, port: 5432, database: directory }
      query: \"SELECT shard FROM property_shards WHERE property_id = $1\"
tables:
  - { name: reservations, columns: [tenant_id], function: tenant_hash }
  - { name: guests, columns: [tenant_id], function: tenant_hash }
  - { name: folios, columns: [tenant_id], function: tenant_hash }
  - { name: hotels, columns: [brand_id, region_code], function: brand_region }
  - { name: stays, columns: [property_id], function: property_directory }
reference_tables: [currencies]
unsharded_tables: [ { name: audit_log, shard: shard-1 } ]
unknown_tables: refuse
";

pub fn router() -> Router {
    router_with("")
}

/// The test map with `extra` YAML appended (e.g. `broadcast_writes: true`).
pub fn router_with(extra: &str) -> Router {
    let map = ShardMap::from_yaml(&format!("{MAP}{extra}")).unwrap_or_else(|e| panic!("{e:?}"));
    Router::new(Arc::new(map))
}

/// The shard the test map places tenant `n` on.
pub fn tenant(n: i64) -> ShardIdx {
    let map = ShardMap::from_yaml(MAP).unwrap();
    let f = map.function(map.function_by_name("tenant_hash").unwrap()).unwrap();
    match f.place(&[KeyValue::Int(n)]) {
        Placement::Shard(s) => s,
        other => panic!("{other:?}"),
    }
}

/// A tenant on another shard than tenant 42.
pub fn other_tenant() -> i64 {
    (1..1000).find(|&n| tenant(n) != tenant(42)).unwrap()
}

pub fn all() -> Vec<ShardIdx> {
    (0..4).map(ShardIdx).collect()
}

pub fn ctx() -> Context<'static> {
    Context { hints: Hints::default(), lookups: &NoLookups, explain: true, shapes: None, statement: None }
}

pub fn simple(r: &Router, sql: &str) -> Route {
    r.route(sql, None, &ctx())
}

/// Extended protocol with text parameters.
pub fn ext(r: &Router, sql: &str, params: &[&str]) -> Route {
    let values: Vec<Option<&[u8]>> = params.iter().map(|p| Some(p.as_bytes())).collect();
    let p = Params { types: &[], formats: &[], values: &values };
    r.route(sql, Some(&p), &ctx())
}

/// The refusal of a route: (SQLSTATE, message, hint).
pub fn refusal(route: &Route) -> (String, String, String) {
    match &route.target {
        Target::Refuse(e) => (e.sqlstate().code().to_string(), e.client_message(), e.hint().unwrap_or_default()),
        other => panic!("expected a refusal, got {other:?} ({})", route.reason),
    }
}

/// Asserts a refusal with SQLSTATE 0A000 whose message and hint contain the given texts.
pub fn assert_refused(route: &Route, message: &str, hint: &str) {
    let (code, m, h) = refusal(route);
    assert_eq!(code, "0A000", "{m}");
    assert!(m.contains(message), "message {m:?} lacks {message:?}");
    assert!(h.contains(hint), "hint {h:?} lacks {hint:?}");
}
