//! Statements without a table to route by: session and transaction control go to any shard
//! (the one the client holds), DDL and maintenance to every shard, and statements whose
//! effect shardgate cannot see (COPY, CALL, MERGE, SQL-level PREPARE/EXECUTE…) need a hint.

use sqlparser::ast::Statement;

use crate::router::plan::{Body, Plan, StatementKind};
use crate::router::RouteError;

pub fn plan(stmt: &Statement) -> Plan {
    use Statement as S;
    let (kind, write, body) = match stmt {
        S::Set(_) | S::Reset(_) => (StatementKind::Set, false, Body::NoTable),
        S::StartTransaction { .. }
        | S::Commit { .. }
        | S::Rollback { .. }
        | S::Savepoint { .. }
        | S::ReleaseSavepoint { .. } => (StatementKind::Transaction, false, Body::NoTable),
        S::Discard { .. }
        | S::Deallocate { .. }
        | S::LISTEN { .. }
        | S::UNLISTEN { .. }
        | S::ShowVariable { .. }
        | S::ShowVariables { .. }
        | S::ShowStatus { .. }
        | S::Close { .. }
        | S::Fetch { .. } => (StatementKind::Utility, false, Body::NoTable),
        S::CreateView(_)
        | S::CreateTable(_)
        | S::CreateIndex(_)
        | S::CreateRole(_)
        | S::CreatePolicy(_)
        | S::CreateExtension(_)
        | S::CreateSchema { .. }
        | S::CreateFunction(_)
        | S::CreateTrigger(_)
        | S::CreateProcedure { .. }
        | S::CreateSequence { .. }
        | S::CreateDomain(_)
        | S::CreateType { .. }
        | S::AlterTable(_)
        | S::AlterSchema(_)
        | S::AlterIndex { .. }
        | S::AlterView { .. }
        | S::AlterFunction(_)
        | S::AlterType(_)
        | S::AlterRole { .. }
        | S::AlterPolicy(_)
        | S::Drop { .. }
        | S::DropFunction(_)
        | S::DropDomain(_)
        | S::DropProcedure { .. }
        | S::DropPolicy(_)
        | S::DropTrigger(_)
        | S::DropExtension(_)
        | S::Comment { .. }
        | S::Grant(_)
        | S::Revoke(_)
        | S::Truncate(_)
        | S::RenameTable(_) => (StatementKind::Ddl, true, Body::Everywhere),
        S::Vacuum(_) | S::Analyze(_) => (StatementKind::Utility, true, Body::Everywhere),
        // A replica refuses NOTIFY: it needs the primary, and no table routes it.
        S::NOTIFY { .. } => (StatementKind::Utility, true, Body::NoTable),
        S::Prepare { .. } | S::Execute { .. } => (
            StatementKind::Utility,
            true,
            needs_hint(
                "shardgate does not route SQL-level PREPARE/EXECUTE",
                "use the extended protocol (Parse/Bind), or add /* shardgate: shard=<name> */",
            ),
        ),
        other => {
            let word = other.to_string();
            let word = word.split_whitespace().next().unwrap_or("this statement").to_uppercase();
            (
                StatementKind::Utility,
                true,
                needs_hint(
                    format!("shardgate cannot tell which shard {word} needs"),
                    "add /* shardgate: shard=<name> */",
                ),
            )
        }
    };
    Plan { kind, write, body }
}

fn needs_hint(message: impl Into<String>, hint: impl Into<String>) -> Body {
    Body::NeedsHint { error: RouteError::unsupported(message, hint), key_hint_ok: false }
}
