//! How a client's task learns that it must stop: KILL_CLIENT, a hard stop, or a graceful
//! shutdown (which an idle client obeys at once and a busy one after its transaction).
//!
//! The client's select polls this on every wakeup, so it costs one atomic load: the task's
//! waker is registered once and stays until a raise wakes it (an `ARMED` bit says so), not
//! re-registered on every poll (two compare-exchanges and a waker compare). Waiting on cancellation
//! tokens instead took each token's mutex and its `Notify` on every poll (~1.6 % of the
//! proxy's samples under `pgbench -S -c 16`). Reasons are sticky bits: once raised, every
//! later poll sees them, so no wakeup is lost between two loop turns.

use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

/// Why a client must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// KILL_CLIENT or a hard stop of the proxy: close now.
    Kill,
    /// A graceful shutdown: close once no server is held.
    Shutdown,
    /// The pool of a server the idle client keeps between transactions has a checkout
    /// waiting: give the kept server back (see `pool::Kept`). Not a stop; cleared when seen.
    GiveBack,
}

impl Stop {
    fn bit(self) -> u8 {
        match self {
            Self::Kill => 1,
            Self::Shutdown => 2,
            Self::GiveBack => 4,
        }
    }
}

/// In `raised`: a waker is registered and no raise has taken it since.
const ARMED: u8 = 0x80;

/// The reasons raised for one client, and the one task that waits on them. That task polls
/// with its own waker, which tokio keeps the same for the task's life: a registration then
/// stays valid until a raise uses it up.
#[derive(Debug, Default)]
pub struct StopSignal {
    raised: AtomicU8,
    waker: AtomicWaker,
}

impl StopSignal {
    pub fn raise(&self, why: Stop) {
        self.raised.fetch_or(why.bit(), Ordering::Release);
        // The wake below uses the registration up: the next poll registers again.
        self.raised.fetch_and(!ARMED, Ordering::AcqRel);
        self.waker.wake();
    }

    /// Forgets a raised reason (only `GiveBack` is ever cleared: stops stay raised).
    pub fn clear(&self, why: Stop) {
        self.raised.fetch_and(!why.bit(), Ordering::AcqRel);
    }

    /// Completes with the most urgent raised reason among `watched` (a kill before a
    /// shutdown). Meant for one waiting task; cheap to create on every loop turn.
    pub fn raised<'a>(&'a self, watched: &'a [Stop]) -> impl Future<Output = Stop> + 'a {
        let mask = watched.iter().fold(0, |m, w| m | w.bit());
        std::future::poll_fn(move |cx| self.poll_raised(mask, cx))
    }

    fn poll_raised(&self, mask: u8, cx: &mut Context<'_>) -> Poll<Stop> {
        let pick = |raised: u8| match raised & mask {
            0 => None,
            r if r & Stop::Kill.bit() != 0 => Some(Stop::Kill),
            r if r & Stop::Shutdown.bit() != 0 => Some(Stop::Shutdown),
            _ => Some(Stop::GiveBack),
        };
        let state = self.raised.load(Ordering::Acquire);
        if let Some(why) = pick(state) {
            return Poll::Ready(why);
        }
        if state & ARMED != 0 {
            // Registered, and any raise clears ARMED before it wakes that registration.
            return Poll::Pending;
        }
        // Armed before registering: a raise in between clears it again, so the next poll
        // registers anew instead of trusting a registration the raise used up.
        self.raised.fetch_or(ARMED, Ordering::AcqRel);
        self.waker.register(cx.waker());
        // A raise between the load and the registration woke no one: look again.
        match pick(self.raised.load(Ordering::Acquire)) {
            Some(why) => Poll::Ready(why),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_raised_reason_wakes_the_waiter_and_stays_raised() {
        let signal = std::sync::Arc::new(StopSignal::default());
        let s = signal.clone();
        let waiter = tokio::spawn(async move { s.raised(&[Stop::Kill, Stop::Shutdown]).await });
        tokio::task::yield_now().await;
        signal.raise(Stop::Shutdown);
        assert_eq!(waiter.await.unwrap(), Stop::Shutdown);
        // Sticky: a later wait completes at once, and a kill outranks the shutdown.
        assert_eq!(signal.raised(&[Stop::Shutdown]).await, Stop::Shutdown);
        signal.raise(Stop::Kill);
        assert_eq!(signal.raised(&[Stop::Kill, Stop::Shutdown]).await, Stop::Kill);
    }

    #[tokio::test]
    async fn a_wakeup_used_up_by_an_unwatched_reason_does_not_lose_a_later_kill() {
        let signal = std::sync::Arc::new(StopSignal::default());
        let s = signal.clone();
        // A busy client: polled many times while nothing is raised, watching only kills.
        let waiter = tokio::spawn(async move {
            for _ in 0..3 {
                let _ = tokio::time::timeout(std::time::Duration::from_millis(5), s.raised(&[Stop::Kill])).await;
            }
            s.raised(&[Stop::Kill]).await
        });
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        // Takes the registered waker without completing the wait...
        signal.raise(Stop::Shutdown);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // ...so the kill must find a fresh registration.
        signal.raise(Stop::Kill);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await;
        assert_eq!(got.expect("the kill woke the waiter").unwrap(), Stop::Kill);
    }

    #[tokio::test]
    async fn a_give_back_request_ranks_last_and_clears() {
        let signal = StopSignal::default();
        signal.raise(Stop::GiveBack);
        let all = [Stop::Kill, Stop::Shutdown, Stop::GiveBack];
        assert_eq!(signal.raised(&all).await, Stop::GiveBack);
        signal.clear(Stop::GiveBack);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(20), signal.raised(&all)).await;
        assert!(waited.is_err(), "cleared");
        signal.raise(Stop::GiveBack);
        signal.raise(Stop::Shutdown);
        assert_eq!(signal.raised(&all).await, Stop::Shutdown);
    }

    #[tokio::test]
    async fn a_reason_not_watched_does_not_complete_the_wait() {
        let signal = StopSignal::default();
        signal.raise(Stop::Shutdown);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), signal.raised(&[Stop::Kill])).await;
        assert!(waited.is_err(), "a busy client watches only kills");
    }
}
