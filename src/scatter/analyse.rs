//! TEMPORARY STUB (replaced by the real module).
use super::{MergePlan, ScatterError};
pub fn plan(sql: &str) -> Result<MergePlan, ScatterError> { Err(ScatterError::unsupported(sql, "")) }
