//! Cross-shard reads return exactly what one database holding every row returns. The same
//! rows are loaded into four shards (split by PostgreSQL's own hash of tenant_id) and into
//! one whole database; every query of the corpus runs through shardgate and directly against
//! the whole database, in the simple protocol (text, compared as text) and the extended
//! protocol (binary, compared byte for byte), and must give the same rows in the same order
//! (as sets where the query has no ORDER BY). What cannot be merged exactly is refused with
//! 0A000 and a hint.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::raw::Raw;
use support::shards::{Shards, QUARTERS};
use support::wire::Wire;
use support::{PgCluster, Proxy};
use tokio_postgres::types::ToSql;
use tokio_postgres::SimpleQueryMessage;

/// Columns of many types, NULLs included; `stay_id` is unique across tenants.
const TABLE: &str = "
CREATE TABLE stays (tenant_id bigint NOT NULL, stay_id bigint NOT NULL, brand text, nights int,
                    amount numeric(12,2), rate float8, arrived date, booked_at timestamptz,
                    vip bool, ref uuid, PRIMARY KEY (tenant_id, stay_id));
CREATE TABLE payments (tenant_id bigint NOT NULL, payment_id bigint NOT NULL, stay_id bigint NOT NULL,
                       amount numeric(12,2) NOT NULL, paid_at timestamptz, method text,
                       PRIMARY KEY (tenant_id, payment_id));
GRANT SELECT ON stays, payments TO PUBLIC";

/// 2,000 rows for 50 tenants, deterministic, with NULLs in every nullable column. Rates are
/// multiples of 0.25, so float sums are exact in any order: PostgreSQL itself adds floats in
/// scan order (and in parallel plans in partial sums), so inexact float sums differ in their
/// last bits between any two plans — one database or several (docs/sql-support.md).
const ROWS: &str = "
INSERT INTO stays
SELECT g % 50 + 1, g,
       CASE WHEN g % 17 = 0 THEN NULL ELSE (ARRAY['marriott','hilton','accor','hyatt'])[g % 4 + 1] END,
       CASE WHEN g % 13 = 0 THEN NULL ELSE g % 9 + 1 END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE round((g * 37 % 10000) / 7.0, 2) END,
       CASE WHEN g % 19 = 0 THEN NULL ELSE (g * 7919 % 1000) / 4.0 END,
       CASE WHEN g % 23 = 0 THEN NULL ELSE date '2026-01-01' + (g * 31 % 365) END,
       CASE WHEN g % 29 = 0 THEN NULL ELSE timestamptz '2026-01-01 00:00:00+00' + (g * 104729 % 100000) * interval '1 minute' END,
       CASE WHEN g % 31 = 0 THEN NULL ELSE g % 3 = 0 END,
       md5(g::text)::uuid
FROM generate_series(1, 2000) g";

/// Up to three payments per stay (none for every 7th), for co-located joins.
const PAYMENTS: &str = "
INSERT INTO payments
SELECT g % 50 + 1, g * 10 + k, g, round((g * k * 13 % 5000) / 3.0, 2),
       timestamptz '2026-02-01 00:00:00+00' + (g * k * 7 % 50000) * interval '1 minute',
       CASE WHEN k = 3 THEN NULL ELSE (ARRAY['card','cash','transfer'])[(g + k) % 3 + 1] END
FROM generate_series(1, 2000) g, generate_series(1, 3) k
WHERE g % 7 <> 0 AND k <= g % 3 + 1";

struct Fixture {
    _pg: PgCluster,
    proxy: Proxy,
    whole: tokio_postgres::Client,
}

async fn setup(prefix: &str) -> anyhow::Result<Fixture> {
    let pg = PgCluster::start_async().await?;
    pg.ensure_role("app", "app").await?;
    let shards = Shards::create(&pg, prefix, 4, ("app", "app")).await?;
    for (db, (from, to)) in shards.databases.iter().zip(QUARTERS) {
        let c = pg.client_as("app", "app", db).await?;
        c.batch_execute(TABLE).await?;
        let mut cond = String::from("true");
        if let Some(f) = from {
            cond.push_str(&format!(" AND hashint8extended(g % 50 + 1, 0) >= {f}"));
        }
        if let Some(t) = to {
            cond.push_str(&format!(" AND hashint8extended(g % 50 + 1, 0) < {t}"));
        }
        c.batch_execute(&format!("{ROWS} WHERE {cond}")).await?;
        c.batch_execute(&format!("{PAYMENTS} AND {cond}")).await?;
    }
    let whole_db = format!("{prefix}_whole");
    pg.create_database(&whole_db, "app").await?;
    let whole = pg.client_as("app", "app", &whole_db).await?;
    whole.batch_execute(TABLE).await?;
    whole.batch_execute(ROWS).await?;
    whole.batch_execute(PAYMENTS).await?;
    let map = shards.map_yaml(&pg).replace(
        "tables:\n",
        "tables:\n  - { name: stays, columns: [tenant_id], function: tenant_hash }\n  \
         - { name: payments, columns: [tenant_id], function: tenant_hash }\n",
    );
    let proxy = Proxy::builder(&pg)
        .database_with_map("pms", &map)
        .user("app", "app", "scram-sha-256")
        .user("raw", "raw", "trust")
        .start()
        .await?;
    Ok(Fixture { _pg: pg, proxy, whole })
}

