//! INSERT, UPDATE and DELETE routing, split INSERTs, key changes, broadcast writes.

use super::*;

#[test]
fn inserts_route_by_their_key_column() {
    let r = router();
    let t = Target::Shard(tenant(42));
    for sql in [
        "INSERT INTO reservations (id, tenant_id, note) VALUES (1, 42, 'x')",
        "INSERT INTO reservations (tenant_id, id) VALUES ('42', 1) RETURNING id",
        "INSERT INTO public.reservations AS r (tenant_id, id) VALUES (42::bigint, 1) ON CONFLICT (id) DO NOTHING",
        "INSERT INTO reservations (tenant_id, id) VALUES (42, 1), (42, 2)",
        "INSERT INTO reservations (tenant_id, id) VALUES (42, 1) ON CONFLICT (id) DO UPDATE SET note = excluded.note",
    ] {
        let route = simple(&r, sql);
        assert_eq!(route.target, t, "{sql}: {}", route.reason);
        assert!(route.write);
    }
    let route = ext(&r, "INSERT INTO reservations (id, tenant_id) VALUES ($1, $2)", &["1", "42"]);
    assert_eq!(route.target, t);
}

#[test]
fn inserts_without_a_usable_key_are_refused() {
    let r = router();
    for (sql, message, hint) in [
        ("INSERT INTO reservations (id) VALUES (1)", "does not give the shard key column tenant_id", "add tenant_id"),
        ("INSERT INTO reservations VALUES (1, 42)", "does not name its columns", "list the columns"),
        ("INSERT INTO reservations (tenant_id) VALUES (nextval('s'))", "row 1", "literal or a parameter"),
        ("INSERT INTO reservations (tenant_id) VALUES (NULL)", "row 1", "non-NULL"),
        (
            "INSERT INTO reservations (tenant_id, id) SELECT tenant_id, id FROM guests WHERE tenant_id = 42",
            "INSERT … SELECT",
            "shardgate: shard=<name>",
        ),
        (
            "INSERT INTO reservations (tenant_id) VALUES (42) ON CONFLICT (id) DO UPDATE SET tenant_id = 43",
            "changes the shard key",
            "DO UPDATE",
        ),
    ] {
        assert_refused(&simple(&r, sql), message, hint);
    }
    let route = simple(&r, "INSERT INTO reservations (tenant_id) VALUES ('abc')");
    let (code, msg, _) = refusal(&route);
    assert_eq!(code, "22P02", "a bad key is invalid_text_representation");
    assert!(msg.contains("reservations.tenant_id"), "{msg}");
}

#[test]
fn insert_select_routes_with_a_hint() {
    let r = router();
    let sql = "/* shardgate: tenant_id=42 */ INSERT INTO reservations (tenant_id, id) SELECT tenant_id, id FROM guests WHERE tenant_id = 42";
    assert_eq!(simple(&r, sql).target, Target::Shard(tenant(42)));
    let sql = "/* shardgate: shard=shard-3 */ INSERT INTO reservations (tenant_id, id) SELECT 1, 2";
    assert_eq!(simple(&r, sql).target, Target::Shard(ShardIdx(3)));
}

#[test]
fn multi_row_inserts_across_shards_are_split_with_renumbered_parameters() {
    let r = router();
    let b = other_tenant();
    let sql = "INSERT INTO reservations (id, tenant_id) VALUES ($1, $2), ($3, $4), ($5, $6) RETURNING id";
    let (b_s, a_s) = (b.to_string(), "42".to_string());
    let route = ext(&r, sql, &["1", &a_s, "2", &b_s, "3", &a_s]);
    let Target::Split(parts) = &route.target else { panic!("{route:?}") };
    assert_eq!(parts.len(), 2);
    let a_part = parts.iter().find(|p| p.shard == tenant(42)).unwrap();
    let b_part = parts.iter().find(|p| p.shard == tenant(b)).unwrap();
    assert_eq!(a_part.sql, "INSERT INTO reservations (id, tenant_id) VALUES ($1, $2), ($3, $4) RETURNING id");
    assert_eq!(a_part.params, vec![0, 1, 4, 5]);
    assert_eq!(b_part.sql, "INSERT INTO reservations (id, tenant_id) VALUES ($1, $2) RETURNING id");
    assert_eq!(b_part.params, vec![2, 3]);
    assert!(parts.windows(2).all(|w| w[0].shard < w[1].shard), "parts sorted by shard");
    // Simple protocol: literals stay in the text.
    let route = simple(
        &r,
        &format!("INSERT INTO reservations (id, tenant_id) VALUES (1, 42), (2, {b}) ON CONFLICT DO NOTHING"),
    );
    let Target::Split(parts) = &route.target else { panic!("{route:?}") };
    let b_part = parts.iter().find(|p| p.shard == tenant(b)).unwrap();
    assert_eq!(b_part.sql, format!("INSERT INTO reservations (id, tenant_id) VALUES (2, {b}) ON CONFLICT DO NOTHING"));
    assert!(b_part.params.is_empty());
}

