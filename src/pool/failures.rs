//! The latest failure to open a server of a pool, shared with the pool's waiting checkouts:
//! when one open fails (a wrong server password, a shard that is down), every client waiting
//! on that pool is told the server's own reason at once instead of waiting out the checkout
//! timeout one by one.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::backend::BackendError;

#[derive(Debug, Default)]
pub struct ConnectFailures {
    last: Mutex<Option<(Instant, Arc<BackendError>)>>,
    pub notify: Notify,
}

impl ConnectFailures {
    /// The latest failure if it happened within `window`.
    pub fn recent(&self, window: Duration) -> Option<Arc<BackendError>> {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        last.as_ref().filter(|(at, _)| at.elapsed() <= window).map(|(_, e)| e.clone())
    }

    /// Keeps `error` as the latest and wakes the pool's waiting checkouts.
    pub fn record(&self, error: Arc<BackendError>) {
        tracing::warn!(error = %error, "server connection failed");
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), error));
        self.notify.notify_waiters();
    }
}
