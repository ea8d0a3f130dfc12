//! Transaction pooling with real clients: tokio-postgres (simple, extended, prepared,
//! transactions, COPY), psql, pgbench in every protocol mode, and hand-written extended
//! protocol batches for what drivers cannot be made to do on purpose.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bytes::Bytes;
use futures_util::{SinkExt, TryStreamExt};
use support::wire::{tags, Wire};
use support::{succeeded, PgCluster, Proxy};

async fn proxy_with_raw_user(pg: &PgCluster, size: u32) -> anyhow::Result<Proxy> {
    Proxy::builder(pg).user("app", "app", "scram-sha-256").user("raw", "raw", "trust").pool_size(size).start().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_and_extended_queries_return_the_servers_rows() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).start().await?;
    let c = proxy.connect("app", "app", "pms").await?;
    c.batch_execute("CREATE TABLE rooms (tenant_id bigint, id int, name text); INSERT INTO rooms VALUES (1, 1, 'sea view'), (1, 2, NULL)").await?;
    let rows = c.simple_query("SELECT name FROM rooms ORDER BY id").await?;
    let values: Vec<Option<String>> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
            _ => None,
        })
        .collect();
    assert_eq!(values, vec![Some("sea view".to_string()), None]);
    let r = c
        .query_one(
            "SELECT count(*) FROM rooms WHERE tenant_id = $1 AND name IS NOT DISTINCT FROM $2",
            &[&1i64, &Option::<String>::None],
        )
        .await?;
    assert_eq!(r.get::<_, i64>(0), 1);
    let r = c.query_one("SELECT $1::int + 1", &[&41i32]).await?;
    assert_eq!(r.get::<_, i32>(0), 42);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_keep_working_on_other_servers() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(3).start().await?;
    let a = proxy.connect("app", "app", "pms").await?;
    let stmt = a.prepare("SELECT pg_backend_pid(), $1::int * 2").await?;
    let first = a.query_one(&stmt, &[&21i32]).await?;
    assert_eq!(first.get::<_, i32>(1), 42);
    let first_pid: i32 = first.get(0);
    // Two other clients hold servers inside transactions, so A's next statements must run on
    // a server that has never seen its statement.
    let b = proxy.connect("app", "app", "pms").await?;
    let c = proxy.connect("app", "app", "pms").await?;
    b.batch_execute("BEGIN; SELECT 1").await?;
    c.batch_execute("BEGIN; SELECT 1").await?;
    let second = a.query_one(&stmt, &[&5i32]).await?;
    assert_eq!(second.get::<_, i32>(1), 10);
    let mut pids = vec![first_pid, second.get(0)];
    let held_b: i32 = b.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    let held_c: i32 = c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    pids.extend([held_b, held_c]);
    assert!(!pids[2..].contains(&pids[1]), "A ran on a server held by another client: {pids:?}");
    b.batch_execute("COMMIT").await?;
    c.batch_execute("COMMIT").await?;
    // Many executions over a pool of 3 with other clients interleaving.
    for i in 0..30 {
        let r = a.query_one(&stmt, &[&i]).await?;
        assert_eq!(r.get::<_, i32>(1), i * 2);
        let _ = b.query_one("SELECT 1", &[]).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_of_a_statement_the_server_has_not_seen_is_answered() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = proxy_with_raw_user(&pg, 2).await?;
    let mut w = Wire::connect_trust(proxy.addr(), "raw", "pms").await?;
    w.parse("s1", "SELECT $1::int AS doubled").sync();
    w.flush().await?;
    assert_eq!(tags(&w.until_ready().await?), "1Z");
    // Hold the server s1 was prepared on.
    let holder = proxy.connect("app", "app", "pms").await?;
    holder.batch_execute("BEGIN; SELECT 1").await?;
    w.describe_statement("s1").sync();
    w.flush().await?;
    let msgs = w.until_ready().await?;
    assert_eq!(tags(&msgs), "tTZ", "{msgs:?}");
    w.bind("", "s1", &[Some("7")]).execute("", 0).sync();
    w.flush().await?;
    let msgs = w.until_ready().await?;
    assert_eq!(tags(&msgs), "2DCZ");
    assert_eq!(msgs[1].row(), vec![Some("7".to_string())]);
    holder.batch_execute("COMMIT").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_and_deallocate_forget_statements_and_names_can_be_reused() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = proxy_with_raw_user(&pg, 2).await?;
    let mut w = Wire::connect_trust(proxy.addr(), "raw", "pms").await?;
    w.parse("s1", "SELECT 1").close_statement("s1").sync();
    w.flush().await?;
    assert_eq!(tags(&w.until_ready().await?), "13Z");
    w.bind("", "s1", &[]).execute("", 0).sync();
    w.flush().await?;
    let msgs = w.until_ready().await?;
    assert_eq!(msgs[0].error_code().as_deref(), Some("26000"), "{msgs:?}");
    assert_eq!(tags(&msgs), "EZ");
    // The name is free again, now for other SQL.
    w.parse("s1", "SELECT 'two'").bind("", "s1", &[]).execute("", 0).sync();
    w.flush().await?;
    let msgs = w.until_ready().await?;
    assert_eq!(tags(&msgs), "12DCZ");
    assert_eq!(msgs[2].row(), vec![Some("two".to_string())]);
    // DEALLOCATE through the simple protocol.
    w.query("DEALLOCATE s1");
    w.flush().await?;
    let msgs = w.until_ready().await?;
    assert_eq!(tags(&msgs), "CZ");
    assert_eq!(msgs[0].command_tag(), "DEALLOCATE");
    w.parse("a", "SELECT 1").parse("b", "SELECT 2").sync().query("DEALLOCATE ALL");
    w.flush().await?;
    assert_eq!(tags(&w.until_ready().await?), "11Z");
    assert_eq!(w.until_ready().await?[0].command_tag(), "DEALLOCATE ALL");
    w.bind("", "b", &[]).execute("", 0).sync();
    w.flush().await?;
    assert_eq!(w.until_ready().await?[0].error_code().as_deref(), Some("26000"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_statement_name_fails_the_batch_up_to_sync() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = proxy_with_raw_user(&pg, 2).await?;
    pg.exec("pms", "CREATE TABLE marks (n int); GRANT ALL ON marks TO raw").await?;
    let mut w = Wire::connect_trust(proxy.addr(), "raw", "pms").await?;
    w.parse("s1", "SELECT 1").sync();
    w.flush().await?;
    w.until_ready().await?;
    // The INSERT runs, then the duplicate Parse fails: as on PostgreSQL, the implicit
    // transaction is rolled back and the Execute after the error is skipped.
    w.parse("", "INSERT INTO marks VALUES (1)").bind("", "", &[]).execute("", 0);
    w.parse("s1", "SELECT 2").bind("", "", &[]).execute("", 0).sync();
    w.flush().await?;
    let msgs = w.until_ready().await?;
    assert_eq!(tags(&msgs), "12CEZ", "{msgs:?}");
    assert_eq!(msgs[3].error_code().as_deref(), Some("42P05"));
    let n: i64 = pg.client("pms").await?.query_one("SELECT count(*) FROM marks", &[]).await?.get(0);
    assert_eq!(n, 0, "the batch's INSERT must be rolled back with it");
    // In an explicit transaction the error fails the transaction, as PostgreSQL does.
    w.query("BEGIN");
    w.flush().await?;
    w.until_ready().await?;
    w.parse("s1", "SELECT 3").sync();
    w.flush().await?;
    let msgs = w.until_ready().await?;
    assert_eq!(tags(&msgs), "EZ");
    assert_eq!(msgs[1].body[..], b"E"[..], "transaction status must be failed");
    w.query("ROLLBACK");
    w.flush().await?;
    let msgs = w.until_ready().await?;
    assert_eq!(msgs.last().unwrap().body[..], b"I"[..]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_batches_come_back_in_order() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = proxy_with_raw_user(&pg, 2).await?;
    let mut w = Wire::connect_trust(proxy.addr(), "raw", "pms").await?;
    w.parse("p", "SELECT $1::int + 100").sync();
    for i in 0..20 {
        let v = i.to_string();
        w.bind("", "p", &[Some(&v)]).execute("", 0).sync();
    }
    w.query("SELECT 'simple'");
    w.flush().await?;
    assert_eq!(tags(&w.until_ready().await?), "1Z");
    for i in 0..20 {
        let msgs = w.until_ready().await?;
        assert_eq!(tags(&msgs), "2DCZ");
        assert_eq!(msgs[1].row(), vec![Some((i + 100).to_string())]);
    }
    let msgs = w.until_ready().await?;
    assert_eq!(msgs[1].row(), vec![Some("simple".to_string())]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bounded_server_statement_cache_evicts_and_prepares_again() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).user("raw", "raw", "trust").pool_size(1).max_prepared_per_server(2).start().await?;
    let mut w = Wire::connect_trust(proxy.addr(), "raw", "pms").await?;
    for i in 0..5 {
        w.parse(&format!("s{i}"), &format!("SELECT {i}")).sync();
    }
    w.flush().await?;
    for _ in 0..5 {
        assert_eq!(tags(&w.until_ready().await?), "1Z");
    }
    let direct = pg.client("pms").await?;
    let on_server: i64 =
        direct.query_one("SELECT count(*) FROM pg_stat_activity WHERE usename = 'raw'", &[]).await?.get(0);
    assert_eq!(on_server, 1);
    // All five still run, in any order, on the one server that keeps at most two.
    for i in [0, 4, 1, 3, 2, 0] {
        w.bind("", &format!("s{i}"), &[]).execute("", 0).sync();
        w.flush().await?;
        let msgs = w.until_ready().await?;
        assert_eq!(tags(&msgs), "2DCZ", "{msgs:?}");
        assert_eq!(msgs[1].row(), vec![Some(i.to_string())]);
    }
    w.query("SELECT count(*) FROM pg_prepared_statements");
    w.flush().await?;
    let msgs = w.until_ready().await?;
    let kept: i64 = msgs[1].row()[0].clone().unwrap().parse()?;
    assert!(kept <= 2, "server keeps {kept} statements");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_and_roll_back() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(2).start().await?;
    let mut c = proxy.connect("app", "app", "pms").await?;
    c.batch_execute("CREATE TABLE folios (id int)").await?;
    let t = c.transaction().await?;
    t.execute("INSERT INTO folios VALUES (1)", &[]).await?;
    t.commit().await?;
    let t = c.transaction().await?;
    t.execute("INSERT INTO folios VALUES (2)", &[]).await?;
    t.rollback().await?;
    let t = c.transaction().await?;
    assert!(t.execute("INSERT INTO folios VALUES ('x')", &[]).await.is_err());
    t.rollback().await?;
    let n: i64 = c.query_one("SELECT count(*) FROM folios", &[]).await?.get(0);
    assert_eq!(n, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_from_stdin_and_to_stdout_are_relayed() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(2).start().await?;
    let c = proxy.connect("app", "app", "pms").await?;
    c.batch_execute("CREATE TABLE guests (id int, name text)").await?;
    let sink = c.copy_in("COPY guests FROM STDIN").await?;
    futures_util::pin_mut!(sink);
    let mut data = String::new();
    for i in 0..5000 {
        data.push_str(&format!("{i}\tguest {i}\n"));
    }
    sink.send(Bytes::from(data.clone())).await?;
    let n = sink.finish().await?;
    assert_eq!(n, 5000);
    let out: Vec<Bytes> = c.copy_out("COPY (SELECT * FROM guests ORDER BY id) TO STDOUT").await?.try_collect().await?;
    let text: String = out.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
    assert_eq!(text, data);
    // A failed COPY leaves the session usable.
    assert!(c.batch_execute("COPY guests FROM STDIN WITH (FORMAT nonsense)").await.is_err());
    let n: i64 = c.query_one("SELECT count(*) FROM guests", &[]).await?.get(0);
    assert_eq!(n, 5000);
    // psql's \copy, both ways.
    let csv = proxy
        .psql("app", "app", "pms", &["-c", "\\copy (SELECT id FROM guests WHERE id < 3 ORDER BY id) TO STDOUT"])
        .await?;
    assert_eq!(succeeded(csv)?, "0\n1\n2\n");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_rows_stream_through_intact() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).start().await?;
    let c = proxy.connect("app", "app", "pms").await?;
    let rows = c.query("SELECT i, repeat(md5(i::text), 20000) FROM generate_series(1, 20) i", &[]).await?;
    assert_eq!(rows.len(), 20);
    for (n, r) in rows.iter().enumerate() {
        let s: &str = r.get(1);
        assert_eq!(s.len(), 640_000);
        assert_eq!(r.get::<_, i32>(0), n as i32 + 1);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_runs_in_all_three_protocol_modes() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(4).start().await?;
    succeeded(proxy.pgbench("app", "app", "pms", &["-i", "-s", "1", "-q"]).await?)?;
    for mode in ["simple", "extended", "prepared"] {
        let out = succeeded(
            proxy.pgbench("app", "app", "pms", &["-n", "-c", "8", "-j", "2", "-t", "200", "-M", mode]).await?,
        )?;
        assert!(out.contains("number of transactions actually processed: 1600/1600"), "{mode}: {out}");
        assert!(out.contains("number of failed transactions: 0"), "{mode}: {out}");
        let out = succeeded(
            proxy.pgbench("app", "app", "pms", &["-n", "-S", "-c", "8", "-j", "2", "-t", "300", "-M", mode]).await?,
        )?;
        assert!(out.contains("actually processed: 2400/2400"), "{mode}: {out}");
    }
    let out = succeeded(proxy.pgbench("app", "app", "pms", &["-n", "-S", "-C", "-c", "4", "-t", "50"]).await?)?;
    assert!(out.contains("actually processed: 200/200"), "{out}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_runs_scripts_and_reports_errors() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).start().await?;
    let out = proxy
        .psql(
            "app",
            "app",
            "pms",
            &["-At", "-c", "CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2); SELECT sum(a) FROM t"],
        )
        .await?;
    assert_eq!(succeeded(out)?.lines().last(), Some("3"));
    let out = proxy.psql("app", "app", "pms", &["-c", "SELECT 1/0"]).await?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("division by zero"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_vanishes_mid_transaction_leaves_no_dirty_server() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(1).start().await?;
    let setup = proxy.connect("app", "app", "pms").await?;
    setup.batch_execute("CREATE TABLE payments (id int)").await?;
    drop(setup);
    {
        let a = proxy.connect("app", "app", "pms").await?;
        a.batch_execute("BEGIN; INSERT INTO payments VALUES (1); SET LOCAL work_mem = '9MB'").await?;
        // `a` is dropped: the connection closes inside the transaction.
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let b = proxy.connect("app", "app", "pms").await?;
    let row = b
        .query_one(
            "SELECT count(*), txid_current_if_assigned() IS NULL, current_setting('work_mem') FROM payments",
            &[],
        )
        .await?;
    assert_eq!(row.get::<_, i64>(0), 0, "the vanished client's insert must not be visible");
    assert!(row.get::<_, bool>(1), "b must not run inside a's transaction");
    assert_eq!(row.get::<_, String>(2), "4MB");
    Ok(())
}

/// Graceful shutdown: an idle client is closed at once with 57P01, a client inside a
/// transaction may finish it, and one still inside when `shutdown_timeout_ms` runs out is
/// closed with 57P01 too, while the proxy stops. The harness sets `shutdown_timeout_ms: 2000`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_clients_and_then_those_past_the_timeout() -> anyhow::Result<()> {
    use std::time::{Duration, Instant};

    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).start().await?;
    // Keep each connection's task, which ends with the FATAL the proxy sends.
    let open = |proxy: &Proxy| {
        let config = proxy.config("app", "app", "pms");
        async move {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            anyhow::Ok((client, tokio::spawn(connection)))
        }
    };
    let (idle, idle_conn) = open(&proxy).await?;
    let (busy, busy_conn) = open(&proxy).await?;
    idle.simple_query("SELECT 1").await?;
    busy.batch_execute("BEGIN; SELECT 1").await?;

    let started = Instant::now();
    let stopping = tokio::spawn(proxy.shutdown());
    let fatal_code = |r: Result<Result<(), tokio_postgres::Error>, tokio::task::JoinError>| {
        r.expect("connection task").err().and_then(|e| e.code().map(|c| c.code().to_string()))
    };
    let idle_end = tokio::time::timeout(Duration::from_secs(5), idle_conn).await?;
    assert_eq!(fatal_code(idle_end).as_deref(), Some("57P01"), "idle client");

    // Still inside its transaction: it may go on until the timeout.
    let n: i32 = busy.query_one("SELECT 2", &[]).await?.get(0);
    assert_eq!(n, 2);
    let busy_end = tokio::time::timeout(Duration::from_secs(5), busy_conn).await?;
    assert!(started.elapsed() >= Duration::from_millis(1900), "closed before the timeout: {:?}", started.elapsed());
    assert_eq!(fatal_code(busy_end).as_deref(), Some("57P01"), "client past the timeout");
    tokio::time::timeout(Duration::from_secs(10), stopping).await??;
    drop((idle, busy));
    Ok(())
}
