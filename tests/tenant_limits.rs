//! Per-tenant limits with concurrent clients: a tenant over its cap of concurrent
//! transactions or statements per second gets SQLSTATE 53400 with a hint, its neighbours on
//! the same shard do not, its own work resumes when the cap frees, and /metrics counts the
//! refusals.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::shards::Shards;
use support::{PgCluster, Proxy};
use tokio_postgres::error::SqlState;

async fn setup(prefix: &str, limits: &str) -> anyhow::Result<(PgCluster, Proxy)> {
    let pg = PgCluster::start_async().await?;
    pg.ensure_role("app", "app").await?;
    let shards = Shards::create(&pg, prefix, 4, ("app", "app")).await?;
    let proxy = Proxy::builder(&pg)
        .database_with_map("pms", &shards.map_yaml(&pg))
        .extra_yaml(&format!("tenant_limits:\n{limits}"))
        .start()
        .await?;
    Ok((pg, proxy))
}

/// `shardgate_tenant_limit_rejections_total{limit=…}` from /metrics.
async fn rejections(proxy: &Proxy, limit: &str) -> anyhow::Result<f64> {
    let addr = proxy.metrics_addr().expect("metrics are on in tests");
    let body = reqwest::get(format!("http://{addr}/metrics")).await?.text().await?;
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))?;
    Ok(scrape
        .samples
        .iter()
        .find(|s| s.metric == "shardgate_tenant_limit_rejections_total" && s.labels.get("limit") == Some(limit))
        .map_or(0.0, |s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_transaction_cap_is_refused_and_its_neighbours_are_not() -> anyhow::Result<()> {
    let (_pg, proxy) = setup("tlimit_tx", "  max_concurrent_transactions: 2\n").await?;
    let mut holders = Vec::new();
    for i in 0..2 {
        let c = proxy.connect("app", "app", "pms").await?;
        c.batch_execute("BEGIN").await?;
        c.execute("INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES (7, $1, 'held')", &[&(i as i64)])
            .await?;
        holders.push(c);
    }
    let third = proxy.connect("app", "app", "pms").await?;
    let e = third
        .query("SELECT count(*) FROM reservations WHERE tenant_id = 7", &[])
        .await
        .expect_err("a third transaction of tenant 7 is over the cap");
    assert_eq!(e.code(), Some(&SqlState::CONFIGURATION_LIMIT_EXCEEDED), "{e:?}");
    let db = e.as_db_error().expect("an ErrorResponse");
    assert!(db.message().contains("tenant 7") && db.message().contains("2 concurrent transactions"), "{db:?}");
    assert!(db.hint().is_some_and(|h| h.contains("other tenants")), "{db:?}");
    assert_eq!(rejections(&proxy, "transactions").await?, 1.0);

    // Neighbours, including on tenant 7's own shard, are not limited; the session survives.
    for tenant in [8i64, 9, 10, 11] {
        third.query("SELECT count(*) FROM reservations WHERE tenant_id = $1", &[&tenant]).await?;
    }
    // A holder's own transaction goes on (it holds a slot already).
    holders[0]
        .execute("INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES (7, 100, 'more')", &[])
        .await?;

    // When one holder commits, tenant 7 has room again.
    holders[0].batch_execute("COMMIT").await?;
    let n: i64 = third.query_one("SELECT count(*) FROM reservations WHERE tenant_id = 7", &[]).await?.get(0);
    assert_eq!(n, 2, "the committed rows are visible, the held one is not");
    // The slot is free by the time the COMMIT's reply arrives, every time, not shortly after.
    for _ in 0..30 {
        holders[0].batch_execute("BEGIN; SELECT 1 FROM reservations WHERE tenant_id = 7").await?;
        holders[0].batch_execute("COMMIT").await?;
        third.query("SELECT 1 FROM reservations WHERE tenant_id = 7", &[]).await?;
    }
    holders[1].batch_execute("ROLLBACK").await?;
    // A client that disconnects mid-transaction gives its slot back too.
    let leaver = proxy.connect("app", "app", "pms").await?;
    leaver.batch_execute("BEGIN; SELECT 1 FROM reservations WHERE tenant_id = 7").await?;
    drop(leaver);
    let other = proxy.connect("app", "app", "pms").await?;
    other.batch_execute("BEGIN; SELECT 1 FROM reservations WHERE tenant_id = 7").await?;
    let ok = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if third.query("SELECT 1 FROM reservations WHERE tenant_id = 7", &[]).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "the disconnected client's slot came back");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_statement_rate_is_refused_until_the_next_second() -> anyhow::Result<()> {
    let (_pg, proxy) = setup("tlimit_rate", "  max_statements_per_second: 5\n").await?;
    let clients = [proxy.connect("app", "app", "pms").await?, proxy.connect("app", "app", "pms").await?];
    // Two clients, one tenant: the cap is the tenant's, not the connection's.
    let mut refused = 0;
    let mut ok = 0;
    for i in 0..12 {
        let c = &clients[i % 2];
        match c.query("SELECT count(*) FROM reservations WHERE tenant_id = 42", &[]).await {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.code(), Some(&SqlState::CONFIGURATION_LIMIT_EXCEEDED), "{e:?}");
                refused += 1;
            }
        }
    }
    assert!((5..=10).contains(&ok), "at most 5 per second (the burst may straddle a second): ok {ok}");
    assert!(refused >= 2, "refused {refused}");
    assert_eq!(rejections(&proxy, "statements").await?, f64::from(refused));
    // Another tenant is not affected.
    clients[0].query("SELECT count(*) FROM reservations WHERE tenant_id = 43", &[]).await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    clients[1].query("SELECT count(*) FROM reservations WHERE tenant_id = 42", &[]).await?;
    proxy.shutdown().await;
    Ok(())
}