#[test]
fn updates_and_deletes_route_by_where() {
    let r = router();
    let t = Target::Shard(tenant(42));
    for sql in [
        "UPDATE folios SET balance = balance + 10 WHERE tenant_id = 42 AND id = 7",
        "UPDATE folios f SET balance = 0 WHERE f.tenant_id = 42",
        "UPDATE folios f SET balance = g.x FROM guests g WHERE f.tenant_id = g.tenant_id AND g.tenant_id = 42",
        "UPDATE folios SET tenant_id = 42 WHERE tenant_id = 42",
        "DELETE FROM reservations WHERE tenant_id = 42 AND id = 1",
        "DELETE FROM reservations r USING guests g WHERE r.tenant_id = g.tenant_id AND r.tenant_id = 42 RETURNING r.id",
        "UPDATE folios SET balance = 0 WHERE tenant_id = 42 AND id IN (SELECT folio_id FROM guests WHERE tenant_id = 42)",
    ] {
        let route = simple(&r, sql);
        assert_eq!(route.target, t, "{sql}: {}", route.reason);
        assert!(route.write);
    }
    assert_eq!(ext(&r, "UPDATE folios SET balance = $1 WHERE tenant_id = $2", &["5", "42"]).target, t);
}

#[test]
fn writes_without_a_key_or_on_several_shards_are_refused() {
    let r = router();
    let b = other_tenant();
    assert_refused(
        &simple(&r, "UPDATE folios SET balance = 0 WHERE id = 7"),
        "UPDATE on folios has no shard key",
        "add `tenant_id = <value>` to the WHERE clause, or /* shardgate: shard=<name> */",
    );
    assert_refused(
        &simple(&r, "DELETE FROM reservations"),
        "DELETE on reservations has no shard key",
        "tenant_id = <value>",
    );
    let route = simple(&r, &format!("DELETE FROM reservations WHERE tenant_id IN (42, {b})"));
    let names = r.names_for_test(&[tenant(42), tenant(b)]);
    assert_refused(&route, &format!("DELETE on reservations would touch shards {names}"), "");
}

#[test]
fn broadcast_writes_when_the_map_allows_them() {
    let r = router_with("broadcast_writes: true\n");
    assert_eq!(simple(&r, "UPDATE folios SET balance = 0 WHERE id = 7").target, Target::All);
    assert_eq!(simple(&r, "DELETE FROM reservations").target, Target::All);
    assert_refused(&simple(&r, "INSERT INTO reservations (id) VALUES (1)"), "tenant_id", "");
}

#[test]
fn updates_that_move_a_row_to_another_shard_are_refused() {
    let r = router();
    let b = other_tenant();
    assert_refused(
        &simple(&r, &format!("UPDATE reservations SET tenant_id = {b} WHERE tenant_id = 42")),
        "changes the shard key tenant_id",
        "DELETE",
    );
    assert_refused(
        &simple(&r, "UPDATE reservations SET tenant_id = tenant_id + 1 WHERE tenant_id = 42"),
        "changes the shard key",
        "",
    );
    assert_refused(
        &ext(&r, "UPDATE reservations SET tenant_id = $1 WHERE tenant_id = $2", &[&b.to_string(), "42"]),
        "changes the shard key",
        "",
    );
    let same = (1..1000).find(|&n| n != 42 && tenant(n) == tenant(42)).unwrap();
    let route = simple(&r, &format!("UPDATE reservations SET tenant_id = {same} WHERE tenant_id = 42"));
    assert_eq!(route.target, Target::Shard(tenant(42)), "{route:?}");
    let route = simple(
        &r,
        "UPDATE hotels SET region_code = 'us-west' WHERE brand_id = 'marriott' AND region_code = 'us-northeast'",
    );
    assert_refused(&route, "changes the shard key", "");
}

#[test]
fn reference_tables_are_written_everywhere() {
    let r = router();
    for sql in [
        "INSERT INTO currencies (code, rate) VALUES ('EUR', 1.1)",
        "UPDATE currencies SET rate = 1.2 WHERE code = 'EUR'",
        "DELETE FROM currencies WHERE code = 'XXX'",
    ] {
        let route = simple(&r, sql);
        assert_eq!(route.target, Target::All, "{sql}");
        assert!(route.write);
    }
    assert_refused(
        &simple(&r, "INSERT INTO currencies (code) SELECT currency FROM reservations WHERE tenant_id = 42"),
        "writes reference table currencies",
        "",
    );
}

#[test]
fn writes_to_pinned_tables_go_to_their_shard() {
    let r = router();
    assert_eq!(simple(&r, "INSERT INTO audit_log (msg) VALUES ('x')").target, Target::Shard(ShardIdx(1)));
    assert_eq!(simple(&r, "DELETE FROM audit_log").target, Target::Shard(ShardIdx(1)));
}
