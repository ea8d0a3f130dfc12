//! Builders for every message shardgate originates, towards clients and towards servers.
//! Each appends one whole message to `out`, so a reply of several messages costs one buffer
//! and one write.

use bytes::{BufMut, BytesMut};

use super::messages::ready_for_query::TxStatus;

/// Writes a message whose body the closure appends, patching the length afterwards.
pub fn message(out: &mut BytesMut, tag: u8, body: impl FnOnce(&mut BytesMut)) {
    out.put_u8(tag);
    let at = out.len();
    out.put_u32(0);
    body(out);
    let len = (out.len() - at) as u32;
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&len.to_be_bytes());
    }
}

fn cstr(out: &mut BytesMut, s: &[u8]) {
    out.put_slice(s);
    out.put_u8(0);
}

/// Severity of an ErrorResponse: `Fatal` ends the session after it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Fatal,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
        }
    }
}

/// The one builder of ErrorResponse. `code` is a five-character SQLSTATE.
pub fn error_response(out: &mut BytesMut, severity: Severity, code: &str, message_text: &str, hint: Option<&str>) {
    message(out, b'E', |b| {
        b.put_u8(b'S');
        cstr(b, severity.as_str().as_bytes());
        b.put_u8(b'V');
        cstr(b, severity.as_str().as_bytes());
        b.put_u8(b'C');
        cstr(b, code.as_bytes());
        b.put_u8(b'M');
        cstr(b, message_text.as_bytes());
        if let Some(h) = hint {
            b.put_u8(b'H');
            cstr(b, h.as_bytes());
        }
        b.put_u8(0);
    });
}

pub fn ready_for_query(out: &mut BytesMut, status: TxStatus) {
    message(out, b'Z', |b| b.put_u8(status.byte()));
}

pub fn auth_ok(out: &mut BytesMut) {
    message(out, b'R', |b| b.put_i32(0));
}

pub fn auth_cleartext(out: &mut BytesMut) {
    message(out, b'R', |b| b.put_i32(3));
}

pub fn auth_md5(out: &mut BytesMut, salt: [u8; 4]) {
    message(out, b'R', |b| {
        b.put_i32(5);
        b.put_slice(&salt);
    });
}

/// AuthenticationSASL offering only SCRAM-SHA-256: we never offer the -PLUS variant, since
/// channel binding through a proxy would bind to the wrong TLS session.
pub fn auth_sasl(out: &mut BytesMut) {
    message(out, b'R', |b| {
        b.put_i32(10);
        cstr(b, b"SCRAM-SHA-256");
        b.put_u8(0);
    });
}

pub fn auth_sasl_continue(out: &mut BytesMut, data: &[u8]) {
    message(out, b'R', |b| {
        b.put_i32(11);
        b.put_slice(data);
    });
}

pub fn auth_sasl_final(out: &mut BytesMut, data: &[u8]) {
    message(out, b'R', |b| {
        b.put_i32(12);
        b.put_slice(data);
    });
}

pub fn parameter_status(out: &mut BytesMut, name: &str, value: &str) {
    message(out, b'S', |b| {
        cstr(b, name.as_bytes());
        cstr(b, value.as_bytes());
    });
}

pub fn backend_key_data(out: &mut BytesMut, pid: i32, secret: i32) {
    message(out, b'K', |b| {
        b.put_i32(pid);
        b.put_i32(secret);
    });
}

/// ParseComplete and BindComplete as whole frames: the proxy answers these itself for
/// every routed extended-protocol statement, and a static frame costs no allocation.
pub const PARSE_COMPLETE: &[u8] = b"1\0\0\0\x04";
pub const BIND_COMPLETE: &[u8] = b"2\0\0\0\x04";

pub fn close_complete(out: &mut BytesMut) {
    message(out, b'3', |_| {});
}

pub fn command_complete(out: &mut BytesMut, tag: &str) {
    message(out, b'C', |b| cstr(b, tag.as_bytes()));
}

/// The single-byte answer to SSLRequest / GSSENCRequest ('S' or 'N'); not a framed message.
pub fn negotiation_answer(out: &mut BytesMut, accept: bool) {
    out.put_u8(if accept { b'S' } else { b'N' });
}

// ---- towards servers ----

pub fn startup_message(out: &mut BytesMut, params: &[(&str, &str)]) {
    let at = out.len();
    out.put_u32(0);
    out.put_u32(196_608);
    for (k, v) in params {
        cstr(out, k.as_bytes());
        cstr(out, v.as_bytes());
    }
    out.put_u8(0);
    let len = (out.len() - at) as u32;
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&len.to_be_bytes());
    }
}

