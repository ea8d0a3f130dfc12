//! `shardgate check`: a valid config passes; every problem names the file, line and field.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use shardgate::config::Config;

const MAP: &str =
    "version: 1\nshards:\n  - name: main\n    primary:\n      host: 127.0.0.1\n      port: 5432\n      database: pms\n";

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn config_with(dir: &Path, body: &str) -> std::path::PathBuf {
    write(dir, "single.yaml", MAP);
    write(dir, "shardgate.yaml", &format!("databases:\n  pms:\n    shard_map: single.yaml\n{body}"))
}

fn check(path: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shardgate")).arg("check").arg(path).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_shipped_example_config_and_maps_are_valid() {
    let (ok, out) = check(Path::new("config/shardgate.yaml"));
    assert!(ok, "{out}");
    let (ok, out) = check(Path::new("shard-maps/single.yaml"));
    assert!(ok, "{out}");
    assert!(out.contains("1 shard"), "{out}");
}

#[test]
fn an_unknown_field_is_rejected_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_with(dir.path(), "users:\n  - name: app\n    password: x\npool:\n  size: 5\n  pool_sise: 7\n");
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(err.contains("shardgate.yaml:9"), "{err}");
    assert!(err.contains("pool_sise"), "{err}");
    let (ok, out) = check(&path);
    assert!(!ok);
    assert!(out.contains("pool_sise"), "{out}");
}

#[test]
fn bad_values_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_with(
        dir.path(),
        "listen: nowhere\nusers:\n  - name: app\n    auth: kerberos\n  - name: b\n    password: x\n    pool_mode: statement\npool:\n  size: 0\n",
    );
    let err = Config::load(&path).unwrap_err();
    let text = err.to_string();
    let find = |field: &str| {
        err.problems
            .iter()
            .find(|p| p.field.as_deref() == Some(field))
            .unwrap_or_else(|| panic!("no problem for {field}: {text}"))
    };
    assert_eq!(find("listen").line, Some(4));
    assert_eq!(find("users[0].auth").line, Some(7));
    assert_eq!(find("users[1].pool_mode").line, Some(10));
    assert_eq!(find("pool.size").line, Some(12));
    assert!(text.contains("shardgate.yaml:7: field `users[0].auth`: unknown auth method \"kerberos\""), "{text}");
}

#[test]
fn shard_map_problems_point_into_the_map_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.yaml", "version: 1\nshards:\n  - name: a\n    primary: { host: h, database: d }\n  - name: a\n    primary: { host: h, port: 0, database: d, tls: sometimes }\n");
    let path = write(
        dir.path(),
        "shardgate.yaml",
        "databases:\n  pms:\n    shard_map: bad.yaml\nusers:\n  - name: app\n    password: x\n",
    );
    let text = Config::load(&path).unwrap_err().to_string();
    assert!(text.contains("bad.yaml:5: field `shards[1].name`: duplicate shard name \"a\""), "{text}");
    assert!(text.contains("bad.yaml:6: field `shards[1].primary.port`"), "{text}");
    assert!(text.contains("field `shards[1].primary.tls`: unknown TLS mode \"sometimes\""), "{text}");
    assert!(text.contains("shardgate.yaml:3: field `databases.pms.shard_map`"), "{text}");
}

#[test]
fn a_missing_map_file_and_a_yaml_syntax_error_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "shardgate.yaml",
        "databases:\n  pms:\n    shard_map: gone.yaml\nusers:\n  - name: app\n    password: x\n",
    );
    let text = Config::load(&path).unwrap_err().to_string();
    assert!(text.contains("gone.yaml: cannot read"), "{text}");
    let path = write(dir.path(), "broken.yaml", "databases: [\n");
    let text = Config::load(&path).unwrap_err().to_string();
    assert!(text.contains("broken.yaml"), "{text}");
}

#[test]
fn a_scram_verifier_or_md5_hash_can_replace_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let verifier = "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$1p6MqJa/BBKhlV5ztDMsvLvk7JhBVyBqJ/8j/qZMIX8=:Pgme3Qe5xwPlD7iq6sJ3vLRF2h7rdNPN0vEgq3OuzVU=";
    let path = config_with(
        dir.path(),
        &format!("users:\n  - name: v\n    scram_verifier: \"{verifier}\"\n    server_password: p\n  - name: m\n    auth: md5\n    password: md55f4dcc3b5aa765d61d8327deb882cf99\n    server_password: p\n"),
    );
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.users["v"].auth.method_name(), "scram-sha-256");
    assert_eq!(config.users["m"].auth.method_name(), "md5");
    assert_eq!(config.users["m"].server_password.as_deref(), Some("p"));
    assert_eq!(config.listen.to_string(), "127.0.0.1:6432", "default listen address");
}

