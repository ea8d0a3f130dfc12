//! `/metrics` over real HTTP: known traffic through a four-shard proxy (a routed statement, a
//! scatter read, a refusal, reloads that succeed and fail) moves exactly the series
//! docs/metrics.md promises, parsed with a Prometheus text-format parser. A taken metrics
//! port fails the start with an error that names it.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use support::shards::Shards;
use support::{PgCluster, Proxy};
use tokio_postgres::error::SqlState;

/// One scrape: every sample keyed by name and its sorted labels, e.g.
/// `shardgate_statements_total{route="single"}`.
#[derive(Debug)]
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    async fn take(addr: SocketAddr) -> anyhow::Result<Scrape> {
        let response = reqwest::get(format!("http://{addr}/metrics")).await?;
        anyhow::ensure!(response.status().is_success(), "GET /metrics: {}", response.status());
        let text = response.text().await?;
        if std::env::var_os("DUMP_METRICS").is_some() {
            eprintln!("{text}");
        }
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let parsed = prometheus_parse::Scrape::parse(lines)?;
        let mut out = BTreeMap::new();
        for s in parsed.samples {
            let mut labels: Vec<(String, String)> =
                s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).filter(|(k, _)| k != "le").collect();
            labels.sort();
            let le = s.labels.get("le").map(|v| format!(",le={v}")).unwrap_or_default();
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(buckets) => {
                    // Keep the +Inf bucket: it is the observation count.
                    buckets.iter().find(|b| b.less_than.is_infinite()).map_or(0.0, |b| b.count)
                }
                prometheus_parse::Value::Summary(_) => continue,
            };
            out.insert(format!("{}{{{}{le}}}", s.metric, labels.join(",")), value);
        }
        Ok(Scrape(out))
    }

    fn get(&self, key: &str) -> f64 {
        self.0.get(key).copied().unwrap_or(0.0)
    }

    fn delta(&self, before: &Scrape, key: &str) -> f64 {
        self.get(key) - before.get(key)
    }
}

async fn setup(prefix: &str) -> anyhow::Result<(PgCluster, Shards, Proxy)> {
    let pg = PgCluster::start_async().await?;
    pg.ensure_role("app", "app").await?;
    let shards = Shards::create(&pg, prefix, 4, ("app", "app")).await?;
    let proxy = Proxy::builder(&pg).database_with_map("pms", &shards.map_yaml(&pg)).start().await?;
    Ok((pg, shards, proxy))
}

