//! SELECT routing: keys in WHERE, aliases, IN/ANY/OR, casts, joins, reference and pinned
//! tables, statements without tables.

use super::*;

#[test]
fn point_selects_route_to_the_tenants_shard_however_the_key_is_written() {
    let r = router();
    let t = Target::Shard(tenant(42));
    for sql in [
        "SELECT * FROM reservations WHERE tenant_id = 42",
        "select * from reservations where 42 = tenant_id",
        "SELECT * FROM reservations r WHERE r.tenant_id = 42",
        "SELECT * FROM public.reservations r WHERE r.tenant_id = 42 AND r.status = 'open'",
        "SELECT * FROM public.reservations WHERE public.reservations.tenant_id = 42",
        "SELECT * FROM reservations WHERE reservations.tenant_id = 42",
        "SELECT * FROM reservations WHERE tenant_id = '42'",
        "SELECT * FROM reservations WHERE tenant_id = 42::bigint",
        "SELECT * FROM reservations WHERE tenant_id = '42'::int",
        "SELECT * FROM reservations WHERE tenant_id = CAST('42' AS bigint)",
        "SELECT * FROM reservations WHERE (tenant_id = (42)) AND id > 7",
        "SELECT * FROM reservations WHERE tenant_id IN (42)",
        "SELECT * FROM reservations WHERE tenant_id = ANY(ARRAY[42, 42])",
        "SELECT * FROM reservations WHERE tenant_id = ANY('{42}'::bigint[])",
        "SELECT * FROM reservations WHERE tenant_id = 42 AND tenant_id IN (1, 2, 3, 42)",
        "SELECT * FROM reservations WHERE TENANT_ID = 42",
        "SELECT count(*) FROM reservations WHERE tenant_id = 42 GROUP BY status ORDER BY 1 LIMIT 5",
    ] {
        let route = simple(&r, sql);
        assert_eq!(route.target, t, "{sql}: {}", route.reason);
        assert!(!route.write, "{sql}");
    }
}

#[test]
fn the_reason_names_table_column_value_and_shard() {
    let r = router();
    let route = simple(&r, "SELECT * FROM reservations WHERE tenant_id = 42");
    let name = r.map().shard(tenant(42)).unwrap().name.to_string();
    assert_eq!(route.reason, format!("reservations.tenant_id = 42 → {name}"));
}

#[test]
fn negative_keys_are_keys() {
    let r = router();
    assert_eq!(simple(&r, "SELECT * FROM reservations WHERE tenant_id = -7").target, Target::Shard(tenant(-7)));
    assert_eq!(simple(&r, "SELECT * FROM reservations WHERE tenant_id = '-7'").target, Target::Shard(tenant(-7)));
}

#[test]
fn several_keys_give_the_union_of_their_shards() {
    let r = router();
    let b = other_tenant();
    let mut both = vec![tenant(42), tenant(b)];
    both.sort();
    for sql in [
        format!("SELECT * FROM reservations WHERE tenant_id IN (42, {b})"),
        format!("SELECT * FROM reservations WHERE tenant_id = 42 OR tenant_id = {b}"),
        format!("SELECT * FROM reservations WHERE (tenant_id = 42 AND x = 1) OR (tenant_id = {b} AND y = 2)"),
        format!("SELECT * FROM reservations WHERE tenant_id = ANY(ARRAY[42, {b}])"),
    ] {
        assert_eq!(simple(&r, &sql).target, Target::Shards(both.clone()), "{sql}");
    }
}

#[test]
fn no_key_means_all_shards_for_reads() {
    let r = router();
    for sql in [
        "SELECT * FROM reservations",
        "SELECT * FROM reservations WHERE id = 5",
        "SELECT * FROM reservations WHERE tenant_id = 42 OR id = 5",
        "SELECT * FROM reservations WHERE tenant_id <> 42",
        "SELECT * FROM reservations WHERE NOT (tenant_id = 42)",
        "SELECT * FROM reservations WHERE tenant_id NOT IN (42)",
        "SELECT * FROM reservations WHERE tenant_id > 42",
        "SELECT * FROM reservations WHERE tenant_id::text = '42'",
    ] {
        let route = simple(&r, sql);
        assert_eq!(route.target, Target::Shards(all()), "{sql}: {}", route.reason);
    }
}

