//! A bare-bones PostgreSQL frontend that writes protocol messages by hand, for tests that need
//! exact control over message order (pipelining, Describe of an unseen statement, Close,
//! malformed input) — things real drivers do not let a test choose.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One message from the server.
#[derive(Debug, Clone)]
pub struct Msg {
    pub tag: char,
    pub body: Bytes,
}

impl Msg {
    /// The SQLSTATE of an ErrorResponse.
    pub fn error_code(&self) -> Option<String> {
        if self.tag != 'E' {
            return None;
        }
        self.field(b'C')
    }

    pub fn field(&self, kind: u8) -> Option<String> {
        let mut b = &self.body[..];
        while let Some((&k, rest)) = b.split_first() {
            if k == 0 {
                break;
            }
            let end = rest.iter().position(|&c| c == 0)?;
            if k == kind {
                return Some(String::from_utf8_lossy(&rest[..end]).into_owned());
            }
            b = &rest[end + 1..];
        }
        None
    }

    /// Text values of a DataRow (None for NULL).
    pub fn row(&self) -> Vec<Option<String>> {
        let mut b = self.body.clone();
        let n = b.get_i16();
        (0..n)
            .map(|_| {
                let len = b.get_i32();
                if len < 0 {
                    None
                } else {
                    let v = b.split_to(len as usize);
                    Some(String::from_utf8_lossy(&v).into_owned())
                }
            })
            .collect()
    }

    pub fn command_tag(&self) -> String {
        String::from_utf8_lossy(self.body.strip_suffix(&[0]).unwrap_or(&self.body)).into_owned()
    }
}

/// Tags of a message list, as a string ("12DCZ"), for compact assertions.
pub fn tags(msgs: &[Msg]) -> String {
    msgs.iter().map(|m| m.tag).collect()
}

pub struct Wire {
    pub stream: TcpStream,
    rbuf: BytesMut,
    pub out: BytesMut,
}

fn msg(out: &mut BytesMut, tag: u8, body: impl FnOnce(&mut BytesMut)) {
    out.put_u8(tag);
    let at = out.len();
    out.put_u32(0);
    body(out);
    let len = (out.len() - at) as u32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn cstr(out: &mut BytesMut, s: &str) {
    out.put_slice(s.as_bytes());
    out.put_u8(0);
}

impl Wire {
    /// Opens a TCP connection without logging in.
    pub async fn raw(addr: SocketAddr) -> anyhow::Result<Wire> {
        let stream = TcpStream::connect(addr).await.context("connecting")?;
        Ok(Wire { stream, rbuf: BytesMut::new(), out: BytesMut::new() })
    }

    /// Logs in as a `trust` user and reads up to the first ReadyForQuery.
    pub async fn connect_trust(addr: SocketAddr, user: &str, db: &str) -> anyhow::Result<Wire> {
        let mut w = Self::raw(addr).await?;
        w.startup(&[("user", user), ("database", db)]);
        w.flush().await?;
        let msgs = w.until_ready().await?;
        if msgs.iter().any(|m| m.tag == 'E') {
            bail!("login failed: {msgs:?}");
        }
        Ok(w)
    }

    pub fn startup(&mut self, params: &[(&str, &str)]) {
        let at = self.out.len();
        self.out.put_u32(0);
        self.out.put_u32(196_608);
        for (k, v) in params {
            cstr(&mut self.out, k);
            cstr(&mut self.out, v);
        }
        self.out.put_u8(0);
        let len = (self.out.len() - at) as u32;
        self.out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    pub fn query(&mut self, sql: &str) -> &mut Self {
        msg(&mut self.out, b'Q', |b| cstr(b, sql));
        self
    }

    pub fn parse(&mut self, name: &str, sql: &str) -> &mut Self {
        msg(&mut self.out, b'P', |b| {
            cstr(b, name);
            cstr(b, sql);
            b.put_i16(0);
        });
        self
    }

    /// Bind with text parameters and text results.
    pub fn bind(&mut self, portal: &str, statement: &str, params: &[Option<&str>]) -> &mut Self {
        msg(&mut self.out, b'B', |b| {
            cstr(b, portal);
            cstr(b, statement);
            b.put_i16(0);
            b.put_i16(params.len() as i16);
            for p in params {
                match p {
                    Some(v) => {
                        b.put_i32(v.len() as i32);
                        b.put_slice(v.as_bytes());
                    }
                    None => b.put_i32(-1),
                }
            }
            b.put_i16(0);
        });
        self
    }

    pub fn describe_statement(&mut self, name: &str) -> &mut Self {
        msg(&mut self.out, b'D', |b| {
            b.put_u8(b'S');
            cstr(b, name);
        });
        self
    }

    pub fn describe_portal(&mut self, name: &str) -> &mut Self {
        msg(&mut self.out, b'D', |b| {
            b.put_u8(b'P');
            cstr(b, name);
        });
        self
    }

    pub fn execute(&mut self, portal: &str, max_rows: i32) -> &mut Self {
        msg(&mut self.out, b'E', |b| {
            cstr(b, portal);
            b.put_i32(max_rows);
        });
        self
    }

    pub fn close_statement(&mut self, name: &str) -> &mut Self {
        msg(&mut self.out, b'C', |b| {
            b.put_u8(b'S');
            cstr(b, name);
        });
        self
    }

    pub fn sync(&mut self) -> &mut Self {
        msg(&mut self.out, b'S', |_| {});
        self
    }

    pub fn flush_msg(&mut self) -> &mut Self {
        msg(&mut self.out, b'H', |_| {});
        self
    }

    pub fn terminate(&mut self) -> &mut Self {
        msg(&mut self.out, b'X', |_| {});
        self
    }

    /// Appends raw bytes (for malformed input).
    pub fn raw_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.put_slice(bytes);
        self
    }

    pub async fn flush(&mut self) -> anyhow::Result<()> {
        self.stream.write_all(&self.out).await?;
        self.out.clear();
        Ok(())
    }

    /// Reads one message (10 s limit). `Ok(None)` when the server closed the connection.
    pub async fn read_msg(&mut self) -> anyhow::Result<Option<Msg>> {
        loop {
            if self.rbuf.len() >= 5 {
                let len = u32::from_be_bytes([self.rbuf[1], self.rbuf[2], self.rbuf[3], self.rbuf[4]]) as usize;
                if self.rbuf.len() > len {
                    let tag = self.rbuf[0] as char;
                    let mut m = self.rbuf.split_to(1 + len);
                    m.advance(5);
                    return Ok(Some(Msg { tag, body: m.freeze() }));
                }
            }
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read_buf(&mut self.rbuf))
                .await
                .map_err(|_| anyhow!("no answer from the server within 10 s (have {:?})", self.rbuf))??;
            if n == 0 {
                return Ok(None);
            }
        }
    }

    /// Reads messages up to and including the next ReadyForQuery.
    pub async fn until_ready(&mut self) -> anyhow::Result<Vec<Msg>> {
        let mut msgs = Vec::new();
        loop {
            let m = self.read_msg().await?.ok_or_else(|| anyhow!("connection closed; got so far: {msgs:?}"))?;
            let done = m.tag == 'Z';
            msgs.push(m);
            if done {
                return Ok(msgs);
            }
        }
    }

    /// Reads until the server closes the connection, returning what came before.
    pub async fn until_closed(&mut self) -> anyhow::Result<Vec<Msg>> {
        let mut msgs = Vec::new();
        while let Some(m) = self.read_msg().await? {
            msgs.push(m);
        }
        Ok(msgs)
    }
}
