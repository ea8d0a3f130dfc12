//! `tables:`, `default_rule:`, `reference_tables:`, `unsharded_tables:`, `unknown_tables:`.

use std::collections::HashMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::function::{cannot_hash, Checked};
use super::Check;
use crate::shardmap::function::FunctionIdx;
use crate::shardmap::key::KeyType;
use crate::shardmap::tables::{TableRule, UnknownTables};
use crate::shardmap::ShardIdx;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    /// `name` or `schema.name`, lower-case as PostgreSQL folds unquoted names.
    pub name: Spanned<String>,
    /// Key columns in the function's key order.
    pub columns: Spanned<Vec<Spanned<String>>>,
    /// The sharding function's name.
    pub function: Spanned<String>,
    /// Optional: the key columns' SQL types, checked against the function's key types.
    #[serde(default)]
    pub types: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaultRule {
    pub columns: Spanned<Vec<Spanned<String>>>,
    pub function: Spanned<String>,
    #[serde(default)]
    pub types: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUnsharded {
    pub name: Spanned<String>,
    pub shard: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPinned {
    pub shard: String,
}

/// `refuse`, or `{ shard: <name> }`.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "`refuse` or `{ shard: <name> }`")]
pub enum RawUnknownTables {
    Word(String),
    Shard(RawPinned),
}

pub(super) struct RawTables {
    pub tables: Vec<RawTable>,
    pub default_rule: Option<Spanned<RawDefaultRule>>,
    pub reference: Vec<Spanned<String>>,
    pub unsharded: Vec<RawUnsharded>,
    pub unknown: Option<Spanned<RawUnknownTables>>,
}

pub(super) struct Tables {
    pub rules: Vec<TableRule>,
    pub default_rule: Option<TableRule>,
    pub reference: Vec<String>,
    pub unsharded: Vec<(String, ShardIdx)>,
    pub unknown: UnknownTables,
}

pub(super) fn tables(raw: RawTables, functions: &[Checked], shard_count: usize, check: &mut Check) -> Tables {
    let mut named: HashMap<String, (String, u32)> = HashMap::new();
    let mut name = |span: &Spanned<String>, field: String, check: &mut Check| -> Option<String> {
        let n = span.value.trim().to_string();
        let parts: Vec<&str> = n.split('.').collect();
        if n.is_empty() || parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
            check.at(span, &field, format!("{n:?} is not a table name (`name` or `schema.name`)"));
            return None;
        }
        if let Some((first, line)) = named.get(&n) {
            check.at(span, &field, format!("table {n:?} is already named by {first} (line {line})"));
            return None;
        }
        named.insert(n.clone(), (field, span.referenced.line() as u32));
        Some(n)
    };

    let mut rules = Vec::new();
    for (i, t) in raw.tables.into_iter().enumerate() {
        let at = format!("tables[{i}]");
        let table = name(&t.name, format!("{at}.name"), check);
        let parts = RuleParts { columns: &t.columns, function: &t.function, types: t.types.as_ref() };
        if let (Some(rule), Some(table)) = (rule(parts, &at, functions, check), table) {
            rules.push(TableRule { table: Some(table), ..rule });
        }
    }
    let default_rule = raw.default_rule.and_then(|d| {
        let parts = RuleParts { columns: &d.value.columns, function: &d.value.function, types: d.value.types.as_ref() };
        rule(parts, "default_rule", functions, check)
    });
    let reference = raw
        .reference
        .iter()
        .enumerate()
        .filter_map(|(i, t)| name(t, format!("reference_tables[{i}]"), check))
        .collect();
    let mut unsharded = Vec::new();
    for (i, u) in raw.unsharded.iter().enumerate() {
        let table = name(&u.name, format!("unsharded_tables[{i}].name"), check);
        let shard = check.shard(&u.shard, &format!("unsharded_tables[{i}].shard"));
        if let (Some(table), Some(shard)) = (table, shard) {
            unsharded.push((table, shard));
        }
    }
    let unknown = match &raw.unknown {
        None if shard_count == 1 => UnknownTables::Shard(ShardIdx(0)),
        None => UnknownTables::Refuse,
        Some(u) => match &u.value {
            RawUnknownTables::Word(w) if w.trim() == "refuse" => UnknownTables::Refuse,
            RawUnknownTables::Word(w) => {
                check.at(u, "unknown_tables", format!("{w:?}: use `refuse` or `{{ shard: <name> }}`"));
                UnknownTables::Refuse
            }
            RawUnknownTables::Shard(p) => {
                let name = Spanned::new(p.shard.clone(), u.referenced, u.defined);
                check.shard(&name, "unknown_tables.shard").map_or(UnknownTables::Refuse, UnknownTables::Shard)
            }
        },
    };
    Tables { rules, default_rule, reference, unsharded, unknown }
}

struct RuleParts<'a> {
    columns: &'a Spanned<Vec<Spanned<String>>>,
    function: &'a Spanned<String>,
    types: Option<&'a Spanned<Vec<Spanned<String>>>>,
}

/// Checks one rule against its function; `table` is left `None` for the caller to fill.
fn rule(raw: RuleParts<'_>, at: &str, functions: &[Checked], check: &mut Check) -> Option<TableRule> {
    let mut ok = true;
    let mut columns: Vec<String> = Vec::new();
    if raw.columns.value.is_empty() {
        check.at(raw.columns, &format!("{at}.columns"), "a rule needs at least one key column");
        ok = false;
    }
    for (k, c) in raw.columns.value.iter().enumerate() {
        let col = c.value.trim().to_string();
        if col.is_empty() {
            check.at(c, &format!("{at}.columns[{k}]"), "column name is empty");
            ok = false;
        } else if columns.contains(&col) {
            check.at(c, &format!("{at}.columns[{k}]"), format!("column {col:?} is listed twice"));
            ok = false;
        }
        columns.push(col);
    }
    let wanted = raw.function.value.trim();
    let Some((idx, f)) = functions.iter().enumerate().find(|(_, f)| f.name == wanted) else {
        check.at(raw.function, &format!("{at}.function"), format!("no function named {wanted:?} in `functions`"));
        return None;
    };
    let function = FunctionIdx(u16::try_from(idx).ok()?);
    // A function whose key types did not parse has been reported already.
    let key_types = f.key_types.as_deref()?;
    if columns.len() != key_types.len() {
        check.at(
            raw.columns,
            &format!("{at}.columns"),
            format!("{} column(s) given but function {wanted} takes {} key column(s)", columns.len(), key_types.len()),
        );
        ok = false;
    }
    if let Some(types) = raw.types {
        if types.value.len() != columns.len() {
            check.at(
                types,
                &format!("{at}.types"),
                format!("{} type(s) for {} column(s)", types.value.len(), columns.len()),
            );
            ok = false;
        }
        for (k, t) in types.value.iter().enumerate() {
            let field = format!("{at}.types[{k}]");
            match (KeyType::from_sql_name(&t.value), key_types.get(k)) {
                (None, _) => {
                    check.at(t, &field, cannot_hash(&t.value));
                    ok = false;
                }
                (Some(ty), Some(want)) if ty != *want => {
                    let col = columns.get(k).map_or("?", String::as_str);
                    check.at(
                        t,
                        &field,
                        format!("column {col} is {} but function {wanted} hashes a {} key", t.value, want.as_str()),
                    );
                    ok = false;
                }
                _ => {}
            }
        }
    }
    ok.then_some(TableRule { table: None, columns, function })
}
