//! The admin console's PAUSE/RESUME gate: while a shard (or everything) is paused, new
//! checkouts of its pools wait instead of taking a server, so an operator can restart or
//! move a shard's servers without clients seeing errors.
//!
//! The gate sits in [`super::ShardPool::checkout`], the one door every client checkout goes
//! through. When nothing is paused (always, in normal operation) it costs one atomic load.
//! A paused checkout waits at most [`PAUSE_WAIT_LIMIT`], then fails with a clear error rather
//! than queueing without end (PgBouncer waits forever; a bounded wait keeps a forgotten PAUSE
//! from hanging every application).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// Longest a checkout waits behind a PAUSE before it gives up with [`super::PoolError::Paused`].
pub const PAUSE_WAIT_LIMIT: Duration = Duration::from_secs(60);

/// What is paused now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paused {
    /// `PAUSE` without a shard: every pool.
    pub all: bool,
    /// Shard names paused one by one (in every database whose map has that name).
    pub shards: BTreeSet<String>,
}

impl Paused {
    pub fn covers(&self, shard: &str) -> bool {
        self.all || self.shards.contains(shard)
    }

    fn is_empty(&self) -> bool {
        !self.all && self.shards.is_empty()
    }
}

/// Shared by every pool of a process.
#[derive(Debug)]
pub struct PauseGate {
    /// Mirrors `!state.is_empty()` so the normal case never touches the watch channel's lock.
    any: AtomicBool,
    state: watch::Sender<Paused>,
}

impl Default for PauseGate {
    fn default() -> Self {
        Self { any: AtomicBool::new(false), state: watch::Sender::new(Paused::default()) }
    }
}

impl PauseGate {
    /// Pauses `shard` (all shards when `None`). Returns whether anything changed.
    pub fn pause(&self, shard: Option<&str>) -> bool {
        let changed = self.state.send_if_modified(|p| match shard {
            None => !std::mem::replace(&mut p.all, true),
            Some(s) => p.shards.insert(s.to_string()),
        });
        self.any.store(!self.state.borrow().is_empty(), Ordering::Release);
        changed
    }

    /// Lifts a pause of `shard` (every pause when `None`). Returns whether anything changed.
    pub fn resume(&self, shard: Option<&str>) -> bool {
        let changed = self.state.send_if_modified(|p| match shard {
            None => {
                let was = !p.is_empty();
                *p = Paused::default();
                was
            }
            Some(s) => p.shards.remove(s),
        });
        self.any.store(!self.state.borrow().is_empty(), Ordering::Release);
        changed
    }

    pub fn paused(&self) -> Paused {
        self.state.borrow().clone()
    }

    pub fn is_paused(&self, shard: &str) -> bool {
        self.any.load(Ordering::Acquire) && self.state.borrow().covers(shard)
    }

    /// Whether any shard is paused now: one atomic load, for the checkout fast path.
    pub fn any_paused(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Waits until `shard` is not paused; `Err(waited)` after [`PAUSE_WAIT_LIMIT`].
    /// Cancel-safe: it only watches.
    pub async fn wait(&self, shard: &str) -> Result<(), Duration> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut rx = self.state.subscribe();
        let started = tokio::time::Instant::now();
        let passed = tokio::time::timeout(PAUSE_WAIT_LIMIT, rx.wait_for(|p| !p.covers(shard))).await.is_ok();
        if passed {
            Ok(())
        } else {
            Err(started.elapsed())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_pause_covers_only_that_shard_and_resume_all_lifts_everything() {
        let gate = PauseGate::default();
        assert!(!gate.is_paused("s0"));
        assert!(gate.pause(Some("s0")));
        assert!(!gate.pause(Some("s0")));
        assert!(gate.is_paused("s0"));
        assert!(!gate.is_paused("s1"));
        assert!(gate.pause(None));
        assert!(gate.is_paused("s1"));
        assert!(gate.resume(None));
        assert!(!gate.is_paused("s0"));
        assert!(!gate.resume(None));
    }

    #[tokio::test]
    async fn a_waiting_checkout_passes_when_its_shard_resumes() {
        let gate = std::sync::Arc::new(PauseGate::default());
        gate.pause(Some("s0"));
        let g = gate.clone();
        let waiter = tokio::spawn(async move { g.wait("s0").await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        gate.resume(Some("s0"));
        assert_eq!(waiter.await.ok(), Some(Ok(())));
    }
}
