//! KILL_CLIENT <id>: closes one client's connection (ids as SHOW CLIENTS and the logs show
//! them). The client gets a FATAL 57P01; a transaction it had open is rolled back by the
//! usual cleanup, and its server goes back to the pool only if that succeeds.

use super::error::AdminError;
use crate::frontend::Shared;

pub fn run(shared: &Shared, id: u64) -> Result<(), AdminError> {
    let entry = shared.registry.get(id).ok_or(AdminError::NoSuchClient(id))?;
    tracing::info!(target_client = id, user = %entry.info.user, "admin: KILL_CLIENT");
    entry.kill();
    Ok(())
}
