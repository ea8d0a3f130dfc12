//! The shape of one scatter's rows, fixed once every shard has described its result: which
//! columns the client sees, their types and formats, and where the plan's column references
//! land. Also builds the RowDescription the client gets.

use crate::protocol::messages::row_description::Column;

use super::plan::{ColumnMerge, ColumnRef, MergePlan, Shape};
use super::value::Format;
use super::ScatterError;

pub use super::value::oid;

/// Whether values of this type are compared as strings under a collation.
pub fn is_collatable(type_oid: u32) -> bool {
    matches!(type_oid, oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME)
}

#[derive(Debug, Clone)]
pub struct Layout {
    /// The shards' columns (visible then hidden), as the first shard described them.
    pub columns: Vec<Column>,
    pub hidden: usize,
}

impl Layout {
    /// Checks every shard described the same columns and builds the layout.
    pub fn new(descriptions: &[Vec<Column>], plan: &MergePlan) -> Result<Self, ScatterError> {
        let Some(first) = descriptions.first() else {
            return Err(ScatterError::ShapeMismatch { detail: "no shard described its result".into() });
        };
        for other in descriptions.iter().skip(1) {
            if other.len() != first.len() {
                return Err(ScatterError::ShapeMismatch {
                    detail: format!("{} columns on one shard, {} on another", first.len(), other.len()),
                });
            }
            if let Some((a, b)) = first.iter().zip(other).find(|(a, b)| !a.same_shape(b)) {
                return Err(ScatterError::ShapeMismatch {
                    detail: format!(
                        "column {:?}: type {} on one shard, column {:?} type {} on another",
                        String::from_utf8_lossy(&a.name),
                        a.type_oid,
                        String::from_utf8_lossy(&b.name),
                        b.type_oid
                    ),
                });
            }
        }
        if first.len() < plan.hidden {
            return Err(ScatterError::ShapeMismatch { detail: "fewer columns than the merge needs".into() });
        }
        Ok(Self { columns: first.clone(), hidden: plan.hidden })
    }

    pub fn width(&self) -> usize {
        self.columns.len()
    }

    pub fn visible(&self) -> usize {
        self.columns.len() - self.hidden
    }

    pub fn index(&self, r: ColumnRef) -> Result<usize, ScatterError> {
        r.index(self.width(), self.hidden)
            .ok_or_else(|| ScatterError::ShapeMismatch { detail: "a merge column is missing from the result".into() })
    }

    pub fn type_oid(&self, i: usize) -> u32 {
        self.columns.get(i).map_or(0, |c| c.type_oid)
    }

    pub fn format(&self, i: usize) -> Format {
        Format::from_code(self.columns.get(i).map_or(0, |c| c.format))
    }

    /// The type the client sees for column `i`: avg's visible half carries the partial sum's
    /// type on the wire from the shards, but avg's own result type to the client.
    pub fn client_type(&self, plan: &MergePlan, i: usize) -> u32 {
        let t = self.type_oid(i);
        match &plan.shape {
            Shape::Group(g) if matches!(g.columns.get(i), Some(ColumnMerge::AvgSum { .. })) => avg_type(t),
            _ => t,
        }
    }

    /// The RowDescription the client gets: visible columns only, avg retyped.
    pub fn client_description(&self, plan: &MergePlan) -> Vec<Column> {
        let mut cols: Vec<Column> = self.columns.iter().take(self.visible()).cloned().collect();
        for (i, c) in cols.iter_mut().enumerate() {
            let t = self.client_type(plan, i);
            if t != c.type_oid {
                c.type_oid = t;
                c.type_len = if t == oid::FLOAT8 { 8 } else { -1 };
                c.type_mod = -1;
            }
        }
        cols
    }
}

/// avg's result type for a partial sum of type `sum_type`: float8 over floats, numeric over
/// integers and numeric (the sum of int2/int4 arrives as int8, of int8 as numeric).
pub fn avg_type(sum_type: u32) -> u32 {
    match sum_type {
        oid::FLOAT4 | oid::FLOAT8 => oid::FLOAT8,
        oid::INTERVAL => oid::INTERVAL,
        _ => oid::NUMERIC,
    }
}
