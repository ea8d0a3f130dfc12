//! Opening a server connection: TCP, optional TLS, StartupMessage, authentication.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::server::{CancelTarget, MAX_SERVER_MESSAGE};
use super::{BackendError, Server, ServerPrepared};
use crate::protocol::cursor::Cursor;
use crate::protocol::messages::btag;
use crate::protocol::messages::error_response::ErrorFields;
use crate::protocol::{build, split_frame, Frame};
use crate::session::Settings;
use crate::shardmap::{Endpoint, ServerTlsMode};
use crate::stream::Stream;

/// Everything needed to open one server connection.
#[derive(Clone)]
pub struct ConnectParams {
    pub endpoint: Endpoint,
    pub user: String,
    pub password: Option<String>,
    pub tls: Option<tokio_rustls::TlsConnector>,
    pub timeout: Duration,
}

/// Connects and authenticates, within `params.timeout`.
pub async fn connect(params: &ConnectParams) -> Result<Server, BackendError> {
    let addr = format!("{}:{}", params.endpoint.host, params.endpoint.port);
    match tokio::time::timeout(params.timeout, connect_inner(params, &addr)).await {
        Ok(r) => r,
        Err(_) => Err(BackendError::ConnectTimeout { addr }),
    }
}

async fn connect_inner(params: &ConnectParams, addr: &str) -> Result<Server, BackendError> {
    let ep = &params.endpoint;
    let tcp = TcpStream::connect((ep.host.as_str(), ep.port))
        .await
        .map_err(|source| BackendError::Connect { addr: addr.to_string(), source })?;
    let _ = tcp.set_nodelay(true);
    let mut stream = negotiate_tls(tcp, params, addr).await?;

    let mut out = BytesMut::with_capacity(128);
    build::startup_message(
        &mut out,
        &[("user", &params.user), ("database", &ep.database), ("application_name", "shardgate")],
    );
    stream.write_all(&out).await?;

    let mut rbuf = BytesMut::with_capacity(8192);
    authenticate(&mut stream, &mut rbuf, params, addr).await?;

    let mut startup_params = Vec::new();
    let mut key = None;
    loop {
        let frame = read_frame(&mut stream, &mut rbuf, addr).await?;
        match frame.tag {
            btag::PARAMETER_STATUS => {
                let body = frame.body();
                let mut c = Cursor::new(&body, "ParameterStatus");
                let (Ok(k), Ok(v)) = (c.cstr_utf8(), c.cstr_utf8()) else {
                    return Err(BackendError::Unexpected { addr: addr.into(), tag: 'S', during: "startup" });
                };
                startup_params.push((k.to_string(), v.to_string()));
            }
            btag::BACKEND_KEY_DATA => {
                let body = frame.body();
                let mut c = Cursor::new(&body, "BackendKeyData");
                key = Some((
                    c.i32().map_err(|source| BackendError::Protocol { addr: addr.into(), source })?,
                    c.i32().map_err(|source| BackendError::Protocol { addr: addr.into(), source })?,
                ));
            }
            btag::NOTICE_RESPONSE | btag::NEGOTIATE_PROTOCOL => {}
            btag::ERROR_RESPONSE => {
                return Err(BackendError::Refused {
                    addr: addr.into(),
                    fields: Box::new(ErrorFields::parse(&frame.body())),
                })
            }
            btag::READY_FOR_QUERY => break,
            other => return Err(BackendError::Unexpected { addr: addr.into(), tag: other as char, during: "startup" }),
        }
    }
    let (pid, secret) = key.unwrap_or((0, 0));
    let now = Instant::now();
    let span = Server::new_span(addr, &ep.database, pid);
    tracing::debug!(parent: &span, "server connection authenticated");
    Ok(Server {
        stream,
        rbuf,
        cancel: Arc::new(CancelTarget { host: ep.host.clone(), port: ep.port, pid, secret }),
        startup_params: Arc::new(startup_params),
        settings: Arc::new(Settings::default()),
        prepared: ServerPrepared::default(),
        clean: true,
        created: now,
        last_used: now,
        expires_at: None,
        lifetime_epoch: 0,
        ping_due: None,
        span,
        span_named: false,
    })
}