#[test]
fn co_located_joins_need_one_key() {
    let r = router();
    let t = Target::Shard(tenant(42));
    for sql in [
        "SELECT * FROM reservations r JOIN guests g USING (tenant_id) WHERE r.tenant_id = 42",
        "SELECT * FROM reservations r JOIN guests g USING (tenant_id) WHERE tenant_id = 42",
        "SELECT * FROM reservations r JOIN guests g ON r.tenant_id = g.tenant_id WHERE g.tenant_id = 42",
        "SELECT * FROM reservations r JOIN guests g ON g.tenant_id = r.tenant_id AND g.id = r.guest_id WHERE r.tenant_id = 42",
        "SELECT * FROM reservations r, guests g WHERE r.tenant_id = g.tenant_id AND g.tenant_id = 42",
        "SELECT * FROM reservations r LEFT JOIN guests g ON r.tenant_id = g.tenant_id WHERE r.tenant_id = 42",
        "SELECT * FROM reservations r JOIN guests g ON r.tenant_id = g.tenant_id JOIN folios f ON f.tenant_id = g.tenant_id WHERE f.tenant_id = 42",
        "SELECT * FROM reservations r WHERE r.tenant_id = 42 AND EXISTS (SELECT 1 FROM guests g WHERE g.tenant_id = r.tenant_id)",
        "SELECT r.*, (SELECT count(*) FROM folios f WHERE f.tenant_id = r.tenant_id) FROM reservations r WHERE r.tenant_id = 42",
        "SELECT * FROM reservations r JOIN guests g ON g.tenant_id = 42 AND r.tenant_id = 42",
        "SELECT * FROM reservations r JOIN currencies c ON c.code = r.currency WHERE r.tenant_id = 42",
    ] {
        let route = simple(&r, sql);
        assert_eq!(route.target, t, "{sql}: {}", route.reason);
    }
    let route = simple(&r, "SELECT * FROM reservations r JOIN guests g USING (tenant_id)");
    assert_eq!(route.target, Target::Shards(all()), "co-located join without key scatters");
    // ON of an outer join does not restrict the preserved side, but still co-locates.
    let route =
        simple(&r, "SELECT * FROM reservations r LEFT JOIN guests g ON r.tenant_id = 42 AND g.tenant_id = r.tenant_id");
    assert_eq!(route.target, Target::Shards(all()));
}

#[test]
fn joins_not_on_the_shard_key_are_refused_unless_both_sides_land_on_one_shard() {
    let r = router();
    let b = other_tenant();
    for sql in [
        "SELECT * FROM reservations r JOIN guests g ON g.id = r.guest_id WHERE r.tenant_id = 42".to_string(),
        format!("SELECT * FROM reservations r JOIN guests g ON g.id = r.guest_id WHERE r.tenant_id = 42 AND g.tenant_id = {b}"),
        "SELECT * FROM reservations r JOIN hotels h ON h.id = r.hotel_id WHERE r.tenant_id = 42".to_string(),
        "SELECT * FROM reservations r JOIN guests g ON r.tenant_id = g.tenant_id OR g.id = 1 WHERE r.tenant_id = 42".to_string(),
    ] {
        let route = simple(&r, &sql);
        assert_refused(&route, "not co-located", "");
    }
    let route = simple(
        &r,
        "SELECT * FROM reservations r JOIN guests g ON g.id = r.guest_id WHERE r.tenant_id = 42 AND g.tenant_id = 42",
    );
    assert_eq!(route.target, Target::Shard(tenant(42)));
    let route = simple(&r, "SELECT * FROM reservations r JOIN guests g ON g.id = r.guest_id WHERE r.tenant_id = 42");
    assert_refused(&route, "reservations and guests", "tenant_id = <value>");
}

