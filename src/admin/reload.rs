//! RELOAD: what SIGHUP does. A refused reload answers with every problem found and the
//! running config keeps serving.

use super::error::AdminError;
use crate::frontend::Shared;

pub fn run(shared: &Shared) -> Result<(), AdminError> {
    crate::reload::reload(shared).map_err(AdminError::Reload)
}
