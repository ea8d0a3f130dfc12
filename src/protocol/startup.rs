//! The untagged packets a client may send before its session starts: SSLRequest,
//! GSSENCRequest, CancelRequest and StartupMessage.
//! See <https://www.postgresql.org/docs/current/protocol-message-formats.html> and
//! `MAX_STARTUP_PACKET_LENGTH` in PostgreSQL's `src/include/libpq/pqcomm.h`.

use bytes::{Bytes, BytesMut};

use super::cursor::Cursor;
use super::ProtocolError;

/// PostgreSQL refuses startup packets longer than this; so do we, before allocating.
pub const MAX_STARTUP_PACKET_LENGTH: u32 = 10_000;
const PROTOCOL_V3: u32 = 196_608; // 3 << 16
const CANCEL_REQUEST_CODE: u32 = 80_877_102; // 1234 << 16 | 5678
const SSL_REQUEST_CODE: u32 = 80_877_103;
const GSSENC_REQUEST_CODE: u32 = 80_877_104;

/// One startup-phase packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupPacket {
    SslRequest,
    GssEncRequest,
    Cancel { pid: i32, secret: i32 },
    Startup(StartupParams),
}

/// The parameters of a StartupMessage, in the order the client sent them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StartupParams {
    pub params: Vec<(String, String)>,
}

impl StartupParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Splits one startup packet off `buf`. `Ok(None)` = wait for more bytes.
pub fn split_startup(buf: &mut BytesMut) -> Result<Option<StartupPacket>, ProtocolError> {
    let len = match buf.get(..4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => return Ok(None),
    };
    if !(8..=MAX_STARTUP_PACKET_LENGTH).contains(&len) {
        return Err(ProtocolError::BadStartupLength { len });
    }
    if buf.len() < len as usize {
        return Ok(None);
    }
    let packet = buf.split_to(len as usize).freeze();
    parse_startup(&packet).map(Some)
}

fn parse_startup(packet: &Bytes) -> Result<StartupPacket, ProtocolError> {
    let mut c = Cursor::new(packet.get(4..).unwrap_or_default(), "startup");
    let code = c.u32()?;
    match code {
        SSL_REQUEST_CODE if c.is_empty() => Ok(StartupPacket::SslRequest),
        GSSENC_REQUEST_CODE if c.is_empty() => Ok(StartupPacket::GssEncRequest),
        CANCEL_REQUEST_CODE => {
            let pid = c.i32()?;
            let secret = c.i32()?;
            if !c.is_empty() {
                return Err(ProtocolError::malformed("CancelRequest", "trailing bytes"));
            }
            Ok(StartupPacket::Cancel { pid, secret })
        }
        SSL_REQUEST_CODE | GSSENC_REQUEST_CODE => Err(ProtocolError::malformed("SSLRequest", "trailing bytes")),
        PROTOCOL_V3 => parse_params(c).map(StartupPacket::Startup),
        other => Err(ProtocolError::UnsupportedVersion { major: (other >> 16) as u16, minor: (other & 0xffff) as u16 }),
    }
}

fn parse_params(mut c: Cursor<'_>) -> Result<StartupParams, ProtocolError> {
    let mut params = Vec::new();
    loop {
        let name = c.cstr_utf8()?;
        if name.is_empty() {
            break;
        }
        let value = c.cstr_utf8()?;
        params.push((name.to_owned(), value.to_owned()));
    }
    if !c.is_empty() {
        return Err(ProtocolError::malformed("StartupMessage", "bytes after the final terminator"));
    }
    Ok(StartupParams { params })
}

/// Splits the `options` startup parameter into `-c name=value` pairs the way the server does
/// (`pg_split_opts`: whitespace separates, backslash escapes). Other switches are ignored with
/// an error, because we cannot replay them on a pooled server.
pub fn parse_options(options: &str) -> Result<Vec<(String, String)>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut chars = options.chars();
    let mut in_word = false;
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    let mut out = Vec::new();
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let setting = if w == "-c" {
            it.next().ok_or_else(|| "'-c' needs name=value".to_string())?
        } else if let Some(rest) = w.strip_prefix("-c") {
            rest.to_string()
        } else if let Some(rest) = w.strip_prefix("--") {
            rest.to_string()
        } else {
            return Err(format!("unsupported option {w:?}: only -c name=value is supported"));
        };
        let (name, value) = setting.split_once('=').ok_or_else(|| format!("option {setting:?} is not name=value"))?;
        out.push((name.replace('-', "_").to_ascii_lowercase(), value.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(code: u32, body: &[u8]) -> BytesMut {
        let mut b = BytesMut::new();
        b.extend_from_slice(&((8 + body.len()) as u32).to_be_bytes());
        b.extend_from_slice(&code.to_be_bytes());
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn ssl_request_and_startup_parse() {
        let mut b = packet(SSL_REQUEST_CODE, b"");
        assert_eq!(split_startup(&mut b).unwrap(), Some(StartupPacket::SslRequest));
        let mut b = packet(PROTOCOL_V3, b"user\0app\0database\0pms\0\0");
        let Some(StartupPacket::Startup(p)) = split_startup(&mut b).unwrap() else { panic!() };
        assert_eq!(p.get("user"), Some("app"));
        assert_eq!(p.get("database"), Some("pms"));
    }

    #[test]
    fn bad_startup_lengths_are_refused() {
        let mut b = BytesMut::from(&[0u8, 0, 0, 4, 1, 2, 3, 4][..]);
        assert!(split_startup(&mut b).is_err());
        let mut b = BytesMut::from(&[0x7f, 0, 0, 0][..]);
        assert!(split_startup(&mut b).is_err());
        let mut b = packet(PROTOCOL_V3, b"user\0app");
        assert!(split_startup(&mut b).is_err());
    }

    #[test]
    fn options_split_like_the_server() {
        let o = parse_options("-c search_path=a\\ b --statement-timeout=5s -cwork_mem=4MB").unwrap();
        assert_eq!(
            o,
            vec![
                ("search_path".into(), "a b".into()),
                ("statement_timeout".into(), "5s".into()),
                ("work_mem".into(), "4MB".into())
            ]
        );
        assert!(parse_options("-d 5").is_err());
    }
}
