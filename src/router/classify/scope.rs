//! The analyser shared by all statement kinds: table occurrences, query scopes (for resolving
//! `alias.column` and bare columns), column equalities, and the final grouping of sharded
//! tables that are joined on their whole shard key.

use sqlparser::ast::{Ident, ObjectName, ObjectNamePart, Statement};

use super::expr::{unconstrained, Dnf};
use crate::router::plan::{Group, Instance, Resolved, Slot, TablePlan, Val};
use crate::router::RouteError;
use crate::shardmap::{ShardMap, TableKind};

/// Key slot identity used for column equalities.
type Node = (u16, u8);

#[derive(Default)]
struct Scope {
    instances: Vec<u16>,
    /// Aliases of relations that are not tables of the map (derived tables, CTEs, functions).
    opaque: Vec<String>,
    /// What this scope's WHERE (and inner-join ON) says about key columns.
    cond: Option<Dnf>,
}

pub struct Analyzer<'m> {
    pub(super) map: &'m ShardMap,
    pub(super) instances: Vec<Instance>,
    scopes: Vec<Scope>,
    edges: Vec<(Node, Node)>,
    /// CTE names visible at this point of the walk.
    pub(super) ctes: Vec<String>,
    /// Relations the walk handled; compared with sqlparser's own count so that a table in a
    /// place the walk does not know can never be missed silently.
    pub(super) relations_seen: usize,
    failure: Option<RouteError>,
}

/// An identifier as PostgreSQL folds it: lower-case unless quoted.
pub(super) fn ident(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// The identifier parts of a name (`public.reservations` → ["public", "reservations"]).
pub(super) fn name_parts(n: &ObjectName) -> Vec<String> {
    n.0.iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(ident(i)),
            _ => None,
        })
        .collect()
}

impl<'m> Analyzer<'m> {
    pub fn new(map: &'m ShardMap) -> Self {
        Self {
            map,
            instances: Vec::new(),
            scopes: vec![Scope::default()],
            edges: Vec::new(),
            ctes: Vec::new(),
            relations_seen: 0,
            failure: None,
        }
    }

    /// Records a reason the statement cannot be routed by analysis (first one wins).
    pub(super) fn fail(&mut self, message: impl Into<String>, hint: impl Into<String>) {
        if self.failure.is_none() {
            self.failure = Some(RouteError::unsupported(message, hint));
        }
    }

    pub(super) fn push_scope(&mut self) {
        self.scopes.push(Scope::default());
    }

    /// Closes a scope: its WHERE is projected onto each of its sharded tables.
    pub(super) fn pop_scope(&mut self) {
        let Some(scope) = self.scopes.pop() else { return };
        let cond = scope.cond.unwrap_or_else(unconstrained);
        for &i in &scope.instances {
            let Some(inst) = self.instances.get_mut(usize::from(i)) else { continue };
            let Resolved::Sharded { columns, .. } = &inst.resolved else { continue };
            if inst.written && !inst.keys.is_empty() {
                continue; // INSERT rows already set
            }
            match project(&cond, i, columns.len()) {
                Some(keys) => {
                    inst.keys = keys;
                    inst.constrained = true;
                }
                None => inst.constrained = false,
            }
        }
        if self.scopes.is_empty() {
            self.scopes.push(Scope::default());
        }
    }

