//! The literal-normalised path must route exactly like a full parse of the original text.

use super::*;

/// A corpus of simple-protocol statements with literals; each is routed through the
/// normalised path (`route`) and through a full parse of the original text, on a fresh
/// router so neither sees the other's cache.
pub(super) const CORPUS: &[&str] = &[
    "SELECT abalance FROM pgbench_accounts WHERE aid = 48213",
    "SELECT * FROM reservations WHERE tenant_id = 42",
    "SELECT * FROM reservations WHERE tenant_id = -42",
    "SELECT * FROM reservations WHERE tenant_id = '42'",
    "SELECT * FROM reservations WHERE tenant_id = '42'::bigint AND note = 'it''s'",
    "SELECT * FROM reservations WHERE tenant_id IN (1, 2, 3) LIMIT 10 OFFSET 5",
    "SELECT * FROM reservations WHERE tenant_id = ANY('{1,42}'::bigint[])",
    "SELECT * FROM reservations WHERE tenant_id = ANY(ARRAY[7, 8])",
    "SELECT * FROM reservations r JOIN guests g USING (tenant_id) WHERE r.tenant_id = 42 AND g.age > 30",
    "SELECT * FROM reservations WHERE tenant_id = 42 AND created > DATE '2024-01-01'",
    "SELECT * FROM reservations WHERE tenant_id = 42 AND stay && '[2024-01-01,2024-02-01)'::daterange",
    "SELECT price::numeric(10,2) FROM reservations WHERE tenant_id = 42",
    "SELECT * FROM hotels WHERE brand_id = 'marriott' AND region_code = 'us-west'",
    "SELECT * FROM hotels WHERE brand_id = 'hilton' AND region_code IN ('us-northeast', 'x')",
    "SELECT * FROM reservations WHERE tenant_id = 'abc'",
    "SELECT * FROM reservations WHERE tenant_id = 99999999999999999999",
    "SELECT * FROM reservations WHERE tenant_id = 42 OR id = 1",
    "SELECT * FROM mystery WHERE tenant_id = 42",
    "SELECT 1",
    "SELECT 'x' AS y FROM currencies WHERE code = 'EUR'",
    "INSERT INTO reservations (id, tenant_id) VALUES (1, 42)",
    "INSERT INTO reservations (id, tenant_id) VALUES (1, 42), (2, 43), (3, 44)",
    "INSERT INTO reservations (id) VALUES (1)",
    "UPDATE folios SET balance = balance - 12.5 WHERE tenant_id = 42 AND id = 9",
    "UPDATE reservations SET tenant_id = 43 WHERE tenant_id = 42",
    "DELETE FROM reservations WHERE tenant_id = 7 AND id = 1",
    "DELETE FROM reservations WHERE id = 1",
    "SELECT * FROM reservations WHERE tenant_id = 42 AND note LIKE 'a%'",
    "SELECT * FROM reservations WHERE tenant_id = 4.2e1",
    "SELECT * FROM reservations WHERE tenant_id = 42 /* shardgate: shard=shard-0 */",
    "SELECT * FROM reservations WHERE tenant_id = 42 -- trailing comment",
    "SELECT * FROM reservations WHERE tenant_id = 42 AND note = E'a\\'b'",
    "SELECT * FROM stays WHERE property_id = 5",
];

#[test]
fn the_normalised_path_routes_like_a_full_parse() {
    for sql in CORPUS {
        let fast = router();
        let a = simple(&fast, sql);
        let b = simple(&fast, sql); // second time: from the cache
        let full = router();
        let c = full.route_full_parse_for_test(sql);
        assert_eq!(a, c, "{sql}");
        assert_eq!(b, c, "{sql} (cached)");
    }
}

#[test]
fn literal_variants_share_one_plan() {
    let r = router();
    for n in 0..50 {
        let route = simple(&r, &format!("SELECT abalance FROM reservations WHERE tenant_id = {n}"));
        assert_eq!(route.target, Target::Shard(tenant(n)));
    }
    assert_eq!(r.cache_len_for_test(), 1);
}

