//! The cancel registry: proxy-made (pid, secret) keys → the server currently running that
//! client's statement. A CancelRequest arrives on a fresh connection, so this must be shared.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::backend::CancelTarget;

/// What a client's cancel key points at; updated on every checkout and release.
///
/// A mutex of the client's own: only its client writes it, and a cancel request reads it
/// rarely, so the lock is uncontended. arc-swap was tried here and cost more: every store
/// walks the debt lists of all threads (`Debt::pay_all`, 2 % of the proxy's CPU under
/// `pgbench -S`). Release only clears `active`, and a checkout of the server the slot
/// already names only sets it again: a client that keeps its server between transactions
/// (`pool::Kept`) then takes no lock here at all (two lock pairs and an `Arc` clone and drop
/// per transaction before).
#[derive(Debug, Default)]
pub struct CancelSlot {
    target: Mutex<Option<Arc<CancelTarget>>>,
    /// Address of the target in `target` (0: none); written only by the owning client. The
    /// slot holds that `Arc`, so the address cannot be reused by another target meanwhile.
    named: AtomicUsize,
    /// The client runs something on that server now.
    active: AtomicBool,
}

impl CancelSlot {
    /// The client's statements run on the server `t` cancels from now on.
    pub fn point_at(&self, t: &Arc<CancelTarget>) {
        let addr = Arc::as_ptr(t) as usize;
        if self.named.load(Ordering::Relaxed) != addr {
            let old = self.target.lock().unwrap_or_else(PoisonError::into_inner).replace(t.clone());
            self.named.store(addr, Ordering::Relaxed);
            drop(old);
        }
        self.active.store(true, Ordering::Release);
    }

    /// The client runs nothing now: a cancel goes nowhere.
    pub fn clear(&self) {
        self.active.store(false, Ordering::Release);
    }

    fn get(&self) -> Option<Arc<CancelTarget>> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.target.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[derive(Default)]
pub struct CancelRegistry {
    map: Mutex<HashMap<i32, (i32, Arc<CancelSlot>)>>,
}

/// Removes the key when the client leaves.
pub struct CancelKey {
    pub pid: i32,
    pub secret: i32,
    pub slot: Arc<CancelSlot>,
    registry: Arc<CancelRegistry>,
}

impl Drop for CancelKey {
    fn drop(&mut self) {
        self.registry.map.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.pid);
    }
}

impl CancelRegistry {
    /// Issues a fresh random key for a new client.
    pub fn register(self: &Arc<Self>) -> CancelKey {
        let slot = Arc::new(CancelSlot::default());
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let pid = rand::random::<i32>() & 0x7fff_ffff;
            if pid == 0 || map.contains_key(&pid) {
                continue;
            }
            let secret = rand::random::<i32>();
            map.insert(pid, (secret, slot.clone()));
            return CancelKey { pid, secret, slot, registry: self.clone() };
        }
    }

    /// Forwards a cancel to the server running that client's statement; silently nothing when
    /// the key is unknown, the secret is wrong, or the client runs nothing (as PostgreSQL).
    pub async fn cancel(&self, pid: i32, secret: i32) {
        let target = {
            let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            match map.get(&pid) {
                Some((s, slot)) if *s == secret => slot.get(),
                _ => None,
            }
        };
        if let Some(t) = target {
            if let Err(e) = t.send().await {
                tracing::warn!(error = %e, "could not deliver cancel request to server");
            }
        }
    }
}
