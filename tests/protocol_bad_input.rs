//! Hostile, broken or unlucky input: malformed frames and startup packets, failed logins,
//! exhausted limits, and a server that refuses or disappears. Every case checks the exact
//! SQLSTATE the client is told and that a client connected beforehand is unaffected.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::{BufMut, BytesMut};
use support::wire::{Msg, Wire};
use support::{PgCluster, Proxy};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

/// How long the proxy may take to answer bad input before the test calls it a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// A proxy serving `pms` to `app` (SCRAM) and `raw` (trust, for hand-written logins).
async fn proxy_with_raw_user(pg: &PgCluster) -> anyhow::Result<Proxy> {
    Proxy::builder(pg)
        .user("app", "app", "scram-sha-256")
        .user("raw", "raw", "trust")
        .max_message_size(4096)
        .start()
        .await
}

async fn assert_serves(client: &Client) -> anyhow::Result<()> {
    let one: i32 = client.query_one("SELECT 1", &[]).await?.get(0);
    assert_eq!(one, 1);
    Ok(())
}

/// Everything the proxy sends until it closes the connection (bounded by [`ANSWER_WITHIN`]).
/// A reset counts as a close: the proxy closes with our unread bytes still in its socket
/// (the rest of an oversized message), which makes the kernel send RST instead of FIN.
async fn answer_then_close(w: &mut Wire) -> anyhow::Result<Vec<Msg>> {
    let read_all = async {
        let mut msgs = Vec::new();
        loop {
            match w.read_msg().await {
                Ok(Some(m)) => msgs.push(m),
                Ok(None) => return Ok(msgs),
                Err(e) if is_reset(&e) => return Ok(msgs),
                Err(e) => return Err(e),
            }
        }
    };
    tokio::time::timeout(ANSWER_WITHIN, read_all)
        .await
        .context("the proxy neither answered nor closed the connection")?
}

fn is_reset(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset)
}

/// Asserts the answer is exactly one FATAL ErrorResponse with `code`, then the close.
fn assert_one_fatal(msgs: &[Msg], code: &SqlState) {
    assert_eq!(msgs.len(), 1, "one ErrorResponse, then the close: {msgs:?}");
    assert_eq!(msgs[0].tag, 'E', "{msgs:?}");
    assert_eq!(msgs[0].field(b'V').as_deref(), Some("FATAL"), "{msgs:?}");
    assert_eq!(msgs[0].error_code().as_deref(), Some(code.code()), "{msgs:?}");
}

/// The SQLSTATE of a login that must fail.
async fn login_error(config: &tokio_postgres::Config) -> anyhow::Result<SqlState> {
    match config.connect(NoTls).await {
        Ok(_) => bail!("the login succeeded"),
        Err(e) => Ok(e.as_db_error().with_context(|| format!("not a server error: {e}"))?.code().clone()),
    }
}

/// The SQLSTATE of a statement that must fail.
async fn query_error(client: &Client, sql: &str) -> anyhow::Result<SqlState> {
    match client.simple_query(sql).await {
        Ok(_) => bail!("{sql} succeeded"),
        Err(e) => Ok(e.as_db_error().with_context(|| format!("not a server error: {e}"))?.code().clone()),
    }
}

