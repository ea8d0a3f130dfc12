//! How a pool opens a server, and what it records when it does.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::backend::{connect, BackendError, ConnectParams, Server};

/// ParameterStatus values a server reported at startup, in order.
pub type ServerParams = Arc<Vec<(String, String)>>;

pub struct Opener {
    pub params: ConnectParams,
    pub startup_params: Arc<OnceLock<ServerParams>>,
    /// Connections of this pool being opened now (for /metrics).
    pub connecting: AtomicUsize,
    /// The instance's count of statements prepared on servers.
    pub prepared_total: Arc<AtomicI64>,
}

/// Counts one connection attempt while it lasts, however it ends (a cancelled checkout
/// drops the attempt midway).
struct Connecting<'a>(&'a AtomicUsize);

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Opener {
    /// Connects and authenticates one server, boxed: the pool moves servers between its idle
    /// stack and clients, and a box moves as a pointer.
    pub async fn open(&self, timeout: std::time::Duration) -> Result<Box<Server>, BackendError> {
        self.connecting.fetch_add(1, Ordering::Relaxed);
        let attempt = Connecting(&self.connecting);
        // The connect timeout is the pool's current one (a reload may have changed it).
        let mut server = if timeout == self.params.timeout {
            connect(&self.params).await?
        } else {
            let mut params = self.params.clone();
            params.timeout = timeout;
            connect(&params).await?
        };
        drop(attempt);
        server.prepared.count_in(self.prepared_total.clone());
        let _ = self.startup_params.set(server.startup_params.clone());
        tracing::debug!(server = %server.addr(), pid = server.backend_pid(), "server connected");
        Ok(Box::new(server))
    }
}
