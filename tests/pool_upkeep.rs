//! The pool's own bookkeeping, seen from PostgreSQL: how many server connections exist, and
//! which backend a client's statements run on. `min_idle` opens spares ahead of demand,
//! `idle_timeout_s` closes unused servers, `lifetime_s` replaces old ones, the pool never
//! holds more than `pool.size` servers however many clients wait, and a reload puts a new
//! `pool.size`, checkout timeout or lifetime in force on the pools that exist.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use support::{PgCluster, Proxy};

/// Server connections the proxy holds to `pms` now, by PostgreSQL's own count.
async fn servers(pg: &PgCluster) -> anyhow::Result<i64> {
    let su = pg.client("pms").await?;
    let row = su
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND datname = 'pms' \
             AND pid <> pg_backend_pid()",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// Whether PostgreSQL still has a backend with this pid.
async fn backend_alive(pg: &PgCluster, pid: i32) -> anyhow::Result<bool> {
    let su = pg.client("pms").await?;
    let n: i64 = su.query_one("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", &[&pid]).await?.get(0);
    Ok(n > 0)
}

/// Polls until `servers(pg)` satisfies `ok`, for up to `within`; returns the last count.
async fn wait_for_servers(pg: &PgCluster, within: Duration, ok: impl Fn(i64) -> bool) -> anyhow::Result<i64> {
    let deadline = Instant::now() + within;
    loop {
        let n = servers(pg).await?;
        if ok(n) || Instant::now() >= deadline {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A proxy with `min_idle: 3` and pool size `size`, one client, and the pool created by that
/// client's first statement and topped up by upkeep: three servers open, all idle.
async fn three_idle_servers(size: u32) -> anyhow::Result<(PgCluster, Proxy, tokio_postgres::Client)> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(size).pool_upkeep(3, 600, 3600).start().await?;
    let c = proxy.connect("app", "app", "pms").await?;
    c.simple_query("SELECT 1").await?;
    let n = wait_for_servers(&pg, Duration::from_secs(5), |n| n >= 3).await?;
    assert_eq!(n, 3, "min_idle 3 should leave three servers open");
    Ok((pg, proxy, c))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_idle_opens_spare_servers_and_no_more() -> anyhow::Result<()> {
    let (pg, _proxy, _c) = three_idle_servers(5).await?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(servers(&pg).await?, 3, "upkeep must not open more than min_idle spares");
    Ok(())
}

/// Idle servers hold no checkout slot, so a free slot does not mean room for one more server:
/// with every server open and one of them in use, upkeep must not open a spare to make up
/// the idle count (it did: 4 servers on a pool of 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_idle_never_opens_past_the_pool_size() -> anyhow::Result<()> {
    let (pg, _proxy, c) = three_idle_servers(3).await?;
    // One server in use, two idle: below min_idle, but the pool is full.
    c.batch_execute("BEGIN; SELECT 1").await?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(servers(&pg).await?, 3, "upkeep opened a server past pool.size");
    c.batch_execute("COMMIT").await?;
    let row = c.query_one("SELECT 41 + 1", &[]).await?;
    assert_eq!(row.get::<_, i32>(0), 42);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_idle_past_idle_timeout_are_closed_and_reopened_on_demand() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(5).pool_upkeep(0, 1, 3600).start().await?;
    // Three transactions open at once need three servers.
    let mut clients = Vec::new();
    for _ in 0..3 {
        let c = proxy.connect("app", "app", "pms").await?;
        c.batch_execute("BEGIN; SELECT 1").await?;
        clients.push(c);
    }
    assert_eq!(servers(&pg).await?, 3);
    for c in &clients {
        c.batch_execute("COMMIT").await?;
    }
    let n = wait_for_servers(&pg, Duration::from_secs(6), |n| n == 0).await?;
    assert_eq!(n, 0, "idle_timeout_s 1 should close every idle server within a few seconds");
    let row = clients[0].query_one("SELECT 41 + 1", &[]).await?;
    assert_eq!(row.get::<_, i32>(0), 42, "a client is served after its pool emptied");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_past_its_lifetime_is_replaced() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(2).pool_upkeep(0, 600, 1).start().await?;
    let c = proxy.connect("app", "app", "pms").await?;
    let first: i32 = c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    let again: i32 = c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    assert_eq!(first, again, "a young idle server is reused");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let later: i32 = c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    assert_ne!(first, later, "a server older than lifetime_s must be closed, not reused");
    assert!(!backend_alive(&pg, first).await?, "the expired server's backend should be gone");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_share_a_small_pool_without_exceeding_it() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(3).start().await?;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let c = proxy.connect("app", "app", "pms").await?;
        tasks.push(tokio::spawn(async move {
            let mut pids = Vec::new();
            for j in 0..20 {
                // A short sleep keeps servers busy, so clients queue for them.
                let row =
                    c.query_one("SELECT pg_backend_pid(), $1::int FROM pg_sleep(0.002)", &[&(i * 100 + j)]).await?;
                assert_eq!(row.get::<_, i32>(1), i * 100 + j, "each client gets its own answer");
                pids.push(row.get::<_, i32>(0));
            }
            anyhow::Ok(pids)
        }));
    }
    let mut pids = std::collections::BTreeSet::new();
    for t in tasks {
        pids.extend(t.await??);
    }
    assert!(pids.len() <= 3, "pool.size 3 but statements ran on {} backends: {pids:?}", pids.len());
    assert!(servers(&pg).await? <= 3);
    Ok(())
}

/// Rewrites `pool.<key>` in the running proxy's config and reloads it.
fn set_pool(proxy: &Proxy, key: &str, value: &str) -> anyhow::Result<()> {
    let path = proxy.config_path();
    let yaml = std::fs::read_to_string(path)?;
    let prefix = format!("  {key}: ");
    let mut found = false;
    let mut out = String::new();
    for line in yaml.lines() {
        if !found && line.starts_with(&prefix) {
            out.push_str(&format!("{prefix}{value}\n"));
            found = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    anyhow::ensure!(found, "no `pool.{key}` in\n{yaml}");
    std::fs::write(path, out)?;
    proxy.reload()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_raises_pool_size_serves_a_checkout_already_waiting() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(1).checkout_timeout_ms(10_000).start().await?;
    let a = proxy.connect("app", "app", "pms").await?;
    let b = proxy.connect("app", "app", "pms").await?;
    a.batch_execute("BEGIN").await?;
    a.query_one("SELECT 1", &[]).await?;
    let waiting = tokio::spawn(async move {
        let r = b.query_one("SELECT 2", &[]).await.map(|row| row.get::<_, i32>(0));
        (b, r)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "b waits: the pool's one server is in a's transaction");
    set_pool(&proxy, "size", "2")?;
    // Served by a second server while a's transaction is still open (the 10 s checkout
    // timeout is far away).
    let (_b, r) = tokio::time::timeout(Duration::from_secs(3), waiting).await??;
    assert_eq!(r?, 2);
    assert_eq!(servers(&pg).await?, 2);
    a.batch_execute("COMMIT").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_lowers_pool_size_closes_servers_as_they_come_back() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(3).checkout_timeout_ms(10_000).start().await?;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let c = proxy.connect("app", "app", "pms").await?;
        c.batch_execute("BEGIN").await?;
        c.query_one("SELECT 1", &[]).await?;
        clients.push(c);
    }
    assert_eq!(servers(&pg).await?, 3);
    // All three servers are in use: the pool shrinks as they come back.
    set_pool(&proxy, "size", "1")?;
    for c in &clients {
        c.batch_execute("COMMIT").await?;
    }
    let n = wait_for_servers(&pg, Duration::from_secs(5), |n| n == 1).await?;
    assert_eq!(n, 1, "two of the three servers are closed on their way back");
    // One server now: a second transaction waits for the first.
    let mut clients = clients.into_iter();
    let (a, b, c) = (clients.next().unwrap(), clients.next().unwrap(), clients.next().unwrap());
    a.batch_execute("BEGIN").await?;
    a.query_one("SELECT 1", &[]).await?;
    let waiting = tokio::spawn(async move { b.query_one("SELECT 3", &[]).await.map(|row| row.get::<_, i32>(0)) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "with pool.size 1, b waits for a's transaction");
    a.batch_execute("COMMIT").await?;
    assert_eq!(tokio::time::timeout(Duration::from_secs(3), waiting).await???, 3);
    assert_eq!(servers(&pg).await?, 1);

    // A shorter checkout timeout applies to the next wait.
    set_pool(&proxy, "checkout_timeout_ms", "300")?;
    a.batch_execute("BEGIN").await?;
    a.query_one("SELECT 1", &[]).await?;
    let started = Instant::now();
    let err = c.query_one("SELECT 4", &[]).await.expect_err("no server within 300 ms");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    let msg = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
    assert!(msg.contains("within 300 ms"), "{msg}");
    a.batch_execute("COMMIT").await?;
    assert_eq!(c.query_one("SELECT 5", &[]).await?.get::<_, i32>(0), 5, "the session survived the timeout");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_shortens_lifetime_retires_servers_already_open() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(2).pool_upkeep(0, 600, 3600).start().await?;
    let c = proxy.connect("app", "app", "pms").await?;
    let first: i32 = c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    // Opened under a lifetime of an hour; the reload makes it one second.
    set_pool(&proxy, "lifetime_s", "1")?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later: i32 = c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    assert_ne!(first, later, "a server opened before the reload must be retired by the new lifetime_s");
    assert!(!backend_alive(&pg, first).await?, "the retired server's backend should be gone");
    Ok(())
}
