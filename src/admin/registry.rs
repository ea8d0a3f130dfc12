//! Who is connected: one entry per logged-in client (admin sessions included), for SHOW
//! CLIENTS and KILL_CLIENT.
//!
//! The map is locked only at login and logout. State changes (a server taken or given back)
//! are one relaxed atomic store into the client's own entry, so the hot path never touches
//! the shared lock; nothing is updated per message.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::stop_signal::{Stop, StopSignal};

/// What a client is doing now, as SHOW CLIENTS reports it (PgBouncer's words where they fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ClientState {
    /// Logged in, no server held.
    Idle = 0,
    /// Holds a server (in a transaction, a statement, or for the session).
    Active = 1,
}

impl ClientState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Active => "active",
        }
    }
}

/// What is known of a client when it registers.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub id: u64,
    pub user: String,
    pub database: String,
    pub addr: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    pub tls: bool,
    pub application_name: String,
    /// An admin console session rather than an application client.
    pub admin: bool,
}

/// One connected client.
#[derive(Debug)]
pub struct ClientEntry {
    pub info: NewClient,
    pub connected_at: SystemTime,
    state: AtomicU8,
    kill: CancellationToken,
    /// The same stops as `kill` (and a graceful shutdown), for the application client's hot
    /// loop, where polling a token would take its lock on every wakeup.
    pub stop: StopSignal,
}

/// A pool whose checkout waits asks the clients that keep its servers between transactions
/// to give them back; the client's loop sees it as a raised `GiveBack`.
impl crate::pool::Keeper for ClientEntry {
    fn give_back(&self) {
        self.stop.raise(Stop::GiveBack);
    }
}

impl ClientEntry {
    /// Cheap enough for every checkout and release: one relaxed store.
    pub fn set_state(&self, state: ClientState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    pub fn state(&self) -> ClientState {
        match self.state.load(Ordering::Relaxed) {
            1 => ClientState::Active,
            _ => ClientState::Idle,
        }
    }

    /// Asks the client's task to close its connection (KILL_CLIENT).
    pub fn kill(&self) {
        self.kill.cancel();
        self.stop.raise(Stop::Kill);
    }

    /// Completes when KILL_CLIENT names this client or the proxy stops hard (the token is a
    /// child of the hard-stop token given at registration). The token is this client's own,
    /// so polling it takes only this client's lock, where polling the shared hard-stop token
    /// would take one lock shared by every client. Cancel-safe.
    pub fn killed(&self) -> WaitForCancellationFutureOwned {
        self.kill.clone().cancelled_owned()
    }
}

type Entries = Arc<Mutex<BTreeMap<u64, Arc<ClientEntry>>>>;

/// Every connected client, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    entries: Entries,
}

impl ClientRegistry {
    /// Adds a client; it stays listed while the returned [`Registration`] lives. Its kill
    /// token is a child of `hard_stop`, so one wait covers both. A stop already under way is
    /// raised on its signal at once (the watchers of [`ClientRegistry::raise_when`] only
    /// reach clients listed when they run).
    pub fn register(
        &self,
        info: NewClient,
        hard_stop: &CancellationToken,
        shutdown: &CancellationToken,
    ) -> Registration {
        let id = info.id;
        let entry = Arc::new(ClientEntry {
            info,
            connected_at: SystemTime::now(),
            state: AtomicU8::new(ClientState::Idle as u8),
            kill: hard_stop.child_token(),
            stop: StopSignal::default(),
        });
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).insert(id, entry.clone());
        // After the insert: a watcher that ran before it saw a cancelled token first.
        if hard_stop.is_cancelled() {
            entry.stop.raise(Stop::Kill);
        }
        if shutdown.is_cancelled() {
            entry.stop.raise(Stop::Shutdown);
        }
        Registration { entries: self.entries.clone(), entry }
    }

    /// Raises `why` on every listed client once `token` is cancelled; called once per token
    /// at start, inside the runtime.
    pub fn raise_when(&self, token: CancellationToken, why: Stop) {
        let entries = self.entries.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            let listed: Vec<_> = entries.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect();
            for entry in listed {
                entry.stop.raise(why);
            }
        });
    }

    /// Every client now, by id. The lock is held only to copy the list.
    pub fn list(&self) -> Vec<Arc<ClientEntry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientEntry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).get(&id).cloned()
    }
}

/// Keeps a client listed; dropping it (the client's task ends) removes the entry.
#[derive(Debug)]
pub struct Registration {
    entries: Entries,
    entry: Arc<ClientEntry>,
}

impl Registration {
    pub fn entry(&self) -> Arc<ClientEntry> {
        self.entry.clone()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.entry.info.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: u64) -> NewClient {
        NewClient {
            id,
            user: "app".into(),
            database: "pms".into(),
            addr: None,
            local: None,
            tls: false,
            application_name: String::new(),
            admin: false,
        }
    }

    #[test]
    fn a_client_is_listed_while_registered_and_its_state_is_its_own() {
        let registry = ClientRegistry::default();
        let a = registry.register(client(1), &CancellationToken::new(), &CancellationToken::new());
        let b = registry.register(client(2), &CancellationToken::new(), &CancellationToken::new());
        a.entry().set_state(ClientState::Active);
        assert_eq!(registry.list().len(), 2);
        assert_eq!(registry.get(1).map(|e| e.state()), Some(ClientState::Active));
        assert_eq!(registry.get(2).map(|e| e.state()), Some(ClientState::Idle));
        drop(b);
        assert!(registry.get(2).is_none());
        assert_eq!(registry.list().len(), 1);
    }
}
