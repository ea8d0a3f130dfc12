//! The test harness itself: if these fail, every other integration test fails for reasons
//! that have nothing to do with shardgate.

// Test code: a failed unwrap here is a failed test with a backtrace, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpStream;
use std::time::Instant;

use support::{succeeded, PgCluster, Proxy};

#[tokio::test]
async fn a_cluster_starts_and_answers_select_1_through_tokio_postgres() -> anyhow::Result<()> {
    let started = Instant::now();
    let pg = PgCluster::start_async().await?;
    eprintln!("cluster started in {:?} on port {}", started.elapsed(), pg.port());

    let client = pg.client("postgres").await?;
    let one: i32 = client.query_one("SELECT 1", &[]).await?.get(0);
    assert_eq!(one, 1);
    Ok(())
}

#[tokio::test]
async fn a_created_role_logs_in_with_scram_and_a_wrong_password_is_refused() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    pg.create_role("app", "s3cret 'quoted'").await?;
    pg.create_database("pms", "app").await?;

    let stored: String = pg
        .client("postgres")
        .await?
        .query_one("SELECT rolpassword FROM pg_authid WHERE rolname = 'app'", &[])
        .await?
        .get(0);
    assert!(stored.starts_with("SCRAM-SHA-256$"), "stored verifier: {stored}");

    let app = pg.client_as("app", "s3cret 'quoted'", "pms").await?;
    let row = app.query_one("SELECT current_user::text, current_database()::text", &[]).await?;
    assert_eq!((row.get::<_, String>(0), row.get::<_, String>(1)), ("app".into(), "pms".into()));
    app.batch_execute("CREATE TABLE owned_by_app (id int)").await?;

    let refused = pg.client_as("app", "wrong", "pms").await.unwrap_err();
    assert!(format!("{refused:#}").contains("password authentication failed"), "{refused:#}");
    Ok(())
}

#[tokio::test]
async fn two_clusters_start_in_parallel_on_different_ports() -> anyhow::Result<()> {
    let started = Instant::now();
    let clusters = PgCluster::start_many(2).await?;
    eprintln!("two clusters started in {:?}", started.elapsed());
    let (a, b) = (&clusters[0], &clusters[1]);
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());

    a.exec("postgres", "CREATE TABLE only_in_a (id int)").await?;
    let in_b: i64 = b
        .client("postgres")
        .await?
        .query_one("SELECT count(*) FROM pg_class WHERE relname = 'only_in_a'", &[])
        .await?
        .get(0);
    assert_eq!(in_b, 0);
    Ok(())
}

#[tokio::test]
async fn the_data_directory_is_gone_and_the_port_closed_after_drop() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let data_dir = pg.data_dir().to_path_buf();
    let port = pg.port();
    assert!(data_dir.join("PG_VERSION").is_file());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());

    let started = Instant::now();
    tokio::task::spawn_blocking(move || drop(pg)).await?;
    eprintln!("cluster stopped and removed in {:?}", started.elapsed());

    assert!(!data_dir.exists(), "{} still exists", data_dir.display());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    Ok(())
}

#[tokio::test]
async fn psql_and_pgbench_run_against_a_cluster() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;

    let out = succeeded(pg.psql(&["-At", "-c", "SELECT 40 + 2"])?)?;
    assert_eq!(out.trim(), "42");
    assert!(!pg.psql(&["-c", "SELECT * FROM no_such_table"])?.status.success());

    succeeded(pg.pgbench(&["-i", "-q", "-s", "1"])?)?;
    let out = succeeded(pg.pgbench(&["-c", "2", "-t", "50", "-n"])?)?;
    assert!(out.contains("number of transactions actually processed: 100"), "{out}");
    Ok(())
}

#[tokio::test]
async fn a_stopped_cluster_refuses_connections_and_starts_again_on_its_port() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    pg.exec("postgres", "CREATE TABLE survives (id int); INSERT INTO survives VALUES (7)").await?;

    pg.stop()?;
    assert!(pg.client("postgres").await.is_err());

    pg.start_again()?;
    let id: i32 = pg.client("postgres").await?.query_one("SELECT id FROM survives", &[]).await?.get(0);
    assert_eq!(id, 7);
    Ok(())
}

#[tokio::test]
async fn a_proxy_in_front_of_a_cluster_answers_select_1() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).database("pms").user("app", "app", "scram-sha-256").start().await?;

    let client = proxy.connect("app", "app", "pms").await?;
    let one: i32 = client.query_one("SELECT 1", &[]).await?.get(0);
    assert_eq!(one, 1);
    let out = succeeded(proxy.psql("app", "app", "pms", &["-At", "-c", "SELECT current_user"]).await?)?;
    assert_eq!(out.trim(), "app");

    drop(client);
    proxy.shutdown().await;
    Ok(())
}