#[test]
fn composite_keys_need_every_column() {
    let r = router();
    let route = simple(&r, "SELECT * FROM hotels WHERE brand_id = 'marriott' AND region_code = 'us-west'");
    assert_eq!(route.target, Target::Shard(ShardIdx(1)), "{}", route.reason);
    assert!(
        route.reason.contains("hotels.(brand_id, region_code) = ('marriott', 'us-west') → shard-1"),
        "{}",
        route.reason
    );
    let route = simple(&r, "SELECT * FROM hotels WHERE brand_id = 'marriott'");
    assert_eq!(route.target, Target::Shards(all()));
    let route =
        simple(&r, "SELECT * FROM hotels WHERE brand_id IN ('marriott', 'hilton') AND region_code = 'us-northeast'");
    assert_eq!(route.target, Target::Shards(vec![ShardIdx(0), ShardIdx(2)]));
    let route = simple(&r, "SELECT * FROM hotels WHERE brand_id = 'ibis' AND region_code = 'mars'");
    assert_eq!(route.target, Target::Shard(ShardIdx(3)), "default shard");
}

#[test]
fn reference_pinned_and_tableless_statements() {
    let r = router();
    assert_eq!(simple(&r, "SELECT * FROM currencies").target, Target::Any);
    assert_eq!(simple(&r, "SELECT * FROM audit_log WHERE id = 1").target, Target::Shard(ShardIdx(1)));
    for sql in [
        "SELECT 1",
        "SELECT now()",
        "SET search_path = public",
        "SET shardgate.tenant_id = 42",
        "SHOW search_path",
        "BEGIN",
        "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT a",
        "RELEASE SAVEPOINT a",
        "ROLLBACK TO SAVEPOINT a",
        "DISCARD ALL",
        "DEALLOCATE ALL",
        "LISTEN ch",
        "UNLISTEN *",
        "RESET ALL",
    ] {
        let route = simple(&r, sql);
        assert_eq!(route.target, Target::Any, "{sql}: {}", route.reason);
    }
    // A pinned table joined with a tenant on another shard cannot run anywhere.
    let other = (1..1000).find(|&n| tenant(n) != ShardIdx(1)).unwrap();
    let route = simple(
        &r,
        &format!("SELECT * FROM audit_log a JOIN reservations r ON r.id = a.rid WHERE r.tenant_id = {other}"),
    );
    assert_refused(&route, "audit_log", "");
}

#[test]
fn unknown_tables_are_refused_with_a_map_hint() {
    let r = router();
    let route = simple(&r, "SELECT * FROM mystery WHERE tenant_id = 42");
    assert_refused(&route, "table mystery is not in the shard map", "add a rule for table mystery to the shard map");
}

#[test]
fn ctes_and_derived_tables_are_not_tables_of_the_map() {
    let r = router();
    let t = Target::Shard(tenant(42));
    for sql in [
        "WITH x AS (SELECT * FROM reservations WHERE tenant_id = 42) SELECT * FROM x",
        "SELECT * FROM (SELECT * FROM reservations WHERE tenant_id = 42) d WHERE d.id = 1",
        "SELECT * FROM reservations WHERE tenant_id = 42 UNION ALL SELECT * FROM guests WHERE tenant_id = 42",
        "SELECT * FROM reservations WHERE tenant_id = 42 AND guest_id IN (SELECT id FROM guests WHERE tenant_id = 42)",
        "SELECT * FROM reservations, generate_series(1, 3) g WHERE tenant_id = 42",
    ] {
        let route = simple(&r, sql);
        assert_eq!(route.target, t, "{sql}: {}", route.reason);
    }
}

#[test]
fn locking_reads_count_as_writes() {
    let r = router();
    let route = simple(&r, "SELECT * FROM reservations WHERE tenant_id = 42 FOR UPDATE");
    assert_eq!(route.target, Target::Shard(tenant(42)));
    assert!(route.write);
}

#[test]
fn ddl_goes_everywhere_as_a_write() {
    let r = router();
    for sql in [
        "CREATE TABLE t (id bigint primary key, tenant_id bigint)",
        "CREATE INDEX ON reservations (tenant_id, id)",
        "ALTER TABLE reservations ADD COLUMN note text",
        "DROP TABLE reservations",
        "DROP INDEX idx",
        "CREATE VIEW v AS SELECT 1",
        "CREATE SEQUENCE s",
        "CREATE SCHEMA s",
        "TRUNCATE reservations",
        "COMMENT ON TABLE reservations IS 'x'",
        "GRANT SELECT ON reservations TO app",
        "REVOKE SELECT ON reservations FROM app",
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql",
    ] {
        let route = simple(&r, sql);
        assert_eq!(route.target, Target::All, "{sql}: {route:?}");
        assert!(route.write, "{sql}");
    }
}

