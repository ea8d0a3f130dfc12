//! SHOW CONFIG: the running settings with their defaults, PgBouncer's columns (key, value,
//! default, changeable). `changeable` means a RELOAD applies it; the others need a restart.

use std::time::Duration;

use super::table::{boolean, text, Kind, Table};
use crate::config::Config;
use crate::frontend::Shared;

fn ms(d: Duration) -> String {
    d.as_millis().to_string()
}

fn opt_ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "0".to_string(), ms)
}

fn opt_s(d: Option<Duration>) -> String {
    d.map_or_else(|| "0".to_string(), |d| d.as_secs().to_string())
}

pub fn run(shared: &Shared) -> Table {
    let c = shared.config.load();
    let (pool, replicas) = Config::defaults();
    let mut t =
        Table::new(&[("key", Kind::Text), ("value", Kind::Text), ("default", Kind::Text), ("changeable", Kind::Bool)]);
    let mut row = |key: &str, value: String, default: Option<String>, changeable: bool| {
        t.push(vec![text(key), text(value), default, boolean(changeable)]);
    };
    row("listen", c.listen.to_string(), text("127.0.0.1:6432"), false);
    row("tls.mode", format!("{:?}", c.tls.mode).to_ascii_lowercase(), None, false);
    row(
        "metrics.listen",
        c.metrics_listen.map_or_else(|| "off".to_string(), |a| a.to_string()),
        text("127.0.0.1:9930"),
        false,
    );
    row("workers", c.workers.map_or_else(|| "0".to_string(), |w| w.to_string()), text("0"), false);
    row("pool.mode", c.pool.mode.as_str().to_string(), text(pool.mode.as_str()), true);
    row("pool.size", c.pool.size.to_string(), text(pool.size), true);
    row("pool.min_idle", c.pool.min_idle.to_string(), text(pool.min_idle), true);
    row("pool.max_client_conn", c.pool.max_client_conn.to_string(), text(pool.max_client_conn), true);
    row("pool.checkout_timeout_ms", ms(c.pool.checkout_timeout), text(ms(pool.checkout_timeout)), true);
    row("pool.connect_timeout_ms", ms(c.pool.connect_timeout), text(ms(pool.connect_timeout)), true);
    row("pool.idle_timeout_s", opt_s(c.pool.idle_timeout), text(opt_s(pool.idle_timeout)), true);
    row("pool.lifetime_s", opt_s(c.pool.lifetime), text(opt_s(pool.lifetime)), true);
    row("pool.query_timeout_ms", opt_ms(c.pool.query_timeout), text(opt_ms(pool.query_timeout)), true);
    row("pool.reset_query", c.pool.reset_query.clone(), text(&pool.reset_query), true);
    row(
        "pool.max_prepared_per_server",
        c.pool.max_prepared_per_server.to_string(),
        text(pool.max_prepared_per_server),
        true,
    );
    row("pool.ping_after_idle_ms", ms(c.pool.ping_after_idle), text(ms(pool.ping_after_idle)), true);
    row("limits.max_message_size", c.limits.max_message_size.to_string(), text(64u32 << 20), true);
    row("replicas.health_interval_ms", ms(c.replicas.health_interval), text(ms(replicas.health_interval)), true);
    row("replicas.health_timeout_ms", ms(c.replicas.health_timeout), text(ms(replicas.health_timeout)), true);
    row("replicas.max_lag_bytes", c.replicas.max_lag_bytes.to_string(), text(replicas.max_lag_bytes), true);
    row("replicas.max_lag_ms", ms(c.replicas.max_lag), text(ms(replicas.max_lag)), true);
    row("replicas.ban_ms", ms(c.replicas.ban), text(ms(replicas.ban)), true);
    row("replicas.primary_wait_ms", ms(c.replicas.primary_wait), text(ms(replicas.primary_wait)), true);
    row("replicas.read_your_writes", c.replicas.read_your_writes.to_string(), text(replicas.read_your_writes), true);
    row("shutdown_timeout_ms", ms(c.shutdown_timeout), text("10000"), true);
    row("slow_statement_ms", opt_ms(c.slow_statement), text("0"), true);
    let admins: Vec<&str> = c.admin_users.iter().map(String::as_str).collect();
    row("admin_users", admins.join(","), text(""), true);
    t
}
