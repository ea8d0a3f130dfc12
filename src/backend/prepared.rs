//! Which proxy-named prepared statements exist on one server, bounded, least recently used
//! first out. Eviction returns the names to `Close` on the server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Statements are named by the proxy (`sg_<hash>`), so the same SQL has the same name on every
/// server and any client can reuse what another prepared.
#[derive(Debug, Default)]
pub struct ServerPrepared {
    /// name → last use tick.
    names: HashMap<std::sync::Arc<str>, u64>,
    tick: u64,
    /// The instance's count of statements prepared on all its servers (for /metrics), kept
    /// in step by every change here and by dropping the server.
    total: Option<Arc<AtomicI64>>,
}

impl Drop for ServerPrepared {
    fn drop(&mut self) {
        self.count(-(self.names.len() as i64));
    }
}

impl ServerPrepared {
    /// Counts this server's statements into `total` from now on.
    pub fn count_in(&mut self, total: Arc<AtomicI64>) {
        total.fetch_add(self.names.len() as i64, Ordering::Relaxed);
        self.total = Some(total);
    }

    fn count(&self, delta: i64) {
        if let (Some(t), true) = (&self.total, delta != 0) {
            t.fetch_add(delta, Ordering::Relaxed);
        }
    }

    pub fn contains(&mut self, name: &str) -> bool {
        self.tick += 1;
        match self.names.get_mut(name) {
            Some(t) => {
                *t = self.tick;
                true
            }
            None => false,
        }
    }

    /// Records `name` and returns the statements to close to stay within `max`.
    pub fn insert(&mut self, name: std::sync::Arc<str>, max: usize) -> Vec<std::sync::Arc<str>> {
        self.tick += 1;
        let before = self.names.len();
        self.names.insert(name, self.tick);
        let mut evicted = Vec::new();
        while self.names.len() > max {
            let Some(oldest) = self.names.iter().min_by_key(|(_, t)| **t).map(|(n, _)| n.clone()) else { break };
            self.names.remove(&oldest);
            evicted.push(oldest);
        }
        self.count(self.names.len() as i64 - before as i64);
        evicted
    }

    pub fn remove(&mut self, name: &str) {
        if self.names.remove(name).is_some() {
            self.count(-1);
        }
    }

    pub fn clear(&mut self) {
        self.count(-(self.names.len() as i64));
        self.names.clear();
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_is_evicted() {
        let mut p = ServerPrepared::default();
        assert!(p.insert("a".into(), 2).is_empty());
        assert!(p.insert("b".into(), 2).is_empty());
        assert!(p.contains("a"));
        let ev = p.insert("c".into(), 2);
        assert_eq!(ev, vec![std::sync::Arc::<str>::from("b")]);
        assert!(p.contains("a") && p.contains("c") && !p.contains("b"));
    }

    #[test]
    fn the_instance_total_follows_every_change_and_the_drop() {
        let total = Arc::new(AtomicI64::new(0));
        let mut p = ServerPrepared::default();
        p.count_in(total.clone());
        p.insert("a".into(), 2);
        p.insert("b".into(), 2);
        p.insert("a".into(), 2);
        assert_eq!(total.load(Ordering::Relaxed), 2);
        p.insert("c".into(), 2);
        assert_eq!(total.load(Ordering::Relaxed), 2, "one in, one evicted");
        p.remove("c");
        assert_eq!(total.load(Ordering::Relaxed), 1);
        drop(p);
        assert_eq!(total.load(Ordering::Relaxed), 0);
    }
}
