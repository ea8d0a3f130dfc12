//! A client's named prepared statements under transaction pooling. The client's name maps to
//! a proxy name derived from the statement itself, so any server that has it can run it and
//! the statement is prepared on a server only when that server lacks it.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::protocol::messages::parse::Parse;
use crate::router::session_command::SessionCommand;

#[derive(Debug)]
pub struct PreparedStatement {
    /// `sg_` + 128 bits of SHA-256 over SQL and parameter types: equal statements share it,
    /// and a collision (which would run the wrong SQL) is not a practical possibility.
    pub server_name: Arc<str>,
    pub parse: Parse,
    /// What executing it does to session state (SET and friends), if anything.
    pub effect: Option<SessionCommand>,
    /// The statement's text, checked for UTF-8 once when it is prepared: every Bind of it is
    /// routed by its text, and re-checking it per Bind cost ~200 instructions.
    text: Option<Box<str>>,
    /// Its routing plan, once a sharded map has routed it (`router::StatementPlan`).
    pub plan: crate::router::StatementPlan,
}

impl PreparedStatement {
    pub fn new(parse: Parse, effect: Option<SessionCommand>) -> Self {
        let mut h = Sha256::new();
        h.update(&parse.sql);
        h.update([0u8]);
        h.update(&parse.param_types);
        let digest = h.finalize();
        let mut name = String::with_capacity(3 + 32);
        name.push_str("sg_");
        for b in digest.iter().take(16) {
            name.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            name.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        let text = std::str::from_utf8(&parse.sql).ok().map(Box::from);
        Self { server_name: name.into(), parse, effect, text, plan: Default::default() }
    }

    /// The unnamed statement: never renamed, so no name is computed. Its text is checked
    /// once here: a client re-sending the same unnamed statement keeps this one (see
    /// `on_parse`), and each of its Binds reads the text to route it.
    pub fn unnamed(parse: Parse, effect: Option<SessionCommand>) -> Self {
        let text = std::str::from_utf8(&parse.sql).ok().map(Box::from);
        Self { server_name: Arc::clone(&UNNAMED), parse, effect, text, plan: Default::default() }
    }

    /// The statement's text ("" if it is not UTF-8, which no statement the router can read
    /// is).
    pub fn sql(&self) -> &str {
        self.text.as_deref().unwrap_or_default()
    }
}

/// The unnamed statement's server name, shared: one is made per extended-protocol statement.
static UNNAMED: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));

/// Looked up on every Bind (twice when the Bind is routed), so hashed with foldhash (seeded
/// per map) rather than SipHash; the names are the client's own, in its own map.
#[derive(Debug, Default)]
pub struct ClientPrepared {
    by_name: HashMap<Bytes, Arc<PreparedStatement>, foldhash::fast::RandomState>,
}

impl ClientPrepared {
    pub fn get(&self, name: &[u8]) -> Option<&Arc<PreparedStatement>> {
        self.by_name.get(name)
    }
    pub fn contains(&self, name: &[u8]) -> bool {
        self.by_name.contains_key(name)
    }
    pub fn insert(&mut self, name: Bytes, stmt: Arc<PreparedStatement>) {
        self.by_name.insert(name, stmt);
    }
    pub fn remove(&mut self, name: &[u8]) {
        self.by_name.remove(name);
    }
    pub fn clear(&mut self) {
        self.by_name.clear();
    }
}
