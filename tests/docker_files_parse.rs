//! The files under docker/ parse and agree with each other, since CI has no docker daemon to
//! try them: the compose services the shardgate config and shard map name exist, replicas
//! copy their own primary, Prometheus scrapes the address shardgate serves metrics on, and
//! every series the Grafana dashboard queries is one docs/metrics.md documents.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn docker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker")
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn compose() -> Value {
    yaml(&docker_dir().join("compose.yaml"))
}

fn services(compose: &Value) -> BTreeSet<String> {
    compose["services"].as_object().expect("services").keys().cloned().collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// The shardgate config the compose file runs, found through its `--config` argument and
/// the volume that mounts it.
fn shardgate_config(compose: &Value) -> PathBuf {
    let sg = &compose["services"]["shardgate"];
    let command = strings(&sg["command"]);
    let at = command.iter().position(|a| a == "--config").expect("shardgate command has --config");
    let in_container = Path::new(command.get(at + 1).expect("a path after --config"));
    for volume in strings(&sg["volumes"]) {
        let mut parts = volume.split(':');
        let (Some(src), Some(dst)) = (parts.next(), parts.next()) else { continue };
        if let Ok(rest) = in_container.strip_prefix(dst) {
            return docker_dir().join(src).join(rest);
        }
    }
    panic!("no volume of the shardgate service mounts {}", in_container.display());
}

#[test]
fn every_relative_volume_of_the_compose_file_exists() {
    let c = compose();
    for (name, service) in c["services"].as_object().unwrap() {
        for volume in strings(&service["volumes"]) {
            let src = volume.split(':').next().unwrap();
            if src.starts_with('.') {
                assert!(docker_dir().join(src).exists(), "service {name}: {src} does not exist under docker/");
            }
        }
    }
    assert!(docker_dir().join("Dockerfile").exists());
    assert_eq!(c["services"]["shardgate"]["build"]["dockerfile"].as_str(), Some("docker/Dockerfile"));
}

#[test]
fn four_shards_each_have_a_primary_and_a_replica_of_that_primary() {
    let c = compose();
    let names = services(&c);
    for i in 0..4 {
        let primary = format!("shard{i}-primary");
        let replica = format!("shard{i}-replica");
        assert!(names.contains(&primary), "{primary} missing from {names:?}");
        assert!(names.contains(&replica), "{replica} missing");
        let r = &c["services"][&replica];
        assert_eq!(r["environment"]["PRIMARY_HOST"].as_str(), Some(primary.as_str()));
        assert!(r["depends_on"][&primary].is_object(), "{replica} must wait for {primary}");
        assert_eq!(
            r["environment"]["REPLICATION_PASSWORD"], c["services"][&primary]["environment"]["REPLICATION_PASSWORD"],
            "{replica} must log in with the password {primary} gives the replication role"
        );
        assert!(strings(&c["services"][&primary]["command"]).iter().any(|a| a == "wal_level=replica"));
    }
}

#[test]
fn the_shardgate_config_loads_and_names_only_compose_services() {
    let c = compose();
    let names = services(&c);
    let path = shardgate_config(&c);
    let config = shardgate::config::Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let db = config.databases.get("pms").expect("database pms");
    assert_eq!(db.map.shards().len(), 4);
    for shard in db.map.shards() {
        assert!(names.contains(&shard.primary.host), "{}: primary {} is not a service", shard.name, shard.primary.host);
        assert_eq!(shard.servers.len(), 2, "{}: a primary and one replica", shard.name);
        for r in shard.servers.iter().skip(1).map(|s| &s.endpoint) {
            assert!(names.contains(&r.host), "{}: replica {} is not a service", shard.name, r.host);
            assert_eq!(
                r.host,
                shard.primary.host.replace("primary", "replica"),
                "{}: replica of another shard",
                shard.name
            );
        }
    }
    // Clients reach the published port.
    let ports = strings(&c["services"]["shardgate"]["ports"]);
    assert!(ports.contains(&format!("{0}:{0}", config.listen.port())), "{ports:?}");
}

#[test]
fn prometheus_scrapes_the_address_shardgate_serves_metrics_on() {
    let c = compose();
    let config = shardgate::config::Config::load(&shardgate_config(&c)).unwrap_or_else(|e| panic!("{e}"));
    let metrics = config.metrics_listen.expect("metrics are on in the compose config");
    assert!(metrics.ip().is_unspecified(), "metrics on {metrics} are unreachable from the prometheus container");

    let prometheus = yaml(&docker_dir().join("prometheus.yml"));
    let jobs = prometheus["scrape_configs"].as_array().expect("scrape_configs");
    let job = jobs.iter().find(|j| j["job_name"] == "shardgate").expect("a shardgate job");
    assert_eq!(job["metrics_path"].as_str().unwrap_or("/metrics"), "/metrics");
    let targets: Vec<String> =
        job["static_configs"].as_array().unwrap().iter().flat_map(|s| strings(&s["targets"])).collect();
    assert_eq!(targets, vec![format!("shardgate:{}", metrics.port())]);
    assert!(services(&c).contains("shardgate"));

    // The file Prometheus reads is the one mounted.
    let volumes = strings(&c["services"]["prometheus"]["volumes"]);
    assert!(volumes.iter().any(|v| v.starts_with("./prometheus.yml:/etc/prometheus/prometheus.yml")), "{volumes:?}");
}

/// Names of shardgate series in a PromQL expression.
fn series_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("shardgate_") {
        let tail = &rest[at..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn every_series_the_dashboard_queries_is_documented() {
    let path = docker_dir().join("grafana/dashboards/shardgate.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/metrics.md")).unwrap();
    let datasource = yaml(&docker_dir().join("grafana/provisioning/datasources/prometheus.yaml"));
    let uid = datasource["datasources"][0]["uid"].as_str().expect("datasource uid");

    let mut seen = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap_or("?");
        assert_eq!(panel["datasource"]["uid"].as_str(), Some(uid), "panel {title}: datasource");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {title} queries nothing");
        for t in targets {
            let expr = t["expr"].as_str().expect("expr");
            let names = series_in(expr);
            assert!(!names.is_empty(), "panel {title}: {expr} uses no shardgate series");
            for name in names {
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .filter(|b| docs.contains(&format!("`{b}`")))
                    .unwrap_or(&name);
                assert!(docs.contains(&format!("`{base}`")), "panel {title}: {name} is not in docs/metrics.md");
                seen.insert(base.to_string());
            }
        }
    }
    // The panels the brief asks for: pools, latency, errors, shard health.
    for needed in [
        "shardgate_server_connections",
        "shardgate_statement_duration_seconds",
        "shardgate_errors_total",
        "shardgate_pool_waiting_clients",
    ] {
        assert!(seen.contains(needed), "the dashboard has no panel on {needed}");
    }

    // Grafana loads dashboards from where the compose file mounts them.
    let provider = yaml(&docker_dir().join("grafana/provisioning/dashboards/shardgate.yaml"));
    let dir = provider["providers"][0]["options"]["path"].as_str().expect("provider path");
    let c = compose();
    let volumes = strings(&c["services"]["grafana"]["volumes"]);
    assert!(volumes.iter().any(|v| v.starts_with(&format!("./grafana/dashboards:{dir}"))), "{volumes:?}");
}

#[test]
fn the_series_finder_finds_names_and_stops_at_punctuation() {
    assert_eq!(
        series_in("sum(rate(shardgate_a_total[1m])) / shardgate_b{x=\"y\"}"),
        vec!["shardgate_a_total".to_string(), "shardgate_b".to_string()]
    );
    assert!(series_in("up").is_empty());
}