async fn negotiate_tls(mut tcp: TcpStream, params: &ConnectParams, addr: &str) -> Result<Stream, BackendError> {
    let mode = params.endpoint.tls;
    if mode == ServerTlsMode::Disable {
        return Ok(Stream::Plain(tcp));
    }
    let mut b = BytesMut::with_capacity(8);
    build::ssl_request(&mut b);
    tcp.write_all(&b).await?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).await?;
    match (answer[0], mode) {
        (b'S', _) => {
            let connector = params
                .tls
                .clone()
                .ok_or_else(|| BackendError::Tls { addr: addr.into(), reason: "no TLS connector configured".into() })?;
            let name = crate::tls::server_name(&params.endpoint.host)
                .map_err(|e| BackendError::Tls { addr: addr.into(), reason: e.to_string() })?;
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| BackendError::Tls { addr: addr.into(), reason: e.to_string() })?;
            Ok(Stream::ClientTls(Box::new(tls)))
        }
        (b'N', ServerTlsMode::Prefer) => Ok(Stream::Plain(tcp)),
        (b'N', _) => Err(BackendError::Tls { addr: addr.into(), reason: "server does not support TLS".into() }),
        _ => Err(BackendError::Unexpected { addr: addr.into(), tag: answer[0] as char, during: "TLS negotiation" }),
    }
}

async fn read_frame(stream: &mut Stream, rbuf: &mut BytesMut, addr: &str) -> Result<Frame, BackendError> {
    loop {
        if let Some(f) = split_frame(rbuf, MAX_SERVER_MESSAGE)
            .map_err(|source| BackendError::Protocol { addr: addr.into(), source })?
        {
            return Ok(f);
        }
        if stream.read_buf(rbuf).await? == 0 {
            return Err(BackendError::Closed);
        }
    }
}

/// Answers the server's authentication requests until AuthenticationOk.
async fn authenticate(
    stream: &mut Stream,
    rbuf: &mut BytesMut,
    params: &ConnectParams,
    addr: &str,
) -> Result<(), BackendError> {
    let password = || {
        params
            .password
            .as_deref()
            .ok_or_else(|| BackendError::NoPassword { addr: addr.into(), user: params.user.clone() })
    };
    let mut scram: Option<ScramSha256> = None;
    let mut out = BytesMut::new();
    loop {
        let frame = read_frame(stream, rbuf, addr).await?;
        match frame.tag {
            btag::AUTHENTICATION => {}
            btag::ERROR_RESPONSE => {
                return Err(BackendError::Refused {
                    addr: addr.into(),
                    fields: Box::new(ErrorFields::parse(&frame.body())),
                })
            }
            other => {
                return Err(BackendError::Unexpected {
                    addr: addr.into(),
                    tag: other as char,
                    during: "authentication",
                })
            }
        }
        let mut body = frame.body();
        if body.len() < 4 {
            return Err(BackendError::Unexpected { addr: addr.into(), tag: 'R', during: "authentication" });
        }
        let method = body.get_i32();
        out.clear();
        match method {
            0 => return Ok(()),
            3 => build::password_message(&mut out, password()?.as_bytes()),
            5 => {
                let salt: [u8; 4] = body.get(..4).and_then(|s| s.try_into().ok()).ok_or(BackendError::Unexpected {
                    addr: addr.into(),
                    tag: 'R',
                    during: "md5 salt",
                })?;
                let hash =
                    postgres_protocol::authentication::md5_hash(params.user.as_bytes(), password()?.as_bytes(), salt);
                build::password_message(&mut out, hash.as_bytes());
            }
            10 => {
                let offered = body.split(|&b| b == 0).any(|m| m == b"SCRAM-SHA-256");
                if !offered {
                    return Err(BackendError::UnsupportedAuth { addr: addr.into(), method });
                }
                // Channel binding is not used towards servers: shardgate terminates TLS itself.
                let s = ScramSha256::new(password()?.as_bytes(), ChannelBinding::unsupported());
                build::sasl_initial_response(&mut out, "SCRAM-SHA-256", s.message());
                scram = Some(s);
            }
            11 => {
                let s = scram.as_mut().ok_or(BackendError::Unexpected {
                    addr: addr.into(),
                    tag: 'R',
                    during: "SASL continue",
                })?;
                s.update(&body).map_err(|e| BackendError::Scram { addr: addr.into(), reason: e.to_string() })?;
                build::sasl_response(&mut out, s.message());
            }
            12 => {
                let s = scram.as_mut().ok_or(BackendError::Unexpected {
                    addr: addr.into(),
                    tag: 'R',
                    during: "SASL final",
                })?;
                s.finish(&body).map_err(|e| BackendError::Scram { addr: addr.into(), reason: e.to_string() })?;
                continue;
            }
            other => return Err(BackendError::UnsupportedAuth { addr: addr.into(), method: other }),
        }
        stream.write_all(&out).await?;
    }
}
