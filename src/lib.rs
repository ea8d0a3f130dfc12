//! shardgate: a PostgreSQL wire-protocol pooler and sharding proxy.
//!
//! The binary (`main.rs`) is a thin CLI over this library so that integration tests can start
//! the proxy in-process on a free port.
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

pub mod admin;
pub mod auth;
pub mod backend;
pub mod cli;
pub mod config;
pub mod error;
pub mod frontend;
pub mod metrics;
pub mod pool;
pub mod protocol;
pub mod reload;
pub mod router;
pub mod scatter;
pub mod server;
pub mod session;
pub mod shardmap;
pub mod shardmap_check;
pub mod stream;
pub mod tls;
