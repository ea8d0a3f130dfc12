//! Read/write splitting, health and failover against real streaming replication: replicas
//! built with `pg_basebackup -R`, stopped, paused and promoted with PostgreSQL's own tools.
//! Which server answered is asked of the server itself (`inet_server_port()`).

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fmt::Write as _;
use std::future::Future;
use std::time::{Duration, Instant};

use support::{PgCluster, Proxy};
use tokio_postgres::Client;

const SCHEMA: &str = "CREATE TABLE guests (id bigint PRIMARY KEY, name text NOT NULL);
                      CREATE SEQUENCE guest_ids;";

/// Fast checks so the tests see state changes quickly.
const HEALTH: &str = "replicas:\n  health_interval_ms: 100\n  ban_ms: 300\n";

/// A primary with the app's role, database and schema, and `n` streaming replicas of it.
async fn primary_with_replicas(n: usize) -> anyhow::Result<(PgCluster, Vec<PgCluster>)> {
    let primary = PgCluster::start_async().await?;
    primary.ensure_role("app", "app").await?;
    primary.create_database("pms", "app").await?;
    primary.client_as("app", "app", "pms").await?.batch_execute(SCHEMA).await?;
    let mut replicas = Vec::new();
    for _ in 0..n {
        replicas.push(primary.start_replica_async().await?);
    }
    Ok((primary, replicas))
}

/// One shard: `primary:` + `replicas:`, or (failover form) `servers:`.
fn map(primary: &PgCluster, replicas: &[&PgCluster], servers_form: bool) -> String {
    let endpoint = |c: &PgCluster| format!("{{ host: {}, port: {}, database: pms }}", c.host(), c.port());
    let mut y = String::from("version: 1\nshards:\n  - name: main\n");
    if servers_form {
        y.push_str("    servers:\n");
        let _ = writeln!(y, "      - {}", endpoint(primary));
        for r in replicas {
            let _ = writeln!(y, "      - {}", endpoint(r));
        }
    } else {
        let _ = writeln!(y, "    primary: {}", endpoint(primary));
        y.push_str("    replicas:\n");
        for r in replicas {
            let _ = writeln!(y, "      - {}", endpoint(r));
        }
    }
    y
}

async fn proxy(primary: &PgCluster, map_yaml: &str, extra: &str) -> anyhow::Result<Proxy> {
    Proxy::builder(primary)
        .database_with_map("pms", map_yaml)
        .user("app", "app", "scram-sha-256")
        .no_provision()
        .extra_yaml(&format!("{HEALTH}{extra}"))
        .start()
        .await
}

/// The port of the server that ran the statement.
async fn port(c: &Client, sql: &str) -> anyhow::Result<u16> {
    let rows = c.simple_query(sql).await?;
    let value = rows
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no row from {sql}"))?;
    Ok(value.parse()?)
}

