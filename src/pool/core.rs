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
//! - A client may keep its server between transactions ([`Kept`]) only while the pool has a
//!   free slot and no waiting checkout; a checkout that has to wait first asks every keeper
//!   to give its server back. A kept server still holds its slot and counts as in use, but
//!   is reported idle.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
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
    /// How long a checkout waits for a server.
    pub checkout_timeout: Duration,
    /// How long opening a server may take.
    pub connect_timeout: Duration,
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

/// A client that keeps servers of a pool between transactions, asked to give them back when
/// a checkout of the pool has to wait (or the upkeep sweeps).
pub trait Keeper: Send + Sync {
    fn give_back(&self);
}

pub(super) struct Core {
    slots: Semaphore,
    /// Clients that have kept a server of this pool (each listed once, dropped when gone).
    keepers: Mutex<Vec<Weak<dyn Keeper>>>,
    /// Servers kept by clients between transactions now.
    kept: AtomicUsize,
    /// Boxed so that handing a server out moves a pointer, not the server.
    #[allow(clippy::vec_box)]
    idle: Mutex<Vec<Box<Server>>>,
    /// Swapped whole by a reload (`Core::apply`), read where used.
    limits: arc_swap::ArcSwap<Limits>,
    /// Slots still to be taken away after a reload shrank the pool: each server that comes
    /// back while this is above zero is closed and its slot not given back.
    shrinking: AtomicUsize,
    /// `limits.ping_after_idle` in nanoseconds, read on every return without loading the
    /// limits.
    ping_after_idle_ns: AtomicU64,
    /// Counts the reloads that changed `limits.lifetime`. A server whose `lifetime_epoch` is
    /// behind has its deadline computed again from the lifetime in force, as PgBouncer's
    /// `server_lifetime` applies to connections already open.
    lifetime_epoch: AtomicU64,
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
            keepers: Mutex::new(Vec::new()),
            kept: AtomicUsize::new(0),
            idle: Mutex::new(Vec::with_capacity(limits.size as usize)),
            ping_after_idle_ns: AtomicU64::new(nanos(limits.ping_after_idle)),
            lifetime_epoch: AtomicU64::new(0),
            limits: arc_swap::ArcSwap::from_pointee(limits),
            shrinking: AtomicUsize::new(0),
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
            let mut server = idle.pop()?;
            match self.readiness(&mut server, now) {
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
                // After counting ourselves as waiting (a client about to keep a server
                // checks that count after raising `kept`: one of the two sees the other).
                self.ask_keepers_back();
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
            match self.readiness(&mut server, Instant::now()) {
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
        let timeout = self.limits().connect_timeout;
        let opened = tokio::spawn(async move { core.opener.open(timeout).await }).await;
        let result = match opened {
            Ok(r) => r,
            Err(e) => Err(BackendError::Io(std::io::Error::other(format!("opening a server failed: {e}")))),
        };
        match result {
            Ok(mut server) => {
                self.opened.fetch_add(1, Ordering::Relaxed);
                self.stamp_lifetime(&mut server);
                Ok(server)
            }
            Err(e) => {
                let e = Arc::new(e);
                self.failures.record(e.clone());
                Err(e)
            }
        }
    }

    /// Servers kept by clients between transactions now: idle, though not on the stack.
    pub(super) fn kept(&self) -> usize {
        self.kept.load(Ordering::Relaxed)
    }

    /// Asks every client keeping a server of this pool to give it back (a checkout has to
    /// wait, or the upkeep sweeps); forgets clients that have gone.
    pub(super) fn ask_keepers_back(&self) {
        if self.kept.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut keepers = self.keepers.lock().unwrap_or_else(PoisonError::into_inner);
        keepers.retain(|k| match k.upgrade() {
            Some(k) => {
                k.give_back();
                true
            }
            None => false,
        });
    }

    /// Sets the server's deadline from the lifetime in force.
    fn stamp_lifetime(&self, server: &mut Server) {
        // The epoch is read before the limits: `apply` stores the limits first, so a server
        // stamped with an epoch has a deadline from that epoch's lifetime or a later one.
        server.lifetime_epoch = self.lifetime_epoch.load(Ordering::Acquire);
        server.expires_at = self.limits().lifetime.and_then(|lt| server.created.checked_add(lt));
    }

    /// Whether the server has outlived the pool's lifetime. A deadline from before a reload
    /// that changed the lifetime is computed again first (rare: one atomic load otherwise).
    pub(super) fn expired(&self, server: &mut Server, now: Instant) -> bool {
        if server.lifetime_epoch != self.lifetime_epoch.load(Ordering::Relaxed) {
            self.stamp_lifetime(server);
        }
        server.expires_at.is_some_and(|at| now >= at)
    }

    fn readiness(&self, server: &mut Server, now: Instant) -> Readiness {
        if self.expired(server, now) || server.has_unsolicited_input() {
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
    /// `restamp`: the server was just used (its idle time starts now); a kept server coming
    /// back keeps the stamps of when it was kept, so its idle time and ping stay due.
    fn put_back(&self, mut server: Box<Server>, now: Instant, restamp: bool) {
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        if self.shrinking.load(Ordering::Relaxed) > 0
            && self.shrinking.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
        {
            // The pool was made smaller while this server was out: it and its slot go.
            tracing::debug!("server closed: the pool was made smaller");
            drop(server);
            return;
        }
        let expired = self.expired(&mut server, now);
        if server.clean && !expired {
            if restamp {
                self.mark_idle(&mut server, now);
            }
            self.idle_servers().push(server);
        } else {
            tracing::debug!(clean = server.clean, expired, "server closed instead of pooled");
            drop(server);
        }
        self.slots.add_permits(1);
    }

    /// The limits in force now.
    pub(super) fn limits(&self) -> arc_swap::Guard<Arc<Limits>> {
        self.limits.load()
    }

    /// Puts new limits in force (a reload), on the servers the pool has now too. A larger
    /// size frees slots at once (waiting checkouts get them); a smaller one takes free slots
    /// at once, closes idle servers beyond it, and takes the rest as servers in use come back
    /// (clients keeping servers are asked to give them back). Timeouts and the ping threshold
    /// apply from the next use; a changed lifetime applies to every server, including those
    /// already open, from the next time the pool looks at it (checkout, return, upkeep).
    pub(super) fn apply(&self, limits: Limits) {
        let new = limits.size as usize;
        self.ping_after_idle_ns.store(nanos(limits.ping_after_idle), Ordering::Relaxed);
        let lifetime = limits.lifetime;
        let old = self.limits.swap(Arc::new(limits));
        if old.lifetime != lifetime {
            self.lifetime_epoch.fetch_add(1, Ordering::Release);
        }
        let old = old.size as usize;
        if new > old {
            let mut grow = new - old;
            // Slots still owed from an earlier shrink are cancelled first.
            while grow > 0 {
                let owed = self.shrinking.load(Ordering::Acquire);
                if owed == 0 {
                    break;
                }
                let paid = owed.min(grow);
                if self.shrinking.compare_exchange(owed, owed - paid, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    grow -= paid;
                }
            }
            self.slots.add_permits(grow);
        } else if new < old {
            let cut = old - new;
            let taken = self.slots.forget_permits(cut);
            if taken < cut {
                self.shrinking.fetch_add(cut - taken, Ordering::AcqRel);
                self.ask_keepers_back();
            }
            // Idle servers hold no slot: beyond the new size next to those in use, the
            // oldest-idle (the bottom of the stack) are closed.
            let closing: Vec<Box<Server>> = {
                let mut idle = self.idle_servers();
                let room = new.saturating_sub(self.in_use.load(Ordering::Relaxed));
                let excess = idle.len().saturating_sub(room);
                idle.drain(..excess).collect()
            };
            if !closing.is_empty() {
                tracing::debug!(closed = closing.len(), "idle servers closed: the pool was made smaller");
            }
        }
    }

    /// Takes slots still owed from a shrink that are free now: a slot whose checkout failed
    /// goes back to the semaphore without passing `put_back`. Run by the upkeep.
    pub(super) fn settle_shrink(&self) {
        let owed = self.shrinking.load(Ordering::Acquire);
        if owed == 0 {
            return;
        }
        let taken = self.slots.forget_permits(owed);
        if taken > 0 {
            let _ = self.shrinking.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(taken)));
        }
    }

    /// Stamps a server going idle at `now`: its idle time (for `idle_timeout`) and when it
    /// will need a ping before its next use.
    pub(super) fn mark_idle(&self, server: &mut Server, now: Instant) {
        server.last_used = now;
        server.ping_due = now.checked_add(Duration::from_nanos(self.ping_after_idle_ns.load(Ordering::Relaxed)));
    }

    /// Whether a slot is free now without waiting; taken (and freed when the guard drops).
    pub(super) fn try_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.slots.try_acquire().ok()
    }

