//! Streaming merges: plain SELECT, ORDER BY keys, LIMIT / OFFSET / FETCH, SELECT DISTINCT.

use super::*;
use crate::scatter::plan::{ColumnMerge, Count, GroupPlan, Shape, SortKey};

#[test]
fn a_plain_select_streams_unchanged() {
    let p = ok("SELECT id, name FROM guests WHERE vip");
    assert_eq!(p.shard_sql, "SELECT id, name FROM guests WHERE vip");
    assert_eq!(p.shape, Shape::Stream);
    assert_eq!((p.hidden, p.order.len(), p.limit, p.offset), (0, 0, None, None));
    assert!(p.text_compared.is_empty());
}

#[test]
fn the_latest_reservations_keep_their_limit_on_every_shard() {
    let p = ok("SELECT * FROM reservations ORDER BY created_at DESC LIMIT 20");
    assert_eq!(p.shard_sql, "SELECT *, created_at AS \"_sg_o0\" FROM reservations ORDER BY created_at DESC LIMIT 20");
    assert_eq!(p.order, vec![desc(hidden(0))]);
    assert_eq!((p.hidden, p.limit, p.offset), (1, Some(Count::Literal(20)), None));
    assert_eq!(p.text_compared, vec![hidden(0)]);
}

#[test]
fn sort_keys_resolve_by_position_alias_and_expression() {
    let p = ok("SELECT id, amount * 2 AS doubled, lower(name) FROM reservations \
                ORDER BY 2, doubled DESC, lower(name) NULLS FIRST, id DESC NULLS LAST");
    assert_eq!(p.hidden, 0);
    assert_eq!(
        p.order,
        vec![
            asc(item(1)),
            desc(item(1)),
            SortKey { column: item(2), descending: false, nulls_first: true },
            SortKey { column: item(0), descending: true, nulls_first: false },
        ]
    );
    assert!(p.shard_sql.ends_with("ORDER BY 2, doubled DESC, lower(name) NULLS FIRST, id DESC NULLS LAST"));
}

#[test]
fn a_qualified_column_is_found_by_its_output_name() {
    let p = ok("SELECT r.id, r.created_at FROM reservations r ORDER BY created_at");
    assert_eq!((p.order.clone(), p.hidden), (vec![asc(item(1))], 0));
}

#[test]
fn a_key_after_a_wildcard_is_hidden_with_the_items_expression() {
    let p = ok("SELECT *, amount * 2 AS doubled FROM reservations ORDER BY doubled");
    assert_eq!(
        p.shard_sql,
        "SELECT *, amount * 2 AS doubled, amount * 2 AS \"_sg_o0\" FROM reservations ORDER BY doubled"
    );
    assert_eq!(p.order, vec![asc(hidden(0))]);
}

#[test]
fn a_key_before_the_wildcard_keeps_its_position() {
    let p = ok("SELECT id, * FROM reservations ORDER BY 1 DESC");
    assert_eq!((p.order.clone(), p.hidden), (vec![desc(item(0))], 0));
}

#[test]
fn limit_and_offset_literals_become_one_shard_limit() {
    let p = ok("SELECT id FROM reservations ORDER BY id LIMIT 10 OFFSET 30");
    assert_eq!(p.shard_sql, "SELECT id FROM reservations ORDER BY id LIMIT 40");
    assert_eq!((p.limit, p.offset), (Some(Count::Literal(10)), Some(Count::Literal(30))));
}

#[test]
fn offset_alone_leaves_the_shards_unlimited() {
    let p = ok("SELECT id FROM reservations ORDER BY id OFFSET 5");
    assert_eq!(p.shard_sql, "SELECT id FROM reservations ORDER BY id");
    assert_eq!((p.limit, p.offset), (None, Some(Count::Literal(5))));
}

#[test]
fn limit_all_and_limit_null_mean_no_limit() {
    for sql in ["SELECT id FROM guests LIMIT ALL", "SELECT id FROM guests LIMIT NULL"] {
        let p = ok(sql);
        assert_eq!((p.shard_sql.as_str(), p.limit), ("SELECT id FROM guests", None), "{sql}");
    }
}

#[test]
fn fetch_first_is_a_limit() {
    let p = ok("SELECT id FROM guests ORDER BY id OFFSET 2 ROWS FETCH FIRST 3 ROWS ONLY");
    assert_eq!(p.shard_sql, "SELECT id FROM guests ORDER BY id LIMIT 5");
    assert_eq!((p.limit, p.offset), (Some(Count::Literal(3)), Some(Count::Literal(2))));
    let p = ok("SELECT id FROM guests FETCH FIRST ROW ONLY");
    assert_eq!((p.shard_sql.as_str(), p.limit), ("SELECT id FROM guests LIMIT 1", Some(Count::Literal(1))));
}

#[test]
fn a_limit_too_large_to_add_leaves_the_shards_unlimited() {
    let p = ok("SELECT id FROM guests LIMIT 9223372036854775807 OFFSET 1");
    assert_eq!(p.shard_sql, "SELECT id FROM guests");
}

#[test]
fn select_distinct_groups_on_every_column_in_the_proxy() {
    let p = ok("SELECT DISTINCT city, country FROM guests ORDER BY country, 1 LIMIT 10");
    assert_eq!(p.shard_sql, "SELECT DISTINCT city, country FROM guests");
    assert_eq!(
        p.shape,
        Shape::Group(GroupPlan {
            keys: vec![item(0), item(1)],
            columns: vec![ColumnMerge::Key, ColumnMerge::Key],
            having: None
        })
    );
    assert_eq!(p.order, vec![asc(item(1)), asc(item(0))]);
    assert_eq!(p.limit, Some(Count::Literal(10)));
    assert_eq!(p.text_compared, vec![item(1), item(0)]);
}

#[test]
fn casts_and_quoted_names_print_back_as_written() {
    let p = ok("SELECT id::text, \"Name\" FROM guests WHERE created_at >= '2026-11-01'::date");
    assert_eq!(p.shard_sql, "SELECT id::TEXT, \"Name\" FROM guests WHERE created_at >= '2026-11-01'::DATE");
}

#[test]
fn a_parenthesised_integer_is_still_a_position() {
    let p = ok("SELECT id FROM r ORDER BY (1)");
    assert_eq!((p.order.clone(), p.hidden), (vec![asc(item(0))], 0));
}

#[test]
fn a_qualified_sort_key_next_to_a_qualified_wildcard_is_hidden() {
    let p = ok("SELECT r.*, g.name FROM r JOIN g ON g.id = r.guest_id ORDER BY r.created_at DESC LIMIT 10");
    assert_eq!(
        p.shard_sql,
        "SELECT r.*, g.name, r.created_at AS \"_sg_o0\" FROM r JOIN g ON g.id = r.guest_id \
         ORDER BY r.created_at DESC LIMIT 10"
    );
    assert_eq!(p.order, vec![desc(hidden(0))]);
}

#[test]
fn fetch_next_with_nulls_first_keeps_the_explicit_null_order() {
    let p = ok("SELECT id FROM r ORDER BY id NULLS FIRST FETCH NEXT 3 ROWS ONLY");
    assert_eq!(p.shard_sql, "SELECT id FROM r ORDER BY id NULLS FIRST LIMIT 3");
    assert_eq!(p.order, vec![SortKey { column: item(0), descending: false, nulls_first: true }]);
}
