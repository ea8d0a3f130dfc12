//! Route time: a cached plan plus this execution's values → `Route`. Each co-location group
//! of sharded tables is placed by the keys of one of its members (or a key hint), pinned
//! tables add their shard, reference tables fit anywhere; then the parts must agree on one
//! shard, except for reads (several shards) and multi-row INSERTs (split per shard).

use super::plan::{Instance, KeyUpdate, Resolved, StatementKind, TablePlan, Val};
use super::values::{Keys, Values};
use super::{Lookups, RouteError, Target};
use crate::shardmap::{FunctionIdx, KeyValue, Placement, ShardIdx, ShardMap, ShardingFunction};

/// Past this many keys for one table, the table counts as unconstrained (all shards).
const MAX_KEYS: usize = 1024;

/// Shards a part of a statement may touch: inline for the few a keyed statement names, since
/// a heap vector here was one of the three allocations left per routed point select.
type ShardSet = smallvec::SmallVec<[ShardIdx; 4]>;

/// One part of the statement that must run where its rows are.
struct Part<'t> {
    /// Borrowed from the plan: building a route allocates as little as it can.
    table: &'t str,
    /// The part holds the table the statement writes.
    written: bool,
    /// `None` = no key: all shards. `Some(empty)` = no row can match.
    shards: Option<ShardSet>,
    why: String,
}

/// What the tables of a statement decide.
pub enum Outcome {
    Routed(Target, String),
    /// A multi-row INSERT: row indices per shard, sorted by shard.
    Split {
        rows: Vec<(ShardIdx, Vec<usize>)>,
        why: String,
    },
}

pub struct Eval<'a> {
    pub map: &'a ShardMap,
    pub values: Values<'a>,
    pub lookups: &'a dyn Lookups,
    /// Key hints, comment hints first: (column, value).
    pub key_hints: &'a [(&'a str, &'a str)],
    /// Directory lookups this route needs before it can be decided.
    pub pending: Vec<(FunctionIdx, Vec<KeyValue>)>,
    /// The shard keys placed so far, for per-tenant limits.
    pub tenant: OneKey,
    /// Build the human-readable reason (see [`super::Context::explain`]).
    pub explain: bool,
}

/// Whether a statement is placed by exactly one key.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum OneKey {
    #[default]
    None,
    One(Keys),
    Several,
}

impl OneKey {
    fn saw(&mut self, key: &[KeyValue]) {
        *self = match std::mem::take(self) {
            Self::None => Self::One(key.into()),
            Self::One(k) if *k == *key => Self::One(k),
            _ => Self::Several,
        };
    }

    /// `saw` for a key the caller is done with: the first key is kept without a copy.
    fn saw_owned(&mut self, key: Keys) {
        *self = match std::mem::take(self) {
            Self::None => Self::One(key),
            Self::One(k) if *k == *key => Self::One(k),
            _ => Self::Several,
        };
    }

    /// The one key, if there was exactly one.
    pub fn take(&mut self) -> Option<Keys> {
        match std::mem::take(self) {
            Self::One(k) => Some(k),
            _ => None,
        }
    }
}

/// The shape of most routed statements: one sharded table, constrained by one value per key
/// column (`… WHERE tenant_id = $1`), no INSERT rows, no key update. Read off the plan on
/// every route (a few comparisons) rather than stored in it, so the plan's type stays as it is.
pub struct Point<'p> {
    pub function: FunctionIdx,
    /// Per key column, its one value.
    pub values: &'p [Vec<Val>],
}

impl<'p> Point<'p> {
    /// `Some` when `t` is a point statement (see [`Point`]) of a kind other than INSERT (an
    /// `INSERT … SELECT` has no rows of its own and is refused or routed by the full path).
    pub fn of(kind: StatementKind, t: &'p TablePlan) -> Option<Self> {
        if kind == StatementKind::Insert || t.insert.is_some() || t.key_update.is_some() {
            return None;
        }
        let ([inst], [group]) = (t.instances.as_slice(), t.groups.as_slice()) else { return None };
        let Resolved::Sharded { function, columns } = &inst.resolved else { return None };
        let [alt] = inst.keys.as_slice() else { return None };
        let one_each =
            alt.len() == columns.len() && alt.iter().all(|vals| matches!(vals.as_slice(), [Val::One { .. }]));
        (group.members.as_slice() == [0] && inst.constrained && one_each)
            .then_some(Self { function: *function, values: alt })
    }

