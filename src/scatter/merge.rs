//! Row-level merging shared by every shape: sort keys decoded from DataRows and compared as
//! PostgreSQL orders them, the OFFSET/LIMIT window, and writing the client's rows without
//! the hidden helper columns.

use std::cmp::Ordering;

use bytes::BytesMut;

use crate::protocol::messages::data_row;

use super::layout::Layout;
use super::plan::{Count, MergePlan, SortKey};
use super::value::{self, Format, Value};
use super::ScatterError;

/// Decodes and compares the ORDER BY keys of rows.
#[derive(Debug, Clone)]
pub struct Sorter {
    /// Per key: column index, direction, type and wire format.
    keys: Vec<(usize, SortKey, u32, Format)>,
}

/// A row's sort key values, in ORDER BY order; `None` is NULL.
pub type SortValues = Vec<Option<Value>>;

impl Sorter {
    pub fn new(order: &[SortKey], layout: &Layout, type_of: impl Fn(usize) -> u32) -> Result<Self, ScatterError> {
        let mut keys = Vec::with_capacity(order.len());
        for k in order {
            let i = layout.index(k.column)?;
            let t = type_of(i);
            if !value::is_supported(t) {
                return Err(ScatterError::unsupported(
                    format!("ORDER BY across shards on a column of type oid {t} is not supported"),
                    "order by a column of a built-in scalar type (numbers, text, dates, timestamps, uuid, bool)",
                ));
            }
            keys.push((i, *k, t, layout.format(i)));
        }
        Ok(Self { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Decodes the sort keys of one row of the shards' result.
    pub fn values(&self, fields: &[Option<&[u8]>]) -> Result<SortValues, ScatterError> {
        self.keys
            .iter()
            .map(|(i, _, t, f)| match fields.get(*i).copied().flatten() {
                Some(raw) => value::decode(*t, *f, raw).map(Some),
                None => Ok(None),
            })
            .collect()
    }

    /// The sort key of an already decoded row (merged groups).
    pub fn pick(&self, values: &[Option<Value>]) -> SortValues {
        self.keys.iter().map(|(i, _, _, _)| values.get(*i).cloned().flatten()).collect()
    }

    /// PostgreSQL's ORDER BY: each key ascending or descending, NULLs where the key says.
    pub fn compare(&self, a: &[Option<Value>], b: &[Option<Value>]) -> Ordering {
        for ((_, k, _, _), (x, y)) in self.keys.iter().zip(a.iter().zip(b)) {
            let o = match (x, y) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => {
                    if k.nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (Some(_), None) => {
                    if k.nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (Some(x), Some(y)) => {
                    let o = value::compare(x, y);
                    if k.descending {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

/// OFFSET and LIMIT applied by the proxy to the merged rows.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    skip: u64,
    take: Option<u64>,
}

/// What to do with the next merged row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Skip,
    Send,
    /// The LIMIT is reached: no further row is wanted.
    Done,
}

impl Window {
    /// Resolves parameter counts with `param` (0-based index → value).
    pub fn new(
        plan: &MergePlan,
        param: impl Fn(usize) -> Result<Option<i64>, ScatterError>,
    ) -> Result<Self, ScatterError> {
        let resolve = |c: Option<Count>, what: &str| -> Result<Option<u64>, ScatterError> {
            let v = match c {
                None => return Ok(None),
                Some(Count::Literal(n)) => return Ok(Some(n)),
                Some(Count::Param(i)) => param(i)?,
            };
            match v {
                // LIMIT NULL is no limit; OFFSET NULL is no offset.
                None => Ok(None),
                Some(n) if n < 0 => Err(ScatterError::Value {
                    code: if what == "LIMIT" { "2201W" } else { "2201X" },
                    message: format!("{what} must not be negative"),
                }),
                Some(n) => Ok(Some(n as u64)),
            }
        };
        Ok(Self { skip: resolve(plan.offset, "OFFSET")?.unwrap_or(0), take: resolve(plan.limit, "LIMIT")? })
    }

    pub fn admit(&mut self) -> Admit {
        if self.take == Some(0) {
            return Admit::Done;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return Admit::Skip;
        }
        if let Some(t) = self.take.as_mut() {
            *t -= 1;
        }
        Admit::Send
    }

    pub fn is_done(&self) -> bool {
        self.take == Some(0)
    }
}

/// Appends the client's DataRow: the first `visible` fields.
pub fn write_visible(out: &mut BytesMut, fields: &[Option<&[u8]>], visible: usize) {
    data_row::write(out, fields.iter().take(visible).copied());
}
