//! The shards' collation verdicts: one hidden boolean per compared column, ordered (sort
//! keys, min/max) or equality-only (grouping keys, DISTINCT, count(DISTINCT)).

use super::*;
use crate::scatter::plan::CollationCheck;

/// Planned as if every compared column were text.
fn full(sql: &str) -> MergePlan {
    match plan_checked(sql, &|_| true) {
        Ok(p) => p,
        Err(e) => panic!("{sql}\n  refused: {e:?}"),
    }
}

#[test]
fn a_sort_key_gets_an_order_verdict_after_the_other_hidden_columns() {
    let p = full("SELECT id, name FROM guests ORDER BY name LIMIT 5");
    assert_eq!(p.collations, vec![CollationCheck { column: item(1), verdict: hidden(0), ordered: true }]);
    assert_eq!(p.hidden, 1);
    assert!(
        p.shard_sql.starts_with("SELECT id, name, ((pg_collation_for(name) COLLATE \"C\") = ANY("),
        "{}",
        p.shard_sql
    );
    assert!(p.shard_sql.contains("collcollate IN ('C', 'POSIX')"), "{}", p.shard_sql);
    assert!(p.shard_sql.ends_with("AS \"_sg_v0\" FROM guests ORDER BY name LIMIT 5"), "{}", p.shard_sql);
}

#[test]
fn grouping_keys_need_only_deterministic_collations_and_min_max_need_order() {
    let p = full("SELECT brand, min(name), count(*) FROM guests GROUP BY brand");
    let ordered: Vec<(ColumnRef, bool)> = p.collations.iter().map(|c| (c.column, c.ordered)).collect();
    assert_eq!(ordered, vec![(item(1), true), (item(0), false)]);
    assert!(p.shard_sql.contains("pg_collation_for(min(name))"), "{}", p.shard_sql);
    assert!(p.shard_sql.contains("WHERE c.collisdeterministic"), "{}", p.shard_sql);
}

#[test]
fn plain_streams_compare_nothing_and_carry_no_verdict() {
    let p = full("SELECT * FROM guests WHERE tenant_id > 5");
    assert!(p.collations.is_empty());
    assert_eq!(p.hidden, 0);
}

#[test]
fn only_the_columns_asked_for_get_a_verdict() {
    let p = plan_checked("SELECT id, name FROM guests ORDER BY id, name", &|c| c == item(1)).unwrap();
    assert_eq!(p.text_compared, vec![item(0), item(1)]);
    assert_eq!(p.collations, vec![CollationCheck { column: item(1), verdict: hidden(0), ordered: true }]);
    assert!(!p.shard_sql.contains("pg_collation_for(id)"), "{}", p.shard_sql);
}

#[test]
fn an_explicit_collate_is_planned_and_left_to_the_shards_verdict() {
    let p = full("SELECT name FROM guests ORDER BY name COLLATE \"C\"");
    assert_eq!(p.collations, vec![CollationCheck { column: hidden(0), verdict: hidden(1), ordered: true }]);
    assert!(p.shard_sql.contains("pg_collation_for(name COLLATE \"C\")"), "{}", p.shard_sql);
}
