//! Expressions as PostgreSQL compares them when it matches ORDER BY / GROUP BY / HAVING
//! against the select list: identifiers fold to lower case, quoting of an already folded
//! name does not matter, spans never do. Also the column name PostgreSQL gives an item.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Function, Ident, Query, SelectItem, SetExpr, Visit, VisitMut, Visitor, VisitorMut};

use super::function::{self, folded};

/// Expressions equal after folding identifiers (`SUM(Amount)` = `sum(amount)`).
pub fn same(a: &Expr, b: &Expr) -> bool {
    normalised(a) == normalised(b)
}

fn normalised(e: &Expr) -> Expr {
    struct Fold;
    impl VisitorMut for Fold {
        type Break = ();
        fn pre_visit_ident(&mut self, ident: &mut Ident) -> ControlFlow<()> {
            ident.value = folded(ident);
            ident.quote_style = None;
            ControlFlow::Continue(())
        }
    }
    let mut e = e.clone();
    let _ = VisitMut::visit(&mut e, &mut Fold);
    strip_parens(e)
}

/// `((x))` is `x`: PostgreSQL's grammar drops the parentheses before any matching.
fn strip_parens(e: Expr) -> Expr {
    match e {
        Expr::Nested(inner) => strip_parens(*inner),
        other => other,
    }
}

/// The same expression without surrounding parentheses, borrowed.
pub fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Nested(inner) = e {
        e = inner;
    }
    e
}

/// The name PostgreSQL gives an output column, when shardgate can tell it for sure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputName {
    Known(String),
    /// PostgreSQL derives the name from something the planner cannot see (a type name, a
    /// subquery's column): any ORDER BY name might match it.
    Unknown,
}

pub fn output_name(item: &SelectItem) -> OutputName {
    match item {
        SelectItem::ExprWithAlias { alias, .. } => OutputName::Known(folded(alias)),
        SelectItem::UnnamedExpr(e) => expr_name(e),
        _ => OutputName::Unknown,
    }
}

/// PostgreSQL's rules (FigureColname) for the cases that occur in practice.
fn expr_name(e: &Expr) -> OutputName {
    let known = |s: &str| OutputName::Known(s.to_owned());
    match e {
        Expr::Identifier(i) => OutputName::Known(folded(i)),
        Expr::CompoundIdentifier(parts) => parts.last().map_or(OutputName::Unknown, |i| OutputName::Known(folded(i))),
        Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => expr_name(inner),
        Expr::Function(f) => function::name(f).map_or(OutputName::Unknown, OutputName::Known),
        Expr::Cast { expr, .. } => match expr_name(expr) {
            OutputName::Known(n) if n != "?column?" => OutputName::Known(n),
            _ => OutputName::Unknown, // the type's name
        },
        // A scalar subquery is named after its single column.
        Expr::Subquery(q) => match q.body.as_ref() {
            SetExpr::Select(s) => s.projection.first().map_or(OutputName::Unknown, output_name),
            _ => OutputName::Unknown,
        },
        Expr::Case { .. } => known("case"),
        Expr::Exists { .. } => known("exists"),
        Expr::Tuple(_) => known("row"),
        Expr::Array(_) => known("array"),
        Expr::Value(_)
        | Expr::BinaryOp { .. }
        | Expr::UnaryOp { .. }
        | Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..)
        | Expr::InList { .. }
        | Expr::InSubquery { .. }
        | Expr::Between { .. }
        | Expr::Like { .. }
        | Expr::ILike { .. }
        | Expr::AnyOp { .. }
        | Expr::AllOp { .. } => known("?column?"),
        _ => OutputName::Unknown,
    }
}

/// The calls in an expression that are, or may be, aggregates — outside subqueries (checked
/// on their own) and outside aggregate arguments (PostgreSQL refuses nested aggregates).
pub fn aggregate_calls(e: &Expr) -> Vec<Function> {
    struct Scan {
        found: Vec<Function>,
        /// > 0 while inside a subquery or an aggregate's arguments.
        shielded: usize,
    }
    fn shields(f: &Function) -> bool {
        function::may_aggregate(f)
    }
    impl Visitor for Scan {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.shielded += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.shielded = self.shielded.saturating_sub(1);
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = e {
                if shields(f) {
                    if self.shielded == 0 {
                        self.found.push(f.clone());
                    }
                    self.shielded += 1;
                }
            }
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = e {
                if shields(f) {
                    self.shielded = self.shielded.saturating_sub(1);
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut scan = Scan { found: Vec::new(), shielded: 0 };
    let _ = Visit::visit(e, &mut scan);
    scan.found
}

/// The first call of a function of `kind` in the expression, if any.
pub fn first_call(e: &Expr, kind: function::Kind) -> Option<Function> {
    let found = sqlparser::ast::visit_expressions(e, |x| match x {
        Expr::Function(f) if function::classify(f) == kind => ControlFlow::Break(f.clone()),
        _ => ControlFlow::Continue(()),
    });
    match found {
        ControlFlow::Break(f) => Some(f),
        ControlFlow::Continue(()) => None,
    }
}
