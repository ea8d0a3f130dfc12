//! A pool's background upkeep: closing servers idle past `idle_timeout` or older than
//! `lifetime`, and keeping `min_idle` servers open ahead of demand.
//!
//! One task per pool that needs it, once a second (bb8, which this replaces, reaped every 30 s
//! and replenished after each checkout; a second is close enough for both and costs one
//! uncontended lock per pool per second). The task holds the pool weakly and ends when the
//! pool is dropped (a shard removed by a reload).

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::core::Core;

const EVERY: Duration = Duration::from_secs(1);

/// Starts the upkeep of `core` if its limits ask for any; needs a tokio runtime (without one,
/// as in some unit tests, there is no upkeep).
pub(super) fn start(core: &Arc<Core>) {
    let l = core.limits();
    if l.min_idle == 0 && l.idle_timeout.is_none() && l.lifetime.is_none() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let weak = Arc::downgrade(core);
    runtime.spawn(run(weak));
}

/// The first round comes one period after the pool is made, not at once: the pool is made by
/// its first checkout, and a round during that checkout would count the server the checkout
/// is about to return as missing and open one spare too many.
async fn run(core: Weak<Core>) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sweep = Instant::now();
    loop {
        tick.tick().await;
        let Some(core) = core.upgrade() else { return };
        let now = Instant::now();
        // Servers kept by clients between transactions are not on the stack, so `idle_timeout`
        // cannot see them: once per `idle_timeout` every keeper gives its server back. A busy
        // client keeps one again at its next transaction; an idle client's server then idles
        // out on the stack like any other.
        if let Some(t) = core.limits().idle_timeout {
            if now.saturating_duration_since(last_sweep) >= t {
                core.ask_keepers_back();
                last_sweep = now;
            }
        }
        core.settle_shrink();
        reap(&core, now);
        replenish(&core).await;
    }
}

/// Closes idle servers past their lifetime, and those idle past `idle_timeout` beyond the
/// `min_idle` kept. The oldest-idle are at the bottom of the stack and go first; the closes
/// happen after the lock is let go.
fn reap(core: &Core, now: Instant) {
    let l = core.limits();
    let closing = {
        let mut idle = core.idle_servers();
        let all = std::mem::take(&mut *idle);
        // Servers kept by clients are idle too and count towards `min_idle`.
        let mut spare = (all.len() + core.kept()).saturating_sub(l.min_idle as usize).min(all.len());
        let mut closing = Vec::new();
        for mut server in all {
            let expired = core.expired(&mut server, now);
            let idled_out =
                spare > 0 && l.idle_timeout.is_some_and(|t| now.saturating_duration_since(server.last_used) >= t);
            if expired || idled_out {
                spare = spare.saturating_sub(1);
                closing.push(server);
            } else {
                idle.push(server);
            }
        }
        closing
    };
    if !closing.is_empty() {
        tracing::debug!(closed = closing.len(), "closed idle servers past idle_timeout or lifetime");
    }
}

/// Opens servers until `min_idle` are idle (or being opened), as long as the pool has room:
/// a pool in full use needs no spares. A failed open is recorded for waiting checkouts and
/// tried again on the next round.
///
/// Room is counted, not read off the slots: idle servers hold no slot, so with one server of
/// a full pool in use a slot is free while the pool is full. The count is taken while this
/// round holds a slot: a checkout opens a server only with a slot of its own and an empty
/// stack, so the two cannot together open past the size.
async fn replenish(core: &Arc<Core>) {
    let (min, size) = {
        let l = core.limits();
        (l.min_idle as usize, l.size as usize)
    };
    loop {
        let Some(slot) = core.try_slot() else { return };
        let opening = core.opener.connecting.load(std::sync::atomic::Ordering::Relaxed);
        let idle = core.idle_servers().len();
        // A kept server is idle (towards `min_idle`) and in use (it holds its slot).
        if idle + core.kept() + opening >= min || idle + opening + core.in_use() >= size {
            return;
        }
        let Ok(mut server) = core.open().await else { return };
        core.mark_idle(&mut server, Instant::now());
        core.idle_servers().push(server);
        drop(slot);
    }
}
