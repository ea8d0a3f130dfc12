//! `shardgate check <map> --connect` against a real server: a shard that does not answer, a
//! named table without its key column, a key column the function cannot hash, and an unnamed
//! table the default rule would misroute are each reported, and a map that fits its shards
//! passes.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::PgCluster;

/// A port nothing listens on: taken from the OS, then released.
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn map(port: u16, third: &str) -> String {
    format!(
        "version: 1
shards:
  - name: shard-0
    primary: {{ host: 127.0.0.1, port: {port}, database: pms_0 }}
  - name: shard-1
    primary: {{ host: 127.0.0.1, port: {port}, database: pms_1 }}
{third}functions:
  - name: tenant_hash
    kind: hash
    key: bigint
    ring: {{ vnodes: 8 }}
tables:
  - {{ name: reservations, columns: [tenant_id], function: tenant_hash }}
default_rule: {{ columns: [tenant_id], function: tenant_hash }}
reference_tables: [currencies]
"
    )
}

fn check(path: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args(["check", "--connect", "--user", "postgres", "--password", "postgres"])
        .arg(path)
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_connect_reports_a_dead_shard_and_tables_the_map_does_not_fit() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    for db in ["pms_0", "pms_1"] {
        pg.create_database(db, "postgres").await?;
        pg.exec(db, "CREATE TABLE reservations (id bigint, tenant_id bigint); CREATE TABLE rooms (tenant_id int4, n int); CREATE TABLE currencies (code text)").await?;
    }
    let dir = tempfile::tempdir()?;

    let good = dir.path().join("good.yaml");
    std::fs::write(&good, map(pg.port(), ""))?;
    let (ok, out) = check(&good);
    assert!(ok, "{out}");
    assert!(out.contains("every server answered"), "{out}");

    pg.exec("pms_1", "ALTER TABLE reservations DROP COLUMN tenant_id; CREATE TABLE audit (at timestamptz)").await?;
    pg.exec("pms_0", "ALTER TABLE rooms ALTER COLUMN tenant_id TYPE numeric").await?;
    let bad = dir.path().join("bad.yaml");
    let down = dead_port();
    let third = format!("  - name: shard-2\n    primary: {{ host: 127.0.0.1, port: {down}, database: pms_2 }}\n");
    std::fs::write(&bad, map(pg.port(), &third))?;
    let (ok, out) = check(&bad);
    assert!(!ok, "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("--connect:")).collect();
    let has = |needles: &[&str]| lines.iter().any(|l| needles.iter().all(|n| l.contains(n)));
    assert!(has(&["bad.yaml", "shard-2 primary", &format!(":{down}/pms_2"), "cannot connect"]), "{out}");
    assert!(has(&["shard-1", "public.reservations has no key column tenant_id"]), "{out}");
    assert!(has(&["shard-1", "public.audit has no rule and no column tenant_id"]), "{out}");
    assert!(has(&["shard-0", "public.rooms.tenant_id is numeric", "cannot hash"]), "{out}");
    assert_eq!(lines.len(), 4, "nothing else is reported: {out}");
    Ok(())
}
