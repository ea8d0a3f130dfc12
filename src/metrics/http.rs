//! The `/metrics` endpoint (axum). Bound before the proxy reports itself started, so a taken
//! port fails the start with a clear error instead of a metrics-less proxy nobody notices.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What Prometheus negotiates for the text exposition prometheus-client writes.
const CONTENT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics on {addr}: {source} (set metrics.listen to a free address, or to off)")]
pub struct MetricsBindError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Binds the metrics listener; returns it with the address really bound (port 0 picks one).
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), MetricsBindError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| MetricsBindError { addr, source })?;
    let local = listener.local_addr().map_err(|source| MetricsBindError { addr, source })?;
    Ok((listener, local))
}

/// Serves `GET /metrics` until `shutdown`. A scrape encodes the registry into a fresh string:
/// ~0.5 ms for 400 series, so no caching between scrapes.
pub async fn serve(listener: TcpListener, registry: Registry, shutdown: CancellationToken) {
    let registry = Arc::new(registry);
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let registry = Arc::clone(&registry);
            async move {
                let mut body = String::with_capacity(16 * 1024);
                match prometheus_client::encoding::text::encode(&mut body, &registry) {
                    Ok(()) => ([(CONTENT_TYPE, CONTENT)], body).into_response(),
                    Err(e) => {
                        tracing::error!(error = %e, "encoding metrics failed");
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
                    }
                }
            }
        }),
    );
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await {
        tracing::error!(error = %e, "the metrics endpoint stopped");
    }
}