/// Polls `check` until it returns true, or fails after `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let start = Instant::now();
    loop {
        if check().await.unwrap_or(false) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            anyhow::bail!("{what}: not within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const WHO: &str = "SELECT inet_server_port()";

/// `shardgate_replica_lag_bytes` of the replica on `port`, scraped from /metrics.
async fn lag_on_metrics(proxy: &Proxy, port: u16) -> anyhow::Result<f64> {
    let addr = proxy.metrics_addr().ok_or_else(|| anyhow::anyhow!("metrics are off"))?;
    let body = reqwest::get(format!("http://{addr}/metrics")).await?.text().await?;
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines)?;
    let server = format!("127.0.0.1:{port}");
    scrape
        .samples
        .iter()
        .find(|s| s.metric == "shardgate_replica_lag_bytes" && s.labels.get("server") == Some(server.as_str()))
        .and_then(|s| match s.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no shardgate_replica_lag_bytes for {server} in\n{body}"))
}

/// The last statement of every session of `app` on a server, as `pg_stat_activity` shows it.
async fn queries_seen(c: &PgCluster) -> anyhow::Result<Vec<String>> {
    let rows = c
        .client("postgres")
        .await?
        .query("SELECT query FROM pg_stat_activity WHERE datname = 'pms' AND usename = 'app'", &[])
        .await?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_replica_and_writes_to_the_primary() -> anyhow::Result<()> {
    let (primary, replicas) = primary_with_replicas(1).await?;
    let replica = &replicas[0];
    let proxy = proxy(&primary, &map(&primary, &[replica], false), "").await?;
    let app = proxy.connect("app", "app", "pms").await?;
    let (p, r) = (primary.port(), replica.port());
    eventually(Duration::from_secs(10), "reads reach the replica", || async { Ok(port(&app, WHO).await? == r) })
        .await?;

    for i in 0..20 {
        assert_eq!(port(&app, WHO).await?, r, "plain read {i} goes to the replica");
    }
    // Extended protocol too (Parse/Bind with a parameter).
    let row = app.query_one("SELECT inet_server_port(), $1::int", &[&7i32]).await?;
    assert_eq!(row.get::<_, i32>(0) as u16, r, "extended-protocol read");

    // Transactions (before this client writes: read-your-writes would then keep its reads
    // on the primary until the replica shows it has replayed the write): the primary, unless read only.
    app.batch_execute("BEGIN").await?;
    assert_eq!(port(&app, WHO).await?, p, "a read inside BEGIN … goes to the primary");
    app.batch_execute("COMMIT").await?;
    app.batch_execute("BEGIN READ ONLY").await?;
    assert_eq!(port(&app, WHO).await?, r, "BEGIN READ ONLY may run on a replica");
    app.batch_execute("COMMIT").await?;

    app.execute("INSERT INTO guests VALUES (1, 'Ada')", &[]).await?;
    let direct = primary.client_as("app", "app", "pms").await?;
    let n: i64 = direct.query_one("SELECT count(*) FROM guests", &[]).await?.get(0);
    assert_eq!(n, 1, "the write reached the primary");

    // What needs the primary gets it; a replica would refuse nextval and locks.
    assert!(app.query_one("SELECT nextval('guest_ids')", &[]).await.is_ok(), "nextval runs on the primary");
    assert_eq!(port(&app, "SELECT inet_server_port() FROM guests FOR UPDATE").await?, p);
    assert_eq!(port(&app, "SELECT inet_server_port() FROM pg_advisory_lock(1)").await?, p);
    assert_eq!(port(&app, "/* shardgate: role=primary */ SELECT inet_server_port()").await?, p);
    app.batch_execute("SELECT pg_advisory_unlock_all()").await?;

    // Session overrides.
    app.batch_execute("SET shardgate.role = 'primary'").await?;
    assert_eq!(port(&app, WHO).await?, p, "SET shardgate.role = primary");
    app.batch_execute("RESET shardgate.role").await?;

    // The servers' own view: the replica's sessions ran the reads, the primary's the writes.
    // After its writes, this client reads from the replica again once the replica has
    // replayed them (read-your-writes).
    eventually(Duration::from_secs(5), "reads return to the replica", || async { Ok(port(&app, WHO).await? == r) })
        .await?;
    let on_replica = queries_seen(replica).await?;
    assert!(on_replica.iter().any(|q| q.contains("inet_server_port")), "{on_replica:?}");
    assert!(!on_replica.iter().any(|q| q.contains("INSERT")), "{on_replica:?}");
    let on_primary = queries_seen(&primary).await?;
    assert!(
        on_primary.iter().any(|q| q.contains("INSERT") || q.contains("nextval") || q.contains("pg_current_wal")),
        "{on_primary:?}"
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reads_its_own_writes_while_the_replica_lags() -> anyhow::Result<()> {
    let (primary, replicas) = primary_with_replicas(1).await?;
    let replica = &replicas[0];
    // Lag limits far away: the replica stays eligible although it is behind.
    let proxy = proxy(&primary, &map(&primary, &[replica], false), "  max_lag_ms: 600000\n").await?;
    let writer = proxy.connect("app", "app", "pms").await?;
    let other = proxy.connect("app", "app", "pms").await?;
    let r = replica.port();
    eventually(Duration::from_secs(10), "reads reach the replica", || async { Ok(port(&writer, WHO).await? == r) })
        .await?;
    replica.client("postgres").await?.batch_execute("SELECT pg_wal_replay_pause()").await?;

    writer.execute("INSERT INTO guests VALUES (42, 'Grace')", &[]).await?;
    let seen: i64 = writer.query_one("SELECT count(*) FROM guests WHERE id = 42", &[]).await?.get(0);
    assert_eq!(seen, 1, "the writer sees its own insert at once");
    assert_eq!(port(&writer, WHO).await?, primary.port(), "…because its reads went to the primary");
    let theirs: i64 = other.query_one("SELECT count(*) FROM guests WHERE id = 42", &[]).await?.get(0);
    assert_eq!(theirs, 0, "another client still reads the paused replica");
    assert_eq!(port(&other, WHO).await?, r);

    replica.client("postgres").await?.batch_execute("SELECT pg_wal_replay_resume()").await?;
    eventually(
        Duration::from_secs(10),
        "the writer's reads return to the replica once it replayed the write",
        || async { Ok(port(&writer, WHO).await? == r) },
    )
    .await?;
    let seen: i64 = writer.query_one("SELECT count(*) FROM guests WHERE id = 42", &[]).await?.get(0);
    assert_eq!(seen, 1);
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_gets_no_reads_until_it_catches_up() -> anyhow::Result<()> {
    let (primary, replicas) = primary_with_replicas(1).await?;
    let replica = &replicas[0];
    let proxy = proxy(&primary, &map(&primary, &[replica], false), "  max_lag_bytes: 8192\n").await?;
    let app = proxy.connect("app", "app", "pms").await?;
    let (p, r) = (primary.port(), replica.port());
    eventually(Duration::from_secs(10), "reads reach the replica", || async { Ok(port(&app, WHO).await? == r) })
        .await?;

    replica.client("postgres").await?.batch_execute("SELECT pg_wal_replay_pause()").await?;
    let direct = primary.client_as("app", "app", "pms").await?;
    direct.batch_execute("INSERT INTO guests SELECT g, repeat('x', 100) FROM generate_series(1000, 3000) g").await?;
    let took = eventually(Duration::from_secs(5), "reads leave the lagging replica", || async {
        Ok(port(&app, WHO).await? == p)
    })
    .await?;
    eprintln!("reads left the paused replica after {took:?}");
    // Operators see it too: the lag on /metrics.
    let lag = lag_on_metrics(&proxy, replica.port()).await?;
    assert!(lag > 8192.0, "shardgate_replica_lag_bytes shows the paused replica behind: {lag}");
    for _ in 0..10 {
        assert_eq!(port(&app, WHO).await?, p, "the paused replica stays out");
    }

    replica.client("postgres").await?.batch_execute("SELECT pg_wal_replay_resume()").await?;
    let took = eventually(Duration::from_secs(10), "reads come back after resume", || async {
        Ok(port(&app, WHO).await? == r)
    })
    .await?;
    eprintln!("reads came back {took:?} after resume");
    // Within max_lag_bytes is not caught up: the last few kB (the commit) may still be on
    // their way, so the rows show up shortly after reads return.
    eventually(Duration::from_secs(5), "the replica shows the rows", || async {
        let n: i64 = app.query_one("SELECT count(*) FROM guests", &[]).await?.get(0);
        Ok(n == 2001 && port(&app, WHO).await? == r)
    })
    .await?;
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_costs_only_the_statements_in_flight_on_it() -> anyhow::Result<()> {
    let (primary, mut replicas) = primary_with_replicas(2).await?;
    let (r1, r2) = (replicas[0].port(), replicas[1].port());
    let proxy = proxy(&primary, &map(&primary, &[&replicas[0], &replicas[1]], false), "").await?;
    let probe = proxy.connect("app", "app", "pms").await?;
    eventually(Duration::from_secs(10), "both replicas serve reads", || async {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            seen.insert(port(&probe, WHO).await?);
        }
        Ok(seen.contains(&r1) && seen.contains(&r2))
    })
    .await?;

    const READERS: usize = 4;
    let stop_at = Instant::now() + Duration::from_secs(4);
    let mut tasks = Vec::new();
    for _ in 0..READERS {
        let c = proxy.connect("app", "app", "pms").await?;
        tasks.push(tokio::spawn(async move {
            let mut log: Vec<(Instant, Result<u16, String>)> = Vec::new();
            while Instant::now() < stop_at && !c.is_closed() {
                let r = port(&c, "SELECT inet_server_port() FROM pg_sleep(0.005)").await.map_err(|e| format!("{e:#}"));
                log.push((Instant::now(), r));
            }
            assert!(!c.is_closed(), "the client's session must survive a replica's death: {:?}", log.last());
            log
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let victim = replicas.remove(0);
    let killed_at = Instant::now();
    tokio::task::spawn_blocking(move || victim.kill().map(|()| victim)).await??;
    let mut errors = Vec::new();
    let mut after = std::collections::HashMap::new();
    for t in tasks {
        let log = t.await?;
        let mut client_errors = 0;
        for (at, r) in log {
            match r {
                Err(e) => {
                    client_errors += 1;
                    errors.push((at.saturating_duration_since(killed_at), e));
                }
                Ok(port) if at > killed_at + Duration::from_millis(500) => *after.entry(port).or_insert(0) += 1,
                Ok(_) => {}
            }
        }
        assert!(client_errors <= 1, "a client lost more than the statement in flight: {errors:?}");
    }
    eprintln!("errors after the kill: {errors:?}; reads per server after it: {after:?}");
    assert!(errors.len() <= READERS, "{errors:?}");
    assert!(errors.iter().all(|(since, _)| *since < Duration::from_millis(500)), "late errors: {errors:?}");
    assert!(!after.contains_key(&r1), "no read reached the killed replica afterwards: {after:?}");
    assert!(after.get(&r2).copied().unwrap_or(0) > 0, "the surviving replica serves: {after:?}");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_promotion_writes_resume_within_seconds_and_nothing_committed_is_lost() -> anyhow::Result<()> {
    let (primary, replicas) = primary_with_replicas(1).await?;
    let replica = &replicas[0];
    let proxy = proxy(&primary, &map(&primary, &[replica], true), "  primary_wait_ms: 300\n").await?;
    let app = proxy.connect("app", "app", "pms").await?;
    for i in 0..100i64 {
        app.execute("INSERT INTO guests VALUES ($1, 'before')", &[&i]).await?;
    }

    tokio::task::block_in_place(|| primary.stop())?;
    // During the gap: a clear error, quickly, never a hang.
    let started = Instant::now();
    let e = app.execute("INSERT INTO guests VALUES (1000, 'gap')", &[]).await.expect_err("no primary during the gap");
    assert!(started.elapsed() < Duration::from_secs(5), "the write was held {:?}", started.elapsed());
    let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
    assert!(code == "57P03" || code.starts_with("08"), "a clear error during the gap: {code} {e:?}");
    eprintln!("during the gap: {code} {}", e.as_db_error().map(|d| d.message().to_string()).unwrap_or_default());

    tokio::task::block_in_place(|| replica.promote())?;
    let promoted = Instant::now();
    let mut next = 2000i64;
    let took = eventually(Duration::from_secs(5), "a write succeeds after the promotion", || {
        next += 1;
        let app = &app;
        let id = next;
        async move { Ok(app.execute("INSERT INTO guests VALUES ($1, 'after')", &[&id]).await.is_ok()) }
    })
    .await?;
    eprintln!("writes resumed {took:?} after pg_ctl promote returned ({:?} total)", promoted.elapsed());

    let direct = replica.client_as("app", "app", "pms").await?;
    let before: i64 = direct.query_one("SELECT count(*) FROM guests WHERE name = 'before'", &[]).await?.get(0);
    assert_eq!(before, 100, "every row committed before the failover is on the new primary");
    let after: i64 = direct.query_one("SELECT count(*) FROM guests WHERE name = 'after'", &[]).await?.get(0);
    assert_eq!(after, 1, "the write that succeeded went to the new primary");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_table_and_per_user_read_from_pick_the_server() -> anyhow::Result<()> {
    let (primary, replicas) = primary_with_replicas(1).await?;
    let replica = &replicas[0];
    primary.ensure_role("reporter", "reporter").await?;
    primary.exec("pms", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reporter").await?;
    // Written directly on the primary, so no client of the proxy has read-your-writes pending.
    primary.client_as("app", "app", "pms").await?.batch_execute("INSERT INTO guests VALUES (1, 'Ada')").await?;
    let map_yaml = format!("{}table_read_from:\n  guests: primary\n", map(&primary, &[replica], false));
    let proxy = Proxy::builder(&primary)
        .database_with_map("pms", &map_yaml)
        .user("app", "app", "scram-sha-256")
        .user("reporter", "reporter", "scram-sha-256")
        .no_provision()
        .extra_yaml(HEALTH)
        .start()
        .await?;
    // The user's read_from, appended to its entry in the written config.
    let config = std::fs::read_to_string(proxy.config_path())?;
    let config = config.replace(
        "  - name: \"reporter\"\n    password: \"reporter\"\n    auth: \"scram-sha-256\"\n",
        "  - name: \"reporter\"\n    password: \"reporter\"\n    auth: \"scram-sha-256\"\n    read_from: primary\n",
    );
    anyhow::ensure!(config.contains("read_from: primary"), "the user entry was not found in\n{config}");
    std::fs::write(proxy.config_path(), config)?;
    proxy.reload()?;

    let app = proxy.connect("app", "app", "pms").await?;
    let (p, r) = (primary.port(), replica.port());
    eventually(Duration::from_secs(10), "reads reach the replica", || async {
        Ok(port(&app, "SELECT inet_server_port() FROM pg_class LIMIT 1").await? == r)
    })
    .await?;
    for _ in 0..5 {
        assert_eq!(port(&app, "SELECT inet_server_port() FROM guests LIMIT 1").await?, p, "guests: primary");
        assert_eq!(port(&app, "SELECT inet_server_port() FROM pg_class LIMIT 1").await?, r, "other tables: replica");
    }
    // Eligible is not caught up (max_lag_bytes): wait until the replica has replayed the
    // role and the row, so what is measured below is routing, not replication.
    eventually(Duration::from_secs(10), "the replica replayed the setup", || async {
        let c = replica.client_as("reporter", "reporter", "pms").await?;
        Ok(c.query_one("SELECT count(*) FROM guests", &[]).await?.get::<_, i64>(0) == 1)
    })
    .await?;
    let reporter = proxy.connect("reporter", "reporter", "pms").await?;
    assert_eq!(port(&reporter, WHO).await?, p, "a user with read_from: primary reads the primary");
    assert_eq!(
        port(&reporter, "/* shardgate: role=replica */ SELECT inet_server_port()").await?,
        r,
        "a hint beats the user's setting"
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_right_after_a_write_waits_briefly_for_a_replica_to_replay_it() -> anyhow::Result<()> {
    let (primary, replicas) = primary_with_replicas(1).await?;
    let replica = &replicas[0];
    // Rare scheduled checks: only the early rounds a waiting read asks for can show the
    // replica caught up in time.
    let slow_checks = "replicas:\n  health_interval_ms: 3000\n";
    let run = |wait_ms: u64| {
        let (primary, replica) = (&primary, replica);
        async move {
            let proxy = Proxy::builder(primary)
                .database_with_map("pms", &map(primary, &[replica], false))
                .user("app", "app", "scram-sha-256")
                .no_provision()
                .extra_yaml(&format!("{slow_checks}  read_your_writes_wait_ms: {wait_ms}\n"))
                .start()
                .await?;
            let app = proxy.connect("app", "app", "pms").await?;
            let r = replica.port();
            eventually(Duration::from_secs(10), "reads reach the replica", || async {
                Ok(port(&app, WHO).await? == r)
            })
            .await?;
            let mut on_replica = 0;
            for i in 0..5i64 {
                app.execute("INSERT INTO guests VALUES ($1, 'x')", &[&(wait_ms as i64 * 100 + i)]).await?;
                let seen: i64 = app
                    .query_one("SELECT count(*) FROM guests WHERE id = $1", &[&(wait_ms as i64 * 100 + i)])
                    .await?
                    .get(0);
                assert_eq!(seen, 1, "the writer always sees its own row");
                if port(&app, WHO).await? == r {
                    on_replica += 1;
                }
            }
            proxy.shutdown().await;
            anyhow::Ok(on_replica)
        }
    };
    let waiting = run(500).await?;
    assert!(waiting >= 4, "with a short wait the reads after a write use the replica: {waiting} of 5");
    let straight = run(0).await?;
    assert!(straight <= 1, "without it they go to the primary until the next scheduled check: {straight} of 5");
    Ok(())
}
