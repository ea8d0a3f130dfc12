//! The point shortcut (`resolve::Point`) must route exactly like the general evaluation.
//! `explain: true` always takes the general path, so each statement is routed both ways and
//! everything but the reason text must agree.

use super::normalise::{variants, CORPUS};
use super::*;

fn both_ways(r: &Router, sql: &str, params: Option<&Params<'_>>) -> (Route, Route) {
    let quick = r.route(sql, params, &Context { explain: false, ..ctx() });
    let general = r.route(sql, params, &ctx());
    (quick, general)
}

fn assert_same(r: &Router, sql: &str, params: Option<&Params<'_>>) {
    let (quick, general) = both_ways(r, sql, params);
    assert_eq!(quick.target, general.target, "{sql} {params:?}");
    assert_eq!(quick.write, general.write, "{sql}");
    assert_eq!(quick.tenant, general.tenant, "{sql}");
    assert_eq!(quick.read_from, general.read_from, "{sql}");
}

#[test]
fn the_point_shortcut_routes_every_simple_statement_like_the_general_path() {
    let r = router();
    for sql in CORPUS {
        assert_same(&r, sql, None);
        for v in variants(sql) {
            assert_same(&r, &v, None);
        }
    }
}

#[test]
fn the_point_shortcut_routes_every_bind_like_the_general_path() {
    let r = router();
    let statements = [
        "SELECT * FROM reservations WHERE tenant_id = $1",
        "SELECT * FROM reservations WHERE tenant_id = -$1",
        "SELECT * FROM reservations r WHERE r.tenant_id = $1 AND r.id = 3",
        "UPDATE folios SET balance = 0 WHERE tenant_id = $1",
        "UPDATE reservations SET tenant_id = $1 WHERE tenant_id = $1",
        "DELETE FROM reservations WHERE tenant_id = $1",
        "INSERT INTO reservations (id, tenant_id) VALUES (1, $1)",
        "INSERT INTO reservations (id, tenant_id) SELECT 1, $1",
        "SELECT * FROM reservations WHERE tenant_id = $1 OR tenant_id = 7",
        "SELECT * FROM reservations WHERE tenant_id = ANY($1)",
        "SELECT * FROM reservations r JOIN guests g USING (tenant_id) WHERE r.tenant_id = $1",
        "SELECT * FROM hotels WHERE brand_id = $1 AND region_code = 'us-west'",
        "SELECT * FROM stays WHERE property_id = $1",
    ];
    let values: [(&[i16], Option<&[u8]>); 12] = [
        (&[], Some(b"42")),
        (&[], Some(b" 42 ")),
        (&[], Some(b"-7")),
        (&[], Some(b"marriott")),
        (&[], Some(b"forty-two")),
        (&[], Some(b"{1,42}")),
        (&[], None),
        (&[1], Some(&42i16.to_be_bytes())),
        (&[1], Some(&42i32.to_be_bytes())),
        (&[1], Some(&i64::MIN.to_be_bytes())),
        (&[1], Some(&[1, 2, 3])),
        (&[0], Some(&[0xff, 0xfe])),
    ];
    for sql in statements {
        for (formats, value) in values {
            let vals = [value];
            let p = Params { types: &[], formats, values: &vals };
            assert_same(&r, sql, Some(&p));
        }
        // No Bind values at all (a Describe before Bind).
        assert_same(&r, sql, None);
    }
}

#[test]
fn the_point_shortcut_keeps_table_read_from() {
    let extra = "table_read_from:\n  reservations: primary\n";
    let r = router_with(extra);
    assert_same(&r, "SELECT * FROM reservations WHERE tenant_id = 42", None);
    let route = r.route("SELECT * FROM reservations WHERE tenant_id = 42", None, &Context { explain: false, ..ctx() });
    assert_eq!(route.read_from, Some(crate::shardmap::ReadFrom::Primary));
}

#[test]
fn only_single_table_statements_with_one_value_per_key_column_are_points() {
    let r = router();
    let is_point = |sql: &str| match &r.parse(sql).body {
        plan::Body::Tables(t) => resolve::Point::of(r.parse(sql).kind, t).is_some(),
        _ => false,
    };
    assert!(is_point("SELECT * FROM reservations WHERE tenant_id = 42"));
    assert!(is_point("SELECT * FROM reservations r WHERE r.tenant_id = $1 AND r.id = 3"));
    assert!(is_point("DELETE FROM reservations WHERE tenant_id = $1"));
    assert!(is_point("SELECT * FROM hotels WHERE brand_id = 'marriott' AND region_code = 'us-west'"));
    assert!(!is_point("SELECT * FROM reservations WHERE tenant_id IN (1, 2)"));
    assert!(!is_point("SELECT * FROM reservations WHERE tenant_id = ANY($1)"));
    assert!(!is_point("SELECT * FROM reservations r JOIN guests g USING (tenant_id) WHERE r.tenant_id = 1"));
    assert!(!is_point("INSERT INTO reservations (id, tenant_id) VALUES (1, 42)"));
    assert!(!is_point("UPDATE reservations SET tenant_id = 43 WHERE tenant_id = 42"));
    assert!(!is_point("SELECT * FROM reservations WHERE id = 1"));
    assert!(!is_point("SELECT * FROM currencies WHERE code = 'EUR'"));
}
