//! Connections of the proxy's own (health checks, directory lookups) with tokio-postgres,
//! over TLS when the endpoint's `tls` asks for it, as pooled servers are.

use std::time::Duration;

use crate::config::UserConfig;
use crate::shardmap::{Endpoint, ServerTlsMode};

/// Why a control connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// Connects to `e` as `user`'s server role; the connection task runs until the client drops.
pub async fn connect(
    e: &Endpoint,
    user: &UserConfig,
    application_name: &str,
    timeout: Duration,
) -> Result<tokio_postgres::Client, ControlError> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&e.host)
        .port(e.port)
        .dbname(&e.database)
        .user(&user.server_user)
        .application_name(application_name)
        .connect_timeout(timeout);
    if let Some(p) = &user.server_password {
        cfg.password(p.as_bytes());
    }
    let connector = match e.tls {
        ServerTlsMode::Disable => None,
        ServerTlsMode::Prefer | ServerTlsMode::Require => Some(crate::tls::connector_no_verify()),
        ServerTlsMode::VerifyFull => Some(crate::tls::connector_verify(e.ca_file.as_deref().map(std::path::Path::new))),
    };
    let Some(connector) = connector else {
        let (client, conn) = cfg.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        return Ok(client);
    };
    let connector = connector.map_err(|err| ControlError::Tls(err.to_string()))?;
    cfg.ssl_mode(match e.tls {
        ServerTlsMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        _ => tokio_postgres::config::SslMode::Require,
    });
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new((**connector.config()).clone());
    let (client, conn) = cfg.connect(tls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}
