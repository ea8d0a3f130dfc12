//! Comment and session hints.

use super::*;

#[test]
fn a_shard_hint_pins_the_statement() {
    let r = router();
    for sql in [
        "/* shardgate: shard=shard-2 */ SELECT * FROM reservations",
        "SELECT * FROM reservations /* shardgate: shard=shard-2 */",
        "UPDATE folios SET x = 1 -- shardgate: shard=shard-2\n",
        "/* shardgate: shard=shard-2 */ SELECT * FROM mystery",
    ] {
        let route = simple(&r, sql);
        assert_eq!(route.target, Target::Shard(ShardIdx(2)), "{sql}");
        assert_eq!(route.reason, "hint shard=shard-2");
    }
}

#[test]
fn an_unknown_shard_hint_is_refused_with_the_shard_names() {
    let r = router();
    assert_refused(
        &simple(&r, "/* shardgate: shard=shard-9 */ SELECT 1"),
        "unknown shard \"shard-9\"",
        "use one of: shard-0, shard-1, shard-2, shard-3",
    );
}

#[test]
fn a_key_hint_serves_tables_without_a_key_of_their_own() {
    let r = router();
    let route = simple(&r, "/* shardgate: tenant_id=42 */ UPDATE folios SET x = 1 WHERE id = 7");
    assert_eq!(route.target, Target::Shard(tenant(42)), "{}", route.reason);
    let route = simple(&r, "/* shardgate: brand_id=marriott, region_code=us-west */ SELECT * FROM hotels");
    assert_eq!(route.target, Target::Shard(ShardIdx(1)));
    // The statement's own key wins over a key hint.
    let b = other_tenant();
    let route = simple(&r, &format!("/* shardgate: tenant_id={b} */ SELECT * FROM folios WHERE tenant_id = 42"));
    assert_eq!(route.target, Target::Shard(tenant(42)));
}

#[test]
fn session_hints_apply_and_comment_hints_beat_them() {
    let r = router();
    let keys = [("tenant_id", "42")];
    let c = Context {
        hints: Hints { shard: None, keys: &keys },
        lookups: &NoLookups,
        explain: true,
        shapes: None,
        statement: None,
    };
    assert_eq!(r.route("SELECT * FROM folios", None, &c).target, Target::Shard(tenant(42)));
    let b = other_tenant().to_string();
    let sql = format!("/* shardgate: tenant_id={b} */ SELECT * FROM folios");
    assert_eq!(r.route(&sql, None, &c).target, Target::Shard(tenant(other_tenant())));
    let c = Context {
        hints: Hints { shard: Some("shard-3"), keys: &[] },
        lookups: &NoLookups,
        explain: true,
        shapes: None,
        statement: None,
    };
    assert_eq!(r.route("SELECT * FROM folios", None, &c).target, Target::Shard(ShardIdx(3)));
    assert_eq!(
        r.route("/* shardgate: shard=shard-0 */ SELECT * FROM folios", None, &c).target,
        Target::Shard(ShardIdx(0))
    );
}
