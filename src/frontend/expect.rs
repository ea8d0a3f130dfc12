//! What the proxy expects back from the server for each message it sent, in order.
//!
//! The server answers messages strictly in order, so a FIFO of expectations lets the proxy
//! drop replies to messages it injected (a Parse the client never sent), insert replies to
//! messages it answered itself (a ParseComplete for a statement the server already has), and
//! notice when a cycle ends (ReadyForQuery) — all without decoding result rows.

use std::sync::Arc;

use bytes::Bytes;

use crate::router::session_command::SessionCommand;

#[derive(Debug)]
pub enum Expect {
    /// ParseComplete. `server_name`: the proxy name the server now holds (forgotten again if
    /// the Parse fails); `client_name`: removed from the client's registry on failure.
    Parse {
        server_name: Option<Arc<str>>,
        client_name: Option<Bytes>,
        forward: bool,
    },
    Bind,
    /// ParameterDescription (statements only) then RowDescription or NoData.
    Describe,
    /// Rows, then CommandComplete / EmptyQueryResponse / PortalSuspended.
    Execute {
        effect: Option<SessionCommand>,
    },
    Close {
        forward: bool,
    },
    /// ReadyForQuery after Sync. `internal`: a Sync the proxy added to close an extended
    /// batch before moving the client to another shard; its ReadyForQuery is not relayed.
    Sync {
        internal: bool,
    },
    /// A simple Query: one CommandComplete per statement, then ReadyForQuery.
    /// `effects` lines up with the statements; `pending_mark` is where this query's session
    /// changes start, so they can be dropped if it fails.
    Query {
        effects: Vec<SessionCommand>,
        next: usize,
        pending_mark: usize,
        internal: bool,
    },
    /// A statement the proxy sends only to make the server fail the current transaction or
    /// extended batch (as PostgreSQL would after the error the proxy reported): its error is
    /// dropped; its ReadyForQuery, if any, is relayed.
    Abort {
        simple: bool,
    },
    FunctionCall,
    /// Bytes the proxy answers itself, released when everything before them has been answered.
    Synthetic(Bytes),
    /// A ReadyForQuery the proxy answers itself with the status current at that point.
    SyntheticReady,
    /// The client ended a COPY FROM STDIN here (CopyDone/CopyFail). No reply of its own; it
    /// marks where the server's copy mode ends, because the server ignores the Syncs a client
    /// sends while copying in (libpq and tokio-postgres send one right after Execute).
    CopyEnd,
}

impl Expect {
    /// Whether the server's replies to this entry reach the client.
    pub fn forwards(&self) -> bool {
        match self {
            Self::Parse { forward, .. } | Self::Close { forward } => *forward,
            Self::Query { internal, .. } | Self::Sync { internal } => !internal,
            Self::Abort { .. } => false,
            _ => true,
        }
    }

    /// Whether a CommandComplete under this entry means nothing to the proxy (given that no
    /// session change is pending, which a ROLLBACK would drop): the statement it ends changes
    /// no session state.
    pub fn command_complete_is_quiet(&self) -> bool {
        match self {
            Self::Query { effects, .. } => effects.is_empty(),
            Self::Execute { effect } => effect.is_none(),
            _ => false,
        }
    }

    /// Whether the reply that completes this entry has no effect beyond ending it: not a
    /// ReadyForQuery (transaction state, release), not an effect to keep.
    pub fn completion_is_quiet(&self) -> bool {
        matches!(
            self,
            Self::Parse { .. } | Self::Bind | Self::Describe | Self::Close { .. } | Self::Execute { effect: None }
        )
    }

    /// Whether the server answers this entry (the others are the proxy's own replies and
    /// the end-of-COPY marker).
    pub fn answered_by_server(&self) -> bool {
        !matches!(self, Self::Synthetic(_) | Self::SyntheticReady | Self::CopyEnd)
    }

    /// Whether `tag` from the server completes this entry.
    pub fn completed_by(&self, tag: u8) -> bool {
        match self {
            Self::Parse { .. } => tag == b'1',
            Self::Bind => tag == b'2',
            Self::Describe => tag == b'T' || tag == b'n',
            Self::Execute { .. } => matches!(tag, b'C' | b'I' | b's'),
            Self::Close { .. } => tag == b'3',
            Self::Sync { .. } | Self::Query { .. } | Self::FunctionCall | Self::Abort { simple: true } => tag == b'Z',
            Self::Abort { simple: false } => false,
            Self::Synthetic(_) | Self::SyntheticReady | Self::CopyEnd => false,
        }
    }
}
