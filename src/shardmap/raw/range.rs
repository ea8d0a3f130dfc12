//! `ranges:` of hash and range functions: bounds parsed by the function's key type, then
//! checked for empty ranges, overlaps and (where they matter) gaps.

use std::fmt::Display;

use serde_saphyr::Spanned;

use super::function::RawRange;
use super::scalar::RawScalar;
use super::{push, span, Check};
use crate::shardmap::function::{HashRange, KeyRange};
use crate::shardmap::key::{KeyType, KeyValue};
use crate::shardmap::ShardIdx;

/// One range with its bounds parsed, and where to point when it is at fault.
struct Bounded<'a, T> {
    j: usize,
    from: Option<T>,
    to: Option<T>,
    shard: ShardIdx,
    raw: &'a RawRange,
}

impl<T> Bounded<'_, T> {
    /// The `from` of this range if written, else the range's shard (always present).
    fn lower_at(&self, at: &str) -> (String, (u32, u32)) {
        match &self.raw.from {
            Some(f) => (format!("{at}.ranges[{}].from", self.j), span(f)),
            None => (format!("{at}.ranges[{}]", self.j), span(&self.raw.shard)),
        }
    }

    fn upper_at(&self, at: &str) -> (String, (u32, u32)) {
        match &self.raw.to {
            Some(t) => (format!("{at}.ranges[{}].to", self.j), span(t)),
            None => (format!("{at}.ranges[{}]", self.j), span(&self.raw.shard)),
        }
    }
}

/// Parses every bound with `parse`, then checks: from < to, no overlap, and — when `gaps_matter`
/// — no gap between ranges and no missing unbounded end (`is_min` says a `from` already covers
/// the bottom). Returns the ranges sorted by `from`.
fn checked_ranges<'a, T: Ord + Display + Clone>(
    raw: &'a Spanned<Vec<RawRange>>,
    at: &str,
    gaps_matter: bool,
    what: &str,
    parse: &dyn Fn(&RawScalar) -> Result<T, String>,
    is_min: &dyn Fn(&T) -> bool,
    check: &mut Check,
) -> Option<Vec<Bounded<'a, T>>> {
    if raw.value.is_empty() {
        check.at(raw, &format!("{at}.ranges"), "needs at least one range");
        return None;
    }
    let mut ok = true;
    let mut out = Vec::new();
    for (j, r) in raw.value.iter().enumerate() {
        let bound = |b: &Option<Spanned<RawScalar>>, name: &str, check: &mut Check| match b {
            None => Some(None),
            Some(s) => match parse(&s.value) {
                Ok(v) => Some(Some(v)),
                Err(e) => {
                    check.at(s, &format!("{at}.ranges[{j}].{name}"), e);
                    None
                }
            },
        };
        let from = bound(&r.from, "from", check);
        let to = bound(&r.to, "to", check);
        let shard = check.shard(&r.shard, &format!("{at}.ranges[{j}].shard"));
        match (from, to, shard) {
            (Some(from), Some(to), Some(shard)) => out.push(Bounded { j, from, to, shard, raw: r }),
            _ => ok = false,
        }
    }
    out.retain(|b| match (&b.from, &b.to) {
        (Some(f), Some(t)) if f >= t => {
            push(check, b.upper_at(at), format!("empty range: from {f} is not below to {t} (to is exclusive)"));
            ok = false;
            false
        }
        _ => true,
    });
    out.sort_by(|a, b| a.from.cmp(&b.from));
    for pair in out.windows(2) {
        let [a, b] = pair else { continue };
        match (&a.to, &b.from) {
            (None, _) => {
                push(check, b.lower_at(at), format!("overlaps ranges[{}], which has no upper bound", a.j));
                ok = false;
            }
            (Some(_), None) => {
                push(check, b.lower_at(at), format!("overlaps ranges[{}]: both have no lower bound", a.j));
                ok = false;
            }
            (Some(t), Some(f)) if t > f => {
                push(check, b.lower_at(at), format!("overlaps ranges[{}], which runs up to {t} (exclusive)", a.j));
                ok = false;
            }
            (Some(t), Some(f)) if t < f && gaps_matter => {
                push(
                    check,
                    b.lower_at(at),
                    format!("gap: {what} from {t} up to {f} are in no range (ranges[{}] ends at {t})", a.j),
                );
                ok = false;
            }
            _ => {}
        }
    }
    if gaps_matter {
        if let Some(first) = out.first() {
            if let Some(f) = first.from.as_ref().filter(|f| !is_min(f)) {
                push(
                    check,
                    first.lower_at(at),
                    format!("gap: {what} below {f} are in no range; omit `from` on the lowest range"),
                );
                ok = false;
            }
        }
        if let Some(last) = out.last() {
            if let Some(t) = &last.to {
                push(
                    check,
                    last.upper_at(at),
                    format!("gap: {what} from {t} up are in no range; omit `to` on the highest range"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

pub(super) fn hash_ranges(raw: &Spanned<Vec<RawRange>>, at: &str, check: &mut Check) -> Option<Vec<HashRange>> {
    let parse =
        |s: &RawScalar| s.0.trim().parse::<i64>().map_err(|_| format!("{:?} is not a signed 64-bit hash value", s.0));
    let ranges = checked_ranges(raw, at, true, "hash values", &parse, &|f| *f == i64::MIN, check)?;
    Some(ranges.into_iter().map(|b| HashRange { from: b.from, to: b.to, shard: b.shard }).collect())
}

pub(super) fn key_ranges(
    raw: &Spanned<Vec<RawRange>>,
    ty: KeyType,
    has_default: bool,
    at: &str,
    check: &mut Check,
) -> Option<Vec<KeyRange>> {
    let parse = |s: &RawScalar| KeyValue::from_text(ty, &s.0).map_err(|e| e.to_string());
    let is_min = |v: &KeyValue| match v {
        KeyValue::Int(i) => *i == i64::MIN,
        KeyValue::Text(t) => t.is_empty(),
        KeyValue::Uuid(u) => u.iter().all(|b| *b == 0),
    };
    let ranges = checked_ranges(raw, at, !has_default, "keys", &parse, &is_min, check)?;
    Some(ranges.into_iter().map(|b| KeyRange { from: b.from, to: b.to, shard: b.shard }).collect())
}
