//! Parameters: `$n` survive unchanged, none are added, none are lost.

use super::*;
use crate::scatter::plan::{CompareOp, Count, Operand, Predicate, Shape};

#[test]
fn parameters_in_where_and_limit_are_kept() {
    let p =
        ok("SELECT * FROM reservations WHERE tenant_id = $1 AND created_at >= $2 ORDER BY created_at DESC LIMIT $3");
    assert_eq!(
        p.shard_sql,
        "SELECT *, created_at AS \"_sg_o0\" FROM reservations WHERE tenant_id = $1 AND created_at >= $2 \
         ORDER BY created_at DESC LIMIT $3"
    );
    assert_eq!((p.limit, p.offset), (Some(Count::Param(2)), None));
}

#[test]
fn a_parameter_offset_drops_the_shard_limit_but_keeps_both_parameters() {
    let p = ok("SELECT id FROM reservations ORDER BY id LIMIT $1 OFFSET $2");
    assert_eq!(
        p.shard_sql,
        "SELECT id, CAST($1 AS BIGINT) AS \"_sg_p0\", CAST($2 AS BIGINT) AS \"_sg_p1\" FROM reservations ORDER BY id"
    );
    assert_eq!((p.limit, p.offset, p.hidden), (Some(Count::Param(0)), Some(Count::Param(1)), 2));
}

#[test]
fn a_parameter_limit_with_a_literal_offset_drops_the_shard_limit() {
    let p = ok("SELECT id FROM reservations ORDER BY id LIMIT $1 OFFSET 10");
    assert_eq!(p.shard_sql, "SELECT id, CAST($1 AS BIGINT) AS \"_sg_p0\" FROM reservations ORDER BY id");
}

#[test]
fn having_parameters_travel_in_a_hidden_copy_of_having() {
    let p = ok("SELECT tenant_id, count(*) FROM reservations WHERE brand_id = $1 GROUP BY tenant_id \
                HAVING count(*) > $2 ORDER BY 2 DESC LIMIT $3");
    assert_eq!(
        p.shard_sql,
        "SELECT tenant_id, count(*), (count(*) > $2) AS \"_sg_p0\", CAST($3 AS BIGINT) AS \"_sg_p1\" \
         FROM reservations WHERE brand_id = $1 GROUP BY tenant_id"
    );
    let Shape::Group(g) = &p.shape else { panic!("{p:?}") };
    assert_eq!(
        g.having,
        Some(Predicate::Compare { left: Operand::Column(item(1)), op: CompareOp::Gt, right: Operand::Param(1) })
    );
    assert_eq!(p.limit, Some(Count::Param(2)));
}

#[test]
fn fetch_first_parameter_becomes_limit_parameter() {
    let p = ok("SELECT id FROM guests ORDER BY id FETCH FIRST $1 ROWS ONLY");
    assert_eq!(p.shard_sql, "SELECT id FROM guests ORDER BY id LIMIT $1");
    assert_eq!(p.limit, Some(Count::Param(0)));
}

#[test]
fn distinct_and_grouping_plans_carry_limit_parameters_as_constants() {
    let p = ok("SELECT DISTINCT a FROM t ORDER BY a LIMIT $1 OFFSET $2");
    assert_eq!(
        p.shard_sql,
        "SELECT DISTINCT a, CAST($1 AS BIGINT) AS \"_sg_p0\", CAST($2 AS BIGINT) AS \"_sg_p1\" FROM t"
    );
    let Shape::Group(g) = &p.shape else { panic!("{p:?}") };
    assert_eq!(g.keys, vec![item(0)]);
    let p = ok("SELECT sum(x) FROM t LIMIT $1");
    assert_eq!(p.shard_sql, "SELECT sum(x), CAST($1 AS BIGINT) AS \"_sg_p0\" FROM t");
}

#[test]
fn a_parameter_used_twice_in_having_is_carried_once() {
    let p = ok("SELECT min(x) AS lo, max(x) FROM r HAVING min(x) < $1 AND max(x) > $1");
    assert_eq!(p.shard_sql, "SELECT min(x) AS lo, max(x), (min(x) < $1 AND max(x) > $1) AS \"_sg_p0\" FROM r");
}
