//! One aggregate call the proxy can merge: what its partials are and how the shards compute
//! them. Anything the partials would not combine exactly is refused here, with the reason.

use sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments, Ident,
    ObjectName,
};

use super::function::{Kind, Mergeable};
use super::refuse;
use crate::scatter::plan::ColumnMerge;
use crate::scatter::ScatterError;

/// A mergeable aggregate call, as the shards must compute it.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// count, sum, min, max, bool_and/every, bool_or: the call itself is the partial.
    Plain(ColumnMerge),
    /// avg(x): the shards send sum(x) and count(x) (same FILTER), the proxy divides.
    /// Boxed, like CountDistinct's expression: AST nodes are large.
    Avg { sum: Box<Function>, count: Box<Function> },
    /// count(DISTINCT x): the shards group by x as well and send x.
    CountDistinct(Box<Expr>),
}

const AGG_HINT: &str = "select count, sum, min, max, avg, bool_and or bool_or plainly, or add the shard key \
                        to the WHERE clause so the query runs on one shard";

/// Why a call that is, or may be, an aggregate other than the mergeable ones is refused.
pub fn refusal(f: &Function, kind: Kind) -> ScatterError {
    match kind {
        Kind::OtherAggregate => refuse(format!("aggregate {} across shards", f.name), AGG_HINT),
        Kind::Aggregate(_) | Kind::Scalar | Kind::SetReturning | Kind::Volatile | Kind::Unknown => refuse(
            format!("function {} across shards (shardgate cannot tell whether it is an aggregate)", f.name),
            "shardgate knows PostgreSQL's built-in functions only: call the function in the WHERE clause, \
             compute it in the application, or add the shard key to the WHERE clause",
        ),
    }
}

/// Classifies one call of a mergeable aggregate, refusing the forms whose per-shard partials
/// would not combine exactly.
pub fn analyse(f: &Function, kind: Kind) -> Result<Call, ScatterError> {
    let Kind::Aggregate(m) = kind else {
        return Err(refusal(f, kind));
    };
    if !f.within_group.is_empty() {
        return Err(refuse(format!("{} … WITHIN GROUP across shards", f.name), AGG_HINT));
    }
    if f.null_treatment.is_some() || f.uses_odbc_syntax || !matches!(f.parameters, FunctionArguments::None) {
        return Err(refuse(format!("{f} across shards"), AGG_HINT));
    }
    let FunctionArguments::List(list) = &f.args else {
        return Err(refuse(format!("{f} across shards"), AGG_HINT));
    };
    if let Some(clause) = list.clauses.first() {
        let what = match clause {
            FunctionArgumentClause::OrderBy(_) => "ORDER BY inside an aggregate",
            _ => "this aggregate clause",
        };
        return Err(refuse(format!("{what} ({f}) across shards"), AGG_HINT));
    }
    let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
    let arg = match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(x))] => Some(x),
        [FunctionArg::Unnamed(FunctionArgExpr::Wildcard | FunctionArgExpr::QualifiedWildcard(_))]
            if m == Mergeable::Count && !distinct =>
        {
            None
        }
        _ => return Err(refuse(format!("{f} across shards"), AGG_HINT)),
    };
    let merge = match (m, distinct) {
        (Mergeable::Count, true) => return count_distinct(f, arg),
        (Mergeable::Sum | Mergeable::Avg, true) => {
            return Err(refuse(
                format!("{}(DISTINCT …) across shards", f.name),
                "the same value may be on several shards: use count(DISTINCT …), or add the shard key to the WHERE clause",
            ));
        }
        (Mergeable::Avg, false) => {
            return Ok(Call::Avg { sum: Box::new(renamed(f, "sum")), count: Box::new(renamed(f, "count")) });
        }
        (Mergeable::Count, false) => ColumnMerge::Count,
        (Mergeable::Sum, false) => ColumnMerge::Sum,
        // DISTINCT changes neither a minimum, a maximum nor a boolean aggregate.
        (Mergeable::Min, _) => ColumnMerge::Min,
        (Mergeable::Max, _) => ColumnMerge::Max,
        (Mergeable::BoolAnd, _) => ColumnMerge::BoolAnd,
        (Mergeable::BoolOr, _) => ColumnMerge::BoolOr,
    };
    Ok(Call::Plain(merge))
}

fn count_distinct(f: &Function, arg: Option<&Expr>) -> Result<Call, ScatterError> {
    if f.filter.is_some() {
        return Err(refuse(
            format!("count(DISTINCT …) with FILTER across shards ({f})"),
            "move the condition into the WHERE clause, or count(DISTINCT CASE WHEN … THEN x END)",
        ));
    }
    match arg {
        Some(Expr::Tuple(_)) | None => {
            Err(refuse(format!("count(DISTINCT of a row) across shards ({f})"), "count distinct values of one column"))
        }
        Some(x) => Ok(Call::CountDistinct(Box::new(x.clone()))),
    }
}

/// The same call (arguments, FILTER) under another aggregate's name.
fn renamed(f: &Function, name: &str) -> Function {
    let mut g = f.clone();
    g.name = ObjectName::from(vec![Ident::new(name)]);
    g
}
