//! Grouping in the proxy: aggregates, GROUP BY and DISTINCT across shards. Each shard has
//! already aggregated its own rows; the proxy combines the partials of a group from every
//! shard (counts and sums add, min/max compare, avg divides the merged sum by the merged
//! count), holding one state per group, then applies HAVING, ORDER BY and OFFSET/LIMIT.

use std::collections::{HashMap, HashSet};

use super::layout::{is_collatable, oid, Layout};
use super::plan::{ColumnMerge, GroupPlan};
use super::value::{self, Format, Value};
use super::ScatterError;

/// Bound on the groups (and distinct values) one statement may hold in the proxy.
pub const MAX_GROUPS: usize = 1_000_000;

/// The merged state of one column of one group.
#[derive(Debug, Clone)]
enum Acc {
    /// Key columns and Min/Max keep the raw bytes of the chosen value (already in the
    /// client's format) plus the decoded value for comparisons.
    Raw(Option<(Vec<u8>, Option<Value>)>),
    Count(i64),
    Sum(Option<Value>),
    Bool(Option<bool>),
    Distinct(HashSet<Vec<u8>>),
}

#[derive(Debug, Clone)]
struct GroupState {
    accs: Vec<Acc>,
}

/// A merged group, ready to filter, sort and emit: per column, its value as the client gets
/// it (bytes) and decoded (for HAVING and ORDER BY).
#[derive(Debug, Clone)]
pub struct MergedRow {
    pub bytes: Vec<Option<Vec<u8>>>,
    pub values: Vec<Option<Value>>,
}

pub struct Grouper {
    columns: Vec<ColumnMerge>,
    key_columns: Vec<usize>,
    types: Vec<u32>,
    formats: Vec<Format>,
    groups: HashMap<Vec<u8>, GroupState>,
    /// Groups in first-seen order, so that output without ORDER BY is stable.
    order: Vec<Vec<u8>>,
    distinct_values: usize,
}

impl Grouper {
    pub fn new(group: &GroupPlan, layout: &Layout) -> Result<Self, ScatterError> {
        let width = layout.width();
        if group.columns.len() != width {
            return Err(ScatterError::ShapeMismatch {
                detail: format!("the merge expects {} columns, the shards returned {width}", group.columns.len()),
            });
        }
        let key_columns = group.keys.iter().map(|k| layout.index(*k)).collect::<Result<Vec<_>, _>>()?;
        let types: Vec<u32> = (0..width).map(|i| layout.type_oid(i)).collect();
        for (i, m) in group.columns.iter().enumerate() {
            let t = types.get(i).copied().unwrap_or(0);
            if matches!(m, ColumnMerge::AvgSum { .. }) && t == oid::FLOAT4 {
                // PostgreSQL's avg(real) adds in double precision; a shard's sum(real) rounds
                // to real, so the merged average could differ in its last digits.
                return Err(ScatterError::unsupported(
                    "avg() of a real (float4) column across shards",
                    "write avg(x::float8), which PostgreSQL computes the same way",
                ));
            }
            let needs_decode = !matches!(m, ColumnMerge::Key) || key_columns.contains(&i);
            if needs_decode && !value::is_supported(t) {
                return Err(ScatterError::unsupported(
                    format!("merging column {} of type oid {t} across shards is not supported", i + 1),
                    "group and aggregate on built-in scalar types (numbers, text, dates, timestamps, uuid, bool)",
                ));
            }
        }
        Ok(Self {
            columns: group.columns.clone(),
            key_columns,
            formats: (0..width).map(|i| layout.format(i)).collect(),
            types,
            groups: HashMap::new(),
            order: Vec::new(),
            distinct_values: 0,
        })
    }

    fn decode(&self, i: usize, raw: &[u8]) -> Result<Value, ScatterError> {
        value::decode(
            self.types.get(i).copied().unwrap_or(0),
            self.formats.get(i).copied().unwrap_or(Format::Text),
            raw,
        )
    }

