//! INSERT: the shard key comes from the column list and each VALUES row. A row without a
//! constant key, a missing key column, or `INSERT … SELECT` cannot be placed by analysis:
//! the first two are refused, the last needs a hint that pins the shard.

use sqlparser::ast::{Insert, OnConflictAction, OnInsert, SetExpr, Statement, TableObject};

use super::expr::value_of;
use super::scope::{ident, name_parts};
use super::Analyzer;
use crate::router::plan::{Body, InsertPlan, Plan, Resolved, StatementKind};
use crate::shardmap::ShardMap;

pub fn plan(stmt: &Statement, ins: &Insert, map: &ShardMap) -> Plan {
    let kind = StatementKind::Insert;
    let mut a = Analyzer::new(map);
    let TableObject::TableName(name) = &ins.table else {
        return Plan { kind, write: true, body: Body::Unparsable("INSERT into a table function".into()) };
    };
    let target = a.add_table(name, ins.table_alias.as_ref().map(|t| &t.alias), true);
    let key_columns = target.and_then(|t| match &a.instances.get(usize::from(t))?.resolved {
        Resolved::Sharded { columns, .. } => Some((t, columns.clone())),
        _ => None,
    });
    let display = target.and_then(|t| a.instances.get(usize::from(t))).map(|i| i.display.clone()).unwrap_or_default();
    let mut rows = None;
    match (&ins.source, key_columns) {
        (Some(source), Some((t, keys))) => match (&*source.body, &source.with) {
            (SetExpr::Values(values), None) => {
                rows = key_rows(&mut a, ins, &display, &keys, values).map(|r| (t, r));
                a.expression_subqueries(values);
            }
            _ => a.query(source),
        },
        (Some(source), None) => a.query(source),
        (None, Some((_, keys))) => a.fail(
            format!("INSERT into {display} without VALUES gives no shard key"),
            format!("insert explicit values for {}", keys.join(", ")),
        ),
        (None, None) => {}
    }
    if let (Some(OnInsert::OnConflict(oc)), Some((_, keys))) = (&ins.on, key_columns_of(&a, target)) {
        if let OnConflictAction::DoUpdate(du) = &oc.action {
            let assigns_key = du.assignments.iter().any(|asg| {
                let cols = match &asg.target {
                    sqlparser::ast::AssignmentTarget::ColumnName(n) => vec![n],
                    sqlparser::ast::AssignmentTarget::Tuple(ns) => ns.iter().collect(),
                };
                cols.iter().any(|n| name_parts(n).last().is_some_and(|c| keys.contains(c)))
            });
            if assigns_key {
                a.fail(
                    format!("ON CONFLICT DO UPDATE of {display} changes the shard key"),
                    "leave the shard key columns out of DO UPDATE SET",
                );
            }
        }
    }
    if let Some(on) = &ins.on {
        a.expression_subqueries(on);
    }
    if let Some(returning) = &ins.returning {
        a.expression_subqueries(returning);
    }
    a.check_complete(stmt);
    let mut p = super::tables_plan(kind, true, a);
    if let (Body::Tables(tables), Some((instance, rows))) = (&mut p.body, rows) {
        let statement = (rows.len() > 1).then(|| Box::new(stmt.clone()));
        tables.insert = Some(InsertPlan { instance, rows, statement });
    }
    p
}

fn key_columns_of(a: &Analyzer<'_>, target: Option<u16>) -> Option<(u16, Vec<String>)> {
    let t = target?;
    match &a.instances.get(usize::from(t))?.resolved {
        Resolved::Sharded { columns, .. } => Some((t, columns.clone())),
        _ => None,
    }
}

/// Per VALUES row, the key value of each key column; `None` (with a failure recorded) when
/// a key column is missing or a row's key is not a constant or parameter.
fn key_rows(
    a: &mut Analyzer<'_>,
    ins: &Insert,
    display: &str,
    keys: &[String],
    values: &sqlparser::ast::Values,
) -> Option<Vec<Vec<crate::router::plan::Val>>> {
    if ins.columns.is_empty() {
        a.fail(
            format!("INSERT into {display} does not name its columns, so shardgate cannot find {}", keys.join(", ")),
            format!("list the columns, including {}", keys.join(", ")),
        );
        return None;
    }
    let names: Vec<Option<String>> =
        ins.columns.iter().map(|c| c.0.last().and_then(|p| p.as_ident()).map(ident)).collect();
    let mut positions = Vec::with_capacity(keys.len());
    for k in keys {
        match names.iter().position(|n| n.as_deref() == Some(k.as_str())) {
            Some(p) => positions.push(p),
            None => {
                a.fail(
                    format!("INSERT into {display} does not give the shard key column {k}"),
                    format!("add {k} and its value to the INSERT, or add /* shardgate: shard=<name> */"),
                );
                return None;
            }
        }
    }
    let mut rows = Vec::with_capacity(values.rows.len());
    for (n, row) in values.rows.iter().enumerate() {
        let mut key = Vec::with_capacity(positions.len());
        for (&p, k) in positions.iter().zip(keys) {
            match row.content.get(p).and_then(value_of) {
                Some(v) => key.push(v),
                None => {
                    a.fail(
                        format!("row {} of the INSERT into {display} has no constant value for {k}", n + 1),
                        format!("give {k} as a literal or a parameter"),
                    );
                    return None;
                }
            }
        }
        rows.push(key);
    }
    Some(rows)
}
