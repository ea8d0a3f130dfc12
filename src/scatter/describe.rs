//! A one-line summary of a merge plan for `shardgate route`, so an operator can see what the
//! proxy will do with the shards' answers and what each shard runs.

use super::plan::{ColumnMerge, ColumnRef, CompareOp, Count, GroupPlan, MergePlan, Operand, Predicate, Shape};

impl MergePlan {
    /// E.g. `merge: order by #2 desc nulls first; limit 20; shards run: SELECT … LIMIT 20`.
    /// Columns are 1-based like SQL positions; `hidden#1` is the first hidden column.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Shape::Group(g) = &self.shape {
            parts.extend(group(g, self.hidden));
        }
        if !self.order.is_empty() {
            let keys: Vec<String> = self
                .order
                .iter()
                .map(|k| {
                    let dir = if k.descending { "desc" } else { "asc" };
                    let nulls = if k.nulls_first { "nulls first" } else { "nulls last" };
                    format!("{} {dir} {nulls}", column(k.column))
                })
                .collect();
            parts.push(format!("order by {}", keys.join(", ")));
        }
        if let Some(o) = self.offset {
            parts.push(format!("offset {}", count(o)));
        }
        if let Some(l) = self.limit {
            parts.push(format!("limit {}", count(l)));
        }
        if parts.is_empty() {
            parts.push("concatenate".into());
        }
        if self.hidden > 0 {
            parts.push(format!("drop {} hidden column{}", self.hidden, if self.hidden == 1 { "" } else { "s" }));
        }
        format!("merge: {}; shards run: {}", parts.join("; "), self.shard_sql)
    }
}

fn group(g: &GroupPlan, hidden: usize) -> Vec<String> {
    let visible = g.columns.len().saturating_sub(hidden);
    let at = |i: usize| match i.checked_sub(visible) {
        Some(h) => column(ColumnRef::Hidden(h)),
        None => column(ColumnRef::Item(i)),
    };
    let mut parts = vec![match g.keys.as_slice() {
        [] => "one group".to_owned(),
        keys => format!("group by {}", keys.iter().map(|k| column(*k)).collect::<Vec<_>>().join(", ")),
    }];
    let aggs: Vec<String> = g
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let what = match m {
                ColumnMerge::Key | ColumnMerge::AvgCount => return None,
                ColumnMerge::Count => "count".to_owned(),
                ColumnMerge::Sum => "sum".to_owned(),
                ColumnMerge::Min => "min".to_owned(),
                ColumnMerge::Max => "max".to_owned(),
                ColumnMerge::BoolAnd => "bool_and".to_owned(),
                ColumnMerge::BoolOr => "bool_or".to_owned(),
                ColumnMerge::AvgSum { count } => format!("avg (÷ {})", at(*count)),
                ColumnMerge::CountDistinct => "count distinct".to_owned(),
            };
            Some(format!("{what} {}", at(i)))
        })
        .collect();
    if !aggs.is_empty() {
        parts.push(aggs.join(", "));
    }
    if let Some(h) = &g.having {
        parts.push(format!("having {}", predicate(h)));
    }
    parts
}

fn column(c: ColumnRef) -> String {
    match c {
        ColumnRef::Item(i) => format!("#{}", i.saturating_add(1)),
        ColumnRef::Hidden(h) => format!("hidden#{}", h.saturating_add(1)),
    }
}

fn count(c: Count) -> String {
    match c {
        Count::Literal(n) => n.to_string(),
        Count::Param(i) => format!("${}", i.saturating_add(1)),
    }
}

fn predicate(p: &Predicate) -> String {
    match p {
        Predicate::Compare { left, op, right } => {
            let op = match op {
                CompareOp::Eq => "=",
                CompareOp::NotEq => "<>",
                CompareOp::Lt => "<",
                CompareOp::LtEq => "<=",
                CompareOp::Gt => ">",
                CompareOp::GtEq => ">=",
            };
            format!("{} {op} {}", operand(left), operand(right))
        }
        Predicate::IsNull { operand: o, negated } => {
            format!("{} IS {}NULL", operand(o), if *negated { "NOT " } else { "" })
        }
        Predicate::And(a, b) => format!("({} AND {})", predicate(a), predicate(b)),
        Predicate::Or(a, b) => format!("({} OR {})", predicate(a), predicate(b)),
        Predicate::Not(a) => format!("NOT ({})", predicate(a)),
    }
}

fn operand(o: &Operand) -> String {
    match o {
        Operand::Column(c) => column(*c),
        Operand::Literal(s) => format!("'{}'", s.replace('\'', "''")),
        Operand::Param(i) => format!("${}", i.saturating_add(1)),
        Operand::Null => "NULL".into(),
    }
}
