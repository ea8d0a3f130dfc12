//! Regular (tagged) messages after startup: framing, the typed views shardgate reads, the
//! rewrite of Parse and Bind under transaction pooling, and the SQL lexer that runs on every
//! simple Query and Parse.
//!
//! Input: the first byte picks where the rest is cut in two, so a message may arrive in two
//! reads. Checked: nothing panics or hangs; `Ok(None)` consumes nothing; the frames seen and the
//! final error do not depend on where the input was cut; the in-place reader (`peek_frame`,
//! `Query::read`) agrees with the splitting one; a renamed Parse or Bind parses back with
//! every other field unchanged. A panic is how this harness reports a failure, so it
//! panics freely.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use shardgate::protocol::messages::bind::BindNames;
use shardgate::protocol::messages::describe::TargetName;
use shardgate::protocol::messages::error_response::ErrorFields;
use shardgate::protocol::messages::parse::Parse;
use shardgate::protocol::messages::query::Query;
use shardgate::protocol::messages::ready_for_query::TxStatus;
use shardgate::protocol::messages::{btag, close, command_complete, describe, tag};
use shardgate::protocol::{peek_frame, split_frame, Frame, ProtocolError};
use shardgate::router::lexer::{statements, Words};
use shardgate::router::session_command::classify;

/// Frame size limit for the run; the proxy's own limits are of this order.
const MAX_MESSAGE: u32 = 1 << 20;
/// The name the proxy gives a statement on a pooled server.
const RENAMED: &str = "sg_x";

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

    assert_eq!(whole, pieces, "frames depend on where the input was cut at {cut}");
    assert_eq!(whole_end, pieces_end, "outcome depends on where the input was cut at {cut}");
});

/// Splits frames off `buf` until it needs more bytes (`None`) or refuses the input.
fn drain(buf: &mut BytesMut, seen: &mut Vec<(u8, Bytes)>) -> Option<ProtocolError> {
    loop {
        let before = buf.len();
        let peeked = peek_frame(buf, MAX_MESSAGE).map(|f| f.map(|f| (f.tag, Bytes::copy_from_slice(f.bytes))));
        let split = split_frame(buf, MAX_MESSAGE);
        match (&peeked, &split) {
            (Ok(p), Ok(s)) => assert_eq!(*p, s.as_ref().map(|f| (f.tag, f.bytes.clone())), "peek and split differ"),
            (Err(p), Err(s)) => assert_eq!(p.to_string(), s.to_string(), "peek and split fail differently"),
            _ => panic!("peek and split disagree: {peeked:?} / {split:?}"),
        }
        match split {
            Ok(Some(frame)) => {
                assert!(buf.len() < before, "a frame consumed no bytes");
                inspect(&frame);
                seen.push((frame.tag, frame.bytes));
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                return None;
            }
            Err(e) => return Some(e),
        }
    }
}

/// Runs the view the proxy would run for this tag. Client and server tags overlap ('C' is
/// Close and CommandComplete, 'E' is Execute and ErrorResponse), so both readers run.
fn inspect(frame: &Frame) {
    let body = frame.body();
    match frame.tag {
        tag::QUERY => {
            let read = Query::read(&body).ok();
            if let Ok(q) = Query::parse(&body) {
                assert_eq!(read, Some(&q.sql[..]), "Query read in place differs");
                lex(&q.sql);
            } else {
                assert!(read.is_none(), "Query read in place accepts what parse refuses");
            }
        }
        tag::PARSE => {
            if let Ok(p) = Parse::parse(&body) {
                lex(&p.sql);
                parse_round_trip(&p);
            }
        }
        tag::BIND => {
            if let Ok(b) = BindNames::read(&body) {
                bind_round_trip(&b);
            }
        }
        tag::DESCRIBE => {
            if let Ok(d) = describe::parse(&body) {
                target_round_trip(tag::DESCRIBE, &d, describe::parse);
            }
        }
        tag::CLOSE => {
            if let Ok(c) = close::parse(&body) {
                target_round_trip(tag::CLOSE, &c, close::parse);
            }
            let t = command_complete::tag(&body);
            assert!(!t.contains(&0), "command tag holds its terminator");
        }
        btag::READY_FOR_QUERY => {
            if let Ok(s) = TxStatus::from_body(&body) {
                assert_eq!(TxStatus::from_body(&[s.byte()]), Ok(s));
            }
        }
        btag::ERROR_RESPONSE | btag::NOTICE_RESPONSE => {
            let _ = ErrorFields::parse(&body);
        }
        _ => {}
    }
}

/// What the client loop does with SQL text: split into statements, classify each.
fn lex(sql: &[u8]) {
    let Ok(sql) = std::str::from_utf8(sql) else { return };
    let span = sql.as_ptr() as usize..=sql.as_ptr() as usize + sql.len();
    for stmt in statements(sql) {
        assert!(!stmt.is_empty(), "empty statement yielded");
        assert!(
            span.contains(&(stmt.as_ptr() as usize)) && span.contains(&(stmt.as_ptr() as usize + stmt.len())),
            "statement is not a slice of the query"
        );
        let _ = classify(stmt);
        let mut words = Words::new(stmt);
        while let Some(w) = words.next() {
            assert!(!w.is_empty(), "empty word yielded");
            let _ = words.rest();
        }
    }
}

/// Re-frames `out` (one whole message) and returns its body.
fn reframe(mut out: BytesMut, expected_tag: u8) -> Bytes {
    let frame = match split_frame(&mut out, u32::MAX) {
        Ok(Some(f)) => f,
        other => panic!("rewritten message does not frame: {other:?}"),
    };
    assert!(out.is_empty(), "rewritten message has {} bytes after its length", out.len());
    assert_eq!(frame.tag, expected_tag);
    frame.body()
}

fn parse_round_trip(p: &Parse) {
    let mut out = BytesMut::new();
    p.write_renamed(RENAMED, &mut out);
    let again = match Parse::parse(&reframe(out, tag::PARSE)) {
        Ok(again) => again,
        Err(e) => panic!("renamed Parse does not parse: {e}"),
    };
    assert_eq!(&again.name[..], RENAMED.as_bytes());
    assert_eq!(again.sql, p.sql);
    assert_eq!(again.param_types, p.param_types);
}

fn bind_round_trip(b: &BindNames<'_>) {
    let mut out = BytesMut::new();
    b.write_renamed(RENAMED, &mut out);
    let body = reframe(out, tag::BIND);
    let again = match BindNames::read(&body) {
        Ok(again) => again,
        Err(e) => panic!("renamed Bind does not parse: {e}"),
    };
    assert_eq!(again.statement, RENAMED.as_bytes());
    assert_eq!(again.portal, b.portal);
    assert_eq!(again.rest(), b.rest());
}

/// Describe and Close are written back by name when the proxy renames statements.
fn target_round_trip(t: u8, parsed: &TargetName, parse: fn(&Bytes) -> Result<TargetName, ProtocolError>) {
    let Ok(name) = std::str::from_utf8(&parsed.name) else { return };
    let mut out = BytesMut::new();
    TargetName::write(t, parsed.target, name, &mut out);
    let again = match parse(&reframe(out, t)) {
        Ok(again) => again,
        Err(e) => panic!("rewritten {} does not parse: {e}", t as char),
    };
    assert_eq!(again.target, parsed.target);
    assert_eq!(again.name, parsed.name);
}