const SINGLE: &str = "shardgate_statements_total{route=single}";
const SCATTER: &str = "shardgate_statements_total{route=scatter}";
const REFUSED: &str = "shardgate_statements_total{route=refused}";
const ERRORS_0A: &str = "shardgate_errors_total{class=0A,source=proxy}";
const SERVER_22: &str = "shardgate_errors_total{class=22,source=server}";
const DURATION: &str = "shardgate_statement_duration_seconds_count{}";
const CHECKOUTS: &str = "shardgate_pool_checkout_wait_seconds_count{}";
const HITS: &str = "shardgate_plan_cache_hits_total{database=pms}";
const MISSES: &str = "shardgate_plan_cache_misses_total{database=pms}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_traffic_moves_the_counters_by_exactly_that_much() -> anyhow::Result<()> {
    let (pg, _shards, proxy) = setup("metrics").await?;
    let addr = proxy.metrics_addr().expect("metrics are on by default in tests");
    let start = Scrape::take(addr).await?;
    let version = format!("shardgate_build_info{{version={}}}", env!("CARGO_PKG_VERSION"));
    assert_eq!(start.get(&version), 1.0, "{start:#?}");

    let c = proxy.connect("app", "app", "pms").await?;
    let connected = Scrape::take(addr).await?;
    assert_eq!(connected.get("shardgate_client_connections{}"), 1.0, "{connected:#?}");
    assert_eq!(connected.delta(&start, "shardgate_client_connections_accepted_total{}"), 1.0);
    assert_eq!(connected.get("shardgate_clients{state=idle}"), 1.0, "{connected:#?}");
    assert_eq!(connected.get("shardgate_clients{state=active}"), 0.0);

    // A routed statement: one decision, one checkout, one answered request, one plan parsed.
    let routed = "SELECT guest FROM reservations WHERE tenant_id = 42";
    c.batch_execute(routed).await?;
    let after_routed = Scrape::take(addr).await?;
    assert_eq!(after_routed.delta(&connected, SINGLE), 1.0, "{after_routed:#?}");
    assert_eq!(after_routed.delta(&connected, "shardgate_transactions_total{route=single}"), 1.0);
    assert_eq!(after_routed.delta(&connected, CHECKOUTS), 1.0);
    assert_eq!(after_routed.delta(&connected, DURATION), 1.0);
    assert_eq!(after_routed.delta(&connected, MISSES), 1.0);
    assert_eq!(after_routed.delta(&connected, HITS), 0.0);
    assert!(after_routed.delta(&connected, "shardgate_client_received_bytes_total{}") >= routed.len() as f64);
    assert!(after_routed.delta(&connected, "shardgate_client_sent_bytes_total{}") > 0.0);
    // Transaction pooling gave the server back: the tenant's shard has one idle server, and
    // no pool has an active one.
    let shard = Shards::expected_shard(&pg, 42).await?;
    let pool = format!(
        "shardgate_server_connections{{database=pms,role=primary,server=127.0.0.1:{},shard=shard-{shard},state=",
        pg.port()
    );
    assert_eq!(after_routed.get(&format!("{pool}idle,user=app}}")), 1.0, "{after_routed:#?}");
    assert_eq!(after_routed.get(&format!("{pool}active,user=app}}")), 0.0);
    let active: f64 = after_routed
        .0
        .iter()
        .filter(|(k, _)| k.starts_with("shardgate_server_connections{") && k.contains("state=active"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(active, 0.0, "{after_routed:#?}");
    assert_eq!(
        after_routed.get(&format!(
            "shardgate_server_connections_opened_total{{database=pms,role=primary,server=127.0.0.1:{},shard=shard-{shard},user=app}}",
            pg.port()
        )),
        1.0
    );

    // The same text again: routed from the plan cache.
    c.batch_execute(routed).await?;
    let again = Scrape::take(addr).await?;
    assert_eq!(again.delta(&after_routed, HITS), 1.0);
    assert_eq!(again.delta(&after_routed, MISSES), 0.0);
    assert_eq!(again.delta(&after_routed, SINGLE), 1.0);

    // A read across the four shards.
    let rows = c.simple_query("SELECT count(*) FROM reservations").await?;
    assert!(!rows.is_empty());
    let after_scatter = Scrape::take(addr).await?;
    assert_eq!(after_scatter.delta(&again, SCATTER), 1.0, "{after_scatter:#?}");
    assert_eq!(after_scatter.delta(&again, "shardgate_transactions_total{route=scatter}"), 1.0);
    assert_eq!(after_scatter.delta(&again, SINGLE), 0.0);
    assert_eq!(after_scatter.delta(&again, DURATION), 1.0);
    assert_eq!(after_scatter.delta(&again, CHECKOUTS), 4.0, "one server per shard");

    // A refusal: counted as a decision and as an error of class 0A sent by the proxy.
    let e = c.simple_query("SELECT * FROM no_such_table WHERE tenant_id = 1").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FEATURE_NOT_SUPPORTED), "{e}");
    let after_refusal = Scrape::take(addr).await?;
    assert_eq!(after_refusal.delta(&after_scatter, REFUSED), 1.0, "{after_refusal:#?}");
    assert_eq!(after_refusal.delta(&after_scatter, ERRORS_0A), 1.0);
    assert_eq!(after_refusal.delta(&after_scatter, DURATION), 1.0);
    assert_eq!(after_refusal.delta(&after_scatter, CHECKOUTS), 0.0, "a refusal needs no server");

    // An error of PostgreSQL's own (division by zero, 22012) is relayed and counted as the
    // server's, in its own class.
    let sql = "INSERT INTO reservations (tenant_id, reservation_id, guest) VALUES (42, 1 / 0, 'x')";
    let e = c.batch_execute(sql).await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DIVISION_BY_ZERO), "{e}");
    let after_server_error = Scrape::take(addr).await?;
    assert_eq!(after_server_error.delta(&after_refusal, SERVER_22), 1.0, "{after_server_error:#?}");
    assert_eq!(after_server_error.delta(&after_refusal, ERRORS_0A), 0.0);
    assert_eq!(after_server_error.delta(&after_refusal, SINGLE), 1.0);
    let after_refusal = after_server_error;

    // A reload that succeeds moves the generation; the plan-cache counters do not go back
    // although the new router's cache starts empty.
    proxy.reload()?;
    let reloaded = Scrape::take(addr).await?;
    assert_eq!(reloaded.delta(&after_refusal, "shardgate_config_reloads_total{result=ok}"), 1.0);
    assert_eq!(reloaded.delta(&after_refusal, "shardgate_config_generation{}"), 1.0);
    assert_eq!(reloaded.delta(&after_refusal, HITS), 0.0);
    assert_eq!(reloaded.delta(&after_refusal, MISSES), 0.0);

    // A reload of a broken config is refused and counted; the generation stays.
    let path = proxy.config_path().to_path_buf();
    let good = std::fs::read_to_string(&path)?;
    std::fs::write(&path, format!("{good}no_such_setting: 1\n"))?;
    assert!(proxy.reload().is_err());
    std::fs::write(&path, good)?;
    let refused = Scrape::take(addr).await?;
    assert_eq!(refused.delta(&reloaded, "shardgate_config_reloads_total{result=failed}"), 1.0);
    assert_eq!(refused.delta(&reloaded, "shardgate_config_reloads_total{result=ok}"), 0.0);
    assert_eq!(refused.delta(&reloaded, "shardgate_config_generation{}"), 0.0);

    // A named prepared statement is prepared on each server that describes or runs it (here
    // the one that answered Describe, then the tenant's shard's).
    let statement = c.prepare("SELECT guest FROM reservations WHERE tenant_id = $1").await?;
    c.query(&statement, &[&42i64]).await?;
    let prepared = Scrape::take(addr).await?;
    let n = prepared.delta(&refused, "shardgate_prepared_statements_prepared_total{}");
    assert!((1.0..=2.0).contains(&n), "{prepared:#?}");
    assert_eq!(prepared.get("shardgate_prepared_statements_cached{}"), n, "each prepare is still on its server");
    assert_eq!(prepared.delta(&refused, "shardgate_prepared_statements_evicted_total{}"), 0.0);

    drop(c);
    // The client count falls once the proxy notices the disconnect.
    for _ in 0..50 {
        if Scrape::take(addr).await?.get("shardgate_client_connections{}") == 0.0 {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("shardgate_client_connections stayed above 0 after the client left");
}

#[tokio::test]
async fn a_taken_metrics_port_fails_the_start_with_an_error_naming_it() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?;
    let err = Proxy::builder(&pg).metrics_listen(&addr.to_string()).start().await.err().expect("start must fail");
    let text = err.to_string();
    assert!(text.contains(&format!("cannot serve metrics on {addr}")), "{text}");
    assert!(text.contains("metrics.listen"), "{text}");

    let off = Proxy::builder(&pg).metrics_listen("off").start().await?;
    assert_eq!(off.metrics_addr(), None);
    Ok(())
}
