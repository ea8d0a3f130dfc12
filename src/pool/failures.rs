//! bb8 opens connections in background tasks and sends their errors only to an error sink;
//! a caller of `get` would just wait out the whole timeout. This sink keeps the latest error
//! and wakes waiting checkouts, so a client is told the server's own reason at once
//! (a wrong server password is 28P01 from PostgreSQL, not a timeout).

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
}

#[derive(Debug, Clone)]
pub struct FailureSink(pub Arc<ConnectFailures>);

impl bb8::ErrorSink<BackendError> for FailureSink {
    fn sink(&self, error: BackendError) {
        if matches!(error, BackendError::Stale) {
            tracing::debug!("dropped a pooled server that was no longer usable");
            return;
        }
        tracing::warn!(error = %error, "server connection failed");
        *self.0.last.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), Arc::new(error)));
        self.0.notify.notify_waiters();
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<BackendError>> {
        Box::new(self.clone())
    }
}
