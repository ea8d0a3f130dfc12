//! Merge plans cached by statement text, one cache per map version (built with the router,
//! so a reload starts empty). A cross-shard read pays one parse per distinct text; refusals
//! are cached too, so a client retrying a refused statement costs a lookup.
//!
//! A plan that compares columns (sort or group keys, min/max) needs to know which of them
//! are text, to have the shards report those columns' collations; the executor learns the
//! types once (a Describe on one shard) and stores the checked plan here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{analyse, MergePlan, ScatterError};

/// Distinct statement texts kept; past it the cache starts over (cheap, and rare: scatter
/// statements are reports, not the OLTP hot path).
const CAPACITY: usize = 4096;

/// One statement's plan, shared by every client running it.
#[derive(Debug)]
pub struct Planned {
    pub sql: String,
    pub base: Result<Arc<MergePlan>, ScatterError>,
    checked: Mutex<Option<Arc<MergePlan>>>,
}

impl Planned {
    /// The plan ready to run, if no column types are needed or they were learned already.
    pub fn ready(&self) -> Option<Arc<MergePlan>> {
        let base = self.base.as_ref().ok()?;
        if base.text_compared.is_empty() {
            return Some(base.clone());
        }
        self.checked.lock().ok().and_then(|c| c.clone())
    }

    /// Plans again with verdicts for the compared columns `collatable` says are text, and
    /// keeps the result for the next executions.
    pub fn check(&self, collatable: &dyn Fn(super::plan::ColumnRef) -> bool) -> Result<Arc<MergePlan>, ScatterError> {
        let plan = Arc::new(analyse::plan_checked(&self.sql, collatable)?);
        if let Ok(mut c) = self.checked.lock() {
            *c = Some(plan.clone());
        }
        Ok(plan)
    }

    /// Forgets the checked plan (the shards' column types changed since).
    pub fn forget_checked(&self) {
        if let Ok(mut c) = self.checked.lock() {
            *c = None;
        }
    }
}

#[derive(Default)]
pub struct Planner {
    cache: Mutex<HashMap<Box<str>, Arc<Planned>>>,
}

impl Planner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The plan for `sql` (parsed on the first call).
    pub fn plan(&self, sql: &str) -> Arc<Planned> {
        if let Some(p) = self.cache.lock().ok().and_then(|c| c.get(sql).cloned()) {
            return p;
        }
        // Parsed outside the lock: two clients may both parse a new text once.
        let planned = Arc::new(Planned {
            sql: sql.to_string(),
            base: analyse::plan(sql).map(Arc::new),
            checked: Mutex::new(None),
        });
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CAPACITY {
                c.clear();
            }
            c.insert(sql.into(), planned.clone());
        }
        planned
    }
}
