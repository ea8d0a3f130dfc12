//! Which proxy-named prepared statements exist on one server, bounded, least recently used
//! first out. Eviction returns the names to `Close` on the server.

use std::collections::HashMap;

/// Statements are named by the proxy (`sg_<hash>`), so the same SQL has the same name on every
/// server and any client can reuse what another prepared.
#[derive(Debug, Default)]
pub struct ServerPrepared {
    /// name → last use tick.
    names: HashMap<std::sync::Arc<str>, u64>,
    tick: u64,
}

impl ServerPrepared {
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
        self.names.insert(name, self.tick);
        let mut evicted = Vec::new();
        while self.names.len() > max {
            let Some(oldest) = self.names.iter().min_by_key(|(_, t)| **t).map(|(n, _)| n.clone()) else { break };
            self.names.remove(&oldest);
            evicted.push(oldest);
        }
        evicted
    }

    pub fn remove(&mut self, name: &str) {
        self.names.remove(name);
    }

    pub fn clear(&mut self) {
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
}
