//! A client of a single-shard database keeps its server between transactions while the pool
//! has room, and gives it back the moment another client's checkout would have to wait.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use support::{PgCluster, Proxy};
use tokio_postgres::Client;

async fn pid(c: &Client) -> anyhow::Result<i32> {
    Ok(c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_client_keeps_its_server_until_another_client_needs_it() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    // Waiting for a server would take the whole checkout timeout if the kept server were
    // not given back: 10 s against the 2 s the test allows.
    let proxy = Proxy::builder(&pg).pool_size(2).checkout_timeout_ms(10_000).start().await?;
    let a = proxy.connect("app", "app", "pms").await?;
    let b = proxy.connect("app", "app", "pms").await?;
    let c = proxy.connect("app", "app", "pms").await?;

    let pid_a = pid(&a).await?;
    assert_eq!(pid(&a).await?, pid_a, "a's transactions run on the server it keeps");

    // b's transaction gets the pool's other slot and a server of its own: had a returned its
    // server to the pool, b would have been handed that one (the pool gives the newest idle
    // server first).
    b.batch_execute("BEGIN").await?;
    let pid_b = pid(&b).await?;
    assert_ne!(pid_b, pid_a, "a kept its server while idle");

    // Both slots are taken now (a's kept server, b's transaction): c's checkout waits, asks
    // a for its server, and gets it at once.
    let started = Instant::now();
    let pid_c = tokio::time::timeout(Duration::from_secs(5), pid(&c)).await??;
    let waited = started.elapsed();
    assert_eq!(pid_c, pid_a, "c got the server a gave back");
    assert!(waited < Duration::from_secs(2), "c waited {waited:?} for a's idle server");

    // a still works: it gets a server back from the pool once c is done.
    assert_eq!(a.query_one("SELECT 41 + 1", &[]).await?.get::<_, i32>(0), 42);
    b.batch_execute("COMMIT").await?;
    for client in [&a, &b, &c] {
        assert_eq!(client.query_one("SELECT 1", &[]).await?.get::<_, i32>(0), 1);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_server_counts_as_idle_and_pause_holds_its_next_statement() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg)
        .pool_size(4)
        .user("app", "app", "scram-sha-256")
        .user("admin", "admin", "scram-sha-256")
        .extra_yaml("admin_users: [admin]\n")
        .start()
        .await?;
    let a = proxy.connect("app", "app", "pms").await?;
    pid(&a).await?;
    let admin = proxy.connect("admin", "admin", "shardgate").await?;
    // PAUSE waits for busy servers only; the kept one runs nothing.
    tokio::time::timeout(Duration::from_secs(5), admin.simple_query("PAUSE")).await??;
    let statement = tokio::spawn(async move {
        let r = a.query_one("SELECT 7", &[]).await.map(|row| row.get::<_, i32>(0));
        (a, r)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!statement.is_finished(), "a statement of a client keeping a server waits behind PAUSE");
    admin.simple_query("RESUME").await?;
    let (_a, r) = tokio::time::timeout(Duration::from_secs(5), statement).await??;
    assert_eq!(r?, 7);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_kept_past_the_ping_threshold_is_pinged_before_its_next_client_uses_it() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(2).checkout_timeout_ms(10_000).start().await?;
    // Every statement of the proxy's server connections (role `app`, opened from now on)
    // reaches the server log, the validity ping (`;`) included.
    pg.exec("postgres", "ALTER ROLE app SET log_statement = 'all'").await?;
    let a = proxy.connect("app", "app", "pms").await?;
    let b = proxy.connect("app", "app", "pms").await?;
    let c = proxy.connect("app", "app", "pms").await?;
    let pid_a = pid(&a).await?;
    // Longer than `ping_after_idle_ms` (1 s by default) kept idle by a.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.batch_execute("BEGIN").await?;
    assert_ne!(pid(&b).await?, pid_a, "a kept its server");
    let pings_before = pg.log().matches("statement: ;").count();
    // c waits, a gives its server back, and c's checkout must ping it first: the server
    // went back with the stamps of when a kept it, not as just used.
    let pid_c = tokio::time::timeout(Duration::from_secs(5), pid(&c)).await??;
    assert_eq!(pid_c, pid_a, "c got the server a gave back");
    let pings = pg.log().matches("statement: ;").count() - pings_before;
    assert_eq!(pings, 1, "one validity ping before c's statement\n{}", pg.log());
    b.batch_execute("COMMIT").await?;
    Ok(())
}
