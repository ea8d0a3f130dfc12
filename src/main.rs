//! The `shardgate` binary: a thin CLI over the library.
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::dbg_macro,
    clippy::await_holding_lock,
    clippy::large_futures
)]

use std::process::ExitCode;

use clap::Parser;
use shardgate::cli::{check, init_tracing, route, CheckOptions, Cli, Command, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Route { map, sql, params, shard_hint } => route(&map, &sql, &params, shard_hint.as_deref()),
        Command::Check { path, connect, user, password } => check(&path, &CheckOptions { connect, user, password }),
        Command::Run { config, log_format, log_json } => {
            init_tracing(if log_json { LogFormat::Json } else { log_format });
            let config = match shardgate::config::Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(n) = config.workers {
                builder.worker_threads(n);
            }
            let runtime = match builder.enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(run(config))
        }
    }
}

async fn run(config: shardgate::config::Config) -> ExitCode {
    let running = match shardgate::server::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // The admin console's SHUTDOWN cancels the same token a signal would.
    let token = running.shutdown_token();
    tokio::select! {
        () = wait_for_signal() => {}
        () = token.cancelled() => {}
    }
    running.shutdown().await;
    ExitCode::SUCCESS
}

/// SIGTERM or SIGINT starts a graceful shutdown.
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}
