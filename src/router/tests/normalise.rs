//! The literal-normalised path must route exactly like a full parse of the original text.

use super::*;

/// A corpus of simple-protocol statements with literals; each is routed through the
/// normalised path (`route`) and through a full parse of the original text, on a fresh
/// router so neither sees the other's cache.
const CORPUS: &[&str] = &[
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
