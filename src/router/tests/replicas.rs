//! Read/write classification for maps with replicas: what needs the primary.

use std::sync::Arc;

use super::super::*;
use crate::shardmap::{ReadFrom, ShardMap};

const REPLICATED: &str = "version: 1
write_functions: [bump_counter, audit_*]
shards:
  - name: main
    primary: { host: 127.0.0.1, port: 5432, database: pms }
    replicas:
      - { host: 127.0.0.1, port: 5433, database: pms }
      - { host: 127.0.0.1, port: 5434, database: pms, tags: [analytics], weight: 2 }
";

fn router() -> Router {
    let map = ShardMap::from_yaml(REPLICATED).unwrap_or_else(|e| panic!("{e:?}"));
    Router::new(Arc::new(map))
}

fn writes(sql: &str) -> bool {
    router()
        .route(
            sql,
            None,
            &Context { hints: Hints::default(), lookups: &NoLookups, explain: true, shapes: None, statement: None },
        )
        .write
}

#[test]
fn plain_reads_may_use_replicas() {
    for sql in [
        "SELECT * FROM reservations WHERE tenant_id = 1",
        "select count(*) from stays",
        "SHOW search_path",
        "VALUES (1)",
        "SELECT 'nextval(' FROM t",
        "SELECT lower(name) FROM guests",
        "BEGIN",
        "COMMIT",
        "SET search_path = app",
        "BEGIN; SELECT 1; COMMIT",
    ] {
        assert!(!writes(sql), "{sql} should be a read");
    }
}

#[test]
fn writes_locks_sequences_and_listed_functions_need_the_primary() {
    for sql in [
        "INSERT INTO guests VALUES (1)",
        "UPDATE guests SET name = 'x'",
        "DELETE FROM guests",
        "CREATE TABLE t (a int)",
        "SELECT * FROM rooms FOR UPDATE",
        "SELECT * FROM rooms FOR SHARE",
        "SELECT nextval('guests_id_seq')",
        "select pg_catalog.setval('s', 4)",
        "SELECT pg_advisory_lock(42)",
        "SELECT pg_try_advisory_xact_lock(1)",
        "SELECT txid_current()",
        "WITH moved AS (DELETE FROM queue RETURNING *) SELECT * FROM moved",
        "SELECT bump_counter(3)",
        "SELECT audit_login('x')",
        "SELECT 1; INSERT INTO t VALUES (1)",
        "BEGIN; UPDATE guests SET name = 'x'; COMMIT",
        "NOTIFY guests_changed",
    ] {
        assert!(writes(sql), "{sql} should need the primary");
    }
}

#[test]
fn replica_tags_and_weights_are_read_from_the_map() {
    let map = ShardMap::from_yaml(REPLICATED).unwrap_or_else(|e| panic!("{e:?}"));
    let shard = &map.shards()[0];
    assert!(shard.replicated());
    assert_eq!(shard.servers.len(), 3);
    assert_eq!(shard.servers[2].tags, vec!["analytics".to_string()]);
    assert_eq!(shard.servers[2].weight, 2);
    assert_eq!(shard.servers[1].weight, 1);
    assert_eq!(shard.primary.port, 5432);
}

#[test]
fn role_and_tag_hints_are_read_from_comments() {
    let h = hint::scan("/* shardgate: role=primary, tag=Analytics */ SELECT 1");
    assert_eq!(h.role.as_deref(), Some("primary"));
    assert_eq!(h.tag.as_deref(), Some("analytics"));
    assert!(h.keys.is_empty(), "role and tag are not key hints");
}

#[test]
fn table_read_from_applies_to_the_tables_read_strictest_first() {
    let yaml = format!("{REPLICATED}table_read_from:\n  balances: primary\n  reports.daily: any\n");
    let map = ShardMap::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e:?}"));
    let r = Router::new(Arc::new(map));
    let from = |sql: &str| {
        r.route(
            sql,
            None,
            &Context { hints: Hints::default(), lookups: &NoLookups, explain: true, shapes: None, statement: None },
        )
        .read_from
    };
    assert_eq!(from("SELECT * FROM balances WHERE id = 1"), Some(ReadFrom::Primary));
    assert_eq!(from("SELECT * FROM reports.daily"), Some(ReadFrom::Any));
    assert_eq!(from("SELECT * FROM reports.daily d JOIN balances b ON b.id = d.id"), Some(ReadFrom::Primary));
    assert_eq!(from("SELECT * FROM guests"), None);
    let e = ShardMap::from_yaml(&format!("{REPLICATED}table_read_from:\n  balances: sometimes\n")).unwrap_err();
    assert!(e.iter().any(|e| e.field == "table_read_from.balances"), "{e:?}");
}
