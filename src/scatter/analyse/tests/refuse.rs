//! Everything the planner cannot merge exactly is refused, with a message naming what and a
//! hint saying what works instead.

use super::*;

/// (statement, a word the message must contain)
const REFUSED: &[(&str, &str)] = &[
    // statement shapes
    ("SELECT 1; SELECT 2", "several statements"),
    ("INSERT INTO guests (id) VALUES (1)", "only a SELECT"),
    ("EXPLAIN SELECT id FROM guests", "only a SELECT"),
    ("TABLE guests", "cannot parse"),
    ("SELECT id FROM a UNION SELECT id FROM b", "UNION"),
    ("SELECT id FROM a INTERSECT SELECT id FROM b", "INTERSECT"),
    ("SELECT id FROM a EXCEPT SELECT id FROM b", "EXCEPT"),
    ("VALUES (1), (2)", "VALUES"),
    ("WITH r AS (SELECT * FROM reservations) SELECT * FROM r", "WITH"),
    ("SELECT * FROM reservations FOR UPDATE", "FOR UPDATE"),
    ("SELECT * FROM reservations FOR SHARE", "FOR UPDATE"),
    ("SELECT * INTO archive FROM reservations", "SELECT INTO"),
    ("SELECT * FROM reservations TABLESAMPLE SYSTEM (10)", "TABLESAMPLE"),
    ("SELEKT oops", "cannot parse"),
    // ordering and windows
    ("SELECT id FROM guests ORDER BY id USING >", "USING"),
    ("SELECT id FROM guests ORDER BY 3", "position 3"),
    ("SELECT *, id FROM guests ORDER BY 2", "after a *"),
    ("SELECT id FROM guests ORDER BY 'x'", "constant"),
    ("SELECT id, row_number() OVER (ORDER BY id) FROM guests", "window"),
    ("SELECT id FROM guests WINDOW w AS (ORDER BY id)", "WINDOW"),
    ("SELECT DISTINCT ON (tenant_id) * FROM guests", "DISTINCT ON"),
    ("SELECT DISTINCT * FROM guests", "DISTINCT *"),
    ("SELECT DISTINCT city FROM guests ORDER BY country", "must appear in select list"),
    ("SELECT id::text AS a, name AS a FROM guests ORDER BY a", "ambiguous"),
    ("SELECT CAST(1 AS int), id FROM guests ORDER BY int4", "no name"),
    ("SELECT *, random() AS r FROM guests ORDER BY r LIMIT 10", "changes at every call"),
    // limits
    ("SELECT id FROM guests ORDER BY id FETCH FIRST 5 ROWS WITH TIES", "WITH TIES"),
    ("SELECT id FROM guests LIMIT 1 + 1", "LIMIT"),
    ("SELECT id FROM guests LIMIT -1", "LIMIT"),
    ("SELECT id FROM guests OFFSET 2.5", "OFFSET"),
    // aggregates
    ("SELECT string_agg(name, ',') FROM guests", "string_agg"),
    ("SELECT array_agg(id) FROM guests", "array_agg"),
    ("SELECT stddev(amount) FROM reservations", "stddev"),
    ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) FROM reservations", "percentile_cont"),
    ("SELECT count(id ORDER BY id) FROM guests", "ORDER BY inside"),
    ("SELECT sum(DISTINCT amount) FROM reservations", "sum(DISTINCT"),
    ("SELECT avg(DISTINCT amount) FROM reservations", "avg(DISTINCT"),
    ("SELECT count(DISTINCT a), count(DISTINCT b) FROM t", "two different"),
    ("SELECT count(DISTINCT a) FILTER (WHERE b) FROM t", "FILTER"),
    ("SELECT sum(amount) * 2 FROM reservations", "around an aggregate"),
    ("SELECT count(*) + 1 FROM reservations", "around an aggregate"),
    ("SELECT coalesce(sum(amount), 0) FROM reservations", "around an aggregate"),
    ("SELECT my_agg(amount) FROM reservations", "cannot tell"),
    ("SELECT app.fmt(amount) FROM reservations", "cannot tell"),
    ("SELECT id FROM guests ORDER BY my_rank(id)", "cannot tell"),
    ("SELECT *, count(*) FROM guests GROUP BY id", "*"),
    ("SELECT DISTINCT brand_id, count(*) FROM reservations GROUP BY brand_id", "DISTINCT with aggregates"),
    ("SELECT brand_id, count(*) FROM r GROUP BY ROLLUP (brand_id)", "ROLLUP"),
    ("SELECT brand_id, count(*) FROM r GROUP BY CUBE (brand_id)", "CUBE"),
    ("SELECT brand_id, count(*) FROM r GROUP BY GROUPING SETS ((brand_id), ())", "GROUPING SETS"),
    ("SELECT count(*) FROM r GROUP BY 1", "aggregate"),
    ("SELECT lower(name) AS name, count(*) FROM guests GROUP BY name", "cannot tell whether it means a column"),
    ("SELECT 'all' AS label, count(DISTINCT guest_id) FROM r", "without GROUP BY"),
    ("SELECT brand_id AS b, count(*) FROM r GROUP BY b", "cannot tell whether it means a column"),
    ("SELECT count(*) FROM guests GROUP BY ()", "GROUP BY ()"),
    ("SELECT \"COUNT\"(*) FROM r", "cannot tell"),
    ("SELECT bool_and(x) AND bool_or(y) FROM t", "around an aggregate"),
    ("SELECT brand_id, unnest(tags), count(*) FROM r GROUP BY brand_id, tags", "set-returning"),
    ("SELECT brand_id FROM r GROUP BY brand_id ORDER BY generate_series(1, brand_id)", "set-returning"),
    ("SELECT brand_id, count(*) FROM r GROUP BY brand_id ORDER BY 3", "position 3"),
    // HAVING
    ("SELECT brand_id FROM r GROUP BY brand_id HAVING sum(amount) * 2 > 10", "around an aggregate"),
    ("SELECT brand_id FROM r GROUP BY brand_id HAVING count(*) IN (1, 2)", "HAVING"),
    ("SELECT brand_id FROM r GROUP BY brand_id HAVING name LIKE 'a%'", "HAVING"),
    ("SELECT brand_id FROM r GROUP BY brand_id HAVING 1 = 1", "two constants"),
    // subqueries evaluated per shard
    ("SELECT * FROM (SELECT brand_id, count(*) FROM r GROUP BY brand_id) s", "subquery"),
    ("SELECT * FROM r WHERE amount > (SELECT avg(amount) FROM r)", "subquery"),
    ("SELECT * FROM (SELECT * FROM r ORDER BY id LIMIT 5) s", "subquery"),
    ("SELECT * FROM r WHERE id IN (SELECT DISTINCT id FROM s)", "subquery"),
    ("SELECT * FROM r WHERE id IN (SELECT id FROM s UNION SELECT id FROM t)", "subquery"),
    ("SELECT * FROM r WHERE id IN (SELECT my_fn(id) FROM s)", "subquery"),
    ("SELECT * FROM r WHERE EXISTS (SELECT 1 FROM x WHERE x.id = r.id HAVING count(*) > 1)", "subquery"),
    ("SELECT * FROM r, LATERAL (SELECT * FROM s WHERE s.r = r.id LIMIT 1) l", "subquery"),
];

