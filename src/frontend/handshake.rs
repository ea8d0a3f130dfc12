//! From a fresh TCP connection to an authenticated client: TLS negotiation, the startup
//! packet, and password authentication. A typestate keeps the steps in order: only an
//! `Authenticated` value can start a session.

use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::FrontendError;
use super::listener::Shared;
use crate::auth::scram::ScramExchange;
use crate::auth::{md5, AuthError};
use crate::config::{ClientAuth, ClientTlsMode, Config, DatabaseConfig, UserConfig};
use crate::protocol::cursor::Cursor;
use crate::protocol::messages::tag;
use crate::protocol::startup::{split_startup, StartupPacket, StartupParams};
use crate::protocol::{build, split_frame, Frame};
use crate::stream::Stream;

/// Authentication messages are small; anything larger is an attack or a bug.
const MAX_AUTH_MESSAGE: u32 = 16 * 1024;

/// What the startup phase produced.
pub enum Startup {
    /// A CancelRequest was handled; the connection just closes.
    Cancelled,
    Session(Box<Authenticated>),
    /// An admin user asked for the admin console (database `shardgate`).
    Admin(Box<crate::admin::AdminLogin>),
}

/// A client whose credentials have been checked.
pub struct Authenticated {
    pub stream: Stream,
    /// Bytes the client sent after its last authentication message (pipelined queries).
    pub rbuf: BytesMut,
    pub config: Arc<Config>,
    pub user: Arc<UserConfig>,
    pub database: DatabaseConfig,
    pub params: StartupParams,
}

/// A startup-phase failure, with the stream if we can still tell the client why.
pub struct StartupFailure {
    pub stream: Option<Stream>,
    pub error: FrontendError,
}

fn fail(stream: Stream, error: FrontendError) -> StartupFailure {
    StartupFailure { stream: Some(stream), error }
}

pub async fn startup(tcp: TcpStream, shared: &Shared) -> Result<Startup, StartupFailure> {
    let config = shared.config.load_full();
    let mut stream = Stream::Plain(tcp);
    let mut rbuf = BytesMut::with_capacity(1024);
    let mut negotiated = false;
    let params = loop {
        let packet = match read_startup(&mut stream, &mut rbuf).await {
            Ok(p) => p,
            Err(e) => return Err(fail(stream, e)),
        };
        match packet {
            StartupPacket::SslRequest | StartupPacket::GssEncRequest if negotiated || stream.is_tls() => {
                return Err(fail(
                    stream,
                    crate::protocol::ProtocolError::malformed("startup", "encryption requested twice").into(),
                ));
            }
            StartupPacket::SslRequest => {
                negotiated = true;
                let acceptor = shared.tls.clone().filter(|_| config.tls.mode != ClientTlsMode::Disable);
                // Bytes after SSLRequest and before the handshake would be read as if they had
                // come over TLS (CVE-2021-23214): refuse them.
                if !rbuf.is_empty() {
                    return Err(fail(stream, FrontendError::PlaintextAfterSslRequest));
                }
                let mut b = BytesMut::with_capacity(1);
                build::negotiation_answer(&mut b, acceptor.is_some());
                if let Err(e) = stream.write_all(&b).await {
                    return Err(fail(stream, e.into()));
                }
                if let Some(acceptor) = acceptor {
                    stream = match stream {
                        Stream::Plain(tcp) => match acceptor.accept(tcp).await {
                            Ok(tls) => Stream::ServerTls(Box::new(tls)),
                            Err(e) => {
                                return Err(StartupFailure { stream: None, error: FrontendError::TlsHandshake(e) })
                            }
                        },
                        other => {
                            return Err(fail(
                                other,
                                crate::protocol::ProtocolError::malformed("startup", "encryption requested twice")
                                    .into(),
                            ))
                        }
                    };
                }
            }
            StartupPacket::GssEncRequest => {
                negotiated = true;
                let mut b = BytesMut::with_capacity(1);
                build::negotiation_answer(&mut b, false);
                if let Err(e) = stream.write_all(&b).await {
                    return Err(fail(stream, e.into()));
                }
            }
            StartupPacket::Cancel { pid, secret } => {
                shared.cancels.cancel(pid, secret).await;
                return Ok(Startup::Cancelled);
            }
            StartupPacket::Startup(params) => break params,
        }
    };
    if config.tls.mode == ClientTlsMode::Require && !stream.is_tls() {
        return Err(fail(stream, FrontendError::TlsRequired));
    }
    let Some(user_name) = params.get("user").map(str::to_string) else {
        return Err(fail(stream, FrontendError::MissingUser));
    };
    let db_name = params.get("database").unwrap_or(&user_name).to_string();
    tracing::Span::current().record("user", user_name.as_str()).record("db", db_name.as_str());
    let Some(user) = config.users.get(&user_name).cloned() else {
        return Err(fail(stream, FrontendError::UnknownUser(user_name)));
    };
    if let Err(e) = authenticate(&mut stream, &mut rbuf, &user).await {
        return Err(fail(stream, e));
    }
    if db_name == crate::config::ADMIN_DATABASE {
        if !config.admin_users.contains(&user.name) {
            return Err(fail(stream, FrontendError::NotAdmin(user.name)));
        }
        return Ok(Startup::Admin(Box::new(crate::admin::AdminLogin { stream, rbuf, user: user.name })));
    }
    let Some(database) = config.databases.get(&db_name).cloned() else {
        return Err(fail(stream, FrontendError::UnknownDatabase(db_name)));
    };
    Ok(Startup::Session(Box::new(Authenticated { stream, rbuf, user: Arc::new(user), database, params, config })))
}