    /// The shard and key when every value is known and the function places the key on a
    /// shard. `None` — a value is a `$n` without Bind values, NULL, malformed, or the key
    /// needs the directory or is on no shard — leaves the statement to the full evaluation,
    /// which then reports or resolves exactly that case.
    pub fn place(&self, map: &ShardMap, values: &Values<'_>) -> Option<(ShardIdx, Keys)> {
        let f = map.function(self.function)?;
        let mut key = Keys::new();
        for (vals, ty) in self.values.iter().zip(&f.key_types) {
            let [v] = vals.as_slice() else { return None };
            let k = values.keys(v, *ty).ok()??;
            if k.len() != 1 {
                return None; // NULL: no row matches, which the full path reports
            }
            key.extend(k);
        }
        match f.place(&key) {
            Placement::Shard(s) => Some((s, key)),
            Placement::Lookup | Placement::NoShard { .. } => None,
        }
    }
}

fn refuse(message: impl Into<String>, hint: impl Into<String>) -> RouteError {
    RouteError::unsupported(message, hint)
}

fn key_desc(table: &str, columns: &[String], key: &[KeyValue]) -> String {
    match (columns, key) {
        ([c], [k]) => format!("{table}.{c} = {k}"),
        _ => {
            let k: Vec<String> = key.iter().map(ToString::to_string).collect();
            format!("{table}.({}) = ({})", columns.join(", "), k.join(", "))
        }
    }
}

impl<'a> Eval<'a> {
    /// `<why> → <shards>`, or nothing when no one will read it.
    fn reason(&self, p: &Part, shards: &[ShardIdx]) -> String {
        if self.explain {
            format!("{} → {}", p.why, self.names(shards))
        } else {
            String::new()
        }
    }

    pub fn names(&self, shards: &[ShardIdx]) -> String {
        let n: Vec<&str> = shards.iter().filter_map(|s| self.map.shard(*s)).map(|s| s.name.as_str()).collect();
        n.join(", ")
    }