    pub(super) fn state(&self) -> PoolState {
        let idle = self.idle_servers().len();
        let in_use = self.in_use.load(Ordering::Relaxed);
        // A kept server runs nothing: idle for SHOW POOLS, /metrics and PAUSE.
        let kept = self.kept.load(Ordering::Relaxed).min(in_use);
        PoolState {
            connections: u32::try_from(idle + in_use).unwrap_or(u32::MAX),
            idle: u32::try_from(idle + kept).unwrap_or(u32::MAX),
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

    /// A client may keep a server only when that takes nothing from anyone: a slot is free
    /// for the next checkout and none is waiting.
    fn can_spare(&self) -> bool {
        self.slots.available_permits() > 0 && self.waiting.load(Ordering::SeqCst) == 0
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Counts a checkout as waiting while it lives (a cancelled wait uncounts itself).
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        // SeqCst: pairs with `Checkout::keep` (see there).
        n.fetch_add(1, Ordering::SeqCst);
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
    /// Keeps the server for its client's next transaction instead of returning it (`Err`
    /// hands it back when the pool cannot spare it: no free slot, or a checkout waiting).
    /// `registered` is the client's note of the pool it is listed with as a keeper (so it
    /// is listed once, not per transaction); `keeper` makes the listing when needed.
    ///
    /// Why: under transaction pooling every transaction pays a checkout and a return (a
    /// semaphore permit, two stack locks, the pool's counters, ~1,000 instructions of the
    /// proxy's ~7,700 under `pgbench -S`). A client whose pool has room reuses its own server
    /// for a fraction of that, and gives it back as soon as someone else needs it.
    pub fn keep(
        mut self,
        now: Instant,
        registered: &mut KeeperOf,
        keeper: impl FnOnce() -> Weak<dyn Keeper>,
    ) -> Result<Kept, Checkout> {
        let core = &self.core;
        if !core.can_spare() {
            return Err(self);
        }
        if !registered.is(core) {
            let mut keepers = core.keepers.lock().unwrap_or_else(PoisonError::into_inner);
            list_keeper(&mut keepers, keeper());
            drop(keepers);
            registered.set(core);
        }
        core.kept.fetch_add(1, Ordering::SeqCst);
        if core.waiting.load(Ordering::SeqCst) > 0 {
            // A checkout started waiting meanwhile and may not have seen this keep.
            core.kept.fetch_sub(1, Ordering::SeqCst);
            return Err(self);
        }
        if let Some(server) = self.server.as_deref_mut() {
            core.mark_idle(server, now);
        }
        Ok(Kept { checkout: Some(self) })
    }

    /// Gives the server back, stamped with `now` (a time the caller has just read) as its
    /// last use; dropping the checkout does the same with a fresh clock read.
    pub fn return_at(mut self, now: Instant) {
        if let Some(server) = self.server.take() {
            self.core.put_back(server, now, true);
        }
    }

    /// Gives back a server that was kept idle, with the stamps of when it was kept: a server
    /// kept past `ping_after_idle` is still pinged by the checkout that takes it next.
    fn return_kept(mut self) {
        if let Some(server) = self.server.take() {
            self.core.put_back(server, Instant::now(), false);
        }
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.core.put_back(server, Instant::now(), true);
        }
    }
}

/// The pool a client is listed with as a keeper (see [`Checkout::keep`]).
///
/// Held as a `Weak` rather than the pool's address: a pool that a reload replaced can be
/// freed, and a new pool allocated at the same address would then pass for the one this
/// client is listed with — it would never be asked to give its server back to that pool's
/// waiters. A `Weak` keeps the old allocation (not the pool) alive, so no new pool can take
/// its address while it is noted here.
#[derive(Default)]
pub struct KeeperOf(Option<Weak<Core>>);

impl KeeperOf {
    fn is(&self, pool: &Arc<Core>) -> bool {
        self.0.as_ref().is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(pool)))
    }