/// A startup-phase packet: length, then `code`, then `body`.
fn startup_packet(code: u32, body: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_u32(8 + body.len() as u32);
    b.put_u32(code);
    b.put_slice(body);
    b.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_max_message_size_is_fatal_08p01_and_closes_only_that_client() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = proxy_with_raw_user(&pg).await?;
    let witness = proxy.connect("app", "app", "pms").await?;
    let mut w = Wire::connect_trust(proxy.addr(), "raw", "pms").await?;

    w.query(&format!("SELECT '{}'", "x".repeat(10_000))).flush().await?;
    let msgs = answer_then_close(&mut w).await?;

    assert_one_fatal(&msgs, &SqlState::PROTOCOL_VIOLATION);
    assert_serves(&witness).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_length_below_four_is_fatal_08p01_and_closes_only_that_client() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = proxy_with_raw_user(&pg).await?;
    let witness = proxy.connect("app", "app", "pms").await?;
    let mut w = Wire::connect_trust(proxy.addr(), "raw", "pms").await?;

    w.raw_bytes(b"Q\0\0\0\x02").flush().await?;
    let msgs = answer_then_close(&mut w).await?;

    assert_one_fatal(&msgs, &SqlState::PROTOCOL_VIOLATION);
    assert_serves(&witness).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_startup_packets_are_refused_with_08p01_or_0a000_without_hanging() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = proxy_with_raw_user(&pg).await?;
    let witness = proxy.connect("app", "app", "pms").await?;

    // An HTTP request: "GET " read as a length is about 1.2 GB.
    let mut w = Wire::raw(proxy.addr()).await?;
    w.raw_bytes(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").flush().await?;
    let msgs = answer_then_close(&mut w).await?;
    // Closing without a word is acceptable for garbage; an answer must be 08P01.
    if !msgs.is_empty() {
        assert_one_fatal(&msgs, &SqlState::PROTOCOL_VIOLATION);
    }

    // Over PostgreSQL's MAX_STARTUP_PACKET_LENGTH (10 000): refused before reading the body.
    let mut w = Wire::raw(proxy.addr()).await?;
    w.raw_bytes(&100_000u32.to_be_bytes()).raw_bytes(&196_608u32.to_be_bytes()).flush().await?;
    assert_one_fatal(&answer_then_close(&mut w).await?, &SqlState::PROTOCOL_VIOLATION);

    // Protocol 2.0, which PostgreSQL dropped in 14.
    let mut w = Wire::raw(proxy.addr()).await?;
    w.raw_bytes(&startup_packet(2 << 16, b"user\0raw\0database\0pms\0\0")).flush().await?;
    let msgs = answer_then_close(&mut w).await?;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let code = msgs[0].error_code();
    assert!(
        matches!(code.as_deref(), Some("0A000" | "08P01")),
        "protocol 2.0 must be refused with an ErrorResponse 0A000 or 08P01: {msgs:?}"
    );

    assert_serves(&witness).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_get_the_postgresql_sqlstates() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy =
        Proxy::builder(&pg).user("app", "app", "scram-sha-256").user("legacy", "legacy-pw", "md5").start().await?;
    let witness = proxy.connect("app", "app", "pms").await?;

    let unknown_user = login_error(&proxy.config("nobody", "app", "pms")).await?;
    let unknown_db = login_error(&proxy.config("app", "app", "no_such_db")).await?;
    let wrong_scram = login_error(&proxy.config("app", "wrong", "pms")).await?;
    let wrong_md5 = login_error(&proxy.config("legacy", "wrong", "pms")).await?;

    assert_eq!(unknown_user, SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
    assert_eq!(unknown_db, SqlState::INVALID_CATALOG_NAME);
    assert_eq!(wrong_scram, SqlState::INVALID_PASSWORD);
    assert_eq!(wrong_md5, SqlState::INVALID_PASSWORD);
    // The md5 user itself is fine with its right password.
    assert_serves(&proxy.connect("legacy", "legacy-pw", "pms").await?).await?;
    assert_serves(&witness).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_pipelined_after_ssl_request_is_refused_before_tls_starts() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let certs = tempfile::tempdir()?;
    let (cert, key) = write_self_signed_cert(certs.path())?;
    let proxy = Proxy::builder(&pg)
        .user("app", "app", "scram-sha-256")
        .user("raw", "raw", "trust")
        .tls(cert, key, "allow")
        .start()
        .await?;
    let witness = proxy.connect("app", "app", "pms").await?;

    // CVE-2021-23214: bytes after SSLRequest, sent before the server's 'S', must not be
    // taken as if they had come over TLS.
    let mut w = Wire::raw(proxy.addr()).await?;
    w.raw_bytes(&startup_packet(80_877_103, b""));
    w.startup(&[("user", "raw"), ("database", "pms")]);
    w.query("SELECT 1");
    w.flush().await?;
    // A plain ErrorResponse, not the 'S' that would start TLS.
    let msgs = answer_then_close(&mut w).await?;

    assert_one_fatal(&msgs, &SqlState::PROTOCOL_VIOLATION);
    assert_serves(&witness).await
}

/// A self-signed certificate for localhost/127.0.0.1, as PEM files in `dir`.
fn write_self_signed_cert(dir: &std::path::Path) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::write(&cert, certified.cert.pem())?;
    std::fs::write(&key, certified.key_pair.serialize_pem())?;
    Ok((cert, key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_client_conn_refuses_the_extra_client_with_53300_until_one_leaves() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).max_client_conn(2).start().await?;
    let witness = proxy.connect("app", "app", "pms").await?;
    let second = proxy.connect("app", "app", "pms").await?;

    let third = login_error(&proxy.config("app", "app", "pms")).await?;
    assert_eq!(third, SqlState::TOO_MANY_CONNECTIONS);
    assert_serves(&witness).await?;

    drop(second);
    // The proxy notices the departure asynchronously: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(3);
    let newcomer = loop {
        match proxy.config("app", "app", "pms").connect(NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                break client;
            }
            Err(e) if e.code() == Some(&SqlState::TOO_MANY_CONNECTIONS) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e).context("a client after one left"),
        }
    };
    assert_serves(&newcomer).await?;
    assert_serves(&witness).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_timeout_fails_the_statement_with_53300_and_keeps_the_session() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(1).checkout_timeout_ms(300).start().await?;
    let holder = proxy.connect("app", "app", "pms").await?;
    let waiter = proxy.connect("app", "app", "pms").await?;
    holder.batch_execute("BEGIN; SELECT 1").await?;

    let started = Instant::now();
    let code = query_error(&waiter, "SELECT 1").await?;
    let waited = started.elapsed();

    assert_eq!(code, SqlState::TOO_MANY_CONNECTIONS);
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(1),
        "waited {waited:?} for a 300 ms checkout timeout"
    );
    holder.batch_execute("COMMIT").await?;
    assert_serves(&waiter).await?;
    assert_serves(&holder).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_the_proxys_login_is_reported_at_once_with_its_28p01() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    // `app` exists on the server with a password the proxy does not know.
    pg.create_role("app", "the-real-server-password").await?;
    pg.create_role("ok", "ok").await?;
    pg.create_database("pms", "ok").await?;
    let proxy = Proxy::builder(&pg)
        .no_provision()
        .user("ok", "ok", "scram-sha-256")
        .user("app", "app", "scram-sha-256")
        .checkout_timeout_ms(10_000)
        .start()
        .await?;
    let witness = proxy.connect("ok", "ok", "pms").await?;

    let started = Instant::now();
    let code = match proxy.config("app", "app", "pms").connect(NoTls).await {
        // Either the login fails (the first client of a pool checks a server out) or, if the
        // proxy let the client in, its first statement does.
        Err(e) => e.as_db_error().with_context(|| format!("not a server error: {e}"))?.code().clone(),
        Ok((client, connection)) => {
            tokio::spawn(connection);
            query_error(&client, "SELECT 1").await?
        }
    };
    let waited = started.elapsed();

    assert_eq!(code, SqlState::INVALID_PASSWORD);
    assert!(waited < Duration::from_secs(3), "took {waited:?}; checkout timeout is 10 s");
    assert_serves(&witness).await
}

