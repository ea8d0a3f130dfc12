//! DELETE: routed by its WHERE like a query; USING tables join the scope.

use sqlparser::ast::{Delete, FromTable, Statement};

use super::Analyzer;
use crate::router::plan::{Plan, StatementKind};
use crate::shardmap::ShardMap;

pub fn plan(stmt: &Statement, d: &Delete, map: &ShardMap) -> Plan {
    let mut a = Analyzer::new(map);
    a.push_scope();
    if !d.tables.is_empty() {
        a.fail("shardgate does not route multi-table DELETE", "delete from one table at a time");
    }
    let (FromTable::WithFromKeyword(items) | FromTable::WithoutKeyword(items)) = &d.from;
    for (n, item) in items.iter().enumerate() {
        if n == 0 {
            a.relation(&item.relation, true);
            if !item.joins.is_empty() {
                a.fail("shardgate does not route DELETE with JOIN", "use DELETE … USING … WHERE");
            }
        } else {
            a.walk_from_item(item);
        }
    }
    for item in d.using.iter().flatten() {
        a.walk_from_item(item);
    }
    if let Some(w) = &d.selection {
        let c = a.cond(w, true);
        a.constrain(c);
    }
    a.expression_subqueries(&d.selection);
    a.expression_subqueries(&d.returning);
    a.pop_scope();
    a.check_complete(stmt);
    super::tables_plan(StatementKind::Delete, true, a)
}
