//! Key constraints from WHERE/ON expressions, as a bounded disjunctive normal form over key
//! equalities. The algebra only ever over-approximates the rows a statement reads: OR is a
//! union, AND keeps both sides (or, past the bound, the side with fewer alternatives, which
//! is still a superset), anything else constrains nothing. So a route may name more shards
//! than strictly needed, never fewer.

use std::ops::ControlFlow;

use sqlparser::ast::{BinaryOperator, DataType, Expr, Ident, Query, TableFactor, UnaryOperator, Value, Visit, Visitor};

use super::Analyzer;
use crate::router::plan::{Slot, Src, Val};

/// One conjunction: for some key slots, the values they may take.
pub type Alt = Vec<(Slot, Vec<Val>)>;
/// A disjunction of conjunctions. `[[]]` = unconstrained.
pub type Dnf = Vec<Alt>;

/// Past this many alternatives, OR gives up (all shards) and AND keeps one side.
const MAX_ALTERNATIVES: usize = 64;

pub fn unconstrained() -> Dnf {
    vec![Vec::new()]
}

fn is_unconstrained(d: &Dnf) -> bool {
    d.iter().any(Vec::is_empty)
}

pub fn and(a: Dnf, b: Dnf) -> Dnf {
    if is_unconstrained(&a) {
        return b;
    }
    if is_unconstrained(&b) {
        return a;
    }
    if a.len().saturating_mul(b.len()) > MAX_ALTERNATIVES {
        return if a.len() <= b.len() { a } else { b };
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in &a {
        for y in &b {
            let mut merged = x.clone();
            for (slot, vals) in y {
                match merged.iter_mut().find(|(s, _)| s == slot) {
                    // Both sides constrain the column: either list is a superset; keep the shorter.
                    Some((_, existing)) if vals.len() < existing.len() => *existing = vals.clone(),
                    Some(_) => {}
                    None => merged.push((*slot, vals.clone())),
                }
            }
            out.push(merged);
        }
    }
    out
}

pub fn or(mut a: Dnf, b: Dnf) -> Dnf {
    if is_unconstrained(&a) || is_unconstrained(&b) || a.len() + b.len() > MAX_ALTERNATIVES {
        return unconstrained();
    }
    a.extend(b);
    a
}

/// The identifier parts of a bare column reference, if `e` is one.
fn column(e: &Expr) -> Option<&[Ident]> {
    match e {
        Expr::Identifier(i) => Some(std::slice::from_ref(i)),
        Expr::CompoundIdentifier(parts) => Some(parts),
        Expr::Nested(inner) => column(inner),
        _ => None,
    }
}

/// A constant or parameter: literals, `$n`, NULL, unary minus/plus, casts, parentheses.
pub fn value_of(e: &Expr) -> Option<Val> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(s, _) => Some(Val::One { src: Src::Text(s.as_str().into()), negate: false }),
            Value::SingleQuotedString(s)
            | Value::EscapedStringLiteral(s)
            | Value::NationalStringLiteral(s)
            | Value::UnicodeStringLiteral(s) => Some(Val::One { src: Src::Text(s.as_str().into()), negate: false }),
            Value::DollarQuotedString(d) => Some(Val::One { src: Src::Text(d.value.as_str().into()), negate: false }),
            Value::Placeholder(p) => {
                let n = p.strip_prefix('$')?.parse::<usize>().ok()?.checked_sub(1)?;
                Some(Val::One { src: Src::Param(n), negate: false })
            }
            Value::Null => Some(Val::Null),
            _ => None,
        },
        Expr::UnaryOp { op: UnaryOperator::Minus, expr } => match value_of(expr)? {
            Val::One { src, negate } => Some(Val::One { src, negate: !negate }),
            _ => None,
        },
        Expr::UnaryOp { op: UnaryOperator::Plus, expr } | Expr::Nested(expr) => value_of(expr),
        Expr::Cast { expr, data_type, .. } => match (value_of(expr)?, data_type) {
            (Val::One { src, negate: false }, DataType::Array(_)) => Some(Val::Array(src)),
            (_, DataType::Array(_)) => None,
            (v, _) => Some(v),
        },
        _ => None,
    }
}

