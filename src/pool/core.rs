//! The pool itself: checkout slots (a fair semaphore) and a stack of idle servers.
//!
//! Written here rather than taken from bb8 (the design card's pool) because a checkout and a
//! return sit on every transaction's path in transaction pooling. Under `pgbench -S -c 16`
//! bb8's get and return cost ~1.5–2 µs per transaction: a timer armed around every get,
//! several clock reads, two lock pairs, and the server moved by value through every async
//! layer between the pool and the client (the largest `memmove` in the profile). That was a
//! fifth of shardgate's user CPU per transaction. Here a checkout that finds an idle server
//! takes a permit (one atomic), pops the stack under an uncontended lock, reads the clock
//! once and moves a pointer; a return reads the clock, pushes and gives the permit back.
//!
//! Invariants:
//! - A slot is held by every server handed out, and by a checkout while it opens or pings
//!   one. A checkout opens a server only when it holds a slot and found the stack empty;
//!   upkeep opens a spare only while it holds a slot and counts idle + opening + in use
//!   below the size (idle servers hold no slot, so a free slot alone does not mean room).
//!   Servers in use + idle + being opened never exceed the pool size.
//! - Idle servers go out last in, first out: the warmest first, while the coldest age out
//!   under `idle_timeout`.
//! - Waiting checkouts are served in arrival order (tokio's semaphore is fair), and a freed
//!   slot goes to a waiter before any newcomer.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::failures::ConnectFailures;
use super::opener::Opener;
use crate::backend::{BackendError, Server};

/// What a pool keeps and for how long.
#[derive(Debug, Clone)]
pub struct Limits {
    pub size: u32,
    /// Idle servers kept open (and opened ahead of demand).
    pub min_idle: u32,
    /// Idle servers beyond `min_idle` are closed after this long unused.
    pub idle_timeout: Option<Duration>,
    /// Servers are closed this long after they were opened, when next idle.
    pub lifetime: Option<Duration>,
    /// Idle servers unused for longer are pinged before being handed out; a ping on every
    /// checkout costs ~30 % of pgbench throughput.
    pub ping_after_idle: Duration,
}

/// A pool's counts now and since it was created (SHOW POOLS, /metrics).
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolState {
    /// Servers open: in use plus idle (not those being opened).
    pub connections: u32,
    pub idle: u32,
    /// Servers being opened now.
    pub connecting: u64,
    /// Checkouts waiting for a slot now.
    pub waiting: u64,
    /// Checkouts served without waiting for a slot, after a wait, or timed out.
    pub direct: u64,
    pub waited: u64,
    pub timed_out: u64,
    pub opened: u64,
}

pub(super) struct Core {
    slots: Semaphore,
    /// Boxed so that handing a server out moves a pointer, not the server.
    #[allow(clippy::vec_box)]
    idle: Mutex<Vec<Box<Server>>>,
    pub(super) limits: Limits,
    pub(super) opener: Opener,
    pub(super) failures: Arc<ConnectFailures>,
    in_use: AtomicUsize,
    waiting: AtomicUsize,
    direct: AtomicU64,
    waited: AtomicU64,
    pub(super) timed_out: AtomicU64,
    opened: AtomicU64,
}

/// What an idle server needs before it can be handed out.
enum Readiness {
    Ready,
    /// Idle longer than `ping_after_idle`: ping it first.
    Ping,
    /// It spoke or closed while idle, or outlived `lifetime`: close it.
    Unusable,
}

impl Core {
    pub(super) fn new(limits: Limits, opener: Opener, failures: Arc<ConnectFailures>) -> Self {
        Self {
            slots: Semaphore::new(limits.size as usize),
            idle: Mutex::new(Vec::with_capacity(limits.size as usize)),
            limits,
            opener,
            failures,
            in_use: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            direct: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            opened: AtomicU64::new(0),
        }
    }

    #[allow(clippy::vec_box)]
    pub(super) fn idle_servers(&self) -> MutexGuard<'_, Vec<Box<Server>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The common case, with no timer and no await: a slot is free now and the newest idle
    /// server needs no ping. `None` sends the caller to [`Core::checkout`].
    pub(super) fn try_ready(self: &Arc<Self>, now: Instant) -> Option<Checkout> {
        let permit = self.slots.try_acquire().ok()?;
        let mut idle = self.idle_servers();
        loop {
            let server = idle.pop()?;
            match self.readiness(&server, now) {
                Readiness::Ready => {
                    drop(idle);
                    permit.forget();
                    self.direct.fetch_add(1, Ordering::Relaxed);
                    return Some(self.hand_out(server));
                }
                Readiness::Ping => {
                    idle.push(server);
                    return None;
                }
                Readiness::Unusable => tracing::debug!("closed a pooled server that was no longer usable"),
            }
        }
    }

