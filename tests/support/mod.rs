//! Test fixtures shared by every integration test crate (`mod support;`).
//!
//! Tests talk to real PostgreSQL: [`PgCluster`] runs `initdb` into a temporary directory and
//! starts a private server on a free port; [`Proxy`] starts shardgate in-process in front of
//! it. Both clean up on `Drop`, and nothing is shared between tests except the set of ports
//! already handed out, so tests run in parallel.

// Each test crate compiles this module on its own and uses only part of it (re-exports
// included); without this allow, every crate would warn about the fixtures it does not call.
#![allow(dead_code, unused_imports)]

mod pg;
mod proxy;
pub mod raw;
pub mod shards;
pub mod wire;

pub use pg::{pg_bin_dir, succeeded, PgCluster};
pub use proxy::{Proxy, ProxyBuilder};

/// Sends shardgate's logs to the test's captured output (shown when a test fails). Filter
/// with `RUST_LOG`; the default is `shardgate=info`. Safe to call from every test: only the
/// first call installs the subscriber.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("shardgate=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .with_ansi(false) // captured output ends up in CI logs, where escapes are noise
        .try_init();
}
