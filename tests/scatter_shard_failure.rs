//! A shard that stops in the middle of a cross-shard read fails the whole statement with an
//! error naming that shard; other clients go on; the healthy shards' servers come back to
//! their pools clean; once the shard is back, reads across shards work again.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fmt::Write as _;
use std::time::Duration;

use support::shards::QUARTERS;
use support::{PgCluster, Proxy};

const TABLE: &str = "CREATE TABLE slow (tenant_id bigint NOT NULL, n int NOT NULL)";

/// Shards 0–2 are databases of cluster `a`; shard 3 is alone on cluster `b`, so stopping `b`
/// takes down exactly one shard.
fn map(a: &PgCluster, b: &PgCluster) -> String {
    let mut y = String::from("version: 1\nshards:\n");
    for i in 0..4 {
        let (host, port) = if i == 3 { (b.host(), b.port()) } else { (a.host(), a.port()) };
        let _ = writeln!(y, "  - name: shard-{i}\n    primary: {{ host: {host}, port: {port}, database: part_{i} }}");
    }
    y.push_str("functions:\n  - name: tenant_hash\n    kind: hash\n    key: bigint\n    ranges:\n");
    for (i, (from, to)) in QUARTERS.iter().enumerate() {
        let from = from.map(|f| format!("from: {f}, ")).unwrap_or_default();
        let to = to.map(|t| format!("to: {t}, ")).unwrap_or_default();
        let _ = writeln!(y, "      - {{ {from}{to}shard: shard-{i} }}");
    }
    y.push_str("tables:\n  - { name: slow, columns: [tenant_id], function: tenant_hash }\n");
    y
}

/// A tenant key whose rows live on shard `i` (by PostgreSQL's own hash).
async fn tenant_on(pg: &PgCluster, i: usize) -> anyhow::Result<i64> {
    let c = pg.client("postgres").await?;
    for t in 1..1000i64 {
        let h: i64 = c.query_one("SELECT hashint8extended($1::bigint, 0)", &[&t]).await?.get(0);
        let (from, to) = QUARTERS[i];
        if from.is_none_or(|f| h >= f) && to.is_none_or(|x| h < x) {
            return Ok(t);
        }
    }
    anyhow::bail!("no tenant for shard {i}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_stopped_mid_read_fails_the_statement_naming_it_and_nothing_else() -> anyhow::Result<()> {
    let mut clusters = PgCluster::start_many(2).await?;
    let b = clusters.pop().unwrap();
    let a = clusters.pop().unwrap();
    let mut tenants = Vec::new();
    for i in 0..4 {
        tenants.push(tenant_on(&a, i).await?);
    }
    for (i, pg) in [(0, &a), (1, &a), (2, &a), (3, &b)] {
        pg.ensure_role("app", "app").await?;
        let db = format!("part_{i}");
        pg.create_database(&db, "app").await?;
        let c = pg.client_as("app", "app", &db).await?;
        c.batch_execute(TABLE).await?;
        c.execute("INSERT INTO slow SELECT $1, g FROM generate_series(1, 400) g", &[&tenants[i]]).await?;
    }
    let proxy = Proxy::builder(&a).database_with_map("pms", &map(&a, &b)).no_provision().start().await?;
    let reader = proxy.connect("app", "app", "pms").await?;
    let other = proxy.connect("app", "app", "pms").await?;
    let all: i64 = reader.query_one("SELECT count(*) FROM slow", &[]).await?.get(0);
    assert_eq!(all, 1600, "a scatter over the four shards before the failure");

    // About 2 ms per row: every shard is still sending rows when shard-3 stops.
    let slow = reader.simple_query("SELECT tenant_id, n FROM slow WHERE pg_sleep(0.002)::text = ''");
    let stop = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        tokio::task::spawn_blocking(move || b.stop().map(|()| b)).await?
    };
    let (result, stopped) = tokio::join!(slow, stop);
    let b = stopped?;
    let e = result.expect_err("the read must fail when a shard stops under it");
    let db = e.as_db_error().expect("an ErrorResponse, not a broken connection");
    assert!(db.message().contains("shard-3"), "the error names the shard: {}", db.message());
    assert!(
        ["57P01", "08006", "57P02", "57P03"].contains(&db.code().code()),
        "a shutdown or connection-failure SQLSTATE: {}",
        db.code().code()
    );

    // The same session and another one keep working on the shards that are up.
    let t0 = tenants[0];
    let n: i64 = reader.query_one("SELECT count(*) FROM slow WHERE tenant_id = $1", &[&t0]).await?.get(0);
    assert_eq!(n, 400);
    let healthy =
        format!("SELECT count(*) FROM slow WHERE tenant_id IN ({}, {}, {})", tenants[0], tenants[1], tenants[2]);
    let n: i64 = other.query_one(healthy.as_str(), &[]).await?.get(0);
    assert_eq!(n, 1200, "a scatter over the healthy shards");

    // The healthy shards' servers went back idle (drained to ReadyForQuery), not left running.
    let admin = a.client("postgres").await?;
    let mut busy = i64::MAX;
    for _ in 0..50 {
        busy = admin
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state <> 'idle'", &[])
            .await?
            .get(0);
        if busy == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(busy, 0, "no server of the healthy shards is left mid-query");

    // Shard-3 back: the full read works again.
    let _b = tokio::task::spawn_blocking(move || b.start_again().map(|()| b)).await??;
    let mut all: i64 = 0;
    for _ in 0..50 {
        match reader.query_one("SELECT count(*) FROM slow", &[]).await {
            Ok(r) => {
                all = r.get(0);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(all, 1600, "every shard answers again after the restart");
    Ok(())
}