/// The SQLSTATE of a new client's first contact with the proxy: its login, or, if the proxy
/// lets it in without a server (it knows the server's parameters already), its first statement.
async fn first_contact_error(proxy: &Proxy) -> anyhow::Result<SqlState> {
    match proxy.config("app", "app", "pms").connect(NoTls).await {
        Err(e) => Ok(e.as_db_error().with_context(|| format!("not a server error: {e}"))?.code().clone()),
        Ok((client, connection)) => {
            tokio::spawn(connection);
            query_error(&client, "SELECT 1").await
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_before_any_client_gives_08001_and_serves_once_back() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).start().await?;

    tokio::task::block_in_place(|| pg.stop())?;
    let code = first_contact_error(&proxy).await?;
    assert_eq!(code, SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION);

    tokio::task::block_in_place(|| pg.start_again())?;
    assert_serves(&proxy.connect("app", "app", "pms").await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_gives_08001_and_clients_work_again_once_it_is_back() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).start().await?;
    let witness = proxy.connect("app", "app", "pms").await?;
    // Leaves an idle server in the pool, which the shutdown below terminates.
    assert_serves(&witness).await?;

    tokio::task::block_in_place(|| pg.stop())?;
    let code = first_contact_error(&proxy).await?;
    assert_eq!(code, SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION);

    tokio::task::block_in_place(|| pg.start_again())?;
    assert_serves(&proxy.connect("app", "app", "pms").await?).await?;
    assert_serves(&witness).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_statement_after_a_server_restart_runs_on_a_fresh_server() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).start().await?;
    let client = proxy.connect("app", "app", "pms").await?;
    assert_serves(&client).await?;

    // A restart terminates the idle pooled server the client used last.
    tokio::task::block_in_place(|| pg.stop())?;
    tokio::task::block_in_place(|| pg.start_again())?;

    // Nothing had been sent on the dead server: the proxy can retry without the client knowing.
    assert_serves(&client).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_server_is_terminated_mid_statement_keeps_its_session() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let proxy = Proxy::builder(&pg).pool_size(1).start().await?;
    let client = proxy.connect("app", "app", "pms").await?;
    let admin = pg.client("pms").await?;

    let kill = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        admin
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()",
            )
            .await
    };
    let (slept, killed) = tokio::join!(client.simple_query("SELECT pg_sleep(10)"), kill);
    killed?;

    assert!(slept.is_err(), "the statement of a terminated server succeeded");
    // Outside a transaction under transaction pooling, the session lost nothing: it goes on.
    assert_serves(&client).await
}