    fn function(&self, idx: FunctionIdx) -> Result<&'a ShardingFunction, RouteError> {
        self.map.function(idx).ok_or_else(|| refuse("the shard map names a missing sharding function", ""))
    }

    /// Places every key of `alts` (per alternative, per column: value alternatives).
    /// `Ok(None)`: some value is unknown or there are too many keys — all shards.
    /// `strict`: a key that no shard holds is an error (INSERT), not an empty match.
    fn place(
        &mut self,
        function: FunctionIdx,
        table: &str,
        columns: &[String],
        alts: &[Vec<Vec<Val>>],
        strict: bool,
        why: &mut String,
    ) -> Result<Option<ShardSet>, RouteError> {
        let f = self.function(function)?;
        let mut shards = ShardSet::with_capacity(alts.len());
        for alt in alts {
            // Inline for keys of up to two columns: no allocation per routed statement.
            let mut per_col: smallvec::SmallVec<[Keys; 2]> = smallvec::SmallVec::with_capacity(alt.len());
            for ((vals, ty), col) in alt.iter().zip(&f.key_types).zip(columns) {
                let mut keys = Keys::new();
                for v in vals {
                    match self.values.keys(v, *ty) {
                        Ok(Some(k)) if keys.is_empty() => keys = k,
                        Ok(Some(k)) => keys.extend(k),
                        Ok(None) => return Ok(None),
                        Err(e) => {
                            return Err(RouteError::BadKey {
                                message: format!("{e} for {table}.{col}"),
                                hint: format!("give {col} as a {} value", ty.as_str()),
                            })
                        }
                    }
                }
                per_col.push(keys);
            }
            let total = per_col.iter().map(|k| k.len()).try_fold(1usize, usize::checked_mul);
            if total.is_none_or(|t| t > MAX_KEYS) {
                return Ok(None);
            }
            if per_col.iter().any(|k| k.is_empty()) {
                continue; // NULL or empty array: this alternative matches nothing
            }
            if per_col.iter().all(|v| v.len() == 1) {
                // The common case, one value per key column: the key is those values, moved
                // (for a one-column key, the column's own one-value vector).
                let key = if per_col.len() == 1 {
                    per_col.pop().unwrap_or_default()
                } else {
                    let mut key = Keys::with_capacity(per_col.len());
                    for mut v in per_col {
                        key.extend(v.pop());
                    }
                    key
                };
                self.place_one(function, f, table, columns, key, strict, &mut shards, why)?;
                continue;
            }
            let mut idx = vec![0usize; per_col.len()];
            loop {
                let key: Keys = per_col.iter().zip(&idx).filter_map(|(vals, &i)| vals.get(i).cloned()).collect();
                self.place_one(function, f, table, columns, key, strict, &mut shards, why)?;
                if !advance(&mut idx, per_col.as_slice()) {
                    break;
                }
            }
        }
        shards.sort_unstable();
        shards.dedup();
        Ok(Some(shards))
    }

    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename the list
    fn place_one(
        &mut self,
        function: FunctionIdx,
        f: &ShardingFunction,
        table: &str,
        columns: &[String],
        key: Keys,
        strict: bool,
        shards: &mut ShardSet,
        why: &mut String,
    ) -> Result<(), RouteError> {
        let shard = match f.place(&key) {
            Placement::Shard(s) => s,
            Placement::Lookup => match self.lookups.get(function, &key) {
                Some(name) => self.map.shard_by_name(name.as_str()).ok_or_else(|| {
                    refuse(
                        format!(
                            "the directory places {} on shard {name}, which is not in the shard map",
                            key_desc(table, columns, &key)
                        ),
                        "fix the directory entry or add the shard to the map",
                    )
                })?,
                None => {
                    self.tenant.saw(&key);
                    self.pending.push((function, key.to_vec()));
                    return Ok(());
                }
            },
            Placement::NoShard { reason } if strict => {
                return Err(refuse(
                    format!("no shard holds {}: {reason}", key_desc(table, columns, &key)),
                    format!("add the key to sharding function {} in the shard map", f.name),
                ))
            }
            Placement::NoShard { .. } => {
                self.tenant.saw(&key);
                return Ok(());
            }
        };
        if self.explain && why.is_empty() {
            *why = key_desc(table, columns, &key);
        }
        shards.push(shard);
        self.tenant.saw_owned(key);
        Ok(())
    }

    /// The key hint as one alternative for `columns`, if it names all of them.
    fn hinted(&self, columns: &[String]) -> Option<Vec<Vec<Vec<Val>>>> {
        let tuple: Option<Vec<Vec<Val>>> = columns
            .iter()
            .map(|c| {
                let (_, v) = self.key_hints.iter().find(|(k, _)| k == c)?;
                Some(vec![Val::One { src: super::plan::Src::Text((*v).into()), negate: false }])
            })
            .collect();
        tuple.map(|t| vec![t])
    }

    /// Routes a statement with tables.
    pub fn tables(&mut self, kind: StatementKind, write: bool, t: &TablePlan) -> Result<Outcome, RouteError> {
        if let Some(u) = t.instances.iter().find(|i| i.resolved == Resolved::Unknown) {
            return Err(refuse(
                format!("table {} is not in the shard map", u.display),
                format!("add a rule for table {} to the shard map", u.display),
            ));
        }
        let mut parts: smallvec::SmallVec<[Part<'_>; 2]> = smallvec::SmallVec::new();
        let mut split: Option<Vec<(usize, ShardIdx)>> = None;
        if let Some(ins) = &t.insert {
            let inst = instance(t, ins.instance)?;
            let Resolved::Sharded { function, columns } = &inst.resolved else {
                return Err(refuse("internal: INSERT rows for a table that is not sharded", ""));
            };
            let mut rows = Vec::with_capacity(ins.rows.len());
            let mut why = String::new();
            for (n, row) in ins.rows.iter().enumerate() {
                let alts = [row.iter().map(|v| vec![v.clone()]).collect::<Vec<_>>()];
                let mut one = String::new();
                match self.place(*function, &inst.display, columns, &alts, true, &mut one)? {
                    Some(s) if s.len() == 1 => rows.extend(s.first().map(|&s| (n, s))),
                    Some(s) if s.is_empty() && !self.pending.is_empty() => {}
                    _ => {
                        return Err(refuse(
                            format!(
                                "row {} of the INSERT into {} has no usable {}",
                                n + 1,
                                inst.display,
                                columns.join(", ")
                            ),
                            format!("give {} a non-NULL value", columns.join(", ")),
                        ))
                    }
                }
                if why.is_empty() {
                    why = one;
                }
            }
            let mut shards: ShardSet = rows.iter().map(|&(_, s)| s).collect();
            shards.sort_unstable();
            shards.dedup();
            if shards.len() > 1 {
                split = Some(rows);
            }
            parts.push(Part { table: &inst.display, written: true, shards: Some(shards), why });
        }
        for g in &t.groups {
            if t.insert.as_ref().is_some_and(|ins| g.members.contains(&ins.instance)) {
                continue;
            }
            parts.push(self.group(kind, t, &g.members)?);
        }
        for inst in &t.instances {
            if let Resolved::Pinned(s) = inst.resolved {
                parts.push(Part {
                    table: &inst.display,
                    written: inst.written,
                    shards: Some(smallvec::smallvec![s]),
                    why: format!("{} is pinned", inst.display),
                });
            }
        }
        if !self.pending.is_empty() {
            return Ok(Outcome::Routed(
                Target::Lookup(std::mem::take(&mut self.pending)),
                "directory lookup needed".into(),
            ));
        }
        if let Some(r) = t.instances.iter().find(|i| i.written && i.resolved == Resolved::Reference) {
            if let Some(p) = parts.first() {
                return Err(refuse(
                    format!("{} writes reference table {} from sharded table {}", kind.as_str(), r.display, p.table),
                    "write reference tables with constants only",
                ));
            }
            return Ok(Outcome::Routed(Target::All, format!("write to reference table {}", r.display)));
        }
        if let Some(rows) = split {
            if parts.len() > 1 {
                return Err(refuse(
                    "a multi-row INSERT whose rows go to different shards may not read other sharded tables",
                    "insert the rows of each shard separately",
                ));
            }
            let why = self.split_reason(&rows);
            return Ok(Outcome::Split { rows: rows_by_shard(&rows), why });
        }
        if kind == StatementKind::Insert && t.insert.is_none() {
            if let Some(p) = parts.iter().find(|p| p.written && p.shards.is_none()) {
                return Err(refuse(
                    format!("INSERT … SELECT into {}: shardgate cannot tell which shard the rows belong to", p.table),
                    format!(
                        "add /* shardgate: shard=<name> */ or /* shardgate: {}=<value> */",
                        key_columns(t, p.table)
                    ),
                ));
            }
        }
        let (target, why) = self.combine(kind, write, t, parts)?;
        if let Some(ku) = &t.key_update {
            self.check_key_update(t, ku, &target)?;
        }
        Ok(Outcome::Routed(target, why))
    }

    /// `UPDATE … SET <key> = v`: allowed only when the new key is on the statement's shard.
    fn check_key_update(&mut self, t: &TablePlan, ku: &KeyUpdate, target: &Target) -> Result<(), RouteError> {
        let inst = instance(t, ku.instance)?;
        let Resolved::Sharded { function, columns } = &inst.resolved else { return Ok(()) };
        let moved = || {
            refuse(
                format!(
                    "UPDATE of {} changes the shard key {} to a value on another shard",
                    inst.display,
                    columns.join(", ")
                ),
                "moving a row between shards needs a DELETE on one shard and an INSERT on the other",
            )
        };
        let shard = match target {
            Target::Any => return Ok(()),
            Target::Shard(s) => *s,
            _ => return Err(moved()),
        };
        if ku.opaque {
            return Err(moved());
        }
        // Unassigned key columns keep their value: known only when WHERE pins exactly one.
        let single = |c: usize| -> Option<Val> {
            match inst.keys.as_slice() {
                [alt] => match alt.get(c).map(Vec::as_slice) {
                    Some([v]) => Some(v.clone()),
                    _ => None,
                },
                _ => None,
            }
        };
        let tuple: Option<Vec<Vec<Val>>> =
            ku.assigned.iter().enumerate().map(|(c, a)| a.clone().or_else(|| single(c)).map(|v| vec![v])).collect();
        let Some(tuple) = tuple else { return Err(moved()) };
        let mut why = String::new();
        match self.place(*function, &inst.display, columns, &[tuple], true, &mut why)? {
            Some(s) if s.as_slice() == [shard] => Ok(()),
            Some(s) if s.is_empty() && !self.pending.is_empty() => Ok(()),
            _ => Err(moved()),
        }
    }

    fn split_reason(&self, rows: &[(usize, ShardIdx)]) -> String {
        if !self.explain {
            return String::new();
        }
        let mut s: Vec<ShardIdx> = rows.iter().map(|r| r.1).collect();
        s.sort_unstable();
        s.dedup();
        format!("rows of the INSERT go to {}", self.names(&s))
    }

    /// One co-location group: the keys of its most selective constrained member, else a key
    /// hint, else all shards.
    fn group<'t>(&mut self, kind: StatementKind, t: &'t TablePlan, members: &[u16]) -> Result<Part<'t>, RouteError> {
        let mut best: Option<Part<'t>> = None;
        let mut label = "";
        let written = members.iter().any(|&m| t.instances.get(usize::from(m)).is_some_and(|i| i.written));
        for &m in members {
            let inst = instance(t, m)?;
            if label.is_empty() {
                label = &inst.display;
            }
            let Resolved::Sharded { function, columns } = &inst.resolved else { continue };
            if !inst.constrained {
                continue;
            }
            let mut why = String::new();
            let Some(shards) = self.place(*function, &inst.display, columns, &inst.keys, false, &mut why)? else {
                continue;
            };
            if best.as_ref().is_none_or(|b| b.shards.as_ref().is_none_or(|s| shards.len() < s.len())) {
                best = Some(Part { table: &inst.display, written, shards: Some(shards), why });
            }
        }
        if let Some(b) = best {
            return Ok(b);
        }
        let first = members.first().and_then(|&m| t.instances.get(usize::from(m)));
        if let Some(Instance { resolved: Resolved::Sharded { function, columns }, display, .. }) = first {
            if let Some(alts) = self.hinted(columns) {
                let mut why = String::new();
                let shards = self.place(*function, display, columns, &alts, kind == StatementKind::Insert, &mut why)?;
                return Ok(Part { table: display, written, shards, why: format!("hint {why}") });
            }
        }
        Ok(Part { table: label, written, shards: None, why: String::new() })
    }

    fn combine(
        &self,
        kind: StatementKind,
        write: bool,
        t: &TablePlan,
        parts: smallvec::SmallVec<[Part<'_>; 2]>,
    ) -> Result<(Target, String), RouteError> {
        let key_cols = |table: &str| key_columns(t, table);
        let no_key_hint = |table: &str| {
            let cols = key_cols(table);
            format!("add `{cols} = <value>` to the WHERE clause, or /* shardgate: shard=<name> */")
        };
        match parts.as_slice() {
            [] => Ok((Target::Any, "no sharded table".into())),
            [p] => match &p.shards {
                Some(s) if s.is_empty() => Ok((Target::Any, format!("{}: no row can match", p.why_or(p.table)))),
                Some(s) if s.len() == 1 => {
                    Ok((s.first().map_or(Target::Any, |&s| Target::Shard(s)), self.reason(p, s)))
                }
                Some(s) if !write => Ok((Target::Shards(s.to_vec()), self.reason(p, s))),
                Some(s) => Err(refuse(
                    format!("{} on {} would touch shards {}", kind.as_str(), p.table, self.names(s)),
                    "write one shard's rows per statement",
                )),
                None if !write => {
                    let all: Vec<ShardIdx> = self.map.indices().collect();
                    Ok((Target::Shards(all), format!("no shard key for {}: all shards", p.table)))
                }
                None if kind == StatementKind::Insert => Err(refuse(
                    format!("INSERT … SELECT into {}: shardgate cannot tell which shard the rows belong to", p.table),
                    format!("add /* shardgate: shard=<name> */ or /* shardgate: {}=<value> */", key_cols(p.table)),
                )),
                None if self.map.broadcast_writes()
                    && matches!(kind, StatementKind::Update | StatementKind::Delete) =>
                {
                    Ok((Target::All, format!("no shard key for {}: broadcast write", p.table)))
                }
                None => Err(refuse(format!("{} on {} has no shard key", kind.as_str(), p.table), no_key_hint(p.table))),
            },
            many => {
                let mut shard: Option<ShardIdx> = None;
                for p in many {
                    match p.shards.as_deref() {
                        Some([]) => {}
                        Some([s]) if shard.is_none_or(|x| x == *s) => shard = Some(*s),
                        _ => {
                            let names: Vec<&str> = many.iter().map(|p| p.table).collect();
                            let unkeyed = many.iter().find(|p| p.shards.as_ref().is_none_or(|s| s.len() > 1));
                            let hint = match unkeyed {
                                Some(u) => no_key_hint(u.table),
                                None => {
                                    "join the tables on their shard key, or query each shard's rows separately".into()
                                }
                            };
                            return Err(refuse(
                                format!(
                                    "{} joins {} which are not co-located on one shard for these keys",
                                    kind.as_str(),
                                    names.join(" and ")
                                ),
                                hint,
                            ));
                        }
                    }
                }
                match shard {
                    Some(s) if !self.explain => Ok((Target::Shard(s), String::new())),
                    Some(s) => {
                        let why: Vec<&str> =
                            many.iter().filter(|p| !p.why.is_empty()).map(|p| p.why.as_str()).collect();
                        Ok((Target::Shard(s), format!("{} → {}", why.join(", "), self.names(&[s]))))
                    }
                    None => Ok((Target::Any, "no row can match".into())),
                }
            }
        }
    }
}