    /// ANDs a condition into the current scope.
    pub(super) fn constrain(&mut self, c: Dnf) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.cond = Some(match scope.cond.take() {
                Some(prev) => super::expr::and(prev, c),
                None => c,
            });
        }
    }

    /// Adds a relation that is not a table of the map, visible under `alias`.
    pub(super) fn add_opaque(&mut self, alias: Option<String>) {
        if let (Some(a), Some(scope)) = (alias, self.scopes.last_mut()) {
            scope.opaque.push(a);
        }
    }

    /// Adds a table occurrence to the current scope, resolved against the map.
    pub(super) fn add_table(&mut self, name: &ObjectName, alias: Option<&Ident>, written: bool) -> Option<u16> {
        self.relations_seen += 1;
        let parts = name_parts(name);
        let (schema, table) = match parts.as_slice() {
            [t] => (None, t.clone()),
            [.., s, t] => (Some(s.clone()), t.clone()),
            [] => return None,
        };
        if schema.is_none() && self.ctes.contains(&table) {
            self.add_opaque(Some(alias.map(ident).unwrap_or(table)));
            return None;
        }
        let resolved = match self.map.table(schema.as_deref(), &table) {
            TableKind::Sharded(rule) => Resolved::Sharded { function: rule.function, columns: rule.columns.clone() },
            TableKind::Reference => Resolved::Reference,
            TableKind::Pinned(s) => Resolved::Pinned(s),
            TableKind::Unknown => Resolved::Unknown,
        };
        let display = match &schema {
            Some(s) => format!("{s}.{table}"),
            None => table.clone(),
        };
        let idx = u16::try_from(self.instances.len()).ok()?;
        self.instances.push(Instance {
            display,
            schema,
            name: table,
            alias: alias.map(ident),
            resolved,
            written,
            keys: Vec::new(),
            constrained: false,
        });
        if let Some(scope) = self.scopes.last_mut() {
            scope.instances.push(idx);
        }
        Some(idx)
    }

    pub(super) fn instance_count(&self) -> usize {
        self.instances.len()
    }

    fn key_column(&self, i: u16, col: &str) -> Option<u8> {
        match &self.instances.get(usize::from(i))?.resolved {
            Resolved::Sharded { columns, .. } => {
                columns.iter().position(|c| c == col).and_then(|p| u8::try_from(p).ok())
            }
            _ => None,
        }
    }

    /// The key slots a column reference denotes, each with whether it belongs to the current
    /// scope (only those take value constraints; outer ones are correlations). Bare columns
    /// resolve in the current scope only, to every sharded table keyed by that column (if
    /// two tables have it, PostgreSQL would reject the statement as ambiguous anyway).
    pub(super) fn resolve(&self, parts: &[Ident]) -> Vec<(Slot, bool)> {
        let names: Vec<String> = parts.iter().map(ident).collect();
        let mut out = Vec::new();
        match names.as_slice() {
            [col] => {
                if let Some(scope) = self.scopes.last() {
                    for &i in &scope.instances {
                        if let Some(c) = self.key_column(i, col) {
                            out.push((Slot { instance: i, column: c }, true));
                        }
                    }
                }
            }
            [rest @ .., qual, col] => {
                let schema = rest.last();
                for (depth, scope) in self.scopes.iter().rev().enumerate() {
                    if schema.is_none() && scope.opaque.contains(qual) {
                        return out;
                    }
                    let hit = scope.instances.iter().copied().find(|&i| {
                        self.instances.get(usize::from(i)).is_some_and(|inst| match &inst.alias {
                            Some(a) => schema.is_none() && a == qual,
                            None => &inst.name == qual && schema.is_none_or(|s| inst.schema.as_ref() == Some(s)),
                        })
                    });
                    if let Some(i) = hit {
                        if let Some(c) = self.key_column(i, col) {
                            out.push((Slot { instance: i, column: c }, depth == 0));
                        }
                        return out;
                    }
                }
            }
            [] => {}
        }
        out
    }

    /// Key slots for a bare column among the instances with index in `range` (USING).
    pub(super) fn resolve_in(&self, parts: &[Ident], range: std::ops::Range<usize>) -> Vec<Slot> {
        let Some(col) = parts.last().map(ident) else { return Vec::new() };
        range
            .filter_map(|i| u16::try_from(i).ok())
            .filter_map(|i| Some(Slot { instance: i, column: self.key_column(i, &col)? }))
            .collect()
    }

    /// `a = b` between two columns, from a top-level conjunct of WHERE/ON or from USING.
    pub(super) fn edge(&mut self, a: Slot, b: Slot) {
        self.edges.push(((a.instance, a.column), (b.instance, b.column)));
    }

    /// Checks that every relation of `stmt` was seen by the walk.
    pub(super) fn check_complete(&mut self, stmt: &Statement) {
        let mut total = 0usize;
        let _ = sqlparser::ast::visit_relations(stmt, |_| {
            total += 1;
            std::ops::ControlFlow::<()>::Continue(())
        });
        if total != self.relations_seen {
            self.fail(
                "shardgate cannot tell which tables this statement reads (a table in an unsupported place)",
                "rewrite the statement, or add /* shardgate: shard=<name> */",
            );
        }
    }

    /// The plan's tables and co-location groups, or the reason it cannot be routed.
    pub fn finish(mut self) -> Result<TablePlan, RouteError> {
        while self.scopes.len() > 1 {
            self.pop_scope();
        }
        self.pop_scope();
        if let Some(e) = self.failure {
            return Err(e);
        }
        let groups = self.groups();
        Ok(TablePlan { instances: self.instances, groups, insert: None, key_update: None })
    }

    /// Sharded instances with the same function whose key columns are all equated pairwise
    /// (transitively) are one group.
    fn groups(&self) -> Vec<Group> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut parent: Vec<usize> = Vec::new();
        let id = |nodes: &mut Vec<Node>, parent: &mut Vec<usize>, n: Node| -> usize {
            nodes.iter().position(|&x| x == n).unwrap_or_else(|| {
                nodes.push(n);
                parent.push(parent.len());
                parent.len() - 1
            })
        };
        for &(a, b) in &self.edges {
            let (ia, ib) = (id(&mut nodes, &mut parent, a), id(&mut nodes, &mut parent, b));
            let (ra, rb) = (find(&mut parent, ia), find(&mut parent, ib));
            if let Some(p) = parent.get_mut(ra) {
                *p = rb;
            }
        }
        let mut root = |n: Node| nodes.iter().position(|&x| x == n).map(|i| find(&mut parent, i));
        let sharded: Vec<(u16, &Resolved)> = self
            .instances
            .iter()
            .enumerate()
            .filter(|(_, inst)| matches!(inst.resolved, Resolved::Sharded { .. }))
            .filter_map(|(i, inst)| Some((u16::try_from(i).ok()?, &inst.resolved)))
            .collect();
        let mut groups: Vec<Group> = Vec::new();
        for &(i, r) in &sharded {
            let Resolved::Sharded { function, columns } = r else { continue };
            let joined = groups.iter_mut().find(|g| {
                g.members.first().is_some_and(|&m| {
                    let Some(Resolved::Sharded { function: fm, columns: cm }) =
                        self.instances.get(usize::from(m)).map(|x| &x.resolved)
                    else {
                        return false;
                    };
                    fm == function
                        && cm.len() == columns.len()
                        && (0..columns.len()).all(|c| {
                            let c = c as u8;
                            let (a, b) = (root((i, c)), root((m, c)));
                            a.is_some() && a == b
                        })
                })
            });
            match joined {
                Some(g) => g.members.push(i),
                None => groups.push(Group { members: vec![i] }),
            }
        }
        groups
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while let Some(&p) = parent.get(i) {
        if p == i {
            break;
        }
        if let Some(&gp) = parent.get(p) {
            if let Some(x) = parent.get_mut(i) {
                *x = gp;
            }
        }
        i = p;
    }
    i
}

/// The key alternatives of instance `i` under `cond`, or `None` when some alternative does
/// not give every key column (the table is then unconstrained).
fn project(cond: &Dnf, i: u16, k: usize) -> Option<Vec<Vec<Vec<Val>>>> {
    let mut keys = Vec::with_capacity(cond.len());
    for alt in cond {
        let mut tuple = Vec::with_capacity(k);
        for c in 0..k {
            let (_, vals) = alt.iter().find(|(s, _)| s.instance == i && usize::from(s.column) == c)?;
            tuple.push(vals.clone());
        }
        keys.push(tuple);
    }
    Some(keys)
}