/// Other texts for the literals of `sql`: other numbers and strings (which a remembered shape
/// reads), and texts that change the statement's shape (which it must not match).
pub(super) fn variants(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    for to in
        ["43", "7", "0", "99999999999999999999", "4.2e1", "'42'", "-42", "42 OR true", "$1", "42; DELETE FROM guests"]
    {
        out.push(sql.replacen("42", to, 1));
    }
    for to in
        ["'it''s'", "''", "'shard-2'", "'us-northeast'", "'x' || 'y'", "3", "'a", "'/* shardgate: shard=shard-0 */'"]
    {
        out.push(sql.replacen("'marriott'", to, 1));
        out.push(sql.replacen("'a%'", to, 1));
    }
    out.push(format!("{sql};"));
    out.push(format!("  {sql}"));
    out
}

#[test]
fn a_remembered_shape_routes_every_variant_like_normalising_it() {
    for sql in CORPUS {
        let r = router();
        let shapes = std::cell::RefCell::new(shape::Shapes::new());
        let with_shapes = Context { shapes: Some(&shapes), ..ctx() };
        assert_eq!(r.route(sql, None, &with_shapes), simple(&router(), sql), "{sql}");
        for v in variants(sql) {
            let expected = simple(&router(), &v);
            assert_eq!(r.route(&v, None, &with_shapes), expected, "{v} (after {sql})");
            assert_eq!(r.route(&v, None, &with_shapes), expected, "{v} again");
        }
    }
}

#[test]
fn a_statement_of_a_remembered_shape_is_not_normalised_again() {
    let r = router();
    let shapes = std::cell::RefCell::new(shape::Shapes::new());
    let with_shapes = Context { shapes: Some(&shapes), ..ctx() };
    r.route("SELECT * FROM reservations WHERE tenant_id = 1", None, &with_shapes);
    let (hits, misses) = r.cache_stats();
    for n in 2..50 {
        let route = r.route(&format!("SELECT * FROM reservations WHERE tenant_id = {n}"), None, &with_shapes);
        assert_eq!(route.target, Target::Shard(tenant(n)));
    }
    // Every later statement was a hit without a lookup; the plan cache saw no new text.
    assert_eq!(r.cache_stats(), (hits + 48, misses));
    // A router built for a reloaded map does not use the old router's shapes.
    let reloaded = router();
    let (h0, m0) = reloaded.cache_stats();
    let route = reloaded.route("SELECT * FROM reservations WHERE tenant_id = 9", None, &with_shapes);
    assert_eq!(route.target, Target::Shard(tenant(9)));
    assert_eq!(reloaded.cache_stats(), (h0, m0 + 1), "normalised and parsed afresh");
}

#[test]
fn session_hints_still_decide_a_statement_of_a_remembered_shape() {
    let r = router();
    let shapes = std::cell::RefCell::new(shape::Shapes::new());
    let with_shapes = Context { shapes: Some(&shapes), ..ctx() };
    r.route("SELECT * FROM reservations WHERE tenant_id = 1", None, &with_shapes);
    r.route("SELECT * FROM folios WHERE note = 'a'", None, &with_shapes);
    let pinned = Context { hints: Hints { shard: Some("shard-3"), keys: &[] }, ..with_shapes };
    let route = r.route("SELECT * FROM reservations WHERE tenant_id = 2", None, &pinned);
    assert_eq!(route.target, Target::Shard(ShardIdx(3)));
    let keys = [("tenant_id", "7")];
    let keyed = Context { hints: Hints { shard: None, keys: &keys }, ..with_shapes };
    let route = r.route("SELECT * FROM folios WHERE note = 'b'", None, &keyed);
    assert_eq!(route.target, Target::Shard(tenant(7)));
    // A statement with a hint comment is not remembered: its hint decides every time.
    for note in ["a", "b", "c"] {
        let sql = format!("/* shardgate: tenant_id=7 */ SELECT * FROM folios WHERE note = '{note}'");
        assert_eq!(r.route(&sql, None, &with_shapes).target, Target::Shard(tenant(7)), "{sql}");
    }
}
