//! Routing over four shards (four databases of one real cluster): rows land on exactly the
//! shard PostgreSQL's own hash says, reads find them in both protocols, refusals carry SQLSTATE
//! 0A000 and a hint, a transaction crossing shards leaves nothing behind, DDL reaches every
//! shard, multi-row INSERTs are split, composite and directory keys route, and a broken map on
//! reload keeps the old one serving.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::shards::Shards;
use support::{PgCluster, Proxy};
use tokio_postgres::error::SqlState;
use tokio_postgres::SimpleQueryMessage;

async fn setup(prefix: &str) -> anyhow::Result<(PgCluster, Shards, Proxy)> {
    let pg = PgCluster::start_async().await?;
    pg.ensure_role("app", "app").await?;
    let shards = Shards::create(&pg, prefix, 4, ("app", "app")).await?;
    let proxy = Proxy::builder(&pg).database_with_map("pms", &shards.map_yaml(&pg)).start().await?;
    Ok((pg, shards, proxy))
}

fn code(e: &tokio_postgres::Error) -> Option<&SqlState> {
    e.code()
}

fn hint(e: &tokio_postgres::Error) -> String {
    e.as_db_error().and_then(|d| d.hint()).unwrap_or_default().to_string()
}

fn rows(msgs: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    msgs.iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_land_on_exactly_the_shard_postgres_computes_and_reads_find_them() -> anyhow::Result<()> {
    let (pg, shards, proxy) = setup("land").await?;
    let c = proxy.connect("app", "app", "pms").await?;
    for tenant in 1..=16i64 {
        if tenant % 2 == 0 {
            c.batch_execute(&format!(
                "INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES ({tenant}, 1, 'simple')"
            ))
            .await?;
        } else {
            c.execute(
                "INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES ($1, 1, 'extended')",
                &[&tenant],
            )
            .await?;
        }
    }
    for tenant in 1..=16i64 {
        let expected = Shards::expected_shard(&pg, tenant).await?;
        let counts = shards.counts(&pg, "reservations", &format!("tenant_id = {tenant}")).await?;
        let mut want = vec![0i64; 4];
        want[expected] = 1;
        assert_eq!(counts, want, "tenant {tenant} must be on shard {expected} only");
        // Reads through the proxy, both protocols, key as literal, quoted literal and parameter.
        let simple = c.simple_query(&format!("SELECT guest FROM reservations WHERE tenant_id = '{tenant}'")).await?;
        assert_eq!(rows(&simple).len(), 1, "simple read of tenant {tenant}");
        let ext = c.query("SELECT guest FROM reservations WHERE tenant_id = $1", &[&tenant]).await?;
        assert_eq!(ext.len(), 1, "extended read of tenant {tenant}");
        let t4 = i32::try_from(tenant)?;
        let ext4 = c.query("SELECT guest FROM reservations WHERE tenant_id = $1::int4", &[&t4]).await?;
        assert_eq!(ext4.len(), 1, "binary int4 parameter for tenant {tenant}");
    }
    // psql, the simple protocol as people type it.
    let out = proxy
        .psql("app", "app", "pms", &["-At", "-c", "SELECT count(*) FROM reservations WHERE tenant_id IN (3)"])
        .await?;
    assert_eq!(support::succeeded(out)?.trim(), "1");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unroutable_statements_are_refused_with_0a000_and_a_hint_and_the_session_goes_on() -> anyhow::Result<()> {
    let (_pg, _shards, proxy) = setup("refuse").await?;
    let c = proxy.connect("app", "app", "pms").await?;
    let other = proxy.connect("app", "app", "pms").await?;
    for (sql, extended_too) in [
        ("INSERT INTO reservations (reservation_id, guest) VALUES (1, 'no key')", true),
        // A read across shards that cannot be merged exactly (a window function).
        ("SELECT tenant_id, row_number() OVER () FROM reservations", true),
        // Through the extended protocol PostgreSQL itself answers first: the client describes
        // the statement (any shard can), and the table does not exist (42P01).
        ("SELECT * FROM no_such_table WHERE tenant_id = 1", false),
        ("UPDATE reservations SET guest = 'x'", true),
    ] {
        let e = c.simple_query(sql).await.expect_err(sql);
        assert_eq!(code(&e), Some(&SqlState::FEATURE_NOT_SUPPORTED), "{sql}: {e}");
        assert!(!hint(&e).is_empty(), "{sql} needs a hint: {e:?}");
        if !extended_too {
            continue;
        }
        let e = c.query(sql, &[]).await.expect_err(sql);
        assert_eq!(code(&e), Some(&SqlState::FEATURE_NOT_SUPPORTED), "{sql} (extended): {e}");
    }
    let e = c.simple_query("SELECT * FROM no_such_table WHERE tenant_id = 1").await.unwrap_err();
    assert!(e.to_string().contains("no_such_table") || format!("{e:?}").contains("no_such_table"), "{e:?}");
    // The same client and another one keep working.
    c.batch_execute("INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES (7, 1, 'ok')").await?;
    assert_eq!(other.query("SELECT 1 FROM reservations WHERE tenant_id = 7", &[]).await?.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_crossing_shards_is_refused_and_leaves_nothing_behind() -> anyhow::Result<()> {
    let (pg, shards, proxy) = setup("crosstx").await?;
    // Two tenants on different shards, as PostgreSQL's hash places them.
    let mut by_shard = std::collections::BTreeMap::new();
    for t in 1..100i64 {
        by_shard.entry(Shards::expected_shard(&pg, t).await?).or_insert(t);
        if by_shard.len() >= 2 {
            break;
        }
    }
    let tenants: Vec<i64> = by_shard.values().copied().collect();
    let (a, b) = (tenants[0], tenants[1]);

    let mut c = proxy.connect("app", "app", "pms").await?;
    // Simple protocol: BEGIN is answered by the proxy; the first INSERT picks the shard.
    c.batch_execute("BEGIN").await?;
    c.batch_execute(&format!("INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES ({a}, 1, 'a')"))
        .await?;
    let e = c
        .batch_execute(&format!("INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES ({b}, 1, 'b')"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(&SqlState::FEATURE_NOT_SUPPORTED), "{e}");
    // The transaction is failed, as on PostgreSQL after an error.
    let e = c.batch_execute("SELECT 1").await.unwrap_err();
    assert_eq!(code(&e), Some(&SqlState::IN_FAILED_SQL_TRANSACTION), "{e}");
    c.batch_execute("ROLLBACK").await?;

    // Extended protocol inside a client-library transaction.
    let tx = c.transaction().await?;
    tx.execute("INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES ($1, 2, 'a')", &[&a]).await?;
    let e = tx
        .execute("INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES ($1, 2, 'b')", &[&b])
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(&SqlState::FEATURE_NOT_SUPPORTED), "{e}");
    drop(tx); // rolls back
    let total: i64 = shards.counts(&pg, "reservations", "true").await?.iter().sum();
    assert_eq!(total, 0, "nothing of either transaction may remain");

    // A transaction on one shard commits normally; an empty one costs no server.
    c.batch_execute(&format!(
        "BEGIN; INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES ({a}, 3, 'x'); INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES ({a}, 4, 'y'); COMMIT"
    ))
    .await?;
    c.batch_execute("BEGIN").await?;
    c.batch_execute(&format!("INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES ({b}, 5, 'z')"))
        .await?;
    c.batch_execute("COMMIT").await?;
    c.batch_execute("BEGIN").await?;
    c.batch_execute("COMMIT").await?;
    let total: i64 = shards.counts(&pg, "reservations", "true").await?.iter().sum();
    assert_eq!(total, 3);
    // BEGIN …; COMMIT sent as one query is routed whole, to the shard of its statements.
    let shard_of_a = *by_shard.iter().find(|(_, t)| **t == a).map(|(s, _)| s).unwrap();
    assert_eq!(shards.counts(&pg, "reservations", &format!("tenant_id = {a}")).await?[shard_of_a], 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_reaches_every_shard_or_none_and_names_the_shard_that_failed() -> anyhow::Result<()> {
    let (pg, shards, proxy) = setup("ddl").await?;
    let c = proxy.connect("app", "app", "pms").await?;
    c.batch_execute("CREATE TABLE folios (tenant_id bigint, folio_id bigint)").await?;
    for db in &shards.databases {
        let n: i64 = pg
            .client(db)
            .await?
            .query_one("SELECT count(*) FROM pg_tables WHERE tablename = 'folios'", &[])
            .await?
            .get(0);
        assert_eq!(n, 1, "folios must exist on {db}");
    }
    // Through the extended protocol too (client libraries' execute()).
    c.execute("CREATE INDEX folios_tenant ON folios (tenant_id)", &[]).await?;
    for db in &shards.databases {
        let n: i64 = pg
            .client(db)
            .await?
            .query_one("SELECT count(*) FROM pg_indexes WHERE indexname = 'folios_tenant'", &[])
            .await?
            .get(0);
        assert_eq!(n, 1, "the index must exist on {db}");
    }
    // A table that already exists on shard 2 only: the DDL fails there and is applied nowhere.
    pg.client_as("app", "app", &shards.databases[2]).await?.batch_execute("CREATE TABLE payments (id int)").await?;
    let e = c.batch_execute("CREATE TABLE payments (tenant_id bigint, id int)").await.unwrap_err();
    assert_eq!(code(&e), Some(&SqlState::DUPLICATE_TABLE), "{e}");
    assert!(format!("{e:?}").contains("shard-2"), "the error must name the shard: {e:?}");
    for (i, db) in shards.databases.iter().enumerate() {
        let n: i64 = pg
            .client(db)
            .await?
            .query_one("SELECT count(*) FROM information_schema.columns WHERE table_name = 'payments'", &[])
            .await?
            .get(0);
        assert_eq!(n, if i == 2 { 1 } else { 0 }, "payments on {db}");
    }
    // Reference tables: writes go everywhere, reads to one shard.
    c.batch_execute("INSERT INTO currencies VALUES ('EUR', 'Euro')").await?;
    assert_eq!(shards.counts(&pg, "currencies", "true").await?, vec![1, 1, 1, 1]);
    let r = c.simple_query("SELECT name FROM currencies WHERE code = 'EUR'").await?;
    assert_eq!(rows(&r), vec![vec![Some("Euro".to_string())]]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_row_insert_is_split_by_shard_and_answers_as_one() -> anyhow::Result<()> {
    let (pg, shards, proxy) = setup("split").await?;
    let c = proxy.connect("app", "app", "pms").await?;
    let values: Vec<String> = (1..=12).map(|t| format!("({t}, {t}, 'g{t}')")).collect();
    let sql = format!(
        "INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES {} RETURNING tenant_id",
        values.join(", ")
    );
    let msgs = c.simple_query(&sql).await?;
    let returned = rows(&msgs).len();
    assert_eq!(returned, 12, "RETURNING rows of every shard come back");
    let tag = msgs.iter().find_map(|m| match m {
        SimpleQueryMessage::CommandComplete(n) => Some(*n),
        _ => None,
    });
    assert_eq!(tag, Some(12));
    for t in 1..=12i64 {
        let expected = Shards::expected_shard(&pg, t).await?;
        let counts = shards.counts(&pg, "reservations", &format!("tenant_id = {t}")).await?;
        assert_eq!(counts[expected], 1, "tenant {t} on shard {expected}");
        assert_eq!(counts.iter().sum::<i64>(), 1);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composite_brand_region_keys_directory_lookups_and_hints_route_correctly() -> anyhow::Result<()> {
    let (pg, shards, proxy) = setup("keys").await?;
    let c = proxy.connect("app", "app", "pms").await?;
    c.batch_execute(
        "INSERT INTO brand_properties (brand_id, region_code, name) VALUES ('hilton', 'eu-west', 'Hilton Paris')",
    )
    .await?;
    c.execute(
        "INSERT INTO brand_properties (brand_id, region_code, name) VALUES ($1, $2, 'Marriott Boston')",
        &[&"marriott", &"us-northeast"],
    )
    .await?;
    assert_eq!(shards.counts(&pg, "brand_properties", "brand_id = 'hilton'").await?, vec![0, 0, 0, 1]);
    assert_eq!(shards.counts(&pg, "brand_properties", "brand_id = 'marriott'").await?, vec![1, 0, 0, 0]);
    let r = c
        .query("SELECT name FROM brand_properties WHERE region_code = $2 AND brand_id = $1", &[&"hilton", &"eu-west"])
        .await?;
    assert_eq!(r.len(), 1);
    // Only half of a composite key: no single shard.
    let e = c.simple_query("INSERT INTO brand_properties (brand_id, name) VALUES ('hilton', 'x')").await.unwrap_err();
    assert_eq!(code(&e), Some(&SqlState::FEATURE_NOT_SUPPORTED), "{e}");

    // property_id → shard through the directory.
    pg.client_as("app", "app", &shards.directory)
        .await?
        .batch_execute("INSERT INTO property_shards VALUES (501, 'shard-1'), (502, 'shard-3')")
        .await?;
    c.batch_execute("INSERT INTO room_blocks (property_id, rooms) VALUES (501, 10)").await?;
    c.execute("INSERT INTO room_blocks (property_id, rooms) VALUES ($1, 20)", &[&502i64]).await?;
    assert_eq!(shards.counts(&pg, "room_blocks", "property_id = 501").await?, vec![0, 1, 0, 0]);
    assert_eq!(shards.counts(&pg, "room_blocks", "property_id = 502").await?, vec![0, 0, 0, 1]);
    // A key the directory does not know is refused, never guessed.
    assert!(c.batch_execute("INSERT INTO room_blocks (property_id, rooms) VALUES (999, 1)").await.is_err());

    // Hints: a comment pins the shard; a session setting gives the key.
    c.batch_execute("/* shardgate: shard=shard-2 */ INSERT INTO guests VALUES (1, 1, 'pinned')").await?;
    assert_eq!(shards.counts(&pg, "guests", "true").await?, vec![0, 0, 1, 0]);
    c.batch_execute("INSERT INTO guests (tenant_id, guest_id, name) VALUES (5, 2, 'tenant five')").await?;
    c.batch_execute("SET shardgate.tenant_id = 5").await?;
    let r = c.simple_query("SELECT name FROM guests WHERE guest_id = 2").await?;
    assert_eq!(rows(&r), vec![vec![Some("tenant five".to_string())]], "the session key routes a keyless read");
    c.batch_execute("RESET shardgate.tenant_id").await?;
    // Without the key the read spans every shard (scatter-gather) and finds the same row.
    let r = c.simple_query("SELECT name FROM guests WHERE guest_id = 2").await?;
    assert_eq!(rows(&r), vec![vec![Some("tenant five".to_string())]], "a keyless read across shards");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_map_on_reload_is_refused_and_the_old_map_keeps_serving() -> anyhow::Result<()> {
    let (pg, shards, proxy) = setup("reload").await?;
    let c = proxy.connect("app", "app", "pms").await?;
    c.batch_execute("INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES (1, 1, 'before')").await?;
    let map_path = proxy.dir().join("map-0.yaml");
    let good = std::fs::read_to_string(&map_path)?;
    // Overlapping ranges: invalid.
    let broken =
        good.replace("to: 0, shard: shard-1", "to: 10, shard: shard-1").replace("from: 0, to:", "from: 5, to:");
    assert_ne!(broken, good);
    std::fs::write(&map_path, &broken)?;
    assert!(proxy.reload().is_err(), "an invalid map must be refused");
    c.batch_execute(
        "INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES (2, 1, 'after a refused reload')",
    )
    .await?;
    assert_eq!(c.query("SELECT 1 FROM reservations WHERE tenant_id = 2", &[]).await?.len(), 1);
    // A valid change takes effect for new statements: now unknown tables go to shard-0.
    std::fs::write(&map_path, good.replace("unknown_tables: refuse", "unknown_tables: { shard: shard-0 }"))?;
    proxy.reload()?;
    pg.client_as("app", "app", &shards.databases[0]).await?.batch_execute("CREATE TABLE notes (t text)").await?;
    c.batch_execute("INSERT INTO notes VALUES ('unsharded')").await?;
    let n: i64 = pg.client(&shards.databases[0]).await?.query_one("SELECT count(*) FROM notes", &[]).await?.get(0);
    assert_eq!(n, 1);
    Ok(())
}

/// Unnamed statements (libpq's PQexecParams, pgbench -M extended): each is routed by its own
/// text and values, whether the client sends the same statement again (kept, not rebuilt, by
/// the proxy) or a different one in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnamed_statements_route_by_their_own_text_whether_repeated_or_changed() -> anyhow::Result<()> {
    use tokio_postgres::types::Type;
    let (pg, _shards, proxy) = setup("unnamed").await?;
    let c = proxy.connect("app", "app", "pms").await?;
    let tenants: Vec<i64> = (1..=8).collect();
    for t in &tenants {
        c.batch_execute(&format!(
            "INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES ({t}, 1, 'g{t}')"
        ))
        .await?;
    }
    // A tenant on another shard than each one, for the statement keyed by its second parameter.
    let mut shard_of = Vec::new();
    for t in &tenants {
        shard_of.push(Shards::expected_shard(&pg, *t).await?);
    }
    let elsewhere = |i: usize| tenants[(0..tenants.len()).find(|&j| shard_of[j] != shard_of[i]).unwrap()];
    let by_first = "SELECT guest FROM reservations WHERE tenant_id = $1";
    let by_second = "SELECT guest FROM reservations WHERE tenant_id = $2 AND $1::bigint IS NOT NULL";
    for round in 0..3 {
        for (i, t) in tenants.iter().enumerate() {
            // The same text twice in a row, then the other text keyed by its second value.
            for _ in 0..2 {
                let r = c.query_typed(by_first, &[(t, Type::INT8)]).await?;
                assert_eq!(r.len(), 1, "round {round}: tenant {t} by $1");
                assert_eq!(r[0].get::<_, String>(0), format!("g{t}"));
            }
            let other = elsewhere(i);
            let r = c.query_typed(by_second, &[(&other, Type::INT8), (t, Type::INT8)]).await?;
            assert_eq!(r.len(), 1, "round {round}: tenant {t} by $2 (with {other} as $1)");
            assert_eq!(r[0].get::<_, String>(0), format!("g{t}"));
        }
    }
    Ok(())
}