    /// Folds one shard row into its group.
    pub fn add(&mut self, fields: &[Option<&[u8]>]) -> Result<(), ScatterError> {
        let mut key = Vec::new();
        for &i in &self.key_columns {
            match fields.get(i).copied().flatten() {
                // NULLs group together, apart from every value.
                None => key.push(0),
                Some(raw) => {
                    key.push(1);
                    let v = self.decode(i, raw)?;
                    let start = key.len();
                    key.extend_from_slice(&[0; 4]);
                    value::group_key(&v, &mut key);
                    let len = (key.len() - start - 4) as u32;
                    if let Some(slot) = key.get_mut(start..start + 4) {
                        slot.copy_from_slice(&len.to_be_bytes());
                    }
                }
            }
        }
        if !self.groups.contains_key(&key) {
            if self.groups.len() >= MAX_GROUPS {
                return Err(ScatterError::TooLarge { what: "the number of groups", limit: MAX_GROUPS });
            }
            let accs = self.columns.iter().map(|m| initial(*m)).collect();
            self.groups.insert(key.clone(), GroupState { accs });
            self.order.push(key.clone());
        }
        let mut state = self.groups.remove(&key).unwrap_or(GroupState { accs: Vec::new() });
        let result = self.fold(&mut state, fields);
        self.groups.insert(key, state);
        result
    }

    fn fold(&mut self, state: &mut GroupState, fields: &[Option<&[u8]>]) -> Result<(), ScatterError> {
        for (i, (m, acc)) in self.columns.iter().zip(state.accs.iter_mut()).enumerate() {
            let raw = fields.get(i).copied().flatten();
            match (m, acc) {
                (ColumnMerge::Key, Acc::Raw(slot)) => {
                    if slot.is_none() {
                        *slot = raw.map(|r| (r.to_vec(), None));
                    }
                }
                (ColumnMerge::Min | ColumnMerge::Max, Acc::Raw(slot)) => {
                    let Some(r) = raw else { continue };
                    let v = value::decode(
                        self.types.get(i).copied().unwrap_or(0),
                        self.formats.get(i).copied().unwrap_or(Format::Text),
                        r,
                    )?;
                    let better = match slot.as_ref().and_then(|(_, v)| v.as_ref()) {
                        None => true,
                        Some(cur) => {
                            let o = value::compare(&v, cur);
                            if matches!(m, ColumnMerge::Min) {
                                o.is_lt()
                            } else {
                                o.is_gt()
                            }
                        }
                    };
                    if better {
                        *slot = Some((r.to_vec(), Some(v)));
                    }
                }
                (ColumnMerge::Count | ColumnMerge::AvgCount, Acc::Count(n)) => {
                    if let Some(r) = raw {
                        let add = match value::decode(
                            self.types.get(i).copied().unwrap_or(oid::INT8),
                            self.formats.get(i).copied().unwrap_or(Format::Text),
                            r,
                        )? {
                            Value::Int(x) => x,
                            _ => {
                                return Err(ScatterError::Value {
                                    code: "XX000",
                                    message: "a partial count is not an integer".into(),
                                })
                            }
                        };
                        *n = n
                            .checked_add(add)
                            .ok_or(ScatterError::Value { code: "22003", message: "bigint out of range".into() })?;
                    }
                }
                (ColumnMerge::Sum | ColumnMerge::AvgSum { .. }, Acc::Sum(total)) => {
                    let Some(r) = raw else { continue };
                    let v = value::decode(
                        self.types.get(i).copied().unwrap_or(0),
                        self.formats.get(i).copied().unwrap_or(Format::Text),
                        r,
                    )?;
                    *total = Some(match total.take() {
                        None => v,
                        Some(t) => value::add(&t, &v)?,
                    });
                }
                (ColumnMerge::BoolAnd | ColumnMerge::BoolOr, Acc::Bool(b)) => {
                    let Some(r) = raw else { continue };
                    let Value::Bool(x) =
                        value::decode(oid::BOOL, self.formats.get(i).copied().unwrap_or(Format::Text), r)?
                    else {
                        return Err(ScatterError::Value {
                            code: "XX000",
                            message: "a partial bool_and/bool_or is not a bool".into(),
                        });
                    };
                    *b = Some(match (b.take(), matches!(m, ColumnMerge::BoolAnd)) {
                        (None, _) => x,
                        (Some(y), true) => x && y,
                        (Some(y), false) => x || y,
                    });
                }
                (ColumnMerge::CountDistinct, Acc::Distinct(set)) => {
                    let Some(r) = raw else { continue };
                    let v = value::decode(
                        self.types.get(i).copied().unwrap_or(0),
                        self.formats.get(i).copied().unwrap_or(Format::Text),
                        r,
                    )?;
                    let mut k = Vec::new();
                    value::group_key(&v, &mut k);
                    if set.insert(k) {
                        self.distinct_values += 1;
                        if self.distinct_values > MAX_GROUPS {
                            return Err(ScatterError::TooLarge {
                                what: "count(DISTINCT …) values", limit: MAX_GROUPS
                            });
                        }
                    }
                }
                _ => {
                    return Err(ScatterError::Value { code: "XX000", message: "internal: merge state mismatch".into() })
                }
            }
        }
        Ok(())
    }

