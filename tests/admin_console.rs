//! The admin console (database `shardgate`) driven the way operators drive it: psql, and
//! tokio-postgres' `simple_query` as scripts do. Every command, with PgBouncer's column
//! names where the concept is the same, against a real four-shard proxy (and a real
//! streaming replica for SHOW SHARDS).

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::shards::Shards;
use support::{succeeded, PgCluster, Proxy};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const ADMIN: &str = "admin_users: [admin]\n";

/// One result set: column names, and each row by column name.
struct Rows {
    columns: Vec<String>,
    rows: Vec<BTreeMap<String, Option<String>>>,
}

impl Rows {
    fn find(&self, column: &str, value: &str) -> Vec<&BTreeMap<String, Option<String>>> {
        self.rows.iter().filter(|r| r.get(column).and_then(|v| v.as_deref()) == Some(value)).collect()
    }
}

fn cell<'a>(row: &'a BTreeMap<String, Option<String>>, column: &str) -> &'a str {
    row.get(column).and_then(|v| v.as_deref()).unwrap_or_else(|| panic!("no value for {column} in {row:?}"))
}

async fn show(c: &Client, sql: &str) -> anyhow::Result<Rows> {
    let mut out = Rows { columns: Vec::new(), rows: Vec::new() };
    for m in c.simple_query(sql).await? {
        match m {
            SimpleQueryMessage::RowDescription(cols) => {
                out.columns = cols.iter().map(|c| c.name().to_string()).collect();
            }
            SimpleQueryMessage::Row(r) => {
                let row = r
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(i, col)| (col.name().to_string(), r.get(i).map(str::to_string)))
                    .collect();
                out.rows.push(row);
            }
            _ => {}
        }
    }
    Ok(out)
}

fn assert_columns(rows: &Rows, expected: &[&str]) {
    for name in expected {
        assert!(rows.columns.iter().any(|c| c == name), "column {name} missing from {:?}", rows.columns);
    }
}

async fn setup(prefix: &str) -> anyhow::Result<(PgCluster, Shards, Proxy)> {
    let pg = PgCluster::start_async().await?;
    pg.ensure_role("app", "app").await?;
    let shards = Shards::create(&pg, prefix, 4, ("app", "app")).await?;
    let proxy = Proxy::builder(&pg)
        .database_with_map("pms", &shards.map_yaml(&pg))
        .user("app", "app", "scram-sha-256")
        .user("admin", "admin", "scram-sha-256")
        .extra_yaml(ADMIN)
        .start()
        .await?;
    Ok((pg, shards, proxy))
}

