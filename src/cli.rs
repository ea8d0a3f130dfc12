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

/// `shardgate check`: prints every problem with file, line and field; exit 1 if any.
pub fn check(path: &std::path::Path) -> ExitCode {
    let is_map = std::fs::read_to_string(path).map(|t| t.lines().any(|l| l.starts_with("shards:"))).unwrap_or(false);
    let result = if is_map {
        crate::config::load_map(path).map(|m| format!("{}: ok ({} shard(s))", path.display(), m.shards().len()))
    } else {
        crate::config::Config::load(path)
            .map(|c| format!("{}: ok ({} database(s), {} user(s))", path.display(), c.databases.len(), c.users.len()))
    };
    match result {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
