//! Grouping merges: aggregates, GROUP BY, HAVING, and ORDER BY over groups.

use super::*;
use crate::scatter::plan::{ColumnMerge as M, CompareOp, Count, GroupPlan, Operand, Predicate, Shape};

fn group(p: &MergePlan) -> &GroupPlan {
    match &p.shape {
        Shape::Group(g) => g,
        Shape::Stream => panic!("expected a grouping plan: {p:?}"),
    }
}

#[test]
fn counting_guests_is_one_group_of_summed_counts() {
    let p = ok("SELECT count(*) FROM guests");
    assert_eq!(p.shard_sql, "SELECT count(*) FROM guests");
    assert_eq!(group(&p), &GroupPlan { keys: vec![], columns: vec![M::Count], having: None });
    assert_eq!((p.hidden, p.order.len()), (0, 0));
}

#[test]
fn revenue_per_brand_moves_order_by_to_the_proxy() {
    let p = ok("SELECT brand_id, sum(amount) FROM reservations WHERE created_at >= '2026-11-01' \
                GROUP BY brand_id ORDER BY 2 DESC");
    assert_eq!(
        p.shard_sql,
        "SELECT brand_id, sum(amount) FROM reservations WHERE created_at >= '2026-11-01' GROUP BY brand_id"
    );
    assert_eq!(group(&p), &GroupPlan { keys: vec![item(0)], columns: vec![M::Key, M::Sum], having: None });
    assert_eq!(p.order, vec![desc(item(1))]);
    assert_eq!(p.text_compared, vec![item(1), item(0)]);
}

#[test]
fn average_nights_with_having_count_splits_avg_and_hides_the_count() {
    let p = ok("SELECT tenant_id, avg(nights) FROM reservations GROUP BY tenant_id HAVING count(*) > 10");
    assert_eq!(
        p.shard_sql,
        "SELECT tenant_id, sum(nights) AS avg, count(nights) AS \"_sg_c0\", count(*) AS \"_sg_a1\" \
         FROM reservations GROUP BY tenant_id"
    );
    let g = group(&p);
    assert_eq!(g.keys, vec![item(0)]);
    assert_eq!(g.columns, vec![M::Key, M::AvgSum { count: 2 }, M::AvgCount, M::Count]);
    assert_eq!(
        g.having,
        Some(Predicate::Compare {
            left: Operand::Column(hidden(1)),
            op: CompareOp::Gt,
            right: Operand::Literal("10".into())
        })
    );
    assert_eq!(p.hidden, 2);
}

#[test]
fn an_aliased_avg_keeps_its_alias() {
    let p = ok("SELECT avg(amount) AS mean FROM reservations");
    assert_eq!(p.shard_sql, "SELECT sum(amount) AS mean, count(amount) AS \"_sg_c0\" FROM reservations");
}

#[test]
fn min_max_and_booleans_merge_by_kind() {
    let p = ok("SELECT property_id, min(check_in), max(check_out), bool_and(paid), every(vip), bool_or(late) \
                FROM reservations GROUP BY 1");
    let g = group(&p);
    assert_eq!(g.columns, vec![M::Key, M::Min, M::Max, M::BoolAnd, M::BoolAnd, M::BoolOr]);
    assert_eq!(g.keys, vec![item(0)]);
    assert_eq!(p.text_compared, vec![item(1), item(2), item(0)]);
    assert!(p.shard_sql.ends_with("GROUP BY 1"));
}

#[test]
fn group_keys_not_selected_become_hidden_columns() {
    let p = ok("SELECT sum(amount) FROM reservations GROUP BY brand_id, region_code");
    assert_eq!(
        p.shard_sql,
        "SELECT sum(amount), brand_id AS \"_sg_g0\", region_code AS \"_sg_g1\" FROM reservations \
         GROUP BY brand_id, region_code"
    );
    assert_eq!(group(&p).keys, vec![hidden(0), hidden(1)]);
    assert_eq!(group(&p).columns, vec![M::Sum, M::Key, M::Key]);
}

#[test]
fn count_distinct_groups_the_shards_by_its_argument() {
    let p = ok(
        "SELECT property_id, count(DISTINCT guest_id), count(*), sum(amount) FROM reservations GROUP BY property_id",
    );
    assert_eq!(
        p.shard_sql,
        "SELECT property_id, guest_id AS count, count(*), sum(amount) FROM reservations GROUP BY property_id, guest_id"
    );
    let g = group(&p);
    assert_eq!(g.keys, vec![item(0)]);
    assert_eq!(g.columns, vec![M::Key, M::CountDistinct, M::Count, M::Sum]);
    assert_eq!(p.text_compared, vec![item(1), item(0)]);
}

#[test]
fn count_distinct_without_group_by_adds_a_group_by() {
    let p = ok("SELECT count(DISTINCT guest_id) AS guests FROM reservations");
    assert_eq!(p.shard_sql, "SELECT guest_id AS guests FROM reservations GROUP BY guest_id");
    assert_eq!(group(&p).keys, vec![]);
}

#[test]
fn order_by_an_unselected_aggregate_hides_it() {
    let p = ok("SELECT brand_id FROM reservations GROUP BY brand_id ORDER BY count(*) DESC, avg(amount) LIMIT 5");
    assert_eq!(
        p.shard_sql,
        "SELECT brand_id, count(*) AS \"_sg_a0\", sum(amount) AS \"_sg_a1\", count(amount) AS \"_sg_c2\" \
         FROM reservations GROUP BY brand_id"
    );
    assert_eq!(group(&p).columns, vec![M::Key, M::Count, M::AvgSum { count: 3 }, M::AvgCount]);
    assert_eq!(p.order, vec![desc(hidden(0)), asc(hidden(1))]);
    assert_eq!(p.limit, Some(Count::Literal(5)));
}