/// The alternatives of `= ANY(<e>)`.
fn any_values(e: &Expr) -> Option<Vec<Val>> {
    match e {
        Expr::Nested(inner) => any_values(inner),
        Expr::Array(a) => a.elem.iter().map(value_of).collect(),
        _ => match value_of(e)? {
            Val::One { src, negate: false } | Val::Array(src) => Some(vec![Val::Array(src)]),
            _ => None,
        },
    }
}

impl Analyzer<'_> {
    /// The key condition of a predicate in the current scope. `top`: `e` is a top-level
    /// conjunct, so a column equality in it is a join edge.
    pub(super) fn cond(&mut self, e: &Expr, top: bool) -> Dnf {
        match e {
            Expr::Nested(inner) => self.cond(inner, top),
            Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
                let l = self.cond(left, top);
                let r = self.cond(right, top);
                and(l, r)
            }
            Expr::BinaryOp { left, op: BinaryOperator::Or, right } => {
                let l = self.cond(left, false);
                let r = self.cond(right, false);
                or(l, r)
            }
            Expr::BinaryOp { left, op: BinaryOperator::Eq, right } => self.equality(left, right, top),
            Expr::InList { expr, list, negated: false } => match (column(expr), list.iter().map(value_of).collect()) {
                (Some(col), Some(vals)) => self.values_for(col, vals),
                _ => unconstrained(),
            },
            Expr::AnyOp { left, compare_op: BinaryOperator::Eq, right, .. } => {
                match (column(left), any_values(right)) {
                    (Some(col), Some(vals)) => self.values_for(col, vals),
                    _ => unconstrained(),
                }
            }
            _ => unconstrained(),
        }
    }

    fn equality(&mut self, left: &Expr, right: &Expr, top: bool) -> Dnf {
        match (column(left), column(right)) {
            (Some(a), Some(b)) => {
                if top {
                    let (sa, sb) = (self.resolve(a), self.resolve(b));
                    for &(x, _) in &sa {
                        for &(y, _) in &sb {
                            self.edge(x, y);
                        }
                    }
                }
                unconstrained()
            }
            (Some(col), None) => value_of(right).map_or_else(unconstrained, |v| self.values_for(col, vec![v])),
            (None, Some(col)) => value_of(left).map_or_else(unconstrained, |v| self.values_for(col, vec![v])),
            (None, None) => unconstrained(),
        }
    }

    fn values_for(&self, col: &[Ident], vals: Vec<Val>) -> Dnf {
        let alt: Alt =
            self.resolve(col).into_iter().filter(|(_, current)| *current).map(|(s, _)| (s, vals.clone())).collect();
        vec![alt]
    }

    /// Join edges only (outer-join ON): value constraints there do not restrict the
    /// preserved side.
    pub(super) fn edges_only(&mut self, e: &Expr) {
        let _ = self.cond(e, true);
    }

    /// Analyses every subquery that appears in the expressions of `node` (not in its FROM:
    /// derived tables are walked with their relation), in a scope nested in the current one.
    pub(super) fn expression_subqueries<V: Visit>(&mut self, node: &V) {
        let mut collect = Collect { depth: 0, skip_next: false, found: Vec::new() };
        let _ = node.visit(&mut collect);
        for q in collect.found {
            self.query(&q);
        }
    }
}

/// Finds the outermost subqueries of a node, skipping derived tables.
struct Collect {
    depth: usize,
    skip_next: bool,
    found: Vec<Query>,
}

impl Visitor for Collect {
    type Break = ();

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<()> {
        if self.depth == 0 && matches!(tf, TableFactor::Derived { .. }) {
            self.skip_next = true;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if self.depth == 0 && !std::mem::take(&mut self.skip_next) {
            self.found.push(q.clone());
        }
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.depth = self.depth.saturating_sub(1);
        ControlFlow::Continue(())
    }
}
