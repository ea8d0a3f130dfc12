//! HAVING, evaluated by the proxy on merged groups with SQL's three-valued logic: a
//! comparison with NULL is unknown, and only groups for which the predicate is true remain.

use std::cmp::Ordering;

use super::layout::Layout;
use super::plan::{CompareOp, Operand, Predicate};
use super::value::{self, Format, Value};
use super::ScatterError;

/// A Bind parameter as HAVING reads it: its raw value and wire format.
pub type ParamValue<'a> = Option<(&'a [u8], Format)>;

pub struct Having<'a> {
    pred: &'a Predicate,
    layout: &'a Layout,
    /// The type the client sees for column i (avg's result type, not its partial's).
    types: Vec<u32>,
    params: &'a dyn Fn(usize) -> ParamValue<'a>,
}

impl<'a> Having<'a> {
    pub fn new(
        pred: &'a Predicate,
        layout: &'a Layout,
        types: Vec<u32>,
        params: &'a dyn Fn(usize) -> ParamValue<'a>,
    ) -> Self {
        Self { pred, layout, types, params }
    }

    /// Whether the group with these merged values passes.
    pub fn passes(&self, values: &[Option<Value>]) -> Result<bool, ScatterError> {
        Ok(self.eval(self.pred, values)? == Some(true))
    }

    fn eval(&self, p: &Predicate, values: &[Option<Value>]) -> Result<Option<bool>, ScatterError> {
        Ok(match p {
            Predicate::And(a, b) => match (self.eval(a, values)?, self.eval(b, values)?) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Predicate::Or(a, b) => match (self.eval(a, values)?, self.eval(b, values)?) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Predicate::Not(a) => self.eval(a, values)?.map(|x| !x),
            Predicate::IsNull { operand, negated } => {
                let is_null = self.operand(operand, None, values)?.is_none();
                Some(is_null != *negated)
            }
            Predicate::Compare { left, op, right } => {
                // A literal or parameter takes the type of the column it is compared with.
                let lt = self.column_type(left).or_else(|| self.column_type(right));
                let l = self.operand(left, lt, values)?;
                let r = self.operand(right, lt, values)?;
                match (l, r) {
                    (Some(l), Some(r)) => {
                        let o = value::compare(&l, &r);
                        Some(match op {
                            CompareOp::Eq => o == Ordering::Equal,
                            CompareOp::NotEq => o != Ordering::Equal,
                            CompareOp::Lt => o == Ordering::Less,
                            CompareOp::LtEq => o != Ordering::Greater,
                            CompareOp::Gt => o == Ordering::Greater,
                            CompareOp::GtEq => o != Ordering::Less,
                        })
                    }
                    _ => None,
                }
            }
        })
    }

    fn column_type(&self, o: &Operand) -> Option<u32> {
        match o {
            Operand::Column(c) => self.layout.index(*c).ok().and_then(|i| self.types.get(i).copied()),
            _ => None,
        }
    }

    fn operand(&self, o: &Operand, t: Option<u32>, values: &[Option<Value>]) -> Result<Option<Value>, ScatterError> {
        let need_type = || {
            t.ok_or_else(|| {
                ScatterError::unsupported(
                    "HAVING compares two constants across shards",
                    "compare an aggregate or grouping column with a constant",
                )
            })
        };
        match o {
            Operand::Null => Ok(None),
            Operand::Column(c) => {
                let i = self.layout.index(*c)?;
                Ok(values.get(i).cloned().flatten())
            }
            Operand::Literal(text) => Ok(Some(literal(need_type()?, text)?)),
            Operand::Param(i) => match (self.params)(*i) {
                None => Ok(None),
                Some((raw, fmt)) => Ok(Some(value::decode(need_type()?, fmt, raw)?)),
            },
        }
    }
}

/// A HAVING constant read as a value of the column type it is compared with. Integers
/// compared with numeric or float columns are read in that type, as PostgreSQL would cast.
fn literal(type_oid: u32, text: &str) -> Result<Value, ScatterError> {
    value::decode(type_oid, Format::Text, text.as_bytes()).map_err(|_| {
        ScatterError::unsupported(
            format!("HAVING constant {text} cannot be compared exactly with its column across shards"),
            "write the constant in the column's own type (e.g. 10 for a count, 2.5 for an avg)",
        )
    })
}
