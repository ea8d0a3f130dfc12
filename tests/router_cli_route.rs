//! `shardgate route`: prints where a statement goes under a shard map and why; exit 1 and the
//! SQLSTATE, message and hint when it is refused.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const MAP: &str = "shard-maps/pms-4.yaml";

fn route(args: &[&str]) -> (bool, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_shardgate")).arg("route").arg("--map").arg(MAP).args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The shard pms-4 places a tenant on, computed as the map's own comment says a DBA would.
fn shard_of(tenant: i64) -> String {
    let h = shardgate::shardmap::hash::hashint8extended(tenant, 0);
    let q = 4_611_686_018_427_387_904i64;
    let i = if h < -q {
        0
    } else if h < 0 {
        1
    } else if h < q {
        2
    } else {
        3
    };
    format!("shard-{i}")
}

#[test]
fn a_point_select_prints_its_shard_and_reason() {
    let (ok, out) = route(&["SELECT * FROM reservations WHERE tenant_id = 42"]);
    assert!(ok, "{out}");
    let shard = shard_of(42);
    assert!(out.contains(&format!("target: {shard}\n")), "{out}");
    assert!(out.contains("write: no"), "{out}");
    assert!(out.contains(&format!("reason: reservations.tenant_id = 42 → {shard}")), "{out}");
}

#[test]
fn parameters_route_like_literals() {
    let (ok, out) =
        route(&["UPDATE folios SET balance = $1 WHERE tenant_id = $2", "--param", "1=10", "--param", "2=42"]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("target: {}\n", shard_of(42))), "{out}");
    assert!(out.contains("write: yes"), "{out}");
}

#[test]
fn a_refusal_prints_sqlstate_message_and_hint_and_exits_1() {
    let (ok, out) = route(&["UPDATE folios SET balance = 0 WHERE id = 7"]);
    assert!(!ok, "{out}");
    assert!(out.contains("refused: SQLSTATE 0A000"), "{out}");
    assert!(out.contains("message: UPDATE on folios has no shard key"), "{out}");
    assert!(out.contains("hint: add `tenant_id = <value>` to the WHERE clause"), "{out}");
}

#[test]
fn a_shard_hint_pins_and_an_unknown_one_is_refused() {
    let (ok, out) = route(&["SELECT * FROM reservations", "--shard-hint", "shard-3"]);
    assert!(ok, "{out}");
    assert!(out.contains("target: shard-3\n"), "{out}");
    let (ok, out) = route(&["SELECT 1", "--shard-hint", "nope"]);
    assert!(!ok, "{out}");
    assert!(out.contains("use one of: shard-0, shard-1, shard-2, shard-3"), "{out}");
}

#[test]
fn ddl_goes_to_all_shards() {
    let (ok, out) = route(&["CREATE INDEX ON reservations (tenant_id)"]);
    assert!(ok, "{out}");
    assert!(out.contains("target: all shards"), "{out}");
}

#[test]
fn a_read_across_shards_prints_how_it_is_merged_or_why_not() {
    let (ok, out) = route(&["SELECT brand_id, count(*) FROM properties GROUP BY brand_id ORDER BY 2 DESC LIMIT 3"]);
    assert!(ok, "{out}");
    assert!(out.contains("(several shards)"), "{out}");
    assert!(out.contains("merge: group by #1; count #2; order by #2 desc"), "{out}");
    assert!(out.contains("limit 3"), "{out}");
    let (ok, out) = route(&["SELECT tenant_id, rank() OVER (ORDER BY tenant_id) FROM properties"]);
    assert!(!ok, "{out}");
    assert!(out.contains("refused: SQLSTATE 0A000"), "{out}");
}

#[test]
fn with_replicas_it_says_which_server_takes_the_statement() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("replicated.yaml");
    std::fs::write(
        &map,
        "version: 1\nshards:\n  - name: main\n    primary: { host: 127.0.0.1, port: 5432, database: pms }\n    \
         replicas: [ { host: 127.0.0.1, port: 5433, database: pms } ]\n",
    )
    .unwrap();
    let run = |sql: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_shardgate")).arg("route").arg("--map").arg(&map).arg(sql).output();
        String::from_utf8_lossy(&out.unwrap().stdout).into_owned()
    };
    assert!(run("SELECT * FROM guests").contains("server: a replica (read_from: replica)"));
    assert!(run("SELECT nextval('guest_ids')").contains("server: the primary"));
    assert!(run("UPDATE guests SET name = 'x'").contains("server: the primary"));
    assert!(!route(&["SELECT 1"]).1.contains("server:"), "maps without replicas say nothing about servers");
}
