//! bb8's view of a server: how to open one, when to ping it, when it must not come back.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::backend::{connect, BackendError, ConnectParams, Server};

/// ParameterStatus values a server reported at startup, in order.
pub type ServerParams = Arc<Vec<(String, String)>>;

pub struct ServerManager {
    pub params: ConnectParams,
    pub ping_after_idle: Duration,
    pub startup_params: Arc<OnceLock<ServerParams>>,
    /// Connections of this pool being opened now (for /metrics).
    pub connecting: Arc<AtomicUsize>,
    /// The instance's count of statements prepared on servers.
    pub prepared_total: Arc<AtomicI64>,
}

/// Counts one connection attempt while it lasts, however it ends.
struct Connecting<'a>(&'a AtomicUsize);

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl bb8::ManageConnection for ServerManager {
    type Connection = Server;
    type Error = BackendError;

    async fn connect(&self) -> Result<Server, BackendError> {
        self.connecting.fetch_add(1, Ordering::Relaxed);
        let attempt = Connecting(&self.connecting);
        let mut server = connect(&self.params).await?;
        drop(attempt);
        server.prepared.count_in(self.prepared_total.clone());
        let _ = self.startup_params.set(server.startup_params.clone());
        tracing::debug!(server = %server.addr(), pid = server.backend_pid(), "server connected");
        Ok(server)
    }

    /// Drops servers that spoke or closed while idle (a restarted server sends 57P01 to every
    /// pooled connection), and pings only servers idle longer than `ping_after_idle`: a ping
    /// on every checkout costs about 30 % of pgbench throughput.
    async fn is_valid(&self, conn: &mut Server) -> Result<(), BackendError> {
        if conn.has_unsolicited_input() {
            return Err(BackendError::Stale);
        }
        if conn.last_used.elapsed() > self.ping_after_idle {
            conn.run_internal(";").await.map_err(|_| BackendError::Stale)?;
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Server) -> bool {
        !conn.clean
    }
}