    /// Waits for a slot, then hands out an idle server (pinged if it idled long) or opens
    /// one. Cancel-safe: a dropped call gives its slot back, and a server it was opening or
    /// pinging is closed. A failed open is also reported to every waiting checkout of the pool.
    pub(super) async fn checkout(self: &Arc<Self>) -> Result<Checkout, Arc<BackendError>> {
        let permit = match self.slots.try_acquire() {
            Ok(p) => {
                self.direct.fetch_add(1, Ordering::Relaxed);
                p
            }
            Err(_) => {
                let waiting = Counted::new(&self.waiting);
                // The semaphore is never closed; the arm only keeps this free of `expect`.
                let Ok(p) = self.slots.acquire().await else {
                    return Err(Arc::new(BackendError::Closed));
                };
                drop(waiting);
                self.waited.fetch_add(1, Ordering::Relaxed);
                p
            }
        };
        loop {
            let popped = self.idle_servers().pop();
            let Some(mut server) = popped else {
                let server = self.open().await?;
                permit.forget();
                return Ok(self.hand_out(server));
            };
            match self.readiness(&server, Instant::now()) {
                Readiness::Ready => {}
                Readiness::Ping => {
                    if server.run_internal(";").await.is_err() {
                        tracing::debug!("closed a pooled server that failed its ping");
                        continue;
                    }
                }
                Readiness::Unusable => {
                    tracing::debug!("closed a pooled server that was no longer usable");
                    continue;
                }
            }
            permit.forget();
            return Ok(self.hand_out(server));
        }
    }

    /// Opens a server, counting it; a failure is recorded for the pool's other waiters.
    ///
    /// The handshake runs in a task of its own: its events then belong to the server's own
    /// span and not to the client that happened to need it (the server outlives that client),
    /// and a client that gives up midway does not cut a handshake off half-way (the finished
    /// server is then closed).
    pub(super) async fn open(self: &Arc<Self>) -> Result<Box<Server>, Arc<BackendError>> {
        let core = self.clone();
        let opened = tokio::spawn(async move { core.opener.open().await }).await;
        let result = match opened {
            Ok(r) => r,
            Err(e) => Err(BackendError::Io(std::io::Error::other(format!("opening a server failed: {e}")))),
        };
        match result {
            Ok(mut server) => {
                self.opened.fetch_add(1, Ordering::Relaxed);
                server.expires_at = self.limits.lifetime.and_then(|lt| server.created.checked_add(lt));
                Ok(server)
            }
            Err(e) => {
                let e = Arc::new(e);
                self.failures.record(e.clone());
                Err(e)
            }
        }
    }

    fn readiness(&self, server: &Server, now: Instant) -> Readiness {
        if server.expires_at.is_some_and(|at| now >= at) || server.has_unsolicited_input() {
            Readiness::Unusable
        } else if server.ping_due.is_some_and(|due| now > due) {
            Readiness::Ping
        } else {
            Readiness::Ready
        }
    }

    fn hand_out(self: &Arc<Self>, server: Box<Server>) -> Checkout {
        self.in_use.fetch_add(1, Ordering::Relaxed);
        Checkout { server: Some(server), core: self.clone() }
    }

    /// A server comes back: onto the stack if `clean` and within its lifetime, else closed.
    /// The server is pushed before the slot is freed, so a waiter woken by the slot finds it.
    fn put_back(&self, mut server: Box<Server>, now: Instant) {
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        let expired = server.expires_at.is_some_and(|at| now >= at);
        if server.clean && !expired {
            self.mark_idle(&mut server, now);
            self.idle_servers().push(server);
        } else {
            tracing::debug!(clean = server.clean, expired, "server closed instead of pooled");
            drop(server);
        }
        self.slots.add_permits(1);
    }

    /// Stamps a server going idle at `now`: its idle time (for `idle_timeout`) and when it
    /// will need a ping before its next use.
    pub(super) fn mark_idle(&self, server: &mut Server, now: Instant) {
        server.last_used = now;
        server.ping_due = now.checked_add(self.limits.ping_after_idle);
    }

    /// Whether a slot is free now without waiting; taken (and freed when the guard drops).
    pub(super) fn try_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.slots.try_acquire().ok()
    }

    pub(super) fn state(&self) -> PoolState {
        let idle = self.idle_servers().len();
        let in_use = self.in_use.load(Ordering::Relaxed);
        PoolState {
            connections: u32::try_from(idle + in_use).unwrap_or(u32::MAX),
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            connecting: self.opener.connecting.load(Ordering::Relaxed) as u64,
            waiting: self.waiting.load(Ordering::Relaxed) as u64,
            direct: self.direct.load(Ordering::Relaxed),
            waited: self.waited.load(Ordering::Relaxed),
            timed_out: self.timed_out.load(Ordering::Relaxed),
            opened: self.opened.load(Ordering::Relaxed),
        }
    }

    pub(super) fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }
}

/// Counts a checkout as waiting while it lives (a cancelled wait uncounts itself).
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Self(n)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A server checked out of a pool; dropping it returns it (if clean) or closes it, and frees
/// its slot. Two pointers wide, so it moves cheaply through the layers that hand it on.
pub struct Checkout {
    /// `Some` from creation until `drop` takes it back to the pool; nothing else takes it.
    server: Option<Box<Server>>,
    core: Arc<Core>,
}

// The `expect`s below cannot fire: `server` is `Some` until `drop`, and nothing can deref a
// value being dropped.
#[allow(clippy::expect_used)]
impl Deref for Checkout {
    type Target = Server;

    fn deref(&self) -> &Server {
        self.server.as_deref().expect("a checkout holds its server until dropped")
    }
}

#[allow(clippy::expect_used)]
impl DerefMut for Checkout {
    fn deref_mut(&mut self) -> &mut Server {
        self.server.as_deref_mut().expect("a checkout holds its server until dropped")
    }
}

impl Checkout {
    /// Gives the server back, stamped with `now` (a time the caller has just read) as its
    /// last use; dropping the checkout does the same with a fresh clock read.
    pub fn return_at(mut self, now: Instant) {
        if let Some(server) = self.server.take() {
            self.core.put_back(server, now);
        }
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.core.put_back(server, Instant::now());
        }
    }
}
