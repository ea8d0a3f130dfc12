//! A merge plan: how a cross-shard SELECT is rewritten for the shards and how their answers
//! are combined so the client sees exactly what one database holding every row would return.
//!
//! Built once per statement text (`analyse::plan`) and cached; pure data, no I/O. Column
//! references are resolved against each execution's RowDescription (`ColumnRef`), because a
//! wildcard (`SELECT *`) has a width the plan cannot know.

/// What the proxy does with the shards' answers to `shard_sql`.
#[derive(Debug, Clone, PartialEq)]
pub struct MergePlan {
    /// The statement every shard runs: the client's SELECT with LIMIT raised to
    /// `limit + offset` and OFFSET removed, `avg(x)` split into `sum(x) AS avg` and a hidden
    /// `count(x)` (no cast: the planner does not know x's type, so the executor produces avg's
    /// result type), HAVING/ORDER BY/LIMIT moved to the proxy when aggregating, and hidden
    /// columns appended for sort keys, grouping keys and aggregates the client did not select.
    /// Parameters (`$n`) are those of the client's statement, unchanged in number and meaning,
    /// so the client's Bind values are forwarded as they are; a parameter whose clause moved
    /// to the proxy travels in a hidden column (`CAST($n AS BIGINT)`, or the HAVING condition).
    pub shard_sql: String,
    /// Trailing columns of the shards' rows that the client must not see.
    pub hidden: usize,
    /// Streaming merge, or grouping in the proxy.
    pub shape: Shape,
    /// Final ORDER BY over the merged rows (output columns plus hidden ones). Empty = rows go
    /// to the client in arrival order.
    pub order: Vec<SortKey>,
    /// Applied by the proxy after merging.
    pub offset: Option<Count>,
    pub limit: Option<Count>,
    /// Columns compared as text (sort keys, grouping keys, min/max arguments): their
    /// collation must order bytes as PostgreSQL does before the proxy may compare them.
    pub text_compared: Vec<ColumnRef>,
    /// For each column of `text_compared`: the hidden boolean in which every shard row says
    /// whether that column's collation lets the proxy compare its text as bytes.
    pub collations: Vec<CollationCheck>,
}

/// A shard's verdict on one compared column's collation (see `analyse/collation.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollationCheck {
    pub column: ColumnRef,
    pub verdict: ColumnRef,
    /// Compared for order (needs C/POSIX), not only for equality (needs deterministic).
    pub ordered: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Rows pass through (k-way merged by `order` when given); no state per row.
    Stream,
    /// Aggregates and/or GROUP BY / DISTINCT: one state per group, emitted after every shard
    /// has finished. With no grouping columns there is exactly one group, even over no rows.
    Group(GroupPlan),
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    /// Shard-result columns whose values identify a group (GROUP BY expressions, or every
    /// visible column for SELECT DISTINCT). Empty = one group for the whole result.
    pub keys: Vec<ColumnRef>,
    /// Per shard-result column (visible and hidden, in order): how it is combined.
    pub columns: Vec<ColumnMerge>,
    /// HAVING, evaluated by the proxy on the merged group.
    pub having: Option<Predicate>,
}

/// How one column of the shards' rows becomes the merged column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnMerge {
    /// A grouping key (or a value functionally determined by one, or a constant): taken from
    /// any shard row of the group. Also used for hidden columns that only carry parameters,
    /// whose value the proxy ignores.
    Key,
    /// `count(*)`, `count(x)`: partial counts summed (int8).
    Count,
    /// `sum(x)`: partial sums added in the partial's own type (int8, numeric, float, interval).
    Sum,
    Min,
    Max,
    BoolAnd,
    BoolOr,
    /// The visible half of `avg(x)`: the shard sends `sum(x)` (named `avg` or the client's
    /// alias); the proxy divides the merged sum by the merged count in column `count` (an
    /// absolute index into `GroupPlan::columns`: grouping plans never have a wildcard) and
    /// gives the result avg's type (numeric for integer and numeric input, float8 for float,
    /// interval for interval), rewriting the RowDescription.
    AvgSum {
        count: usize,
    },
    /// The hidden `count(x)` feeding an `AvgSum`.
    AvgCount,
    /// `count(DISTINCT x)`: the shards group by `x` too and send `x` here (so the shards'
    /// column has x's type: the proxy sends int8 to the client); the proxy counts the distinct
    /// non-null values per group.
    CountDistinct,
}

/// A column of the shards' result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnRef {
    /// The n-th (0-based) column counting from the start; used only for select items that
    /// stand before any wildcard, so the position is known at plan time.
    Item(usize),
    /// The n-th (0-based) of the hidden trailing columns.
    Hidden(usize),
}

impl ColumnRef {
    /// The absolute column index in a shard row of `width` columns.
    pub fn index(self, width: usize, hidden: usize) -> Option<usize> {
        match self {
            ColumnRef::Item(i) => (i < width).then_some(i),
            ColumnRef::Hidden(h) => width.checked_sub(hidden).map(|s| s + h).filter(|&i| i < width),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub column: ColumnRef,
    pub descending: bool,
    /// PostgreSQL's default: NULLS LAST for ASC, NULLS FIRST for DESC.
    pub nulls_first: bool,
}

/// A LIMIT or OFFSET count: a literal, or a Bind parameter read at execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Literal(u64),
    /// 0-based parameter index (`$1` = 0).
    Param(usize),
}

/// HAVING as the proxy evaluates it: comparisons of merged columns with constants or each
/// other, combined with AND / OR / NOT. Anything else is refused at plan time.
///
/// Only bare literals and parameters become `Literal`/`Param` (PostgreSQL types them from the
/// other side, as the proxy does). Any other constant (`'2026-11-01'::date`, `10 * 2`) is a
/// hidden column the shards compute, so `Compare` may compare two columns of different types
/// (int8 vs int4, timestamptz vs date): compare as PostgreSQL would, or fail — never guess.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    Compare { left: Operand, op: CompareOp, right: Operand },
    IsNull { operand: Operand, negated: bool },
    And(Box<Predicate>, Box<Predicate>),
    Or(Box<Predicate>, Box<Predicate>),
    Not(Box<Predicate>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Column(ColumnRef),
    /// A constant in text form, decoded with the other side's column type.
    Literal(String),
    /// A Bind parameter (0-based).
    Param(usize),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}
