//! What a client meets before and around its queries: TLS towards clients, the three password
//! methods, query cancellation through the proxy's own cancel keys, LISTEN in each pooling
//! mode, and graceful shutdown.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use rustls::pki_types::CertificateDer;
use support::{succeeded, PgCluster, Proxy};
use tokio::sync::mpsc;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, NoTls, Notification};
use tokio_postgres_rustls::MakeRustlsConnect;

async fn assert_serves(client: &Client) -> anyhow::Result<()> {
    let one: i32 = client.query_one("SELECT 1", &[]).await?.get(0);
    assert_eq!(one, 1);
    Ok(())
}

/// The server error of a statement that must fail.
async fn query_error(client: &Client, sql: &str) -> anyhow::Result<tokio_postgres::error::DbError> {
    match client.simple_query(sql).await {
        Ok(_) => bail!("{sql} succeeded"),
        Err(e) => Ok(e.as_db_error().with_context(|| format!("not a server error: {e}"))?.clone()),
    }
}

/// A self-signed certificate for localhost and 127.0.0.1: PEM files in `dir`, and the DER a
/// client trusts.
struct SelfSigned {
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

fn self_signed(dir: &Path) -> anyhow::Result<SelfSigned> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::write(&cert, certified.cert.pem())?;
    std::fs::write(&key, certified.key_pair.serialize_pem())?;
    Ok(SelfSigned { cert, key, der: certified.cert.der().clone() })
}

/// A rustls connector that trusts exactly `cert` (and verifies the host name against it).
fn trusting(cert: &SelfSigned) -> anyhow::Result<MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// A TLS client through the proxy (sslmode=require); its connection task is spawned.
async fn connect_tls(proxy: &Proxy, cert: &SelfSigned) -> anyhow::Result<Client> {
    let (client, connection) = proxy
        .config("app", "app", "pms")
        .ssl_mode(SslMode::Require)
        .connect(trusting(cert)?)
        .await
        .context("TLS login through the proxy")?;
    tokio::spawn(connection);
    Ok(client)
}

/// A plain client (sslmode=disable); the login result as is.
async fn connect_plain(proxy: &Proxy) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = proxy.config("app", "app", "pms").ssl_mode(SslMode::Disable).connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// `psql -c '\conninfo'` through the proxy with the given sslmode.
async fn psql_conninfo(pg: &PgCluster, proxy: &Proxy, sslmode: &str) -> anyhow::Result<Output> {
    let mut cmd = pg.client_command("psql", proxy.port(), "app", "app", "pms");
    cmd.env("PGSSLMODE", sslmode).args(["-X", "-v", "ON_ERROR_STOP=1", "-c", "\\conninfo", "-c", "SELECT 1"]);
    Ok(tokio::task::spawn_blocking(move || cmd.output()).await??)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_require_serves_tls_clients_and_refuses_plain_ones_with_28000() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let dir = tempfile::tempdir()?;
    let cert = self_signed(dir.path())?;
    let proxy = Proxy::builder(&pg).tls(&cert.cert, &cert.key, "require").start().await?;

    let tls_client = connect_tls(&proxy, &cert).await?;
    assert_serves(&tls_client).await?;

    let plain = connect_plain(&proxy).await.err().context("a plain client got in under tls.mode require")?;
    assert_eq!(plain.code(), Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION), "{plain}");

    let psql = succeeded(psql_conninfo(&pg, &proxy, "require").await?)?;
    assert!(psql.contains("SSL connection"), "psql \\conninfo: {psql}");
    let psql_plain = psql_conninfo(&pg, &proxy, "disable").await?;
    assert!(!psql_plain.status.success(), "psql without TLS got in: {psql_plain:?}");
    assert_serves(&tls_client).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_allow_serves_both_tls_and_plain_clients() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let dir = tempfile::tempdir()?;
    let cert = self_signed(dir.path())?;
    let proxy = Proxy::builder(&pg).tls(&cert.cert, &cert.key, "allow").start().await?;

    assert_serves(&connect_tls(&proxy, &cert).await?).await?;
    assert_serves(&connect_plain(&proxy).await?).await?;
    let psql = succeeded(psql_conninfo(&pg, &proxy, "require").await?)?;
    assert!(psql.contains("SSL connection"), "psql \\conninfo: {psql}");
    let psql = succeeded(psql_conninfo(&pg, &proxy, "disable").await?)?;
    assert!(!psql.contains("SSL connection"), "psql \\conninfo: {psql}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_md5_and_trust_users_log_in_with_tokio_postgres_and_psql() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg)
        .user("app", "app-pw", "scram-sha-256")
        .user("legacy", "legacy-pw", "md5")
        .user("open", "open-pw", "trust")
        .start()
        .await?;

    for (user, password) in [("app", "app-pw"), ("legacy", "legacy-pw"), ("open", "open-pw")] {
        let client = proxy.connect(user, password, "pms").await?;
        let who: String = client.query_one("SELECT current_user::text", &[]).await?.get(0);
        assert_eq!(who, user);
        let out = succeeded(proxy.psql(user, password, "pms", &["-At", "-c", "SELECT current_user"]).await?)?;
        assert_eq!(out.trim(), user, "psql as {user}");
    }
    // Trust checks no password at all.
    assert_serves(&proxy.connect("open", "anything", "pms").await?).await?;
    // …which the password methods do.
    assert!(proxy.connect("app", "legacy-pw", "pms").await.is_err());
    assert!(proxy.connect("legacy", "app-pw", "pms").await.is_err());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_stops_the_running_query_with_57014_and_the_session_goes_on() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).start().await?;
    let client = proxy.connect("app", "app", "pms").await?;

    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await
    });
    let started = Instant::now();
    let error = tokio::time::timeout(Duration::from_secs(10), query_error(&client, "SELECT pg_sleep(30)")).await??;
    let took = started.elapsed();
    canceller.await??;

    assert_eq!(error.code(), &SqlState::QUERY_CANCELED, "{error}");
    assert!(took < Duration::from_secs(3), "cancelled after {took:?}");
    assert_serves(&client).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_from_an_idle_client_is_ignored_and_hits_no_other_clients_query() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    // One server: the idle client's last server is the one the busy client now runs on.
    let proxy = Proxy::builder(&pg).pool_size(1).start().await?;
    let idle = proxy.connect("app", "app", "pms").await?;
    assert_serves(&idle).await?;
    let busy = proxy.connect("app", "app", "pms").await?;

    let token = idle.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        token.cancel_query(NoTls).await
    });
    let slept = busy.simple_query("SELECT pg_sleep(0.8)").await;
    canceller.await?.context("the cancel request itself")?;

    assert!(slept.is_ok(), "another client's query was cancelled: {slept:?}");
    assert_serves(&idle).await?;
    assert_serves(&busy).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_in_transaction_mode_is_refused_with_0a000_and_a_session_mode_hint() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).start().await?;
    let client = proxy.connect("app", "app", "pms").await?;

    let error = query_error(&client, "LISTEN room_changes").await?;

    assert_eq!(error.code(), &SqlState::FEATURE_NOT_SUPPORTED, "{error}");
    let hint = error.hint().unwrap_or_default();
    assert!(hint.contains("session"), "hint: {hint:?}");
    assert_serves(&client).await
}