/// Two shards and, from line 7 on, whatever a test needs.
fn bad_map(dir: &Path, rest: &str) -> std::path::PathBuf {
    write(
        dir,
        "map.yaml",
        &format!(
            "version: 1\nshards:\n  - name: shard-0\n    primary: {{ host: h, database: d0 }}\n  - name: shard-1\n    primary: {{ host: h, database: d1 }}\n{rest}"
        ),
    )
}

/// `check` fails and its output has `map.yaml:<line>: field `<field>`` with `message` in it.
fn assert_map_problem(rest: &str, line: u32, field: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = bad_map(dir.path(), rest);
    let (ok, out) = check(&path);
    assert!(!ok, "{out}");
    let want = format!("map.yaml:{line}: field `{field}`: ");
    let found = out.lines().find(|l| l.contains(&want)).unwrap_or_else(|| panic!("no {want:?} in:\n{out}"));
    assert!(found.contains(message), "{found}");
    assert!(found.contains(&path.display().to_string()), "names the file: {found}");
}

const HASH_HEAD: &str = "functions:\n  - name: tenant_hash\n    kind: hash\n    key: bigint\n    ranges:\n";

#[test]
fn check_reports_overlapping_hash_ranges() {
    let rest = format!("{HASH_HEAD}      - {{ to: 10, shard: shard-0 }}\n      - {{ from: 5, shard: shard-1 }}\n");
    assert_map_problem(&rest, 13, "functions[0].ranges[1].from", "overlaps ranges[0]");
}

#[test]
fn check_reports_a_gap_between_hash_ranges() {
    let rest = format!("{HASH_HEAD}      - {{ to: 0, shard: shard-0 }}\n      - {{ from: 100, shard: shard-1 }}\n");
    assert_map_problem(&rest, 13, "functions[0].ranges[1].from", "gap: hash values from 0 up to 100");
}

#[test]
fn check_reports_an_unknown_shard() {
    let rest = format!("{HASH_HEAD}      - {{ to: 0, shard: shard-0 }}\n      - {{ from: 0, shard: shard-7 }}\n");
    assert_map_problem(&rest, 13, "functions[0].ranges[1].shard", "no shard named \"shard-7\"");
}

#[test]
fn check_reports_a_duplicate_list_entry() {
    let rest = "functions:\n  - name: l\n    kind: list\n    key: bigint\n    values:\n      - { key: 42, shard: shard-0 }\n      - { key: \"42\", shard: shard-1 }\n";
    assert_map_problem(rest, 13, "functions[0].values[1].key", "duplicate key");
}

#[test]
fn check_reports_a_rule_naming_a_missing_function() {
    let rest = "tables:\n  - name: reservations\n    columns: [tenant_id]\n    function: tenant_hsah\n";
    assert_map_problem(rest, 10, "tables[0].function", "no function named \"tenant_hsah\"");
}

#[test]
fn check_reports_an_unhashable_key_type() {
    let rest = "functions:\n  - name: by_amount\n    kind: hash\n    key: numeric\n    ring: { vnodes: 8 }\n";
    assert_map_problem(rest, 10, "functions[0].key", "cannot hash type \"numeric\"");
}

#[test]
fn check_summarises_the_shipped_maps() {
    for (map, shards) in
        [("shard-maps/pms-4.yaml", 4), ("shard-maps/pms-4-ring.yaml", 4), ("shard-maps/pms-brand-region.yaml", 100)]
    {
        let (ok, out) = check(Path::new(map));
        assert!(ok, "{out}");
        assert!(out.contains(&format!("ok ({shards} shard(s)")), "{out}");
    }
    let (_, out) = check(Path::new("shard-maps/pms-4.yaml"));
    assert!(out.contains("function tenant_hash: hash of bigint in 4 range(s)"), "{out}");
    assert!(out.contains("table reservations: [tenant_id] -> tenant_hash"), "{out}");
}