fn text_rows(msgs: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    msgs.iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect()
}

fn raw_rows(rows: &[tokio_postgres::Row]) -> Vec<Vec<Option<Raw>>> {
    rows.iter().map(|r| (0..r.len()).map(|i| r.get::<_, Option<Raw>>(i)).collect()).collect()
}

/// Queries whose result is fully ordered (or a single row): compared in order.
const ORDERED: &[&str] = &[
    "SELECT count(*) FROM stays",
    "SELECT count(*), count(amount), sum(nights), sum(amount), sum(rate), min(arrived), max(booked_at), \
     min(amount), max(nights), avg(nights), avg(amount), avg(rate), bool_and(vip), bool_or(vip) FROM stays",
    "SELECT count(*), sum(amount), avg(nights) FROM stays WHERE tenant_id > 1000",
    "SELECT * FROM stays ORDER BY booked_at DESC, stay_id LIMIT 20",
    "SELECT stay_id, amount FROM stays ORDER BY amount NULLS FIRST, stay_id LIMIT 10 OFFSET 5",
    "SELECT stay_id, rate FROM stays ORDER BY rate DESC NULLS LAST, 1 DESC LIMIT 7",
    "SELECT stay_id, arrived FROM stays ORDER BY arrived, stay_id OFFSET 1990",
    "SELECT stay_id, ref FROM stays ORDER BY ref LIMIT 15",
    "SELECT stay_id FROM stays ORDER BY nights * 2 DESC NULLS LAST, stay_id LIMIT 12",
    "SELECT tenant_id, count(*), sum(amount), avg(amount), min(rate), max(arrived) FROM stays GROUP BY tenant_id ORDER BY tenant_id",
    "SELECT tenant_id, avg(nights) FROM stays GROUP BY tenant_id HAVING avg(nights) > 5 AND count(*) >= 40 ORDER BY 2 DESC, 1",
    "SELECT nights, count(*) FROM stays GROUP BY nights ORDER BY count(*) DESC, nights NULLS FIRST",
    "SELECT vip, count(*) FROM stays GROUP BY vip HAVING sum(nights) >= 100 OR vip IS NULL ORDER BY vip",
    "SELECT DISTINCT nights FROM stays ORDER BY nights",
    "SELECT count(DISTINCT nights) FROM stays",
    "SELECT tenant_id, count(DISTINCT nights), count(*) FROM stays GROUP BY tenant_id ORDER BY tenant_id LIMIT 10",
    "SELECT tenant_id, max(rate) FROM stays GROUP BY tenant_id ORDER BY max(rate) DESC, tenant_id LIMIT 5 OFFSET 2",
    // Text under the C collation (the test cluster's default): byte order is exact.
    "SELECT stay_id, brand FROM stays ORDER BY brand DESC NULLS LAST, stay_id LIMIT 30",
    "SELECT brand, count(*), min(arrived), max(brand) FROM stays GROUP BY brand ORDER BY brand",
    "SELECT min(brand), max(brand) FROM stays",
    "SELECT DISTINCT brand FROM stays ORDER BY 1 NULLS FIRST",
    // Co-located joins (same tenant_id on both sides): revenue by brand, newest payments.
    "SELECT s.brand, sum(p.amount), count(*), avg(p.amount) FROM stays s JOIN payments p \
     ON p.tenant_id = s.tenant_id AND p.stay_id = s.stay_id GROUP BY s.brand ORDER BY 2 DESC",
    "SELECT p.payment_id, p.paid_at, s.nights FROM payments p JOIN stays s USING (tenant_id, stay_id) \
     WHERE p.method IS NOT NULL ORDER BY p.paid_at DESC, p.payment_id LIMIT 25",
    "SELECT method, count(*), min(paid_at), max(amount) FROM payments GROUP BY method ORDER BY method NULLS LAST",
];

