//! The plan cache: statement text → `Arc<Plan>`, bounded, shared by all client tasks.
//!
//! Sixteen independently locked shards keep two worker threads from contending on one lock;
//! a lock is held only for one hash-map operation, never across parsing. Eviction is
//! deliberately simple — when a shard is full an arbitrary entry goes — because the working
//! set of an application's statements is small and stable: the bound only protects memory
//! from applications that send ever-new text (literals in simple-protocol statements that
//! cannot be normalised).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::plan::Plan;

const SHARDS: usize = 16;

/// Entries across all shards, by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

pub struct PlanCache {
    shards: Vec<Mutex<HashMap<Box<str>, Arc<Plan>>>>,
    per_shard: usize,
    hasher: RandomState,
    /// Lookups that found / did not find a plan, for the metrics endpoint.
    hits: AtomicU64,
    misses: AtomicU64,
}

impl PlanCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &str) -> Option<&Mutex<HashMap<Box<str>, Arc<Plan>>>> {
        let h = self.hasher.hash_one(key) as usize;
        self.shards.get(h % SHARDS)
    }

    pub fn get(&self, key: &str) -> Option<Arc<Plan>> {
        let shard = self.shard(key)?;
        // A poisoned lock only means another thread panicked mid-insert; the map is intact.
        let map = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = map.get(key).cloned();
        (if found.is_some() { &self.hits } else { &self.misses }).fetch_add(1, Ordering::Relaxed);
        found
    }

    /// (hits, misses) since this cache was built.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }

    pub fn insert(&self, key: &str, plan: Arc<Plan>) {
        let Some(shard) = self.shard(key) else { return };
        let mut map = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= self.per_shard && !map.contains_key(key) {
            if let Some(victim) = map.keys().next().cloned() {
                map.remove(&victim);
            }
        }
        map.insert(key.into(), plan);
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::plan::{Body, StatementKind};

    fn plan() -> Arc<Plan> {
        Arc::new(Plan { kind: StatementKind::Select, write: false, body: Body::NoTable })
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let c = PlanCache::new(64);
        for i in 0..1000 {
            c.insert(&format!("select {i}"), plan());
        }
        assert!(c.len() <= 64, "{}", c.len());
        c.insert("select x", plan());
        assert!(c.get("select x").is_some());
    }

    #[test]
    fn the_cache_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<PlanCache>();
    }
}
