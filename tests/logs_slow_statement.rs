//! `shardgate run --log-format json` with `slow_statement_ms`: a statement over the threshold
//! is logged once at WARN with its route and duration, inside the client's span; a fast one
//! is not. Runs the real binary and reads its stderr.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::PgCluster;

/// Kills the shardgate process this test started (by its handle) when the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next JSON log line satisfying `pred`, within `wait`.
fn next_line(rx: &mpsc::Receiver<Value>, wait: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    let deadline = std::time::Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(v) if pred(&v) => return Some(v),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_over_the_threshold_is_logged_once_with_route_and_duration() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    pg.ensure_role("app", "app").await?;
    pg.ensure_database("slowlog", "app").await?;
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("map.yaml"),
        format!(
            "version: 1\nshards:\n  - name: main\n    primary: {{ host: {}, port: {}, database: slowlog }}\n",
            pg.host(),
            pg.port()
        ),
    )?;
    let config = dir.path().join("shardgate.yaml");
    std::fs::write(
        &config,
        "listen: 127.0.0.1:0\ndatabases:\n  slowlog:\n    shard_map: map.yaml\n\
         users:\n  - { name: app, password: app, auth: scram-sha-256 }\n\
         metrics:\n  listen: \"off\"\nslow_statement_ms: 200\n",
    )?;
    let child = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args(["run", "--config"])
        .arg(&config)
        .args(["--log-format", "json"])
        // debug for the backend: the server span's connect event.
        .env("RUST_LOG", "info,shardgate::backend=debug")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    let mut running = Running(child);
    let stderr = running.0.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // Every line must be JSON: that is what --log-format json promises.
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if tx.send(v).is_err() {
                break;
            }
        }
    });

    let started =
        next_line(&rx, Duration::from_secs(10), |v| v["fields"]["message"] == "shardgate is accepting connections")
            .expect("shardgate did not report that it accepts connections");
    let listen: std::net::SocketAddr = started["fields"]["listen"].as_str().expect("listen field").parse()?;

    let mut cfg = tokio_postgres::Config::new();
    cfg.host(listen.ip().to_string()).port(listen.port()).user("app").password("app").dbname("slowlog");
    let (client, connection) = cfg.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.simple_query("SELECT 1").await?;
    client.simple_query("SELECT pg_sleep(0.3)").await?;
    client.simple_query("SELECT 2").await?;

    // The server connection has its own span, not the client's.
    let connected =
        next_line(&rx, Duration::from_secs(5), |v| v["fields"]["message"] == "server connection authenticated")
            .expect("no server connect event");
    assert_eq!(connected["span"]["name"], "server", "{connected}");
    assert_eq!(connected["span"]["db"], "slowlog", "{connected}");
    assert!(connected["span"]["pid"].as_i64().is_some_and(|p| p > 0), "{connected}");
    assert!(!connected.to_string().contains(r#""name":"client""#), "a root span, not the client's: {connected}");

    let is_slow = |v: &Value| v["fields"]["message"] == "slow statement";
    let slow = next_line(&rx, Duration::from_secs(5), is_slow).expect("no slow-statement line");
    assert_eq!(slow["level"], "WARN", "{slow}");
    assert_eq!(slow["fields"]["route"], "unrouted", "a single-shard database does not route: {slow}");
    assert_eq!(slow["fields"]["threshold_ms"], 200, "{slow}");
    let ms = slow["fields"]["duration_ms"].as_u64().expect("duration_ms");
    assert!((300..5000).contains(&ms), "duration_ms {ms}");
    // Inside the client's span, which names the user and database.
    assert_eq!(slow["span"]["name"], "client", "{slow}");
    assert_eq!(slow["span"]["user"], "app", "{slow}");
    assert_eq!(slow["span"]["db"], "slowlog", "{slow}");
    assert!(slow.to_string().find("pg_sleep").is_none(), "the SQL text must not be logged: {slow}");
    // SELECT 1 and SELECT 2 were fast: no second line.
    assert!(next_line(&rx, Duration::from_millis(500), is_slow).is_none(), "a fast statement was logged as slow");
    drop(client);
    drop(running);
    Ok(())
}
