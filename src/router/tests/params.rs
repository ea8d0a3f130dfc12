//! Bind parameters: text and binary, int2/int4/int8, arrays for `= ANY($1)`, NULL.

use super::*;

fn bind(r: &Router, sql: &str, formats: &[i16], values: &[Option<&[u8]>]) -> Route {
    let p = Params { types: &[], formats, values };
    r.route(sql, Some(&p), &ctx())
}

#[test]
fn text_and_binary_parameters_of_every_int_width_route_like_the_literal() {
    let r = router();
    let sql = "SELECT * FROM reservations WHERE tenant_id = $1";
    let t = Target::Shard(tenant(42));
    assert_eq!(simple(&r, "SELECT * FROM reservations WHERE tenant_id = 42").target, t);
    assert_eq!(simple(&r, "SELECT * FROM reservations WHERE tenant_id = '42'").target, t);
    assert_eq!(bind(&r, sql, &[], &[Some(b"42")]).target, t);
    assert_eq!(bind(&r, sql, &[0], &[Some(b"42")]).target, t);
    assert_eq!(bind(&r, sql, &[1], &[Some(&42i16.to_be_bytes())]).target, t);
    assert_eq!(bind(&r, sql, &[1], &[Some(&42i32.to_be_bytes())]).target, t);
    assert_eq!(bind(&r, sql, &[1], &[Some(&42i64.to_be_bytes())]).target, t);
    assert_eq!(
        bind(
            &r,
            "SELECT * FROM reservations WHERE tenant_id = CAST($1 AS bigint)",
            &[1],
            &[Some(&42i64.to_be_bytes())]
        )
        .target,
        t
    );
    assert_eq!(bind(&r, "SELECT * FROM reservations WHERE tenant_id = $1::int8", &[], &[Some(b"42")]).target, t);
    // Per-parameter formats.
    let two = "SELECT * FROM reservations WHERE note = $1 AND tenant_id = $2";
    assert_eq!(bind(&r, two, &[0, 1], &[Some(b"x"), Some(&42i32.to_be_bytes())]).target, t);
}

#[test]
fn bad_parameter_values_are_bad_keys() {
    let r = router();
    let route = bind(&r, "SELECT * FROM reservations WHERE tenant_id = $1", &[1], &[Some(&[1, 2, 3])]);
    let (code, msg, hint) = refusal(&route);
    assert_eq!(code, "22P02");
    assert!(msg.contains("binary value of 3 bytes"), "{msg}");
    assert!(hint.contains("bigint"), "{hint}");
    let route = bind(&r, "SELECT * FROM reservations WHERE tenant_id = $1", &[], &[Some(b"forty-two")]);
    assert_eq!(refusal(&route).0, "22P02");
}

#[test]
fn a_null_key_matches_no_row() {
    let r = router();
    let route = bind(&r, "SELECT * FROM reservations WHERE tenant_id = $1", &[], &[None]);
    assert_eq!(route.target, Target::Any, "{}", route.reason);
}

#[test]
fn any_of_an_array_parameter_in_text_and_binary_form() {
    let r = router();
    let b = other_tenant();
    let mut both = vec![tenant(42), tenant(b)];
    both.sort();
    let sql = "SELECT * FROM reservations WHERE tenant_id = ANY($1)";
    let text = format!("{{42,{b}}}");
    assert_eq!(bind(&r, sql, &[], &[Some(text.as_bytes())]).target, Target::Shards(both.clone()));
    assert_eq!(bind(&r, sql, &[], &[Some(b"{42}")]).target, Target::Shard(tenant(42)));
    let mut arr = Vec::new();
    for v in [1i32, 0, 20, 2, 1] {
        arr.extend_from_slice(&v.to_be_bytes());
    }
    for v in [42i64, b] {
        arr.extend_from_slice(&8i32.to_be_bytes());
        arr.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(bind(&r, sql, &[1], &[Some(&arr)]).target, Target::Shards(both));
    let mut arr4 = Vec::new();
    for v in [1i32, 0, 23, 1, 1, 4, 42] {
        arr4.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(
        bind(&r, "SELECT * FROM reservations WHERE tenant_id = ANY($1::int4[])", &[1], &[Some(&arr4)]).target,
        Target::Shard(tenant(42))
    );
}

#[test]
fn parameters_in_a_simple_query_constrain_nothing() {
    let r = router();
    assert_eq!(simple(&r, "SELECT * FROM reservations WHERE tenant_id = $1").target, Target::Shards(all()));
}

#[test]
fn the_plan_is_cached_and_reused_with_new_values() {
    let r = router();
    let sql = "SELECT * FROM reservations WHERE tenant_id = $1";
    for n in [1i64, 42, 7, 1000, -3] {
        let v = n.to_string();
        assert_eq!(ext(&r, sql, &[&v]).target, Target::Shard(tenant(n)));
    }
    assert_eq!(r.cache_len_for_test(), 1);
}
