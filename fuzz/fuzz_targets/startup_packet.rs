//! The startup phase: the first bytes any peer can send, before it has authenticated.
//!
//! Input: the first byte picks where the rest is cut in two, so a packet may arrive in two
//! reads. Checked: nothing panics; `Ok(None)` consumes nothing; a packet consumes bytes; the
//! packets seen and the final error do not depend on where the input was cut. A panic is how
//! this harness reports a failure, so it panics freely.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use shardgate::protocol::startup::{parse_options, split_startup, StartupPacket};
use shardgate::protocol::ProtocolError;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let cut = usize::from(cut) % (rest.len() + 1);
    let (head, tail) = rest.split_at(cut);

    let mut whole = Vec::new();
    let whole_end = drain(&mut BytesMut::from(rest), &mut whole);

    let mut pieces = Vec::new();
    let mut buf = BytesMut::from(head);
    let mut pieces_end = drain(&mut buf, &mut pieces);
    if pieces_end.is_none() {
        buf.extend_from_slice(tail);
        pieces_end = drain(&mut buf, &mut pieces);
    }

    assert_eq!(whole, pieces, "packets depend on where the input was cut at {cut}");
    assert_eq!(whole_end, pieces_end, "outcome depends on where the input was cut at {cut}");
});

/// Splits packets off `buf` until it needs more bytes (`None`) or refuses the input.
fn drain(buf: &mut BytesMut, seen: &mut Vec<StartupPacket>) -> Option<ProtocolError> {
    loop {
        let before = buf.len();
        match split_startup(buf) {
            Ok(Some(packet)) => {
                assert!(buf.len() < before, "a packet consumed no bytes");
                inspect(&packet);
                seen.push(packet);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                return None;
            }
            Err(e) => return Some(e),
        }
    }
}

/// What the handshake reads from a StartupMessage beyond the framing.
fn inspect(packet: &StartupPacket) {
    let StartupPacket::Startup(params) = packet else { return };
    let Some(options) = params.get("options") else { return };
    if let Ok(settings) = parse_options(options) {
        for (name, _) in settings {
            assert!(!name.contains('-'), "setting name {name:?} kept a '-'");
        }
    }
}