#[test]
fn order_by_names_match_output_names_including_aggregates() {
    let p = ok("SELECT brand_id AS brand, count(*), sum(amount) AS revenue FROM reservations \
                GROUP BY brand_id ORDER BY revenue DESC, count, brand");
    assert_eq!(p.order, vec![desc(item(2)), asc(item(1)), asc(item(0))]);
    assert_eq!(p.hidden, 0);
    assert_eq!(group(&p).keys, vec![item(0)]);
}

#[test]
fn order_by_the_same_aggregate_expression_uses_the_item() {
    let p = ok("SELECT brand_id, COUNT(*) FROM reservations GROUP BY brand_id ORDER BY count(*) DESC");
    assert_eq!((p.order.clone(), p.hidden), (vec![desc(item(1))], 0));
}

#[test]
fn having_combines_comparisons_null_tests_and_between() {
    let p = ok("SELECT brand_id, sum(amount) FROM reservations GROUP BY brand_id \
                HAVING (sum(amount) >= 100 OR max(amount) IS NULL) AND NOT count(*) BETWEEN 1 AND 3 AND brand_id <> 'x'");
    let g = group(&p);
    let c = |r| Operand::Column(r);
    let lit = |s: &str| Operand::Literal(s.into());
    let cmp = |left, op, right| Predicate::Compare { left, op, right };
    let expected = Predicate::And(
        Box::new(Predicate::And(
            Box::new(Predicate::Or(
                Box::new(cmp(c(item(1)), CompareOp::GtEq, lit("100"))),
                Box::new(Predicate::IsNull { operand: c(hidden(0)), negated: false }),
            )),
            Box::new(Predicate::Not(Box::new(Predicate::And(
                Box::new(cmp(c(hidden(1)), CompareOp::GtEq, lit("1"))),
                Box::new(cmp(c(hidden(1)), CompareOp::LtEq, lit("3"))),
            )))),
        )),
        Box::new(cmp(c(item(0)), CompareOp::NotEq, lit("x"))),
    );
    assert_eq!(g.having, Some(expected));
    assert_eq!(g.columns, vec![M::Key, M::Sum, M::Max, M::Count]);
    assert_eq!(p.text_compared, vec![hidden(0), item(0)]);
}

#[test]
fn having_keeps_casted_constants_on_the_shards() {
    let p = ok("SELECT brand_id FROM reservations GROUP BY brand_id HAVING max(created_at) > '2026-11-01'::date");
    assert_eq!(
        p.shard_sql,
        "SELECT brand_id, max(created_at) AS \"_sg_a0\", '2026-11-01'::DATE AS \"_sg_h1\" FROM reservations GROUP BY brand_id"
    );
    let having = group(&p).having.clone();
    assert_eq!(
        having,
        Some(Predicate::Compare {
            left: Operand::Column(hidden(0)),
            op: CompareOp::Gt,
            right: Operand::Column(hidden(1))
        })
    );
}

#[test]
fn having_without_group_by_is_one_group() {
    let p = ok("SELECT 1 FROM reservations HAVING count(*) > 0");
    assert_eq!(p.shard_sql, "SELECT 1, count(*) AS \"_sg_a0\" FROM reservations");
    assert_eq!(group(&p).keys, vec![]);
}

#[test]
fn group_by_only_is_distinct_keys() {
    let p = ok("SELECT status FROM reservations GROUP BY status");
    assert_eq!(p.shard_sql, "SELECT status FROM reservations GROUP BY status");
    assert_eq!(group(&p), &GroupPlan { keys: vec![item(0)], columns: vec![M::Key], having: None });
}

#[test]
fn aggregates_with_filter_keep_their_filter() {
    let p = ok("SELECT count(*) FILTER (WHERE paid), avg(amount) FILTER (WHERE paid) FROM reservations");
    assert_eq!(
        p.shard_sql,
        "SELECT count(*) FILTER (WHERE paid), sum(amount) FILTER (WHERE paid) AS avg, \
         count(amount) FILTER (WHERE paid) AS \"_sg_c0\" FROM reservations"
    );
}

#[test]
fn having_a_boolean_aggregate_compares_it_with_true() {
    let p = ok("SELECT count(*) FROM t GROUP BY brand_id HAVING bool_and(paid)");
    assert_eq!(
        p.shard_sql,
        "SELECT count(*), brand_id AS \"_sg_g0\", bool_and(paid) AS \"_sg_a1\" FROM t GROUP BY brand_id"
    );
    assert_eq!(
        group(&p).having,
        Some(Predicate::Compare {
            left: Operand::Column(hidden(1)),
            op: CompareOp::Eq,
            right: Operand::Literal("true".into())
        })
    );
}

#[test]
fn a_scalar_subquery_item_is_named_after_its_column() {
    let p = ok("SELECT brand_id, (SELECT name FROM brands b WHERE b.id = r.brand_id), count(*) FROM r \
                GROUP BY brand_id ORDER BY name");
    assert_eq!((p.order.clone(), p.hidden), (vec![asc(item(1))], 0));
}
