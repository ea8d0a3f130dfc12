//! Statements that change session state or that transaction pooling must intercept.

use super::lexer::{is_space, is_word_byte, Words};

/// What one statement does to the session, as far as the pooler cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// `SET [SESSION] name {TO|=} value`: kept per client. `value` is verbatim SQL.
    Set { name: String, value: String },
    /// `RESET name` or `SET name TO DEFAULT`.
    Reset { name: String },
    /// `RESET ALL`.
    ResetAll,
    /// `DISCARD ALL`: resets settings and drops prepared statements.
    DiscardAll,
    /// `DEALLOCATE [PREPARE] name`; `None` = `DEALLOCATE ALL`.
    Deallocate { name: Option<String> },
    /// LISTEN / UNLISTEN: needs a server for the whole session.
    Listen,
    /// `SET LOCAL`, `SET TRANSACTION`, `SET CONSTRAINTS`: last only for the transaction.
    TransactionScoped,
    /// Anything else.
    Other,
}

fn is(word: &str, kw: &str) -> bool {
    word.eq_ignore_ascii_case(kw)
}

/// Whether `sql` may hold a statement `classify` cares about. A cheap pre-check for the hot
/// path: one statement (at most a trailing `;`) whose first word is not SET, RESET, DISCARD,
/// DEALLOCATE, LISTEN or UNLISTEN needs no lexing. Anything else is lexed in full.
///
/// Works on the raw bytes, so a statement that needs nothing is not even checked for UTF-8:
/// the first word is read directly unless the text opens with a comment (then the lexer
/// reads it). Text that is not UTF-8 holds no statement the pooler cares about.
pub fn may_affect_session(sql: &[u8]) -> bool {
    first_word_is_watched(sql) || {
        let body = sql.trim_ascii_end();
        let body = body.strip_suffix(b";").unwrap_or(body);
        memchr::memchr(b';', body).is_some()
    }
}

/// `may_affect_session` for the text of a Parse message, which holds one statement at most
/// (PostgreSQL refuses several in a prepared statement), so only its first word counts.
pub fn may_affect_session_single(sql: &[u8]) -> bool {
    first_word_is_watched(sql)
}

/// Whether the first word is SET, RESET, DISCARD, DEALLOCATE, LISTEN or UNLISTEN. Each is
/// compared in place as a prefix followed by a non-word byte, chosen by the first letter,
/// so most statements are decided in a handful of byte compares.
fn first_word_is_watched(sql: &[u8]) -> bool {
    let start = sql.iter().position(|&b| !is_space(b)).unwrap_or(sql.len());
    let rest = sql.get(start..).unwrap_or_default();
    // Word bytes as the lexer reads them (its class table), so "set" ends where its word does.
    let starts = |kw: &[u8]| {
        rest.get(..kw.len()).is_some_and(|p| p.eq_ignore_ascii_case(kw))
            && !rest.get(kw.len()).is_some_and(|&b| is_word_byte(b))
    };
    match rest.first().map(u8::to_ascii_lowercase) {
        Some(b'-' | b'/') if rest.starts_with(b"--") || rest.starts_with(b"/*") => {
            const WATCHED: [&str; 6] = ["set", "reset", "discard", "deallocate", "listen", "unlisten"];
            let text = std::str::from_utf8(sql).unwrap_or_default();
            Words::new(text).next().is_some_and(|w| WATCHED.iter().any(|k| is(w, k)))
        }
        Some(b's') => starts(b"set"),
        Some(b'r') => starts(b"reset"),
        Some(b'd') => starts(b"discard") || starts(b"deallocate"),
        Some(b'l') => starts(b"listen"),
        Some(b'u') => starts(b"unlisten"),
        _ => false,
    }
}

/// Reads one statement (as split by `lexer::statements`).
pub fn classify(stmt: &str) -> SessionCommand {
    let mut w = Words::new(stmt);
    let Some(first) = w.next() else { return SessionCommand::Other };
    if is(first, "set") {
        set(w)
    } else if is(first, "reset") {
        match w.next() {
            Some(n) if is(n, "all") => SessionCommand::ResetAll,
            Some(n) => SessionCommand::Reset { name: setting_name(n, &mut w) },
            None => SessionCommand::Other,
        }
    } else if is(first, "discard") {
        match w.next() {
            Some(n) if is(n, "all") => SessionCommand::DiscardAll,
            _ => SessionCommand::Other,
        }
    } else if is(first, "deallocate") {
        let mut n = w.next();
        if n.is_some_and(|n| is(n, "prepare")) {
            n = w.next();
        }
        match n {
            Some(n) if is(n, "all") => SessionCommand::Deallocate { name: None },
            Some(n) => SessionCommand::Deallocate { name: Some(ident(n)) },
            None => SessionCommand::Other,
        }
    } else if is(first, "listen") || is(first, "unlisten") {
        SessionCommand::Listen
    } else {
        SessionCommand::Other
    }
}