/// Cancel-safe: reads only into `rbuf`.
async fn read_startup(stream: &mut Stream, rbuf: &mut BytesMut) -> Result<StartupPacket, FrontendError> {
    loop {
        if let Some(p) = split_startup(rbuf)? {
            return Ok(p);
        }
        if stream.read_buf(rbuf).await? == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
    }
}

async fn read_auth_message(stream: &mut Stream, rbuf: &mut BytesMut) -> Result<Frame, FrontendError> {
    loop {
        if let Some(f) = split_frame(rbuf, MAX_AUTH_MESSAGE)? {
            if f.tag != tag::PASSWORD {
                return Err(crate::protocol::ProtocolError::Unexpected {
                    tag: f.tag as char,
                    during: "authentication",
                }
                .into());
            }
            return Ok(f);
        }
        if stream.read_buf(rbuf).await? == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
    }
}

async fn authenticate(stream: &mut Stream, rbuf: &mut BytesMut, user: &UserConfig) -> Result<(), FrontendError> {
    let mut out = BytesMut::with_capacity(256);
    match &user.auth {
        ClientAuth::Trust => {}
        ClientAuth::Md5(secret) => {
            let salt = md5::random_salt();
            build::auth_md5(&mut out, salt);
            stream.write_all(&out).await?;
            let frame = read_auth_message(stream, rbuf).await?;
            if !secret.verify(salt, &frame.body()) {
                return Err(FrontendError::WrongPassword(user.name.clone()));
            }
        }
        ClientAuth::Scram(verifier) => {
            build::auth_sasl(&mut out);
            stream.write_all(&out).await?;
            let frame = read_auth_message(stream, rbuf).await?;
            let body = frame.body();
            let mut c = Cursor::new(&body, "SASLInitialResponse");
            let mechanism = c.cstr_utf8()?;
            let len = c.i32()?;
            let data = if len < 0 { &[][..] } else { c.take(len as usize)? };
            let (exchange, server_first) = ScramExchange::start(verifier, mechanism, data).map_err(auth_error(user))?;
            out.clear();
            build::auth_sasl_continue(&mut out, &server_first);
            stream.write_all(&out).await?;
            let frame = read_auth_message(stream, rbuf).await?;
            let mut body = frame.body();
            let server_final = exchange.finish(body.chunk()).map_err(auth_error(user))?;
            body.advance(body.remaining());
            out.clear();
            build::auth_sasl_final(&mut out, &server_final);
            stream.write_all(&out).await?;
        }
    }
    Ok(())
}

fn auth_error(user: &UserConfig) -> impl Fn(AuthError) -> FrontendError + '_ {
    move |e| match e.sqlstate() {
        "28P01" => FrontendError::WrongPassword(user.name.clone()),
        _ => FrontendError::Auth(e),
    }
}
