//! Statement timing: from the client's request to the ReadyForQuery that answers it, into the
//! latency histogram and, past `slow_statement_ms`, the slow-statement log.
//!
//! Measured where bytes leave for the client rather than at each of the places that build a
//! ReadyForQuery (relayed, proxy-made, scatter, fan-out): every cycle ends with one, and it is
//! always the last frame of the cycle's output. With pipelined requests the clock runs from
//! the first unanswered request to the first ReadyForQuery flushed.

use std::time::Duration;

use tokio::time::Instant;

use super::client::Client;
use crate::metrics::Metrics;
use crate::pool::{Checkout, PoolError, ShardPool};

/// ReadyForQuery is `Z`, length 5, one status byte; nothing else ends a flush this way
/// except a large row streamed in pieces, whose last six bytes could by chance match — an
/// accepted, rare, early stop of the clock.
/// <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-READYFORQUERY>
pub(super) fn ends_with_ready(buf: &[u8]) -> bool {
    let tail = buf.len().checked_sub(6).and_then(|i| buf.get(i..));
    matches!(tail, Some([b'Z', 0, 0, 0, 5, _]))
}

/// Whether a statement that took `took` is logged as slow under `threshold`.
pub(super) fn is_slow(took: Duration, threshold: Option<Duration>) -> bool {
    threshold.is_some_and(|t| took >= t)
}

/// Checks a server out of `pool`, recording the wait (successful or not) and naming the
/// server's span after the pool. Every checkout of the client side goes through here, so the
/// checkout-wait histogram covers single-shard, scatter and fan-out alike. Cancel-safe, as
/// `ShardPool::checkout` is. `now` is a time the caller read recently.
pub(super) async fn checkout(
    pool: &ShardPool,
    metrics: &Metrics,
    role: &str,
    now: Instant,
) -> Result<Checkout, PoolError> {
    // A server ready at once waited nothing: no clock reads on the common path.
    let mut server = match pool.try_checkout(now.into_std()) {
        Some(server) => {
            metrics.checkout_waited(Duration::ZERO);
            server
        }
        None => {
            let started = Instant::now();
            // Boxed: waiting (and opening a server) is a large future, and every request
            // handler that may check out embeds this one; inline, each handler call copied
            // it (callgrind: memcpy of futures was a visible share of the pooler's path).
            let result = Box::pin(pool.checkout()).await;
            metrics.checkout_waited(started.elapsed());
            result?
        }
    };
    server.name_span(pool.key.shard.as_str(), role);
    Ok(server)
}

impl Client {
    /// The time of the current wakeup of the client's task: read at most once per wakeup
    /// (a request's arrival, a checkout's idle check and a server's return all use it), which
    /// keeps clock reads, a visible share of the proxy's CPU, to two per transaction.
    pub(super) fn now(&mut self) -> Instant {
        *self.clock.get_or_insert_with(Instant::now)
    }

    /// A Query, Sync or FunctionCall arrived: start the clock unless it already runs.
    pub(super) fn request_arrived(&mut self) {
        if self.request_started.is_none() {
            self.request_started = Some(self.now());
            self.last_route = None;
        }
    }

    /// A ReadyForQuery is about to be flushed: the request is answered.
    pub(super) fn request_answered(&mut self) {
        let Some(started) = self.request_started.take() else { return };
        let end = Instant::now();
        self.clock = Some(end);
        let took = end.saturating_duration_since(started);
        self.shared.metrics.statement_took(took);
        if is_slow(took, self.config.slow_statement) {
            let route = self.last_route.map_or("unrouted", |r| r.as_str());
            let shard = self.server_shard.map(|s| self.routing.shard_name(s));
            tracing::warn!(
                route,
                shard = shard.as_deref().unwrap_or("-"),
                duration_ms = took.as_millis() as u64,
                threshold_ms = self.config.slow_statement.map_or(0, |t| t.as_millis() as u64),
                "slow statement"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_for_query_at_the_end_is_recognised() {
        assert!(ends_with_ready(b"C\0\0\0\x0dSELECT 1\0Z\0\0\0\x05I"));
        assert!(ends_with_ready(b"Z\0\0\0\x05T"));
        assert!(!ends_with_ready(b"Z\0\0\0\x05"));
        assert!(!ends_with_ready(b"C\0\0\0\x0dSELECT 1\0"));
        assert!(!ends_with_ready(b""));
    }

    #[test]
    fn the_slow_log_fires_at_the_threshold_and_not_when_off() {
        let ms = Duration::from_millis;
        assert!(is_slow(ms(250), Some(ms(200))));
        assert!(is_slow(ms(200), Some(ms(200))));
        assert!(!is_slow(ms(199), Some(ms(200))));
        assert!(!is_slow(ms(10_000), None));
    }
}
