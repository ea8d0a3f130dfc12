//! The plan cache: statement text → `Arc<Plan>`, bounded, shared by all client tasks.
//!
//! Sixteen independently locked shards keep two worker threads from contending on one lock;
//! a lock is held only for one hash-map operation, never across parsing. Eviction is
//! deliberately simple — when a shard is full an arbitrary entry goes — because the working
//! set of an application's statements is small and stable: the bound only protects memory
//! from applications that send ever-new text (literals in simple-protocol statements that
//! cannot be normalised).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hashbrown::HashTable;

use super::plan::Plan;

/// Lock shards; [`PlanCache::shard`] picks one by the hash's top four bits.
const SHARDS: usize = 16;

/// Entries across all shards, by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// One cached plan, with the hash of its text kept so eviction and lookups never rehash.
struct Entry {
    hash: u64,
    text: Box<str>,
    plan: Arc<Plan>,
}

/// A statement's text is hashed once per lookup, and that hash picks both the lock shard and
/// the bucket. foldhash is seeded per process, so an application cannot choose texts that
/// collide; SipHash (std's default), hashed twice, was ~5 % of a cached route.
pub struct PlanCache {
    shards: [Mutex<HashTable<Entry>>; SHARDS],
    per_shard: usize,
    hasher: foldhash::fast::RandomState,
    /// Lookups that found / did not find a plan, for the metrics endpoint.
    hits: AtomicU64,
    misses: AtomicU64,
}

impl PlanCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(HashTable::new())),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: foldhash::fast::RandomState::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The key's hash and its shard, locked. The shard comes from the top bits, the bucket
    /// (inside hashbrown) from the low ones, so the two choices stay independent.
    fn shard(&self, key: &str) -> (u64, MutexGuard<'_, HashTable<Entry>>) {
        let h = self.hasher.hash_one(key);
        // The top four bits: always below SHARDS (16).
        let shard = &self.shards[(h >> 60) as usize];
        // A poisoned lock only means another thread panicked mid-insert; the table is intact.
        (h, shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    pub fn get(&self, key: &str) -> Option<Arc<Plan>> {
        let (h, table) = self.shard(key);
        let found = table.find(h, |e| &*e.text == key).map(|e| Arc::clone(&e.plan));
        drop(table);
        (if found.is_some() { &self.hits } else { &self.misses }).fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Counts a plan found without a lookup (a client's remembered statement shape), so
    /// the hit ratio reported stays the share of statements that were not parsed.
    pub fn count_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// (hits, misses) since this cache was built.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }

    pub fn insert(&self, key: &str, plan: Arc<Plan>) {
        let (h, mut table) = self.shard(key);
        let mut evicted = None;
        match table.find_mut(h, |e| &*e.text == key) {
            Some(e) => evicted = Some(std::mem::replace(&mut e.plan, plan)),
            None => {
                if table.len() >= self.per_shard {
                    // Any entry will do (see the module doc): the first one the table holds.
                    let victim = table.iter().next().map(|e| e.hash);
                    if let Some(vh) = victim {
                        if let Ok(entry) = table.find_entry(vh, |e| e.hash == vh) {
                            evicted = Some(entry.remove().0.plan);
                        }
                    }
                }
                table.insert_unique(h, Entry { hash: h, text: key.into(), plan }, |e| e.hash);
            }
        }
        drop(table);
        // A plan is a tree of allocations: free it outside the lock.
        drop(evicted);
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
