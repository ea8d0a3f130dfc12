//! shardgate logs into PostgreSQL with whatever method the server asks for: SCRAM-SHA-256,
//! md5, cleartext password or trust — and passes a refusal on with the server's own error.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{PgCluster, Proxy};

/// Puts per-role pg_hba.conf lines in front of the harness's own rules and reloads.
async fn hba_first(pg: &PgCluster, lines: &str) -> anyhow::Result<()> {
    let path = pg.data_dir().join("pg_hba.conf");
    let old = std::fs::read_to_string(&path)?;
    std::fs::write(&path, format!("{lines}\n{old}"))?;
    pg.exec("postgres", "SELECT pg_reload_conf()").await?;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md5_cleartext_and_trust_servers_accept_the_proxy() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    pg.exec("postgres", "SET password_encryption = 'md5'; CREATE ROLE m_user LOGIN PASSWORD 'm-pass'").await?;
    pg.exec("postgres", "CREATE ROLE c_user LOGIN PASSWORD 'c-pass'; CREATE ROLE t_user LOGIN").await?;
    pg.exec("postgres", "CREATE DATABASE pms").await?;
    hba_first(
        &pg,
        "host all m_user 127.0.0.1/32 md5\nhost all c_user 127.0.0.1/32 password\nhost all t_user 127.0.0.1/32 trust",
    )
    .await?;
    let proxy = Proxy::builder(&pg)
        .no_provision()
        .user("m_user", "m-pass", "scram-sha-256")
        .user("c_user", "c-pass", "md5")
        .user("t_user", "t-pass", "scram-sha-256")
        .start()
        .await?;
    for (user, pass) in [("m_user", "m-pass"), ("c_user", "c-pass"), ("t_user", "t-pass")] {
        let c = proxy.connect(user, pass, "pms").await?;
        let who: String = c.query_one("SELECT current_user::text", &[]).await?.get(0);
        assert_eq!(who, user);
        let method: Option<String> = c
            .query_one("SELECT (SELECT auth_method FROM pg_hba_file_rules WHERE user_name @> ARRAY[current_user::text] LIMIT 1)", &[])
            .await
            .map(|r| r.get(0))
            .unwrap_or(None);
        // pg_hba_file_rules needs superuser; when readable it names the method used.
        if let Some(m) = method {
            assert!(["md5", "password", "trust"].contains(&m.as_str()), "{m}");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_the_proxy_login_reaches_the_client_with_its_own_error() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    pg.exec("postgres", "CREATE ROLE app LOGIN PASSWORD 'the-real-one'").await?;
    pg.exec("postgres", "CREATE DATABASE pms OWNER app").await?;
    let proxy = Proxy::builder(&pg)
        .no_provision()
        .user("app", "what-the-proxy-knows", "scram-sha-256")
        .checkout_timeout_ms(10_000)
        .start()
        .await?;
    let started = std::time::Instant::now();
    let err = proxy.connect("app", "what-the-proxy-knows", "pms").await.unwrap_err();
    let text = format!("{err:#}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(text.contains("password authentication failed"), "{text}");
    let db =
        err.downcast_ref::<tokio_postgres::Error>().and_then(|e| e.as_db_error()).map(|d| d.code().code().to_string());
    assert_eq!(db.as_deref(), Some("28P01"), "{text}");
    Ok(())
}
