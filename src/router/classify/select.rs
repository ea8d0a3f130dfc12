//! SELECT (and the query parts of other statements): CTEs, set operations, FROM with joins,
//! derived tables, WHERE, and subqueries anywhere in expressions.

use sqlparser::ast::{JoinConstraint, JoinOperator, Query, Select, SetExpr, Statement, TableFactor, TableWithJoins};

use super::scope::ident;
use super::Analyzer;
use crate::router::plan::{Plan, StatementKind};
use crate::shardmap::ShardMap;

pub fn plan(stmt: &Statement, q: &Query, map: &ShardMap) -> Plan {
    let mut a = Analyzer::new(map);
    a.query(q);
    a.check_complete(stmt);
    // FOR UPDATE/SHARE take row locks: they need the primary like a write.
    let write = !q.locks.is_empty();
    super::tables_plan(StatementKind::Select, write, a)
}

impl Analyzer<'_> {
    pub(super) fn query(&mut self, q: &Query) {
        let mark = self.ctes.len();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let name = ident(&cte.alias.name);
                if with.recursive {
                    self.ctes.push(name.clone());
                }
                self.query(&cte.query);
                self.ctes.push(name);
            }
        }
        self.set_expr(&q.body);
        self.expression_subqueries(&q.order_by);
        self.expression_subqueries(&q.limit_clause);
        self.ctes.truncate(mark);
    }

    fn set_expr(&mut self, body: &SetExpr) {
        match body {
            SetExpr::Select(s) => self.select(s),
            SetExpr::Query(q) => self.query(q),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left);
                self.set_expr(right);
            }
            SetExpr::Values(v) => self.expression_subqueries(v),
            SetExpr::Table(_) => self.fail(
                "shardgate does not route the TABLE statement",
                "write SELECT * FROM <table> WHERE <shard key> = <value>",
            ),
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => self.fail(
                "shardgate does not route data-modifying statements inside WITH or subqueries",
                "run the modifying statement on its own, or add /* shardgate: shard=<name> */",
            ),
        }
    }

    fn select(&mut self, s: &Select) {
        self.push_scope();
        for item in &s.from {
            self.walk_from_item(item);
        }
        if let Some(w) = &s.selection {
            let c = self.cond(w, true);
            self.constrain(c);
        }
        self.expression_subqueries(s);
        self.pop_scope();
    }

    /// One FROM item with its joins, in the current scope.
    pub(super) fn walk_from_item(&mut self, item: &TableWithJoins) {
        let first = self.instance_count();
        self.relation(&item.relation, false);
        for join in &item.joins {
            let start = self.instance_count();
            self.relation(&join.relation, false);
            let end = self.instance_count();
            let (constraint, inner, left) = match &join.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) | JoinOperator::CrossJoin(c) => (c, true, false),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (c, false, true),
                JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c)
                | JoinOperator::Semi(c)
                | JoinOperator::LeftSemi(c)
                | JoinOperator::RightSemi(c)
                | JoinOperator::Anti(c)
                | JoinOperator::LeftAnti(c)
                | JoinOperator::RightAnti(c) => (c, false, false),
                _ => {
                    self.fail("shardgate does not route this kind of join", "use INNER or LEFT JOIN");
                    continue;
                }
            };
            match constraint {
                JoinConstraint::On(e) if inner => {
                    let c = self.cond(e, true);
                    self.constrain(c);
                }
                JoinConstraint::On(e) if left => {
                    // Only the joined (nullable) side's rows are restricted by ON.
                    let c = self.cond(e, true);
                    let right: Vec<u16> = (start..end).filter_map(|i| u16::try_from(i).ok()).collect();
                    let c = c
                        .into_iter()
                        .map(|alt| alt.into_iter().filter(|(s, _)| right.contains(&s.instance)).collect())
                        .collect();
                    self.constrain(c);
                }
                JoinConstraint::On(e) => self.edges_only(e),
                JoinConstraint::Using(cols) => {
                    for col in cols {
                        let Some(id) = col.0.last().and_then(|p| p.as_ident()) else { continue };
                        let rights = self.resolve_in(std::slice::from_ref(id), start..end);
                        let lefts = self.resolve_in(std::slice::from_ref(id), first..start);
                        for &r in &rights {
                            for &l in &lefts {
                                self.edge(l, r);
                            }
                        }
                    }
                }
                JoinConstraint::Natural | JoinConstraint::None => {}
            }
        }
    }

    /// One relation of FROM.
    pub(super) fn relation(&mut self, tf: &TableFactor, written: bool) {
        match tf {
            TableFactor::Table { name, alias, args, .. } => {
                if args.is_some() {
                    // A set-returning function in FROM.
                    self.relations_seen += 1;
                    self.add_opaque(alias.as_ref().map(|a| ident(&a.name)));
                } else {
                    self.add_table(name, alias.as_ref().map(|a| &a.name), written);
                }
            }
            TableFactor::Derived { subquery, alias, .. } => {
                self.query(subquery);
                self.add_opaque(alias.as_ref().map(|a| ident(&a.name)));
            }
            TableFactor::NestedJoin { table_with_joins, alias } => {
                self.walk_from_item(table_with_joins);
                self.add_opaque(alias.as_ref().map(|a| ident(&a.name)));
            }
            // UNNEST, table functions…: their subqueries are found by the enclosing SELECT's
            // expression walk (elsewhere, the relation count refuses them).
            _ => self.add_opaque(None),
        }
    }
}