#[test]
fn every_refusal_names_what_is_refused_and_says_what_works() {
    for (sql, word) in REFUSED {
        let (message, hint) = refused(sql);
        assert!(
            message.to_lowercase().contains(&word.to_lowercase()),
            "{sql}\n  message {message:?} does not mention {word:?}"
        );
        assert!(hint.len() > 10, "{sql}\n  hint too short: {hint:?}");
    }
}

#[test]
fn refusals_are_feature_not_supported() {
    use crate::error::ClientError;
    let Err(e) = plan("SELECT string_agg(name, ',') FROM guests") else { panic!("planned") };
    assert_eq!(e.sqlstate(), tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED);
    assert!(e.hint().is_some());
}

#[test]
fn plain_subqueries_and_known_scalars_are_fine() {
    for sql in [
        "SELECT r.id, (SELECT b.name FROM brands b WHERE b.id = r.brand_id) FROM reservations r",
        "SELECT * FROM reservations r WHERE EXISTS (SELECT 1 FROM rooms m WHERE m.id = r.room_id)",
        "SELECT * FROM (SELECT id, amount FROM reservations WHERE paid) s ORDER BY amount",
        "SELECT lower(name), coalesce(phone, '') FROM guests ORDER BY upper(name)",
        "SELECT date_trunc('day', created_at) AS day, count(*) FROM reservations GROUP BY 1 ORDER BY day",
        "SELECT id FROM guests WHERE my_fn(id) > 0",
        "SELECT count(*) FILTER (WHERE my_fn(x)) FROM r",
        "SELECT pg_catalog.count(*), count(t.*) FROM r t",
        "SELECT * FROM generate_series(1, 3) g, r",
        "SELECT id, unnest(tags) FROM r ORDER BY id LIMIT 5",
        "SELECT id, random() AS r FROM guests ORDER BY r LIMIT 10",
        "SELECT * FROM guests ORDER BY random() LIMIT 10",
        "SELECT DISTINCT unnest(tags) FROM r",
        "SELECT g.id, g.name, count(*) FROM guests g JOIN reservations r ON r.guest_id = g.id GROUP BY g.id",
    ] {
        let result = plan(sql);
        assert!(result.is_ok(), "{sql}: {result:?}");
    }
}