pub fn ssl_request(out: &mut BytesMut) {
    out.put_u32(8);
    out.put_u32(80_877_103);
}

pub fn cancel_request(out: &mut BytesMut, pid: i32, secret: i32) {
    out.put_u32(16);
    out.put_u32(80_877_102);
    out.put_i32(pid);
    out.put_i32(secret);
}

pub fn password_message(out: &mut BytesMut, password: &[u8]) {
    message(out, b'p', |b| cstr(b, password));
}

pub fn sasl_initial_response(out: &mut BytesMut, mechanism: &str, data: &[u8]) {
    message(out, b'p', |b| {
        cstr(b, mechanism.as_bytes());
        b.put_i32(data.len() as i32);
        b.put_slice(data);
    });
}

pub fn sasl_response(out: &mut BytesMut, data: &[u8]) {
    message(out, b'p', |b| b.put_slice(data));
}

pub fn query(out: &mut BytesMut, sql: &str) {
    message(out, b'Q', |b| cstr(b, sql.as_bytes()));
}

/// Parse of an unnamed or named statement with explicit parameter type OIDs.
pub fn parse(out: &mut BytesMut, name: &str, sql: &str, param_types: &[u32]) {
    message(out, b'P', |b| {
        cstr(b, name.as_bytes());
        cstr(b, sql.as_bytes());
        b.put_i16(param_types.len() as i16);
        for t in param_types {
            b.put_u32(*t);
        }
    });
}

/// A count, then each value with its length (-1 and no bytes for NULL), as Bind and DataRow
/// carry them.
pub fn put_values<'a>(b: &mut BytesMut, values: impl ExactSizeIterator<Item = Option<&'a [u8]>>) {
    b.put_i16(values.len() as i16);
    for v in values {
        match v {
            Some(v) => {
                b.put_i32(v.len() as i32);
                b.put_slice(v);
            }
            None => b.put_i32(-1),
        }
    }
}

/// Bind of `statement` into `portal` with the given parameter formats, values (`None` =
/// NULL) and result formats.
pub fn bind<'a>(
    out: &mut BytesMut,
    portal: &str,
    statement: &str,
    formats: &[i16],
    values: impl ExactSizeIterator<Item = Option<&'a [u8]>>,
    results: &[i16],
) {
    message(out, b'B', |b| {
        cstr(b, portal.as_bytes());
        cstr(b, statement.as_bytes());
        b.put_i16(formats.len() as i16);
        for f in formats {
            b.put_i16(*f);
        }
        put_values(b, values);
        b.put_i16(results.len() as i16);
        for f in results {
            b.put_i16(*f);
        }
    });
}

/// Describe of a statement (`b'S'`) or portal (`b'P'`).
pub fn describe(out: &mut BytesMut, kind: u8, name: &str) {
    message(out, b'D', |b| {
        b.put_u8(kind);
        cstr(b, name.as_bytes());
    });
}

/// Execute of `portal`; `max_rows` 0 = all rows.
pub fn execute(out: &mut BytesMut, portal: &str, max_rows: i32) {
    message(out, b'E', |b| {
        cstr(b, portal.as_bytes());
        b.put_i32(max_rows);
    });
}

pub fn no_data(out: &mut BytesMut) {
    message(out, b'n', |_| {});
}

pub fn sync(out: &mut BytesMut) {
    message(out, b'S', |_| {});
}

pub fn terminate(out: &mut BytesMut) {
    message(out, b'X', |_| {});
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_static_frames_are_what_message_writes() {
        for (tag, frame) in [(b'1', PARSE_COMPLETE), (b'2', BIND_COMPLETE)] {
            let mut b = BytesMut::new();
            message(&mut b, tag, |_| {});
            assert_eq!(&b[..], frame);
        }
    }
    use crate::protocol::messages::error_response::ErrorFields;

    #[test]
    fn error_response_round_trips() {
        let mut b = BytesMut::new();
        error_response(&mut b, Severity::Error, "0A000", "no", Some("do this"));
        let f = crate::protocol::split_frame(&mut b, 1 << 20).unwrap().unwrap();
        let e = ErrorFields::parse(&f.body());
        assert_eq!((e.code.as_str(), e.message.as_str(), e.hint.as_deref()), ("0A000", "no", Some("do this")));
    }
}