fn set(mut w: Words<'_>) -> SessionCommand {
    let Some(mut n) = w.next() else { return SessionCommand::Other };
    if is(n, "local") || is(n, "transaction") || is(n, "constraints") {
        return SessionCommand::TransactionScoped;
    }
    if is(n, "session") {
        match w.next() {
            Some(next) if is(next, "characteristics") => return SessionCommand::TransactionScoped,
            Some(next) => n = next,
            None => return SessionCommand::Other,
        }
    }
    // `SET TIME ZONE x` and `SET ROLE x` / `SET SESSION AUTHORIZATION x` have no TO/=.
    if is(n, "time") {
        if w.next().is_some_and(|z| is(z, "zone")) {
            return value("timezone", w.rest());
        }
        return SessionCommand::Other;
    }
    if is(n, "role") {
        return value("role", w.rest());
    }
    if is(n, "authorization") {
        return value("session_authorization", w.rest());
    }
    let name = setting_name(n, &mut w);
    match w.next() {
        Some(t) if is(t, "to") || t == "=" => value(&name, w.rest()),
        _ => SessionCommand::Other,
    }
}

fn value(name: &str, rest: &str) -> SessionCommand {
    if rest.is_empty() {
        return SessionCommand::Other;
    }
    if rest.eq_ignore_ascii_case("default") {
        return SessionCommand::Reset { name: name.to_string() };
    }
    SessionCommand::Set { name: name.to_string(), value: rest.to_string() }
}

/// Setting names are identifiers, possibly quoted or qualified (`shardgate.shard`).
fn setting_name(first: &str, _w: &mut Words<'_>) -> String {
    ident(first)
}

fn ident(word: &str) -> String {
    match word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => word.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pre_check_never_hides_a_session_command() {
        assert!(!may_affect_session(b"SELECT abalance FROM pgbench_accounts WHERE aid = 1;"));
        assert!(!may_affect_session(b"  /* c */ update t set a = 1"));
        assert!(may_affect_session(b"/* c */ SET x = 1"));
        assert!(may_affect_session(b"select 1; set x = 1"));
        assert!(may_affect_session(b"select ';'"), "quoted semicolons fall back to the lexer");
        assert!(may_affect_session(b"unlisten *"));
        assert!(may_affect_session(b"Set x = 1"));
        assert!(may_affect_session(b"\n  reset x"));
        assert!(may_affect_session(b"deallocate all"));
        assert!(!may_affect_session(b"settle_up()"));
        assert!(!may_affect_session(b"select 1"));
        assert!(!may_affect_session(b"DELETE FROM t"));
        assert!(!may_affect_session(b"set_x"), "a longer word is not the keyword");
        assert!(!may_affect_session("setä".as_bytes()), "non-ASCII letters continue a word, as in the lexer");
        assert!(may_affect_session(b"set"));
        assert!(!may_affect_session_single(b"select 1; set x = 1"), "a Parse holds one statement");
        assert!(may_affect_session_single(b"SET x = 1"));
        assert!(may_affect_session(b"\n\tDISCARD ALL"));
        assert!(may_affect_session(b"-- note\nreset all"));
        assert!(may_affect_session(b"set\tx to 1"));
        assert!(!may_affect_session(b"settings_report()"), "a longer word is not SET");
        assert!(!may_affect_session(b"select '\xff'"), "no UTF-8 needed to pass plain text");
        assert!(!may_affect_session(b""));
        assert!(!may_affect_session(b"   ;  "));
    }

    #[test]
    fn set_forms() {
        assert_eq!(
            classify("SET search_path TO a, b"),
            SessionCommand::Set { name: "search_path".into(), value: "a, b".into() }
        );
        assert_eq!(
            classify("set SESSION work_mem = '64MB'"),
            SessionCommand::Set { name: "work_mem".into(), value: "'64MB'".into() }
        );
        assert_eq!(
            classify("SET TIME ZONE 'UTC'"),
            SessionCommand::Set { name: "timezone".into(), value: "'UTC'".into() }
        );
        assert_eq!(classify("SET x.y TO DEFAULT"), SessionCommand::Reset { name: "x.y".into() });
        assert_eq!(classify("SET LOCAL work_mem = 1"), SessionCommand::TransactionScoped);
        assert_eq!(classify("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"), SessionCommand::TransactionScoped);
        assert_eq!(classify("RESET ALL"), SessionCommand::ResetAll);
        assert_eq!(classify("reset Work_Mem"), SessionCommand::Reset { name: "work_mem".into() });
        assert_eq!(classify("DISCARD ALL"), SessionCommand::DiscardAll);
        assert_eq!(classify("DEALLOCATE PREPARE s1"), SessionCommand::Deallocate { name: Some("s1".into()) });
        assert_eq!(classify("deallocate all"), SessionCommand::Deallocate { name: None });
        assert_eq!(classify("LISTEN chan"), SessionCommand::Listen);
        assert_eq!(classify("SELECT 1"), SessionCommand::Other);
        assert_eq!(classify("settle"), SessionCommand::Other);
    }
}
