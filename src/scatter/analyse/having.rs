//! HAVING, evaluated by the proxy on merged groups. Only comparisons, IS [NOT] NULL,
//! BETWEEN and AND/OR/NOT are translated; each side is a constant, a parameter, or a column
//! of the shards' rows (an aggregate or a group-key expression, hidden if not selected).
//! Anything else is refused rather than approximated.

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};

use super::expr::unparen;
use super::limit::param_index;
use super::refuse;
use crate::scatter::plan::{ColumnRef, CompareOp, Operand, Predicate};
use crate::scatter::ScatterError;

type Resolve<'a> = dyn FnMut(&Expr) -> Result<ColumnRef, ScatterError> + 'a;

const HINT: &str = "use comparisons (=, <>, <, <=, >, >=), IS [NOT] NULL, BETWEEN, AND, OR and NOT \
                    between aggregates, group columns and constants; or filter in the application";

pub fn predicate(e: &Expr, column: &mut Resolve<'_>) -> Result<Predicate, ScatterError> {
    let e = unparen(e);
    match e {
        Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
            Ok(Predicate::And(Box::new(predicate(left, column)?), Box::new(predicate(right, column)?)))
        }
        Expr::BinaryOp { left, op: BinaryOperator::Or, right } => {
            Ok(Predicate::Or(Box::new(predicate(left, column)?), Box::new(predicate(right, column)?)))
        }
        Expr::BinaryOp { left, op, right } => {
            let op = compare_op(op).ok_or_else(|| refuse(format!("HAVING {e} across shards"), HINT))?;
            compare(operand(left, column)?, op, operand(right, column)?, e)
        }
        Expr::UnaryOp { op: UnaryOperator::Not, expr } => Ok(Predicate::Not(Box::new(predicate(expr, column)?))),
        Expr::IsNull(x) => Ok(Predicate::IsNull { operand: operand(x, column)?, negated: false }),
        Expr::IsNotNull(x) => Ok(Predicate::IsNull { operand: operand(x, column)?, negated: true }),
        Expr::Between { expr, negated, low, high } => {
            // x BETWEEN a AND b is defined as x >= a AND x <= b (NOT: the negation of that).
            let x = operand(expr, column)?;
            let inside = Predicate::And(
                Box::new(compare(x.clone(), CompareOp::GtEq, operand(low, column)?, e)?),
                Box::new(compare(x, CompareOp::LtEq, operand(high, column)?, e)?),
            );
            Ok(if *negated { Predicate::Not(Box::new(inside)) } else { inside })
        }
        Expr::Function(_) => {
            // A boolean aggregate used as the condition: true passes, false and NULL do not.
            let c = Operand::Column(column(e)?);
            Ok(Predicate::Compare { left: c, op: CompareOp::Eq, right: Operand::Literal("true".into()) })
        }
        _ => Err(refuse(format!("HAVING {e} across shards"), HINT)),
    }
}

fn compare_op(op: &BinaryOperator) -> Option<CompareOp> {
    Some(match op {
        BinaryOperator::Eq => CompareOp::Eq,
        BinaryOperator::NotEq => CompareOp::NotEq,
        BinaryOperator::Lt => CompareOp::Lt,
        BinaryOperator::LtEq => CompareOp::LtEq,
        BinaryOperator::Gt => CompareOp::Gt,
        BinaryOperator::GtEq => CompareOp::GtEq,
        _ => return None,
    })
}

/// A comparison needs a column on one side: constants are decoded with that column's type.
fn compare(left: Operand, op: CompareOp, right: Operand, e: &Expr) -> Result<Predicate, ScatterError> {
    if !matches!(left, Operand::Column(_)) && !matches!(right, Operand::Column(_)) {
        return Err(refuse(format!("HAVING {e} compares two constants"), HINT));
    }
    Ok(Predicate::Compare { left, op, right })
}

fn operand(e: &Expr, column: &mut Resolve<'_>) -> Result<Operand, ScatterError> {
    match constant(e)? {
        Some(c) => Ok(c),
        None => Ok(Operand::Column(column(e)?)),
    }
}

/// A bare literal (optionally signed) or a parameter: PostgreSQL gives these the type of the
/// other side of the comparison, which is exactly how the proxy decodes them. A cast
/// (`'2026-11-01'::date`, `10.5::int`) is *not* stripped: the cast can change the value
/// (rounding, dropping a time of day), so such constants become hidden columns that the
/// shards compute, with their type.
fn constant(e: &Expr) -> Result<Option<Operand>, ScatterError> {
    Ok(Some(match unparen(e) {
        Expr::Value(v) => match &v.value {
            Value::Number(n, false) => Operand::Literal(n.clone()),
            Value::SingleQuotedString(s) => Operand::Literal(s.clone()),
            Value::Boolean(b) => Operand::Literal(b.to_string()),
            Value::Null => Operand::Null,
            Value::Placeholder(p) => Operand::Param(
                param_index(p).ok_or_else(|| refuse(format!("parameter {p}"), "number parameters $1, $2, …"))?,
            ),
            _ => return Ok(None),
        },
        Expr::UnaryOp { op: UnaryOperator::Minus, expr } => match unparen(expr) {
            Expr::Value(v) => match &v.value {
                Value::Number(n, false) => Operand::Literal(format!("-{n}")),
                _ => return Ok(None),
            },
            _ => return Ok(None),
        },
        _ => return Ok(None),
    }))
}
