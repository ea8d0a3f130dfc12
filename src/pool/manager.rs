//! bb8's view of a server: how to open one, when to ping it, when it must not come back.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::backend::{connect, BackendError, ConnectParams, Server};

/// ParameterStatus values a server reported at startup, in order.
pub type ServerParams = Arc<Vec<(String, String)>>;

pub struct ServerManager {
    pub params: ConnectParams,
    pub ping_after_idle: Duration,
    pub startup_params: Arc<OnceLock<ServerParams>>,
}

impl bb8::ManageConnection for ServerManager {
    type Connection = Server;
    type Error = BackendError;

    async fn connect(&self) -> Result<Server, BackendError> {
        let server = connect(&self.params).await?;
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
