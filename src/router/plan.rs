//! A routing plan: everything about a statement that does not depend on its parameter values.
//! Plans are built once per statement text (or per literal-normalised text) and cached, so a
//! repeated statement costs a lookup plus reading its key values.
//!
//! A plan belongs to one map version: table names are already resolved against the map
//! (the router and its cache are rebuilt on every reload).

use sqlparser::ast::Statement;

use super::RouteError;
use crate::shardmap::{FunctionIdx, ShardIdx};

/// What kind of statement this is, for `write` and for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    Select,
    Insert,
    Update,
    Delete,
    Ddl,
    /// SHOW, DISCARD, LISTEN, VACUUM… — no table to route by.
    Utility,
    /// BEGIN, COMMIT, ROLLBACK, SAVEPOINT…
    Transaction,
    Set,
}

impl StatementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Select => "SELECT",
            Self::Insert => "INSERT",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Ddl => "DDL",
            Self::Utility => "utility statement",
            Self::Transaction => "transaction control",
            Self::Set => "SET",
        }
    }
}

/// Where a value comes from. Literals are kept in text form: they are canonicalised by the
/// key type of the function at route time, exactly like a text-format parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Src {
    Text(Box<str>),
    /// 0-based parameter index (`$1` = 0). In the literal-normalised path, the index of the
    /// extracted literal.
    Param(usize),
}

/// One alternative for a key column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// A single value, negated when written `-<value>`.
    One { src: Src, negate: bool },
    /// An array whose elements are alternatives: `= ANY($1)`, `= ANY('{1,2}')`.
    Array(Src),
    /// SQL NULL: equal to nothing.
    Null,
}

/// Position of a key column: instance index and column index within its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub instance: u16,
    pub column: u8,
}

/// What the map says about one table occurrence, resolved when the plan was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Sharded { function: FunctionIdx, columns: Vec<String> },
    Reference,
    Pinned(ShardIdx),
    Unknown,
}

/// One occurrence of a table in the statement (the same table twice is two instances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// As written, lower-cased unless quoted: `reservations` or `public.reservations`.
    pub display: String,
    pub schema: Option<String>,
    pub name: String,
    pub alias: Option<String>,
    pub resolved: Resolved,
    /// Written by the statement (INSERT/UPDATE/DELETE target).
    pub written: bool,
    /// Key alternatives for this instance, projected from its scope's WHERE. For INSERT
    /// targets, one alternative per row (see `InsertPlan`).
    pub keys: Vec<Vec<Vec<Val>>>,
    /// `keys` is meaningful: WHERE constrained every key column in every alternative.
    pub constrained: bool,
}

/// Sharded instances joined on their full shard key with the same function: their rows for
/// one key live on one shard, so the group needs one key between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub members: Vec<u16>,
}

/// The VALUES rows of an INSERT into a sharded table.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertPlan {
    pub instance: u16,
    /// Per row, per key column: the value.
    pub rows: Vec<Vec<Val>>,
    /// The statement itself (multi-row only), to render per-shard parts when rows go to
    /// different shards.
    pub statement: Option<Box<Statement>>,
}

/// `UPDATE … SET <key column> = …`: the new key must stay on the statement's shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUpdate {
    pub instance: u16,
    /// Per key column: the assigned value, `None` when not assigned.
    pub assigned: Vec<Option<Val>>,
    /// A key column is assigned something that is not a constant or parameter.
    pub opaque: bool,
}

/// Statements whose tables need analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct TablePlan {
    pub instances: Vec<Instance>,
    pub groups: Vec<Group>,
    pub insert: Option<InsertPlan>,
    pub key_update: Option<KeyUpdate>,
}

/// How a statement is routed, before its values are known.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No table: any shard.
    NoTable,
    /// DDL and maintenance: every shard.
    Everywhere,
    /// Only a shard hint (or a key hint, when `key_hint_ok`) can route this.
    NeedsHint {
        error: RouteError,
        key_hint_ok: bool,
    },
    Tables(TablePlan),
    /// sqlparser could not parse it.
    Unparsable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: StatementKind,
    pub write: bool,
    pub body: Body,
}