async fn connect_named(proxy: &Proxy, user: &str, db: &str, application_name: &str) -> anyhow::Result<Client> {
    let mut config = proxy.config(user, user, db);
    config.application_name(application_name);
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

#[tokio::test]
async fn show_commands_answer_with_pgbouncer_columns_and_live_values() -> anyhow::Result<()> {
    let (pg, _shards, proxy) = setup("adm_show").await?;
    let app = proxy.connect("app", "app", "pms").await?;
    app.simple_query("SELECT count(*) FROM reservations WHERE tenant_id = 42").await?;
    let admin = proxy.connect("admin", "admin", "shardgate").await?;

    let pools = show(&admin, "SHOW POOLS").await?;
    assert_columns(
        &pools,
        &[
            "database",
            "user",
            "cl_active",
            "cl_waiting",
            "sv_active",
            "sv_idle",
            "pool_mode",
            "shard",
            "server",
            "role",
        ],
    );
    let home = Shards::shard_name(Shards::expected_shard(&pg, 42).await?);
    let pool = pools.find("shard", &home);
    assert_eq!(pool.len(), 1, "one pool for {home}: {:?}", pools.rows);
    let pool = pool[0];
    assert_eq!(cell(pool, "database"), "pms");
    assert_eq!(cell(pool, "user"), "app");
    assert_eq!(cell(pool, "sv_idle"), "1", "the server went back after the query");
    assert_eq!(cell(pool, "sv_active"), "0");
    assert_eq!(cell(pool, "cl_active"), "0");
    assert_eq!(cell(pool, "pool_mode"), "transaction");
    assert_eq!(cell(pool, "role"), "primary");
    assert_eq!(cell(pool, "server"), format!("{}:{}", pg.host(), pg.port()));

    let stats = show(&admin, "show stats;").await?;
    assert_columns(
        &stats,
        &[
            "database",
            "total_query_count",
            "total_received",
            "total_sent",
            "total_query_time",
            "total_wait_time",
            "avg_query_time",
            "avg_wait_time",
        ],
    );
    let all = &stats.rows[0];
    assert!(cell(all, "total_query_count").parse::<u64>()? >= 1);
    assert!(cell(all, "total_received").parse::<u64>()? > 0);
    assert!(cell(all, "total_sent").parse::<u64>()? > 0);
    assert!(cell(all, "total_server_assignment_count").parse::<u64>()? >= 1);

    let servers = show(&admin, "SHOW SERVERS").await?;
    assert_columns(&servers, &["type", "user", "database", "state", "addr", "port", "shard", "role"]);
    let on_home = servers.find("shard", &home);
    assert_eq!(on_home.len(), 1);
    assert_eq!(cell(on_home[0], "state"), "idle");
    assert_eq!(cell(on_home[0], "port"), pg.port().to_string());

    let databases = show(&admin, "SHOW DATABASES").await?;
    assert_columns(
        &databases,
        &["name", "host", "port", "database", "pool_size", "pool_mode", "current_connections", "paused", "shard"],
    );
    assert_eq!(databases.find("name", "pms").len(), 4);
    assert_eq!(cell(databases.find("shard", &home)[0], "current_connections"), "1");

    let config = show(&admin, "SHOW CONFIG").await?;
    assert_eq!(config.columns, ["key", "value", "default", "changeable"]);
    let size = config.find("key", "pool.size")[0];
    assert_eq!(cell(size, "value"), "10");
    assert_eq!(cell(size, "default"), "20");
    assert_eq!(cell(size, "changeable"), "t");
    assert_eq!(cell(config.find("key", "listen")[0], "changeable"), "f");
    assert_eq!(cell(config.find("key", "admin_users")[0], "value"), "admin");

    let version = show(&admin, "SHOW VERSION").await?;
    assert_eq!(version.columns, ["version"]);
    assert!(cell(&version.rows[0], "version").starts_with("shardgate "));

    let shards = show(&admin, "SHOW SHARDS").await?;
    assert_columns(&shards, &["database", "shard", "server", "role", "up", "banned", "lag_bytes", "lag_seconds"]);
    assert_eq!(shards.rows.len(), 4);
    assert!(shards.rows.iter().all(|r| cell(r, "role") == "primary"));

    let route = show(&admin, "SHOW ROUTE pms SELECT * FROM reservations WHERE tenant_id = 42").await?;
    assert_columns(&route, &["database", "target", "write", "reason", "merge"]);
    assert_eq!(cell(&route.rows[0], "target"), home);
    assert_eq!(cell(&route.rows[0], "write"), "f");
    let write = show(&admin, "SHOW ROUTE INSERT INTO reservations (tenant_id) VALUES (42)").await?;
    assert_eq!(cell(&write.rows[0], "target"), home, "without a database name the first one is used");
    assert_eq!(cell(&write.rows[0], "write"), "t");
    let scatter = show(&admin, "SHOW ROUTE pms SELECT tenant_id FROM reservations ORDER BY tenant_id LIMIT 5").await?;
    assert!(cell(&scatter.rows[0], "target").contains("several shards"));
    assert!(!cell(&scatter.rows[0], "merge").is_empty(), "a scatter read shows its merge plan");
    let refused = show(&admin, "SHOW ROUTE pms SELECT * FROM nowhere").await?;
    assert_eq!(cell(&refused.rows[0], "target"), "refused");
    assert_eq!(cell(&refused.rows[0], "sqlstate"), "0A000");
    Ok(())
}

#[tokio::test]
async fn psql_drives_every_show_command() -> anyhow::Result<()> {
    let (_pg, _shards, proxy) = setup("adm_psql").await?;
    proxy.connect("app", "app", "pms").await?.simple_query("SELECT 1 FROM reservations WHERE tenant_id = 7").await?;
    let mut args = Vec::new();
    for cmd in [
        "SHOW POOLS;",
        "SHOW STATS;",
        "SHOW SERVERS;",
        "SHOW CLIENTS;",
        "SHOW DATABASES;",
        "SHOW CONFIG;",
        "SHOW VERSION;",
        "SHOW SHARDS;",
        "SHOW ROUTE pms SELECT * FROM guests WHERE tenant_id = 7;",
        "RELOAD;",
        "PAUSE shard-1;",
        "RESUME shard-1;",
    ] {
        args.extend(["-c", cmd]);
    }
    let out = succeeded(proxy.psql("admin", "admin", "shardgate", &args).await?)?;
    for expected in [
        "cl_active",
        "total_query_count",
        "sv_idle",
        "connect_time",
        "current_connections",
        "changeable",
        "shardgate ",
        "lag_bytes",
        "reason",
    ] {
        assert!(out.contains(expected), "psql output lacks {expected}:\n{out}");
    }
    for tag in ["RELOAD", "PAUSE", "RESUME"] {
        assert!(out.lines().any(|l| l.trim() == tag), "psql output lacks {tag}:\n{out}");
    }
    // psql lists itself among the clients, with the admin console's database.
    assert!(out.contains("shardgate"), "{out}");

    let bad = proxy.psql("admin", "admin", "shardgate", &["-c", "SHOW NONSENSE"]).await?;
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("unknown admin command") && err.contains("SHOW POOLS") && err.contains("KILL_CLIENT"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn show_clients_lists_both_clients_and_kill_client_closes_only_the_named_one() -> anyhow::Result<()> {
    let (_pg, _shards, proxy) = setup("adm_kill").await?;
    let victim = connect_named(&proxy, "app", "pms", "victim").await?;
    let bystander = connect_named(&proxy, "app", "pms", "bystander").await?;
    victim.simple_query("SELECT 1 FROM guests WHERE tenant_id = 1").await?;
    bystander.simple_query("BEGIN; SELECT 1 FROM guests WHERE tenant_id = 1").await?;
    let admin = proxy.connect("admin", "admin", "shardgate").await?;

    let clients = show(&admin, "SHOW CLIENTS").await?;
    assert_columns(
        &clients,
        &["type", "user", "database", "state", "addr", "port", "connect_time", "application_name", "id"],
    );
    let v = clients.find("application_name", "victim");
    let b = clients.find("application_name", "bystander");
    assert_eq!((v.len(), b.len()), (1, 1), "{:?}", clients.rows);
    assert_eq!(cell(v[0], "database"), "pms");
    assert_eq!(cell(v[0], "user"), "app");
    assert_eq!(cell(v[0], "state"), "idle");
    assert_eq!(cell(b[0], "state"), "active", "a client inside a transaction holds its server");
    assert_eq!(cell(v[0], "addr"), "127.0.0.1");
    assert_eq!(clients.find("database", "shardgate").len(), 1, "the console lists itself");
    let id = cell(v[0], "id").to_string();

    admin.simple_query(&format!("KILL_CLIENT {id}")).await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !victim.is_closed() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(victim.is_closed(), "the killed client's connection is closed");
    assert!(victim.simple_query("SELECT 1").await.is_err());
    bystander.simple_query("SELECT 2 FROM guests WHERE tenant_id = 1; COMMIT").await?;
    let after = show(&admin, "SHOW CLIENTS").await?;
    assert!(after.find("application_name", "victim").is_empty());
    assert_eq!(cell(after.find("application_name", "bystander")[0], "state"), "idle");

    let missing = admin.simple_query("KILL_CLIENT 999999").await.unwrap_err();
    assert_eq!(missing.code().map(|c| c.code()), Some("42704"));
    Ok(())
}

#[tokio::test]
async fn pause_holds_new_queries_of_that_shard_until_resume() -> anyhow::Result<()> {
    let (pg, _shards, proxy) = setup("adm_pause").await?;
    let home = Shards::shard_name(Shards::expected_shard(&pg, 42).await?);
    let app = proxy.connect("app", "app", "pms").await?;
    app.simple_query("SELECT 1 FROM guests WHERE tenant_id = 42").await?;
    let admin = proxy.connect("admin", "admin", "shardgate").await?;
    admin.simple_query(&format!("PAUSE {home}")).await?;
    let pools = show(&admin, "SHOW POOLS").await?;
    assert_eq!(cell(pools.find("shard", &home)[0], "paused"), "t");

    let started = Instant::now();
    let waiting = tokio::spawn(async move {
        app.simple_query("SELECT 1 FROM guests WHERE tenant_id = 42").await.map(|_| Instant::now())
    });
    // Another shard keeps serving.
    let mut other = None;
    for t in 1..200 {
        if Shards::shard_name(Shards::expected_shard(&pg, t).await?) != home {
            other = Some(t);
            break;
        }
    }
    let other = other.expect("a tenant on another shard");
    let second = proxy.connect("app", "app", "pms").await?;
    tokio::time::timeout(
        Duration::from_secs(5),
        second.simple_query(&format!("SELECT 1 FROM guests WHERE tenant_id = {other}")),
    )
    .await??;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "a query of the paused shard must wait");
    let resumed_at = Instant::now();
    admin.simple_query(&format!("RESUME {home}")).await?;
    let done_at = tokio::time::timeout(Duration::from_secs(10), waiting).await???;
    assert!(done_at >= resumed_at, "completed only after RESUME");
    assert!(done_at.duration_since(started) >= Duration::from_millis(700));

    // PAUSE of everything, and of a shard that does not exist.
    admin.simple_query("PAUSE").await?;
    assert!(show(&admin, "SHOW SHARDS").await?.rows.iter().all(|r| cell(r, "paused") == "t"));
    admin.simple_query("RESUME").await?;
    let e = admin.simple_query("PAUSE no-such-shard").await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("42704"));
    Ok(())
}

#[tokio::test]
async fn a_refused_reload_returns_the_problems_and_the_old_config_keeps_serving() -> anyhow::Result<()> {
    let (_pg, _shards, proxy) = setup("adm_reload").await?;
    let admin = proxy.connect("admin", "admin", "shardgate").await?;
    admin.simple_query("RELOAD").await?;
    let good = std::fs::read_to_string(proxy.config_path())?;
    std::fs::write(proxy.config_path(), format!("{good}no_such_setting: 1\n"))?;
    let e = admin.simple_query("RELOAD").await.unwrap_err();
    let db = e.as_db_error().expect("an ErrorResponse");
    assert_eq!(db.code().code(), "F0000");
    assert!(db.message().contains("no_such_setting"), "{}", db.message());
    let app = proxy.connect("app", "app", "pms").await?;
    app.simple_query("SELECT 1 FROM guests WHERE tenant_id = 3").await?;
    std::fs::write(proxy.config_path(), good)?;
    admin.simple_query("RELOAD").await?;
    Ok(())
}

#[tokio::test]
async fn shutdown_stops_accepting_connections() -> anyhow::Result<()> {
    let (_pg, _shards, proxy) = setup("adm_stop").await?;
    let out = succeeded(proxy.psql("admin", "admin", "shardgate", &["-c", "SHUTDOWN"]).await?)?;
    assert!(out.contains("SHUTDOWN"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if proxy.connect("app", "app", "pms").await.is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "still accepting after SHUTDOWN");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn unknown_commands_list_the_commands_and_non_admins_are_refused() -> anyhow::Result<()> {
    let (_pg, _shards, proxy) = setup("adm_refuse").await?;
    let admin = proxy.connect("admin", "admin", "shardgate").await?;
    let e = admin.simple_query("SELECT 1").await.unwrap_err();
    let db = e.as_db_error().expect("an ErrorResponse");
    assert_eq!(db.code().code(), "42601");
    for cmd in ["SHOW POOLS", "SHOW ROUTE", "RELOAD", "PAUSE", "RESUME", "KILL_CLIENT", "SHUTDOWN"] {
        assert!(db.message().contains(cmd), "{} lacks {cmd}", db.message());
    }
    // The extended protocol is refused with a clear error, and the session goes on.
    let e = admin.query("SHOW POOLS", &[]).await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("0A000"), "{e}");
    admin.simple_query("SHOW VERSION").await?;

    let refused = proxy.connect("app", "app", "shardgate").await.unwrap_err();
    let refused = refused.downcast_ref::<tokio_postgres::Error>().and_then(|e| e.code().map(|c| c.code().to_string()));
    assert_eq!(refused.as_deref(), Some("42501"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_shards_reports_primary_and_streaming_replica_roles() -> anyhow::Result<()> {
    let primary = PgCluster::start_async().await?;
    primary.ensure_role("app", "app").await?;
    primary.ensure_role("admin", "admin").await?;
    primary.create_database("pms", "app").await?;
    let replica = primary.start_replica_async().await?;
    let endpoint = |c: &PgCluster| format!("{{ host: {}, port: {}, database: pms }}", c.host(), c.port());
    let map = format!(
        "version: 1\nshards:\n  - name: main\n    primary: {}\n    replicas:\n      - {}\n",
        endpoint(&primary),
        endpoint(&replica)
    );
    let proxy = Proxy::builder(&primary)
        .database_with_map("pms", &map)
        .user("app", "app", "scram-sha-256")
        .user("admin", "admin", "scram-sha-256")
        .no_provision()
        .extra_yaml(&format!("{ADMIN}replicas:\n  health_interval_ms: 100\n"))
        .start()
        .await?;
    let admin = proxy.connect("admin", "admin", "shardgate").await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    let shards = loop {
        let shards = show(&admin, "SHOW SHARDS").await?;
        if shards.rows.iter().all(|r| r.get("up").and_then(|v| v.as_deref()) == Some("t")) {
            break shards;
        }
        assert!(Instant::now() < deadline, "servers never came up: {:?}", shards.rows);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let server = |c: &PgCluster| format!("{}:{}", c.host(), c.port());
    let p = shards.find("server", &server(&primary));
    let r = shards.find("server", &server(&replica));
    assert_eq!(cell(p[0], "role"), "primary");
    assert_eq!(cell(r[0], "role"), "replica");
    assert_eq!(cell(r[0], "banned"), "f");
    assert!(cell(r[0], "lag_bytes").parse::<u64>().is_ok());
    assert!(p[0].get("lag_bytes").is_some_and(Option::is_none), "a primary has no lag");
    Ok(())
}

#[test]
fn a_database_named_shardgate_and_unknown_admins_are_refused_by_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shardgate.yaml");
    let yaml = "databases:\n  shardgate:\n    shard_map: map.yaml\nusers:\n  - name: app\n    password: app\nadmin_users: [nobody]\n";
    let e = shardgate::config::Config::from_yaml(yaml, &path).unwrap_err().to_string();
    assert!(e.contains("reserved for the admin console"), "{e}");
    assert!(e.contains("no user named \"nobody\""), "{e}");
}
