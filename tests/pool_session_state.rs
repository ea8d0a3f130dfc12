//! Session state under pooling: what one client SETs follows it to whatever server it gets,
//! and never reaches another client.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{PgCluster, Proxy};
use tokio_postgres::Client;

async fn show(c: &Client, name: &str) -> anyhow::Result<String> {
    Ok(c.query_one(&format!("SHOW {name}"), &[]).await?.get(0))
}

async fn pid(c: &Client) -> anyhow::Result<i32> {
    Ok(c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_do_not_leak_between_two_clients_sharing_one_server() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(1).start().await?;
    let a = proxy.connect("app", "app", "pms").await?;
    let b = proxy.connect("app", "app", "pms").await?;
    a.batch_execute("SET search_path TO a_schema, public").await?;
    a.batch_execute("SET application_name = 'client-a'").await?;
    b.batch_execute("SET statement_timeout = '5s'").await?;
    for _ in 0..5 {
        // Both run on the one server, alternately.
        assert_eq!(pid(&a).await?, pid(&b).await?);
        assert_eq!(show(&a, "search_path").await?, "a_schema, public");
        assert_eq!(show(&b, "search_path").await?, "\"$user\", public");
        assert_eq!(show(&a, "statement_timeout").await?, "0");
        assert_eq!(show(&b, "statement_timeout").await?, "5s");
        assert_eq!(show(&a, "application_name").await?, "client-a");
        assert_eq!(show(&b, "application_name").await?, "shardgate-tests");
    }
    // Through the extended protocol too (as JDBC sends SET).
    b.execute("SET work_mem = '12MB'", &[]).await?;
    assert_eq!(show(&b, "work_mem").await?, "12MB");
    assert_eq!(show(&a, "work_mem").await?, "4MB");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_local_stays_in_its_transaction() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(1).start().await?;
    let a = proxy.connect("app", "app", "pms").await?;
    let b = proxy.connect("app", "app", "pms").await?;
    a.batch_execute("BEGIN; SET LOCAL work_mem = '8MB'").await?;
    assert_eq!(show(&a, "work_mem").await?, "8MB");
    a.batch_execute("COMMIT").await?;
    assert_eq!(show(&a, "work_mem").await?, "4MB");
    assert_eq!(show(&b, "work_mem").await?, "4MB");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_in_a_rolled_back_transaction_is_forgotten() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(1).start().await?;
    let a = proxy.connect("app", "app", "pms").await?;
    let b = proxy.connect("app", "app", "pms").await?;
    a.batch_execute("BEGIN; SET search_path TO nowhere; ROLLBACK").await?;
    assert_eq!(show(&b, "search_path").await?, "\"$user\", public");
    assert_eq!(show(&a, "search_path").await?, "\"$user\", public");
    a.batch_execute("BEGIN; SET search_path TO kept; COMMIT").await?;
    assert_eq!(show(&b, "search_path").await?, "\"$user\", public");
    assert_eq!(show(&a, "search_path").await?, "kept");
    // A SET before an error in the same implicit transaction is rolled back with it.
    assert!(a.batch_execute("SET work_mem = '9MB'; SELECT 1/0").await.is_err());
    assert_eq!(show(&b, "work_mem").await?, "4MB");
    assert_eq!(show(&a, "work_mem").await?, "4MB");
    Ok(())
}

/// The relay passes a CommandComplete without a look when its statement changes no session
/// state — but only while no session change is pending, because a ROLLBACK's must drop them.
/// Here the ROLLBACK comes as its own query (simple protocol) and its own Execute (extended).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_rolled_back_by_a_later_statement_is_forgotten_in_both_protocols() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(1).start().await?;
    let a = proxy.connect("app", "app", "pms").await?;
    let b = proxy.connect("app", "app", "pms").await?;
    a.batch_execute("BEGIN").await?;
    a.batch_execute("SET work_mem = '9MB'").await?;
    a.batch_execute("ROLLBACK").await?;
    assert_eq!(show(&a, "work_mem").await?, "4MB");
    assert_eq!(show(&b, "work_mem").await?, "4MB");
    a.execute("BEGIN", &[]).await?;
    a.execute("SET work_mem = '9MB'", &[]).await?;
    a.execute("ROLLBACK", &[]).await?;
    assert_eq!(show(&a, "work_mem").await?, "4MB");
    assert_eq!(show(&b, "work_mem").await?, "4MB");
    // A SET that commits is kept for its client alone, whichever protocol ran it.
    a.execute("SET work_mem = '7MB'", &[]).await?;
    a.execute("SELECT 1", &[]).await?;
    assert_eq!(show(&a, "work_mem").await?, "7MB");
    assert_eq!(show(&b, "work_mem").await?, "4MB");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_returns_to_the_startup_options() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(1).start().await?;
    let mut cfg = proxy.config("app", "app", "pms");
    cfg.options("-c work_mem=7MB -c search_path=from_options");
    let (a, conn) = cfg.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let b = proxy.connect("app", "app", "pms").await?;
    assert_eq!(show(&a, "work_mem").await?, "7MB");
    assert_eq!(show(&b, "work_mem").await?, "4MB");
    a.batch_execute("SET work_mem = '9MB'").await?;
    assert_eq!(show(&a, "work_mem").await?, "9MB");
    a.batch_execute("RESET work_mem").await?;
    assert_eq!(show(&a, "work_mem").await?, "7MB");
    a.batch_execute("SET work_mem = '9MB'; SET search_path = elsewhere").await?;
    a.batch_execute("RESET ALL").await?;
    assert_eq!(show(&a, "work_mem").await?, "7MB");
    assert_eq!(show(&a, "search_path").await?, "from_options");
    assert_eq!(show(&b, "search_path").await?, "\"$user\", public");
    a.batch_execute("DISCARD ALL").await?;
    assert_eq!(show(&a, "work_mem").await?, "7MB");
    assert_eq!(show(&b, "work_mem").await?, "4MB");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discard_all_drops_prepared_statements_without_breaking_other_clients() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(1).start().await?;
    let a = proxy.connect("app", "app", "pms").await?;
    let b = proxy.connect("app", "app", "pms").await?;
    let sa = a.prepare("SELECT 'a'::text").await?;
    let sb = b.prepare("SELECT 'b'::text").await?;
    a.batch_execute("DISCARD ALL").await?;
    // b's statement was dropped from the shared server too; it must be prepared again.
    assert_eq!(b.query_one(&sb, &[]).await?.get::<_, String>(0), "b");
    let err = a.query_one(&sa, &[]).await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("26000"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_mode_keeps_one_server_and_resets_it_on_release() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_mode("session").pool_size(1).start().await?;
    let server_pid;
    {
        let a = proxy.connect("app", "app", "pms").await?;
        server_pid = pid(&a).await?;
        a.batch_execute("SET work_mem = '9MB'; PREPARE p AS SELECT 1").await?;
        a.batch_execute("BEGIN; COMMIT").await?;
        assert_eq!(pid(&a).await?, server_pid);
        let n: i64 = a.query_one("SELECT count(*) FROM pg_prepared_statements WHERE name = 'p'", &[]).await?.get(0);
        assert_eq!(n, 1, "SQL PREPARE works in session mode");
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let b = proxy.connect("app", "app", "pms").await?;
    assert_eq!(pid(&b).await?, server_pid, "the server is reused");
    assert_eq!(show(&b, "work_mem").await?, "4MB", "and was reset");
    let n: i64 = b.query_one("SELECT count(*) FROM pg_prepared_statements WHERE name = 'p'", &[]).await?.get(0);
    assert_eq!(n, 0);
    Ok(())
}
