//! Command line: `shardgate run`, `shardgate check`, `shardgate route`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "shardgate", version, about = "PostgreSQL pooler and sharding proxy")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy.
    Run {
        #[arg(long, short, default_value = "config/shardgate.yaml")]
        config: PathBuf,
        /// Log format on stderr: `human` (default) or `json` (one object per line, with the
        /// client and server span fields, for log shippers).
        #[arg(long, value_enum, default_value_t = LogFormat::Human)]
        log_format: LogFormat,
        /// Same as `--log-format json` (kept for existing scripts).
        #[arg(long, hide = true)]
        log_json: bool,
    },
    /// Show where a statement would go under a shard map, and why (or why it is refused).
    /// Exit status 0 when routed, 1 when refused.
    Route {
        /// The shard map (YAML).
        #[arg(long)]
        map: PathBuf,
        /// The SQL text; `$n` parameters take their values from --param.
        sql: String,
        /// A text parameter value, `N=value` for `$N` (repeatable). With any --param the
        /// statement is routed as an extended-protocol statement.
        #[arg(long = "param", value_name = "N=VALUE")]
        params: Vec<String>,
        /// Route as if the session had `SET shardgate.shard = '<name>'`.
        #[arg(long)]
        shard_hint: Option<String>,
    },
    /// Validate a config file (and the shard maps it names) or a single shard map.
    Check {
        /// A shardgate.yaml, or a shard map (a file with a top-level `shards:` key).
        path: PathBuf,
        /// For a shard map: also connect to every server it names and compare the map with the
        /// tables and key columns each shard really has.
        #[arg(long)]
        connect: bool,
        /// User for `--connect` (default: PGUSER, else the OS user).
        #[arg(long)]
        user: Option<String>,
        /// Password for `--connect` (default: PGPASSWORD).
        #[arg(long)]
        password: Option<String>,
    },
}

/// How `shardgate run` writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
///
/// A filter of targets and levels only (`info`, `shardgate=debug,info`: the usual case) is a
/// [`Targets`](tracing_subscriber::filter::Targets) filter, decided once per callsite. Only
/// directives that need span fields or names fall back to `EnvFilter`, which takes a read
/// lock shared by all threads on every span enter and exit — that is, on every poll of every
/// client's task (about 2 % of the proxy's CPU under `pgbench -S`).
pub fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let spec = std::env::var("RUST_LOG").ok().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "info".to_string());
    let filter = match spec.parse::<tracing_subscriber::filter::Targets>() {
        Ok(targets) => targets.boxed(),
        Err(_) => tracing_subscriber::EnvFilter::try_new(&spec)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
            .boxed(),
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    let fmt = if format == LogFormat::Json { fmt.json().boxed() } else { fmt.boxed() };
    tracing_subscriber::registry().with(filter).with(fmt).init();
}

/// Options of `shardgate check` beyond the path.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub connect: bool,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// `shardgate check`: prints every problem with file, line and field; exit 1 if any. For a
/// map, `--connect` also checks it against the live shards (see `shardmap_check`).
pub fn check(path: &std::path::Path, options: &CheckOptions) -> ExitCode {
    let is_map = std::fs::read_to_string(path).map(|t| t.lines().any(|l| l.starts_with("shards:"))).unwrap_or(false);
    if !is_map {
        if options.connect {
            eprintln!("{}: --connect checks a shard map; give the map's path", path.display());
            return ExitCode::FAILURE;
        }
        return match crate::config::Config::load(path) {
            Ok(c) => {
                println!("{}: ok ({} database(s), {} user(s))", path.display(), c.databases.len(), c.users.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let map = match crate::config::load_map(path) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}: {}", path.display(), crate::shardmap_check::summary(&map));
    if !options.connect {
        return ExitCode::SUCCESS;
    }
    let creds = crate::shardmap_check::Credentials::from_flags_or_env(options.user.clone(), options.password.clone());
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let problems = runtime.block_on(crate::shardmap_check::connect_check(&map, &creds));
    for p in &problems {
        eprintln!("{}: --connect: {p}", path.display());
    }
    if problems.is_empty() {
        println!(
            "{}: --connect: every server answered; every shard has the map's tables and key columns",
            path.display()
        );
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `shardgate route`: prints the decision; exit 1 when the statement is refused.
pub fn route(map: &std::path::Path, sql: &str, params: &[String], shard_hint: Option<&str>) -> ExitCode {
    use crate::admin::show_route::{explain, Refusal};
    use crate::router::{Params, Router};

    let map = match crate::config::load_map(map) {
        Ok(m) => std::sync::Arc::new(m),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut values: Vec<Option<String>> = Vec::new();
    for p in params {
        let parsed = p.split_once('=').and_then(|(n, v)| Some((n.trim().parse::<usize>().ok()?.checked_sub(1)?, v)));
        let Some((i, v)) = parsed else {
            eprintln!("--param {p:?}: expected N=VALUE with N from 1");
            return ExitCode::FAILURE;
        };
        if values.len() <= i {
            values.resize(i + 1, None);
        }
        if let Some(slot) = values.get_mut(i) {
            *slot = Some(v.to_string());
        }
    }
    let router = Router::new(std::sync::Arc::clone(&map));
    let raw: Vec<Option<&[u8]>> = values.iter().map(|v| v.as_deref().map(str::as_bytes)).collect();
    let bind = Params { types: &[], formats: &[], values: &raw };
    let explained = explain(&map, &router, sql, (!params.is_empty()).then_some(&bind), shard_hint);
    let print_refusal = |r: &Refusal| {
        println!("refused: SQLSTATE {}", r.sqlstate);
        println!("message: {}", r.message);
        println!("hint: {}", r.hint);
    };
    match &explained.target {
        Ok(target) => println!("target: {target}"),
        Err(r) => {
            print_refusal(r);
            return ExitCode::FAILURE;
        }
    }
    println!("write: {}", if explained.write { "yes" } else { "no" });
    if let Some(server) = &explained.server {
        println!("server: {server}");
    }
    println!("reason: {}", explained.reason);
    // A read across shards: how the proxy would merge it, or why it refuses.
    match &explained.merge {
        Some(Ok(plan)) => println!("{plan}"),
        Some(Err(r)) => {
            print_refusal(r);
            return ExitCode::FAILURE;
        }
        None => {}
    }
    ExitCode::SUCCESS
}
