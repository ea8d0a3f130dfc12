//! UPDATE: routed by its WHERE like a query. Assigning a shard key column is allowed only
//! when the new key provably stays on the statement's shard (checked at route time).

use sqlparser::ast::{AssignmentTarget, Statement, Update, UpdateTableFromKind};

use super::expr::value_of;
use super::scope::name_parts;
use super::Analyzer;
use crate::router::plan::{Body, KeyUpdate, Plan, Resolved, StatementKind};
use crate::shardmap::ShardMap;

pub fn plan(stmt: &Statement, u: &Update, map: &ShardMap) -> Plan {
    let mut a = Analyzer::new(map);
    a.push_scope();
    let target = a.instance_count();
    a.relation(&u.table.relation, true);
    if !u.table.joins.is_empty() {
        a.fail("shardgate does not route UPDATE with JOIN", "use UPDATE … FROM … WHERE");
    }
    if let Some(UpdateTableFromKind::BeforeSet(items) | UpdateTableFromKind::AfterSet(items)) = &u.from {
        for item in items {
            a.walk_from_item(item);
        }
    }
    if let Some(w) = &u.selection {
        let c = a.cond(w, true);
        a.constrain(c);
    }
    let key_update = key_update(&a, target, u);
    a.expression_subqueries(&u.assignments);
    a.expression_subqueries(&u.selection);
    a.expression_subqueries(&u.returning);
    a.pop_scope();
    a.check_complete(stmt);
    let mut p = super::tables_plan(StatementKind::Update, true, a);
    if let Body::Tables(t) = &mut p.body {
        t.key_update = key_update;
    }
    p
}

/// What the SET list does to the target's shard key, if anything.
fn key_update(a: &Analyzer<'_>, target: usize, u: &Update) -> Option<KeyUpdate> {
    let inst = a.instances.get(target)?;
    let Resolved::Sharded { columns, .. } = &inst.resolved else { return None };
    let mut assigned = vec![None; columns.len()];
    let mut opaque = false;
    let mut any = false;
    for asg in &u.assignments {
        match &asg.target {
            AssignmentTarget::ColumnName(n) => {
                let Some(col) = name_parts(n).pop() else { continue };
                if let Some(p) = columns.iter().position(|c| *c == col) {
                    any = true;
                    match (value_of(&asg.value), assigned.get_mut(p)) {
                        (Some(v), Some(slot)) => *slot = Some(v),
                        _ => opaque = true,
                    }
                }
            }
            AssignmentTarget::Tuple(names) => {
                if names.iter().any(|n| name_parts(n).pop().is_some_and(|c| columns.contains(&c))) {
                    any = true;
                    opaque = true;
                }
            }
        }
    }
    let instance = u16::try_from(target).ok()?;
    any.then_some(KeyUpdate { instance, assigned, opaque })
}