    fn set(&mut self, pool: &Arc<Core>) {
        self.0 = Some(Arc::downgrade(pool));
    }
}

/// Adds a keeper to a pool's list, first dropping clients that have gone whenever the list
/// is full: without that, clients connecting for one transaction each (`pgbench -C`) would
/// grow it by one entry per connection until a waiting checkout or the sweep pruned it.
/// Amortised O(1): after a prune at least half the capacity is free, so the next prune comes
/// only after as many pushes as there are entries left.
fn list_keeper(keepers: &mut Vec<Weak<dyn Keeper>>, keeper: Weak<dyn Keeper>) {
    if keepers.len() == keepers.capacity() {
        keepers.retain(|k| k.strong_count() > 0);
        if keepers.len() * 2 > keepers.capacity() {
            keepers.reserve(keepers.len());
        }
    }
    keepers.push(keeper);
}

/// A server its client keeps between transactions (see [`Checkout::keep`]). It still holds
/// its slot; dropping it returns the server to the pool.
pub struct Kept {
    /// `Some` until reused or dropped.
    checkout: Option<Checkout>,
}

impl Kept {
    /// The kept server for the client's next transaction on `pool`, or `None` (it then goes
    /// back to its pool): the pool is another one (a reload replaced it), paused, has a
    /// checkout waiting, or the server needs a ping or closing first (the normal checkout
    /// then does that).
    pub(super) fn reuse(mut self, pool: &Arc<Core>, paused: bool, now: Instant) -> Option<Checkout> {
        let mut checkout = self.checkout.take()?;
        let Checkout { server, core } = &mut checkout;
        core.kept.fetch_sub(1, Ordering::SeqCst);
        let usable = Arc::ptr_eq(core, pool)
            && !paused
            && core.waiting.load(Ordering::Relaxed) == 0
            && server.as_deref_mut().is_some_and(|s| matches!(core.readiness(s, now), Readiness::Ready));
        if usable {
            Some(checkout)
        } else {
            checkout.return_kept();
            None
        }
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if let Some(checkout) = self.checkout.take() {
            checkout.core.kept.fetch_sub(1, Ordering::SeqCst);
            checkout.return_kept();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Client;

    impl Keeper for Client {
        fn give_back(&self) {}
    }

    fn core() -> Arc<Core> {
        let endpoint = crate::shardmap::Endpoint {
            host: "127.0.0.1".into(),
            port: 1,
            database: "db".into(),
            tls: crate::shardmap::ServerTlsMode::Disable,
            ca_file: None,
        };
        let opener = Opener {
            params: crate::backend::ConnectParams {
                endpoint,
                user: "u".into(),
                password: None,
                tls: None,
                timeout: Duration::from_secs(1),
            },
            startup_params: Arc::default(),
            connecting: AtomicUsize::new(0),
            prepared_total: Arc::default(),
        };
        let limits = Limits {
            size: 2,
            min_idle: 0,
            idle_timeout: None,
            lifetime: None,
            ping_after_idle: Duration::from_secs(1),
            checkout_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
        };
        Arc::new(Core::new(limits, opener, Arc::default()))
    }

    fn resized(core: &Core, size: u32) {
        let limits = Limits { size, ..(**core.limits()).clone() };
        core.apply(limits);
    }

    /// Takes a slot as a checkout that hands out a server does.
    fn hand_out_slot(core: &Core) {
        core.try_slot().expect("a free slot").forget();
    }

    #[test]
    fn a_resize_frees_or_takes_slots_and_owes_what_is_in_use() {
        let core = core();
        assert_eq!(core.slots.available_permits(), 2);
        resized(&core, 5);
        assert_eq!(core.slots.available_permits(), 5, "a larger size frees slots at once");
        resized(&core, 1);
        assert_eq!(core.slots.available_permits(), 1, "free slots are taken at once");
        assert_eq!(core.shrinking.load(Ordering::Relaxed), 0);
        // Three servers out, then the size goes down to one: two slots are owed.
        resized(&core, 3);
        for _ in 0..3 {
            hand_out_slot(&core);
        }
        resized(&core, 1);
        assert_eq!(core.slots.available_permits(), 0);
        assert_eq!(core.shrinking.load(Ordering::Relaxed), 2);
        // Raised to two before they came back: one of the owed slots is cancelled.
        resized(&core, 2);
        assert_eq!(core.shrinking.load(Ordering::Relaxed), 1);
        assert_eq!(core.slots.available_permits(), 0);
        // A slot that comes back other than through `put_back` (a checkout that failed) is
        // taken by the upkeep's next round.
        core.slots.add_permits(1);
        core.settle_shrink();
        assert_eq!(core.slots.available_permits(), 0);
        assert_eq!(core.shrinking.load(Ordering::Relaxed), 0);
        // Servers out (3) − owed slots taken (1) = the new size (2).
    }

    #[test]
    fn a_keeper_note_names_its_pool_and_no_pool_made_after_it() {
        let mut note = KeeperOf::default();
        let first = core();
        assert!(!note.is(&first), "an empty note names no pool");
        note.set(&first);
        assert!(note.is(&first));
        let second = core();
        assert!(!note.is(&second));
        // The first pool goes (a reload replaced it). Pools made after it, however many,
        // never pass for it: the note keeps its allocation, so none can take its address.
        let address = Arc::as_ptr(&first);
        drop(first);
        for _ in 0..1000 {
            let next = core();
            assert!(!std::ptr::eq(Arc::as_ptr(&next), address), "a new pool took a noted pool's address");
            assert!(!note.is(&next));
        }
    }

    #[test]
    fn the_keeper_list_does_not_grow_with_clients_that_have_gone() {
        let mut keepers: Vec<Weak<dyn Keeper>> = Vec::new();
        let alive: Vec<Arc<Client>> = (0..3).map(|_| Arc::new(Client)).collect();
        for a in &alive {
            let k: Arc<dyn Keeper> = a.clone();
            list_keeper(&mut keepers, Arc::downgrade(&k));
        }
        // Ten thousand clients that each keep once and leave.
        for _ in 0..10_000 {
            let gone: Arc<dyn Keeper> = Arc::new(Client);
            list_keeper(&mut keepers, Arc::downgrade(&gone));
        }
        assert!(keepers.len() <= 64, "{} entries", keepers.len());
        assert_eq!(keepers.iter().filter(|k| k.strong_count() > 0).count(), 3, "live keepers stay listed");
    }
}