    /// Whether no group was seen. Without GROUP BY there is still one (empty) group.
    pub fn ensure_one_group(&mut self) {
        if self.key_columns.is_empty() && self.groups.is_empty() {
            let accs = self.columns.iter().map(|m| initial(*m)).collect();
            self.groups.insert(Vec::new(), GroupState { accs });
            self.order.push(Vec::new());
        }
    }

    /// The merged groups in first-seen order, each column encoded as the client expects it.
    /// `client_type(i)`: the type the client sees for column `i` (avg's result type).
    pub fn finish(mut self, client_type: impl Fn(usize) -> u32) -> Result<Vec<MergedRow>, ScatterError> {
        let mut rows = Vec::with_capacity(self.order.len());
        for key in std::mem::take(&mut self.order) {
            let Some(state) = self.groups.remove(&key) else { continue };
            let mut bytes = Vec::with_capacity(state.accs.len());
            let mut values = Vec::with_capacity(state.accs.len());
            // avg needs its count column's merged value.
            let counts: Vec<Option<i64>> =
                state.accs.iter().map(|a| if let Acc::Count(n) = a { Some(*n) } else { None }).collect();
            for (i, (m, acc)) in self.columns.iter().zip(state.accs).enumerate() {
                let fmt = self.formats.get(i).copied().unwrap_or(Format::Text);
                let t = self.types.get(i).copied().unwrap_or(0);
                let (b, v) = match (m, acc) {
                    (ColumnMerge::Key, Acc::Raw(slot)) => match slot {
                        None => (None, None),
                        Some((raw, _)) => {
                            let v = if value::is_supported(t) { Some(value::decode(t, fmt, &raw)?) } else { None };
                            (Some(raw), v)
                        }
                    },
                    (_, Acc::Raw(slot)) => match slot {
                        None => (None, None),
                        Some((raw, v)) => (Some(raw), v),
                    },
                    (_, Acc::Count(n)) => encode(Value::Int(n), oid::INT8, fmt)?,
                    (ColumnMerge::AvgSum { count }, Acc::Sum(total)) => {
                        let n = counts.get(*count).copied().flatten().unwrap_or(0);
                        match total {
                            Some(s) if n > 0 => {
                                let out_t = client_type(i);
                                encode(value::avg(&s, n, out_t)?, out_t, fmt)?
                            }
                            _ => (None, None),
                        }
                    }
                    (_, Acc::Sum(total)) => match total {
                        Some(s) => encode(s, t, fmt)?,
                        None => (None, None),
                    },
                    (_, Acc::Bool(b)) => match b {
                        Some(x) => encode(Value::Bool(x), oid::BOOL, fmt)?,
                        None => (None, None),
                    },
                    (_, Acc::Distinct(set)) => encode(Value::Int(set.len() as i64), oid::INT8, fmt)?,
                };
                bytes.push(b);
                values.push(v);
            }
            rows.push(MergedRow { bytes, values });
        }
        Ok(rows)
    }

    /// Columns compared as text by grouping (and thus needing a byte-order collation).
    pub fn text_key_columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.key_columns.iter().copied().filter(|&i| is_collatable(self.types.get(i).copied().unwrap_or(0)))
    }
}

fn initial(m: ColumnMerge) -> Acc {
    match m {
        ColumnMerge::Key | ColumnMerge::Min | ColumnMerge::Max => Acc::Raw(None),
        ColumnMerge::Count | ColumnMerge::AvgCount => Acc::Count(0),
        ColumnMerge::Sum | ColumnMerge::AvgSum { .. } => Acc::Sum(None),
        ColumnMerge::BoolAnd | ColumnMerge::BoolOr => Acc::Bool(None),
        ColumnMerge::CountDistinct => Acc::Distinct(HashSet::new()),
    }
}

fn encode(v: Value, type_oid: u32, fmt: Format) -> Result<(Option<Vec<u8>>, Option<Value>), ScatterError> {
    let mut out = Vec::new();
    value::encode(&v, type_oid, fmt, &mut out)?;
    Ok((Some(out), Some(v)))
}
