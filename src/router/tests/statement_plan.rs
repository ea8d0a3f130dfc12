//! A prepared statement's remembered plan (`StatementPlan`): bound again, the statement routes
//! exactly as through the plan cache; hints still decide; a reloaded router makes its own plan.

use super::*;

fn with_slot<'a>(slot: &'a StatementPlan, explain: bool) -> Context<'a> {
    Context { explain, statement: Some(slot), ..ctx() }
}

fn bind(r: &Router, sql: &str, value: &[u8], c: &Context<'_>) -> Route {
    let values = [Some(value)];
    r.route(sql, Some(&Params { types: &[], formats: &[], values: &values }), c)
}

#[test]
fn a_statement_bound_again_routes_as_through_the_plan_cache() {
    let statements = [
        "SELECT * FROM reservations WHERE tenant_id = $1",
        "SELECT * FROM reservations r JOIN guests g USING (tenant_id) WHERE r.tenant_id = $1",
        "SELECT * FROM reservations WHERE tenant_id = ANY($1)",
        "UPDATE folios SET balance = 0 WHERE tenant_id = $1",
        "INSERT INTO reservations (id, tenant_id) VALUES (1, $1)",
        "SELECT * FROM reservations WHERE id = $1",
        "DELETE FROM reservations WHERE id = $1",
        "SELECT * FROM stays WHERE property_id = $1",
        "SELECT * FROM currencies WHERE code = $1",
    ];
    let values: [&[u8]; 5] = [b"42", b"7", b"{1,42}", b"forty-two", b"-3"];
    for explain in [false, true] {
        let r = router();
        for sql in statements {
            let slot = StatementPlan::default();
            for v in values {
                let c = with_slot(&slot, explain);
                let expected = bind(&router(), sql, v, &Context { explain, ..ctx() });
                assert_eq!(bind(&r, sql, v, &c), expected, "{sql} with {v:?}");
                assert_eq!(bind(&r, sql, v, &c), expected, "{sql} with {v:?}, remembered");
            }
        }
    }
}

#[test]
fn a_remembered_plan_skips_the_plan_cache_and_is_not_used_by_a_reloaded_router() {
    let r = router();
    let slot = StatementPlan::default();
    let sql = "SELECT * FROM reservations WHERE tenant_id = $1";
    bind(&r, sql, b"1", &with_slot(&slot, false));
    let (hits, misses) = r.cache_stats();
    for n in 2..20i64 {
        let route = bind(&r, sql, n.to_string().as_bytes(), &with_slot(&slot, false));
        assert_eq!(route.target, Target::Shard(tenant(n)));
    }
    assert_eq!(r.cache_stats(), (hits + 18, misses), "every later Bind used the remembered plan");
    let reloaded = router();
    let (h0, m0) = reloaded.cache_stats();
    assert_eq!(bind(&reloaded, sql, b"9", &with_slot(&slot, false)).target, Target::Shard(tenant(9)));
    assert_eq!(reloaded.cache_stats(), (h0, m0 + 1), "planned afresh by the new router");
}

#[test]
fn hints_still_decide_a_statement_with_a_remembered_plan() {
    let r = router();
    let slot = StatementPlan::default();
    let sql = "SELECT * FROM reservations WHERE tenant_id = $1";
    bind(&r, sql, b"42", &with_slot(&slot, false));
    // A session shard hint pins it.
    let pinned = Context { hints: Hints { shard: Some("shard-3"), keys: &[] }, ..with_slot(&slot, false) };
    assert_eq!(bind(&r, sql, b"42", &pinned).target, Target::Shard(ShardIdx(3)));
    // A statement with a hint comment is never remembered: its hint keeps deciding.
    let hinted = "/* shardgate: shard=shard-2 */ SELECT * FROM reservations WHERE tenant_id = $1";
    let slot = StatementPlan::default();
    for _ in 0..3 {
        assert_eq!(bind(&r, hinted, b"42", &with_slot(&slot, false)).target, Target::Shard(ShardIdx(2)));
    }
    let keyed = "/* shardgate: tenant_id=7 */ SELECT * FROM folios WHERE $1::int IS NOT NULL";
    let slot = StatementPlan::default();
    for _ in 0..3 {
        assert_eq!(bind(&r, keyed, b"1", &with_slot(&slot, false)).target, Target::Shard(tenant(7)));
    }
}
