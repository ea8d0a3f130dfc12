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

/// mimalloc instead of glibc's malloc: routing a statement the plan cache has not seen
/// allocates heavily (sqlparser's tokens and AST), and glibc's malloc and free took about a
/// third of that time (`benches/route.rs`, docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
            let workers = config.workers.unwrap_or_else(default_workers);
            let runtime = match build_runtime(workers) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            tracing::info!(workers, "runtime started");
            runtime.block_on(run(config))
        }
    }
}

/// Threads when the config names none: one per core, but a single one on machines of one or
/// two cores. There the proxy shares the cores with its clients and often the database, and
/// a second runtime thread costs more than it brings: under `pgbench -S` on 2 cores one thread
/// used about 20 % less CPU per transaction (fewer cross-thread wakeups and no work stealing;
/// see docs/performance.md), the way PgBouncer runs single-threaded.
fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cores <= 2 {
        1
    } else {
        cores
    }
}

/// One worker is tokio's current-thread runtime (every client on one thread, no work
/// stealing); more is the multi-thread runtime with that many workers.
fn build_runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    };
    builder.enable_all().build()
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
