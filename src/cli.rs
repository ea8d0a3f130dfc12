//! Command line: `shardgate run`, `shardgate check`.

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
        /// Log as JSON lines instead of human-readable text.
        #[arg(long)]
        log_json: bool,
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

pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
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
