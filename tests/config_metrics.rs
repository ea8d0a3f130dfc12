//! The `metrics` and `slow_statement_ms` settings: defaults, `off`, and errors that name the
//! line and field like every other setting.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use shardgate::config::Config;

const MAP: &str = "version: 1\nshards:\n  - name: main\n    primary: { host: 127.0.0.1, port: 5432, database: pms }\n";

fn load(extra: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("single.yaml"), MAP).unwrap();
    let text =
        format!("databases:\n  pms:\n    shard_map: single.yaml\nusers:\n  - {{ name: app, password: app }}\n{extra}");
    Config::from_yaml(&text, &dir.path().join("shardgate.yaml")).map_err(|e| e.to_string())
}

#[test]
fn metrics_default_to_loopback_9930_and_slow_logging_to_off() {
    let c = load("").unwrap();
    assert_eq!(c.metrics_listen, Some("127.0.0.1:9930".parse().unwrap()));
    assert_eq!(c.slow_statement, None);
}

#[test]
fn metrics_can_be_turned_off_and_moved() {
    assert_eq!(load("metrics:\n  listen: off\n").unwrap().metrics_listen, None);
    assert_eq!(load("metrics:\n  listen: \"off\"\n").unwrap().metrics_listen, None);
    assert_eq!(load("metrics:\n  listen: 0.0.0.0:0\n").unwrap().metrics_listen, Some("0.0.0.0:0".parse().unwrap()));
}

#[test]
fn a_bad_metrics_address_names_its_line_and_field() {
    let e = load("metrics:\n  listen: nowhere\n").unwrap_err();
    assert!(e.contains("metrics.listen"), "{e}");
    assert!(e.contains(":7:"), "line 7 holds the value: {e}");
}

#[test]
fn an_unknown_metrics_setting_is_rejected() {
    let e = load("metrics:\n  listen: 127.0.0.1:9930\n  enabled: true\n").unwrap_err();
    assert!(e.contains("enabled"), "{e}");
}

#[test]
fn slow_statement_ms_zero_is_off() {
    assert_eq!(load("slow_statement_ms: 0\n").unwrap().slow_statement, None);
    assert_eq!(load("slow_statement_ms: 250\n").unwrap().slow_statement, Some(Duration::from_millis(250)));
}
