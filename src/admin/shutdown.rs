//! SHUTDOWN: the graceful shutdown SIGTERM starts. The listener stops accepting, idle clients
//! are closed, clients in a transaction finish it (up to `shutdown_timeout_ms`).

use std::sync::atomic::Ordering;

use crate::frontend::Shared;

pub fn run(shared: &Shared) {
    tracing::info!("admin: SHUTDOWN");
    shared.stopping.store(true, Ordering::Relaxed);
    shared.shutdown.cancel();
}