impl Part<'_> {
    fn why_or<'s>(&'s self, fallback: &'s str) -> &'s str {
        if self.why.is_empty() {
            fallback
        } else {
            &self.why
        }
    }
}

/// The key columns of a table of the plan, for hints.
fn key_columns(t: &TablePlan, table: &str) -> String {
    t.instances
        .iter()
        .find(|i| i.display == table)
        .and_then(|i| match &i.resolved {
            Resolved::Sharded { columns, .. } => Some(columns.join(", ")),
            _ => None,
        })
        .unwrap_or_else(|| "the shard key".into())
}

fn instance(t: &TablePlan, i: u16) -> Result<&Instance, RouteError> {
    t.instances.get(usize::from(i)).ok_or_else(|| refuse("internal: plan names a missing table", ""))
}

/// Row indices per shard, for rendering a split.
pub fn rows_by_shard(rows: &[(usize, ShardIdx)]) -> Vec<(ShardIdx, Vec<usize>)> {
    let mut out: Vec<(ShardIdx, Vec<usize>)> = Vec::new();
    for &(row, shard) in rows {
        match out.iter_mut().find(|(s, _)| *s == shard) {
            Some((_, v)) => v.push(row),
            None => out.push((shard, vec![row])),
        }
    }
    out.sort_by_key(|(s, _)| *s);
    out
}

/// Next combination of one value per column (an odometer); `false` after the last.
fn advance(idx: &mut [usize], per_col: &[Keys]) -> bool {
    for (i, vals) in idx.iter_mut().zip(per_col).rev() {
        *i += 1;
        if *i < vals.len() {
            return true;
        }
        *i = 0;
    }
    false
}
