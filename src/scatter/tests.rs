//! The merge pieces on their own: the OFFSET/LIMIT window, ORDER BY with NULLS and
//! directions, grouping of partial aggregates from several shards, and HAVING.

use bytes::BytesMut;

use super::group::Grouper;
use super::layout::{oid, Layout};
use super::merge::{Admit, Sorter, Window};
use super::plan::{ColumnMerge, ColumnRef, Count, GroupPlan, MergePlan, Shape, SortKey};
use super::value::Value;
use crate::protocol::messages::row_description::Column;

fn col(name: &str, type_oid: u32) -> Column {
    Column { name: name.as_bytes().to_vec(), table_oid: 0, attnum: 0, type_oid, type_len: -1, type_mod: -1, format: 0 }
}

fn plan(shape: Shape, order: Vec<SortKey>, hidden: usize) -> MergePlan {
    MergePlan {
        shard_sql: String::new(),
        hidden,
        shape,
        order,
        offset: None,
        limit: None,
        text_compared: Vec::new(),
        collations: Vec::new(),
    }
}

#[test]
fn the_window_skips_the_offset_then_stops_at_the_limit() {
    let mut p = plan(Shape::Stream, Vec::new(), 0);
    p.offset = Some(Count::Literal(2));
    p.limit = Some(Count::Param(0));
    let mut w = Window::new(&p, |_| Ok(Some(2))).unwrap();
    let seen: Vec<Admit> = (0..6).map(|_| w.admit()).collect();
    assert_eq!(seen, [Admit::Skip, Admit::Skip, Admit::Send, Admit::Send, Admit::Done, Admit::Done]);
    // LIMIT NULL is no limit; a negative one is PostgreSQL's error.
    let mut w = Window::new(&p, |_| Ok(None)).unwrap();
    assert_eq!((0..5).map(|_| w.admit()).filter(|a| *a == Admit::Send).count(), 3);
    let e = Window::new(&p, |_| Ok(Some(-1))).unwrap_err();
    assert!(e.to_string().contains("must not be negative"), "{e}");
}

#[test]
fn sort_keys_follow_direction_and_nulls_placement() {
    let layout =
        Layout::new(&[vec![col("a", oid::INT4), col("b", oid::TEXT)]], &plan(Shape::Stream, Vec::new(), 0)).unwrap();
    let desc_nulls_last = SortKey { column: ColumnRef::Item(0), descending: true, nulls_first: false };
    let s = Sorter::new(&[desc_nulls_last], &layout, |i| layout.type_oid(i)).unwrap();
    let mut rows = vec![
        s.values(&[Some(b"1"), None]).unwrap(),
        s.values(&[None, None]).unwrap(),
        s.values(&[Some(b"10"), None]).unwrap(),
    ];
    rows.sort_by(|a, b| s.compare(a, b));
    assert_eq!(rows, vec![vec![Some(Value::Int(10))], vec![Some(Value::Int(1))], vec![None]]);
}

#[test]
fn shards_partials_combine_into_one_group_with_avg_as_postgres_computes_it() {
    // SELECT brand, count(*), sum(n), avg(n) [sum + hidden count], min(n) … GROUP BY brand
    let cols = vec![
        col("brand", oid::TEXT),
        col("count", oid::INT8),
        col("sum", oid::INT8),
        col("avg", oid::INT8),
        col("min", oid::INT4),
        col("_sg_c0", oid::INT8),
    ];
    let group = GroupPlan {
        keys: vec![ColumnRef::Item(0)],
        columns: vec![
            ColumnMerge::Key,
            ColumnMerge::Count,
            ColumnMerge::Sum,
            ColumnMerge::AvgSum { count: 5 },
            ColumnMerge::Min,
            ColumnMerge::AvgCount,
        ],
        having: None,
    };
    let p = plan(Shape::Group(group.clone()), Vec::new(), 1);
    let layout = Layout::new(&[cols], &p).unwrap();
    let mut g = Grouper::new(&group, &layout).unwrap();
    // Two shards' partials for 'acme' and one for 'zed'.
    g.add(&[Some(b"acme"), Some(b"2"), Some(b"3"), Some(b"3"), Some(b"1"), Some(b"2")]).unwrap();
    g.add(&[Some(b"zed"), Some(b"1"), Some(b"5"), Some(b"5"), Some(b"5"), Some(b"1")]).unwrap();
    g.add(&[Some(b"acme"), Some(b"1"), Some(b"4"), Some(b"4"), Some(b"4"), Some(b"1")]).unwrap();
    let rows = g.finish(|i| layout.client_type(&p, i)).unwrap();
    let text = |r: &super::group::MergedRow| -> Vec<String> {
        r.bytes.iter().map(|b| String::from_utf8_lossy(b.as_deref().unwrap_or(b"NULL")).into_owned()).collect()
    };
    assert_eq!(text(&rows[0]), ["acme", "3", "7", "2.3333333333333333", "1", "3"]);
    assert_eq!(text(&rows[1]), ["zed", "1", "5", "5.0000000000000000", "5", "1"]);
    assert_eq!(layout.client_description(&p)[3].type_oid, oid::NUMERIC, "avg is numeric to the client");
}

#[test]
fn an_empty_ungrouped_aggregate_still_answers_one_row() {
    let group = GroupPlan { keys: Vec::new(), columns: vec![ColumnMerge::Count, ColumnMerge::Sum], having: None };
    let p = plan(Shape::Group(group.clone()), Vec::new(), 0);
    let layout = Layout::new(&[vec![col("count", oid::INT8), col("sum", oid::NUMERIC)]], &p).unwrap();
    let mut g = Grouper::new(&group, &layout).unwrap();
    g.ensure_one_group();
    let rows = g.finish(|i| layout.client_type(&p, i)).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].bytes, vec![Some(b"0".to_vec()), None], "count 0, sum NULL");
}

#[test]
fn shards_that_describe_columns_differently_are_refused() {
    let p = plan(Shape::Stream, Vec::new(), 0);
    let e = Layout::new(&[vec![col("a", oid::INT4)], vec![col("a", oid::INT8)]], &p).unwrap_err();
    assert!(e.to_string().contains("different columns"), "{e}");
    let mut out = BytesMut::new();
    crate::protocol::messages::data_row::write_raw(&mut out, b"\0\0");
    assert_eq!(&out[..], b"D\0\0\0\x06\0\0");
}