/// A client whose notifications are delivered on a channel (tokio-postgres hands them only to
/// whoever polls the connection).
async fn connect_listening(proxy: &Proxy) -> anyhow::Result<(Client, mpsc::UnboundedReceiver<Notification>)> {
    let (client, mut connection) = proxy.config("app", "app", "pms").connect(NoTls).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx.send(n);
            }
        }
    });
    Ok((client, rx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_in_session_mode_receives_another_clients_notify() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_mode("session").start().await?;
    let (listener, mut notifications) = connect_listening(&proxy).await?;
    let notifier = proxy.connect("app", "app", "pms").await?;

    listener.batch_execute("LISTEN room_changes").await?;
    notifier.batch_execute("NOTIFY room_changes, 'room 7'").await?;
    let n = tokio::time::timeout(Duration::from_secs(3), notifications.recv())
        .await
        .context("no notification within 3 s")?
        .context("the listener's connection ended")?;

    assert_eq!((n.channel(), n.payload()), ("room_changes", "room 7"));
    assert_serves(&listener).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_an_open_transaction_commit_and_disconnects_idle_clients() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).start().await?;
    let in_txn = proxy.connect("app", "app", "pms").await?;
    let idle = proxy.connect("app", "app", "pms").await?;
    in_txn.batch_execute("CREATE TABLE bookings (id int)").await?;
    in_txn.batch_execute("BEGIN; INSERT INTO bookings VALUES (1)").await?;

    proxy.shutdown_token().cancel();

    let newcomer = connect_plain(&proxy).await;
    assert!(newcomer.is_err(), "a new client got in after shutdown began");
    in_txn.batch_execute("COMMIT").await?;
    let rows: i64 = pg.client("pms").await?.query_one("SELECT count(*) FROM bookings", &[]).await?.get(0);
    assert_eq!(rows, 1, "the transaction open at shutdown was committed");
    let after = tokio::time::timeout(Duration::from_secs(5), idle.simple_query("SELECT 1")).await?;
    assert!(after.is_err(), "an idle client was still served after shutdown: {after:?}");
    Ok(())
}
