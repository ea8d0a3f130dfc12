//! Table rules: which columns of which table feed which sharding function, which tables are
//! reference tables (a full copy on every shard), and what happens to tables the map does not
//! name.

use super::function::FunctionIdx;
use super::ShardIdx;

/// A sharded table's rule. `table: None` is the default rule ("every table not otherwise
/// named carries these columns").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRule {
    pub table: Option<String>,
    /// Key columns, lower-case, in the function's key order.
    pub columns: Vec<String>,
    pub function: FunctionIdx,
}

impl TableRule {
    /// Where `column` sits in the key (its index into the function's key types), if it is a
    /// key column of this rule.
    pub fn key_position(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }
}

/// What the map says about one table name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind<'a> {
    Sharded(&'a TableRule),
    /// Identical on every shard: reads go to any one shard, writes to all.
    Reference,
    /// Lives on one shard only (named in `unsharded_tables` or by `unknown_tables: {shard}`).
    Pinned(ShardIdx),
    /// Not named and no default: refuse.
    Unknown,
}

/// `unknown_tables:` — tables the map does not name and no default rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownTables {
    #[default]
    Refuse,
    Shard(ShardIdx),
}