#[test]
fn lookup_functions_ask_the_directory_cache_first() {
    struct Dir;
    impl Lookups for Dir {
        fn get(&self, _: FunctionIdx, key: &[KeyValue]) -> Option<ShardName> {
            (key == [KeyValue::Int(7)]).then(|| ShardName::new("shard-2"))
        }
    }
    let r = router();
    let c = Context { hints: Hints::default(), lookups: &Dir, explain: true, shapes: None, statement: None };
    let route = r.route("SELECT * FROM stays WHERE property_id = 7", None, &c);
    assert_eq!(route.target, Target::Shard(ShardIdx(2)));
    let route = r.route("SELECT * FROM stays WHERE property_id IN (7, 8)", None, &c);
    let f = r.map().function_by_name("property_directory").unwrap();
    assert_eq!(route.target, Target::Lookup(vec![(f, vec![KeyValue::Int(8)])]));
    let route = simple(&r, "SELECT * FROM stays WHERE property_id = 7");
    assert_eq!(route.target, Target::Lookup(vec![(f, vec![KeyValue::Int(7)])]));
}

#[test]
fn unparsable_sql_is_refused_with_the_parse_error() {
    let r = router();
    let route = simple(&r, "SELEKT * FROM reservations");
    let (code, msg, hint) = refusal(&route);
    assert_eq!(code, "0A000");
    assert!(msg.starts_with("shardgate cannot parse this statement to route it: "), "{msg}");
    assert_eq!(hint, "add /* shardgate: shard=<name> */ or check the syntax");
    let route = simple(&r, "/* shardgate: shard=shard-2 */ SELEKT * FROM reservations");
    assert_eq!(route.target, Target::Shard(ShardIdx(2)));
    let single = Router::new(Arc::new(
        ShardMap::from_yaml("version: 1\nshards:\n  - { name: main, primary: { host: h, port: 5432, database: d } }\n")
            .unwrap(),
    ));
    assert_eq!(simple(&single, "SELEKT * FROM reservations").target, Target::Shard(ShardIdx(0)));
}

#[test]
fn multi_statement_queries_go_to_one_place_or_are_refused() {
    let r = router();
    let t = Target::Shard(tenant(42));
    let route = simple(
        &r,
        "BEGIN; SELECT * FROM reservations WHERE tenant_id = 42; UPDATE folios SET x = 1 WHERE tenant_id = 42; COMMIT;",
    );
    assert_eq!(route.target, t, "{}", route.reason);
    assert!(route.write);
    let b = other_tenant();
    let route = simple(
        &r,
        &format!("SELECT * FROM reservations WHERE tenant_id = 42; SELECT * FROM guests WHERE tenant_id = {b}"),
    );
    assert_refused(&route, "statements of one query go to different shards", "separate queries");
    assert_eq!(simple(&r, "BEGIN; CREATE TABLE x (a int); COMMIT").target, Target::All);
}

#[test]
fn session_and_transaction_statements_route_even_when_sqlparser_cannot_parse_them() {
    let r = router();
    for sql in [
        "SHOW ALL",
        "SHOW TRANSACTION ISOLATION LEVEL",
        "NOTIFY ch, 'x'",
        "SET LOCAL statement_timeout = 5",
        "SET TIME ZONE 'UTC'",
        "BEGIN READ ONLY",
        "ABORT",
        "END",
        "CHECKPOINT",
        "VACUUM",
        "ANALYZE reservations",
        "CLOSE ALL",
        "DEALLOCATE PREPARE x",
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
        "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "SET CONSTRAINTS ALL DEFERRED",
        "RESET search_path",
        "DISCARD PLANS",
        "SELECT set_config('a', 'b', false)",
        "SELECT pg_advisory_lock(1)",
    ] {
        let route = simple(&r, sql);
        assert!(matches!(route.target, Target::Any | Target::All), "{sql}: {route:?}");
    }
}