/// Queries without ORDER BY: compared as sorted sets of rows.
const UNORDERED: &[&str] = &[
    "SELECT stay_id, nights FROM stays WHERE nights > 7",
    "SELECT * FROM stays WHERE tenant_id IN (1, 2, 3, 4, 5, 6)",
    "SELECT tenant_id, sum(nights) FROM stays GROUP BY tenant_id",
    "SELECT DISTINCT brand, vip FROM stays",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_shard_reads_equal_one_database_in_both_protocols() -> anyhow::Result<()> {
    let f = setup("sgeq").await?;
    let c = f.proxy.connect("app", "app", "pms").await?;
    for sql in ORDERED.iter().chain(UNORDERED) {
        let ordered = ORDERED.contains(sql);
        let mut want = text_rows(&f.whole.simple_query(sql).await?);
        let mut got = text_rows(&c.simple_query(sql).await.map_err(|e| anyhow::anyhow!("{sql}: {e}"))?);
        if !ordered {
            want.sort();
            got.sort();
        }
        assert!(!want.is_empty(), "{sql}: the corpus query must return rows");
        assert_eq!(got, want, "simple protocol: {sql}");
        let mut want = raw_rows(&f.whole.query(*sql, &[]).await?);
        let mut got = raw_rows(&c.query(*sql, &[]).await.map_err(|e| anyhow::anyhow!("{sql}: {e}"))?);
        if !ordered {
            want.sort();
            got.sort();
        }
        assert_eq!(got, want, "extended protocol (binary): {sql}");
        // Extended protocol with text results (Parse/Bind/Describe/Execute by hand).
        let mut w = Wire::connect_trust(f.proxy.addr(), "raw", "pms").await?;
        w.parse("", sql).bind("", "", &[]).describe_portal("").execute("", 0).sync();
        w.flush().await?;
        let msgs = w.until_ready().await?;
        assert!(msgs.iter().all(|m| m.tag != 'E'), "{sql}: {:?}", msgs.iter().find_map(|m| m.field(b'M')));
        let mut got: Vec<Vec<Option<String>>> = msgs.iter().filter(|m| m.tag == 'D').map(|m| m.row()).collect();
        let mut want = text_rows(&f.whole.simple_query(sql).await?);
        if !ordered {
            want.sort();
            got.sort();
        }
        assert_eq!(got, want, "extended protocol (text): {sql}");
        let tag = msgs.iter().find(|m| m.tag == 'C').map(|m| m.command_tag()).unwrap_or_default();
        assert_eq!(tag, format!("SELECT {}", want.len()), "{sql}: one CommandComplete with the total");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_reach_the_shards_and_the_merge() -> anyhow::Result<()> {
    let f = setup("sgpar").await?;
    let c = f.proxy.connect("app", "app", "pms").await?;
    let cases: &[(&str, &[&(dyn ToSql + Sync)])] = &[
        ("SELECT stay_id, nights FROM stays WHERE nights > $1 ORDER BY stay_id LIMIT $2", &[&5i32, &9i64]),
        ("SELECT stay_id FROM stays WHERE brand = $1 ORDER BY stay_id DESC LIMIT 4 OFFSET $2", &[&"hilton", &3i64]),
        ("SELECT tenant_id, count(*) FROM stays WHERE nights < $1 GROUP BY tenant_id HAVING count(*) > $2 ORDER BY 1", &[&4i32, &10i64]),
    ];
    for (sql, params) in cases {
        let want = raw_rows(&f.whole.query(*sql, params).await?);
        let got = raw_rows(&c.query(*sql, params).await.map_err(|e| anyhow::anyhow!("{sql}: {e}"))?);
        assert!(!want.is_empty(), "{sql}: must return rows");
        assert_eq!(got, want, "{sql}");
        // A prepared statement reused with other values.
        let stmt = c.prepare(sql).await?;
        let again = raw_rows(&c.query(&stmt, params).await?);
        assert_eq!(again, want, "prepared: {sql}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_merged_exactly_is_refused_with_a_hint() -> anyhow::Result<()> {
    let f = setup("sgref").await?;
    let c = f.proxy.connect("app", "app", "pms").await?;
    let refused = [
        "SELECT stay_id, row_number() OVER (ORDER BY stay_id) FROM stays",
        "SELECT DISTINCT ON (tenant_id) tenant_id, stay_id FROM stays ORDER BY tenant_id, stay_id",
        "SELECT * FROM stays FOR UPDATE",
        "SELECT string_agg(brand, ',') FROM stays",
        "SELECT sum(nights) * 2 FROM stays",
        "SELECT stay_id FROM stays UNION SELECT stay_id FROM stays",
    ];
    for sql in refused {
        let e = c.simple_query(sql).await.expect_err(sql);
        assert_eq!(e.code(), Some(&tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED), "{sql}: {e}");
        let hint = e.as_db_error().and_then(|d| d.hint()).unwrap_or_default().to_string();
        assert!(!hint.is_empty(), "{sql}: a refusal carries a hint");
        // The session goes on.
        let n: i64 = c.query_one("SELECT count(*) FROM stays", &[]).await?.get(0);
        assert_eq!(n, 2000);
    }
    // Inside a transaction a cross-shard read would not see the transaction's own writes.
    c.batch_execute("BEGIN").await?;
    c.batch_execute("INSERT INTO stays (tenant_id, stay_id) VALUES (7, 100000)").await?;
    let e = c.simple_query("SELECT count(*) FROM stays").await.expect_err("scatter in a transaction");
    assert_eq!(e.code(), Some(&tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED), "{e}");
    c.batch_execute("ROLLBACK").await?;
    let n: i64 = c.query_one("SELECT count(*) FROM stays", &[]).await?.get(0);
    assert_eq!(n, 2000, "the refused transaction left nothing behind");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_is_ordered_across_shards_only_under_a_byte_order_collation() -> anyhow::Result<()> {
    let f = setup("sgcoll").await?;
    let has_icu: bool =
        f.whole.query_one("SELECT exists (SELECT FROM pg_collation WHERE collname = 'und-x-icu')", &[]).await?.get(0);
    if !has_icu {
        eprintln!("skipped: this PostgreSQL has no ICU collations");
        return Ok(());
    }
    // Under ICU's root collation 'a' < 'B'; in byte order 'B' < 'a'.
    let add = "ALTER TABLE stays ADD COLUMN city text COLLATE \"und-x-icu\"";
    let fill = "UPDATE stays SET city = (ARRAY['a','B','c','D'])[stay_id % 4 + 1]";
    f.whole.batch_execute(add).await?;
    f.whole.batch_execute(fill).await?;
    let c = f.proxy.connect("app", "app", "pms").await?;
    c.batch_execute(add).await?; // DDL reaches every shard
    for tenant in 1..=50i64 {
        c.execute(&format!("{fill} WHERE tenant_id = $1"), &[&tenant]).await?;
    }
    let icu: Vec<String> =
        f.whole.query("SELECT DISTINCT city FROM stays ORDER BY 1", &[]).await?.iter().map(|r| r.get(0)).collect();
    assert_eq!(icu, ["a", "B", "c", "D"], "the whole database orders by ICU");

    for sql in [
        "SELECT stay_id, city FROM stays ORDER BY city, stay_id LIMIT 10",
        "SELECT min(city) FROM stays",
        "SELECT DISTINCT city FROM stays ORDER BY city",
    ] {
        let e = c.simple_query(sql).await.expect_err(sql);
        assert_eq!(e.code(), Some(&tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED), "{sql}: {e}");
        let hint = e.as_db_error().and_then(|d| d.hint()).unwrap_or_default().to_string();
        assert!(hint.contains("COLLATE"), "{sql}: hint {hint}");
    }
    // Byte order asked for explicitly, and grouping (equality) under a deterministic collation.
    for sql in [
        "SELECT stay_id, city FROM stays ORDER BY city COLLATE \"C\", stay_id LIMIT 10",
        "SELECT city, count(*) FROM stays GROUP BY city ORDER BY city COLLATE \"C\"",
    ] {
        let want = text_rows(&f.whole.simple_query(sql).await?);
        let got = text_rows(&c.simple_query(sql).await.map_err(|e| anyhow::anyhow!("{sql}: {e}"))?);
        assert!(!want.is_empty());
        assert_eq!(got, want, "{sql}");
    }
    let mut want = text_rows(&f.whole.simple_query("SELECT city, count(*) FROM stays GROUP BY city").await?);
    let mut got = text_rows(&c.simple_query("SELECT city, count(*) FROM stays GROUP BY city").await?);
    want.sort();
    got.sort();
    assert_eq!(got, want, "grouping by an ICU (deterministic) text column");
    Ok(())
}
