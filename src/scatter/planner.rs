//! Merge plans cached by statement text, one cache per map version (built with the router,
//! so a reload starts empty). A cross-shard read pays one parse per distinct text; refusals
//! are cached too, so a client retrying a refused statement costs a lookup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{analyse, MergePlan, ScatterError};

/// Distinct statement texts kept; past it the cache starts over (cheap, and rare: scatter
/// statements are reports, not the OLTP hot path).
const CAPACITY: usize = 4096;

/// A plan or the reason there is none, shared by every client running the statement.
pub type Planned = Arc<Result<MergePlan, ScatterError>>;

#[derive(Default)]
pub struct Planner {
    cache: Mutex<HashMap<Box<str>, Planned>>,
}

impl Planner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The merge plan for `sql` (parsed on the first call).
    pub fn plan(&self, sql: &str) -> Planned {
        if let Some(p) = self.cache.lock().ok().and_then(|c| c.get(sql).cloned()) {
            return p;
        }
        // Parsed outside the lock: two clients may both parse a new text once.
        let plan = Arc::new(analyse::plan(sql));
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CAPACITY {
                c.clear();
            }
            c.insert(sql.into(), plan.clone());
        }
        plan
    }
}
