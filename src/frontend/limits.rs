//! Per-tenant limits: caps on transactions running at once and on statements per second for
//! one shard key (a tenant), so a noisy tenant gets SQLSTATE 53400 instead of taking every
//! server of its shard from its neighbours.
//!
//! Counted per shardgate instance: several instances behind a load balancer each allow the
//! caps. The key is the one the router placed the statement by (`Route::tenant`); statements
//! without a key, or with several, are not limited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::TenantLimits;
use crate::shardmap::KeyValue;

/// Keys tracked before idle ones are forgotten (bounds memory under many tenants).
const MAX_TRACKED: usize = 100_000;
const WINDOW: Duration = Duration::from_secs(1);

/// Which cap a statement hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    Transactions(u32),
    Statements(u32),
}

#[derive(Debug, Default)]
struct Usage {
    running: u32,
    window_start: Option<Instant>,
    in_window: u32,
}

/// Usage of every tenant with a cap in force. One short lock per keyed statement, and only
/// when a cap is configured.
#[derive(Debug, Default)]
pub struct Tenants {
    usage: Mutex<HashMap<Box<[KeyValue]>, Usage>>,
}

/// A transaction slot of one tenant; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    tenants: Arc<Tenants>,
    key: Box<[KeyValue]>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut usage = self.tenants.usage.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(u) = usage.get_mut(&self.key) {
            u.running = u.running.saturating_sub(1);
        }
    }
}

impl Tenants {
    /// Admits one statement of `key`. `holding`: the client already has a slot of this key
    /// (a statement inside its transaction); otherwise a new slot is taken and returned.
    pub fn admit(
        self: &Arc<Self>,
        key: &[KeyValue],
        holding: bool,
        caps: &TenantLimits,
    ) -> Result<Option<Slot>, LimitHit> {
        let now = Instant::now();
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        if usage.len() >= MAX_TRACKED && !usage.contains_key(key) {
            usage.retain(|_, u| u.running > 0 || u.window_start.is_some_and(|s| now.duration_since(s) < WINDOW));
        }
        let u = usage.entry(key.into()).or_default();
        if let Some(max) = caps.max_statements_per_second {
            match u.window_start {
                Some(s) if now.duration_since(s) < WINDOW => {
                    if u.in_window >= max {
                        return Err(LimitHit::Statements(max));
                    }
                    u.in_window += 1;
                }
                _ => {
                    u.window_start = Some(now);
                    u.in_window = 1;
                }
            }
        }
        if holding {
            return Ok(None);
        }
        if let Some(max) = caps.max_concurrent_transactions {
            if u.running >= max {
                // The statement was not run: it does not count against the rate either.
                u.in_window = u.in_window.saturating_sub(1);
                return Err(LimitHit::Transactions(max));
            }
        }
        u.running += 1;
        Ok(Some(Slot { tenants: self.clone(), key: key.into() }))
    }
}

/// How a key reads in an error message: `42`, or `(marriott, us-northeast)`.
pub fn show(key: &[KeyValue]) -> String {
    match key {
        [one] => one.to_string(),
        many => format!("({})", many.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(tx: u32, rate: u32) -> TenantLimits {
        TenantLimits {
            max_concurrent_transactions: (tx > 0).then_some(tx),
            max_statements_per_second: (rate > 0).then_some(rate),
        }
    }

    #[test]
    fn transactions_are_capped_per_key_and_slots_come_back() {
        let t = Arc::new(Tenants::default());
        let a = [KeyValue::Int(1)];
        let b = [KeyValue::Int(2)];
        let s1 = t.admit(&a, false, &caps(2, 0)).unwrap();
        let s2 = t.admit(&a, false, &caps(2, 0)).unwrap();
        assert_eq!(t.admit(&a, false, &caps(2, 0)).unwrap_err(), LimitHit::Transactions(2));
        assert!(t.admit(&b, false, &caps(2, 0)).unwrap().is_some(), "another tenant is not affected");
        assert!(t.admit(&a, true, &caps(2, 0)).unwrap().is_none(), "inside its transaction a client goes on");
        drop(s1);
        assert!(t.admit(&a, false, &caps(2, 0)).unwrap().is_some());
        drop(s2);
    }

    #[test]
    fn statements_per_second_are_capped_per_key() {
        let t = Arc::new(Tenants::default());
        let a = [KeyValue::Int(1)];
        for _ in 0..3 {
            assert!(t.admit(&a, true, &caps(0, 3)).is_ok());
        }
        assert_eq!(t.admit(&a, true, &caps(0, 3)).unwrap_err(), LimitHit::Statements(3));
        assert!(t.admit(&[KeyValue::Int(2)], true, &caps(0, 3)).is_ok());
    }
}
