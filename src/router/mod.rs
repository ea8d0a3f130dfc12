//! The router: reads statements and decides where they go. Pure: performs no I/O.
//!
//! `Router::route` turns (SQL, Bind parameters, session hints, shard map) into a `Route`.
//! Parsing is cached by statement text (and, for simple-protocol statements, by the text
//! with literals normalised), so a repeated statement costs a lookup plus reading its key.

pub mod cache;
pub mod classify;
pub mod hint;
pub mod lexer;
pub mod normalise;
pub mod plan;
mod resolve;
pub mod route;
pub mod session_command;
pub mod shape;
mod split;
#[cfg(test)]
mod tests;
pub mod values;

pub use route::{Route, RouteError, SplitPart, Target};

use std::sync::Arc;

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use cache::PlanCache;
use plan::{Body, Plan, StatementKind};
use resolve::{Eval, Outcome};
use values::Values;

use crate::shardmap::{FunctionIdx, KeyValue, ReadFrom, ShardIdx, ShardMap, ShardName};

/// Bind parameter values of an extended-protocol statement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Params<'a> {
    /// Parameter type OIDs from Parse (may be shorter than `values`; 0 = unspecified).
    pub types: &'a [u32],
    /// Format codes as in Bind: empty = all text, one = for all, else one per value.
    pub formats: &'a [i16],
    /// Values; `None` = NULL.
    pub values: &'a [Option<&'a [u8]>],
}

/// Directory answers the caller already has (the lookup cache). Pure: a miss makes the router
/// answer `Target::Lookup`, the caller queries the directory and routes again.
pub trait Lookups {
    fn get(&self, function: FunctionIdx, key: &[KeyValue]) -> Option<ShardName>;
}

/// No directory answers at all.
pub struct NoLookups;

impl Lookups for NoLookups {
    fn get(&self, _: FunctionIdx, _: &[KeyValue]) -> Option<ShardName> {
        None
    }
}

/// Routing hints from session state: `SET shardgate.shard = '…'` / `SET shardgate.<col> = …`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hints<'a> {
    pub shard: Option<&'a str>,
    /// (column, value as text), e.g. ("tenant_id", "42").
    pub keys: &'a [(&'a str, &'a str)],
}

/// What the router needs besides the statement.
pub struct Context<'a> {
    pub hints: Hints<'a>,
    pub lookups: &'a dyn Lookups,
    /// Build [`Route::reason`] for the routes of sharded tables. `shardgate route`, SHOW
    /// ROUTE and debug logs read it; the client loop asks for it only when debug logging is
    /// on, since formatting it (key, value, shard names) for every statement was a visible
    /// share of the proxy's CPU. Refusals always carry their message and hint.
    pub explain: bool,
    /// The client's remembered statement shapes ([`shape`]): a simple-protocol statement of
    /// a remembered shape skips normalisation; one that is normalised is remembered. `None`
    /// (tools, tests): every statement is normalised.
    pub shapes: Option<&'a std::cell::RefCell<shape::Shapes>>,
    /// The plan slot of the prepared statement being bound (extended protocol), so a
    /// statement bound again is routed without its hint scan and plan-cache lookup. `None`:
    /// the plan cache serves.
    pub statement: Option<&'a StatementPlan>,
}

/// A prepared statement's plan, remembered with the router that made it. Filled only for a
/// statement without hint comments (its text, hence its comments, never changes), so using
/// it skips exactly the steps whose answers cannot have changed: the comment scan and the
/// plan-cache lookup. A reload builds a new router, whose id does not match.
#[derive(Debug, Default)]
pub struct StatementPlan(std::sync::Mutex<Option<(u64, Arc<Plan>)>>);

impl StatementPlan {
    fn get(&self, router: u64) -> Option<Arc<Plan>> {
        let slot = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.as_ref().filter(|(id, _)| *id == router).map(|(_, plan)| Arc::clone(plan))
    }

    fn set(&self, router: u64, plan: &Arc<Plan>) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((router, Arc::clone(plan)));
    }
}

/// The router for one map version, with its plan cache. Built on load and on every reload
/// (plans hold table rules resolved against this map, so they die with it).
pub struct Router {
    map: Arc<ShardMap>,
    cache: PlanCache,
    /// Some shard has replicas: whether a read needs the primary matters.
    replicated: bool,
    /// This router's identity in clients' remembered shapes, whose plans are this router's.
    id: u64,
}

thread_local! {
    /// The normalised text of the simple-protocol statement being routed on this thread,
    /// kept between statements so its buffer is allocated once (an allocation and a free per
    /// statement were ~5 % of a routed point select's instructions).
    static NORMALISED: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// Capacity of the normalised-text buffer kept for the next statement.
const MAX_KEPT_NORMALISED: usize = 16 * 1024;

const UNPARSABLE_HINT: &str = "add /* shardgate: shard=<name> */ or check the syntax";

impl Router {
    pub fn new(map: Arc<ShardMap>) -> Self {
        let replicated = map.shards().iter().any(|s| s.replicated());
        Self { map, cache: PlanCache::new(cache::DEFAULT_CAPACITY), replicated, id: shape::next_router_id() }
    }

    pub fn map(&self) -> &ShardMap {
        &self.map
    }

    /// The map has one shard and no per-table read rules: every statement goes there unread.
    fn one_shard(&self) -> bool {
        self.map.single().is_some() && self.map.table_read_from.is_empty()
    }

    /// Plan cache (hits, misses) since this router was built, for the metrics endpoint.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.cache.stats()
    }

    /// Routes one query string. `params` is `None` for the simple protocol, whose string may
    /// hold several statements; they must all go to one place.
    pub fn route(&self, sql: &str, params: Option<&Params<'_>>, ctx: &Context<'_>) -> Route {
        if let (Some(p), Some(slot)) = (params, ctx.statement) {
            // A remembered plan means: no hint comment, this router's plan. The session's
            // shard hint and the one-shard shortcut are checked as below.
            if ctx.hints.shard.is_none() && !self.one_shard() {
                if let Some(plan) = slot.get(self.id) {
                    self.cache.count_hit();
                    return self.decide(&plan, Values::Bind(p), ctx.hints.keys, ctx);
                }
            }
        }
        if let (None, Some(shapes)) = (params, ctx.shapes) {
            // A statement of a remembered shape has no hint comment (`shape`); the session's
            // shard hint and the one-shard shortcut are checked as below.
            if ctx.hints.shard.is_none() && !self.one_shard() {
                if let Some((plan, literals)) = shapes.borrow().find(self.id, sql) {
                    self.cache.count_hit();
                    return self.decide(plan, Values::Literals(&literals), ctx.hints.keys, ctx);
                }
            }
        }
        let comment = hint::scan(sql);
        if let Some(name) = comment.shard.as_deref().or(ctx.hints.shard) {
            return self.pinned(sql, name);
        }
        if let Some(s) = self.map.single().filter(|_| self.map.table_read_from.is_empty()) {
            let write = self.may_write(sql);
            return Route {
                target: Target::Shard(s),
                write,
                reason: "the map has one shard".into(),
                tenant: None,
                read_from: None,
            };
        }
        let comment_keys: Vec<(&str, &str)> = comment.keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let key_hints = if comment_keys.is_empty() { ctx.hints.keys } else { &comment_keys };
        if let Some(p) = params {
            if let Some(slot) = ctx.statement.filter(|_| comment.keys.is_empty()) {
                let plan = self.plan_for(sql);
                slot.set(self.id, &plan);
                return self.decide(&plan, Values::Bind(p), key_hints, ctx);
            }
            return self.route_one(sql, params, key_hints, ctx, None);
        }
        let mut statements = lexer::statements(sql);
        let Some(first) = statements.next() else {
            return Route {
                target: Target::Any,
                write: false,
                reason: "empty query".into(),
                tenant: None,
                read_from: None,
            };
        };
        match statements.next() {
            None => {
                // One statement: remember its shape, as the whole query string.
                let remember = ctx.shapes.map(|shapes| (sql, shapes));
                self.route_one(first, None, key_hints, ctx, remember)
            }
            Some(second) => {
                let all = [first, second].into_iter().chain(statements);
                combine(all.map(|s| self.route_one(s, None, key_hints, ctx, None)), &self.map)
            }
        }
    }

    /// A shard hint decides alone.
    fn pinned(&self, sql: &str, name: &str) -> Route {
        let write = self.may_write(sql);
        match self.map.shard_by_name(name) {
            Some(s) => Route {
                target: Target::Shard(s),
                write,
                reason: format!("hint shard={name}"),
                tenant: None,
                read_from: None,
            },
            None => {
                let names: Vec<&str> = self.map.shards().iter().map(|s| s.name.as_str()).collect();
                Route {
                    target: Target::Refuse(RouteError::unsupported(
                        format!("shard hint names unknown shard {name:?}"),
                        format!("use one of: {}", names.join(", ")),
                    )),
                    write,
                    reason: format!("hint shard={name}"),
                    tenant: None,
                    read_from: None,
                }
            }
        }
    }

    /// The cached plan for `text`, parsing and caching it on a miss.
    fn plan_for(&self, text: &str) -> Arc<Plan> {
        if let Some(p) = self.cache.get(text) {
            return p;
        }
        let plan = Arc::new(self.parse(text));
        self.cache.insert(text, Arc::clone(&plan));
        plan
    }

    /// The strictest `table_read_from` of the tables a plan reads.
    fn tables_read_from(&self, t: &plan::TablePlan) -> Option<ReadFrom> {
        if self.map.table_read_from.is_empty() {
            return None;
        }
        t.instances.iter().fold(None, |acc, i| {
            let named = self.map.table_read_from.get(&i.display).or_else(|| self.map.table_read_from.get(&i.name));
            strictest(acc, named.copied())
        })
    }

    /// Whether a statement the router does not parse may write (or otherwise needs the
    /// primary). Errs towards the primary.
    fn may_write(&self, sql: &str) -> bool {
        may_write(sql) || (self.replicated && needs_primary(sql, &self.map.write_functions))
    }

    fn parse(&self, text: &str) -> Plan {
        match Parser::parse_sql(&PostgreSqlDialect {}, text) {
            Ok(stmts) => match stmts.as_slice() {
                [one] => {
                    let mut plan = classify::plan(one, &self.map);
                    if !plan.write && needs_primary(text, &self.map.write_functions) {
                        plan.write = true;
                    }
                    plan
                }
                [] => Plan { kind: StatementKind::Utility, write: false, body: Body::NoTable },
                _ => Plan {
                    kind: StatementKind::Utility,
                    write: true,
                    body: Body::Unparsable("several statements in one extended-protocol query".into()),
                },
            },
            Err(e) => utility_fallback(text).unwrap_or(Plan {
                kind: StatementKind::Utility,
                write: true,
                body: Body::Unparsable(e.to_string()),
            }),
        }
    }

    /// Routes one statement. `remember`: the whole query string `sql` stands in and the
    /// client's shapes, to remember its shape if it is normalised.
    fn route_one(
        &self,
        sql: &str,
        params: Option<&Params<'_>>,
        keys: &[(&str, &str)],
        ctx: &Context<'_>,
        remember: Option<(&str, &std::cell::RefCell<shape::Shapes>)>,
    ) -> Route {
        if params.is_none() {
            // The normalised text only looks up the plan; one buffer per thread holds it, taken
            // out for the call (so a nested route cannot find it borrowed) and put back.
            let mut text = NORMALISED.with(std::cell::Cell::take);
            let mut spans = normalise::Spans::new();
            let routed = normalise::normalise_with_spans(sql, &mut text, &mut spans).and_then(|literals| {
                let plan = self.plan_for(&text);
                if !is_normalisable(&plan) {
                    return None;
                }
                if let Some((whole, shapes)) = remember {
                    // `sql` is a slice of `whole` (trimmed of space and `;`): shift the spans.
                    let offset = (sql.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
                    for s in &mut spans {
                        s.start += offset;
                        s.end += offset;
                    }
                    if let Ok(mut shapes) = shapes.try_borrow_mut() {
                        shapes.remember(self.id, whole, &spans, &plan);
                    }
                }
                Some(self.decide(&plan, Values::Literals(&literals), keys, ctx))
            });
            if text.capacity() > MAX_KEPT_NORMALISED {
                // One huge statement must not pin its buffer for the thread's life.
                text = String::new();
            }
            NORMALISED.with(|b| b.set(text));
            if let Some(route) = routed {
                return route;
            }
        }
        let plan = self.plan_for(sql);
        let values = match params {
            Some(p) => Values::Bind(p),
            None => Values::None,
        };
        self.decide(&plan, values, keys, ctx)
    }

    fn decide(&self, plan: &Plan, values: Values<'_>, key_hints: &[(&str, &str)], ctx: &Context<'_>) -> Route {
        let write = plan.write;
        let refuse = |e: RouteError| Route {
            target: Target::Refuse(e),
            write,
            reason: String::new(),
            tenant: None,
            read_from: None,
        };
        match &plan.body {
            Body::NoTable => Route {
                target: Target::Any,
                write,
                reason: format!("{}: no table", plan.kind.as_str()),
                tenant: None,
                read_from: None,
            },
            Body::Everywhere => Route {
                target: Target::All,
                write,
                reason: format!("{}: every shard", plan.kind.as_str()),
                tenant: None,
                read_from: None,
            },
            Body::NeedsHint { error, .. } => refuse(error.clone()),
            Body::Unparsable(message) => {
                refuse(RouteError::Unparsable { message: message.clone(), hint: UNPARSABLE_HINT.into() })
            }
            Body::Tables(t) => {
                // The common point statement skips the general evaluation; `explain` wants the
                // general path's reason text.
                if let Some(point) = resolve::Point::of(plan.kind, t).filter(|_| !ctx.explain) {
                    if let Some((shard, key)) = point.place(&self.map, &values) {
                        return Route {
                            target: Target::Shard(shard),
                            write,
                            reason: String::new(),
                            tenant: Some(key),
                            read_from: self.tables_read_from(t),
                        };
                    }
                }
                let mut eval = Eval {
                    map: &self.map,
                    values,
                    lookups: ctx.lookups,
                    key_hints,
                    pending: Vec::new(),
                    tenant: resolve::OneKey::None,
                    explain: ctx.explain,
                };
                match eval.tables(plan.kind, write, t) {
                    Ok(Outcome::Routed(target, reason)) => {
                        let tenant = eval.tenant.take();
                        Route { target, write, reason, tenant, read_from: self.tables_read_from(t) }
                    }
                    Ok(Outcome::Split { rows, why }) => {
                        let parts: Option<Vec<SplitPart>> = t.insert.as_ref().and_then(|ins| {
                            let stmt = ins.statement.as_deref()?;
                            rows.iter().map(|(shard, r)| split::render(stmt, *shard, r)).collect()
                        });
                        match parts {
                            Some(parts) => Route {
                                target: Target::Split(parts),
                                write,
                                reason: why,
                                tenant: None,
                                read_from: None,
                            },
                            None => refuse(RouteError::unsupported("internal: cannot split this INSERT", "")),
                        }
                    }
                    Err(e) => refuse(e),
                }
            }
        }
    }
}

/// A plan from literal-normalised text is used only when the text parsed and the plan does
/// not need the literals' text (a split INSERT re-renders its rows from the original).
fn is_normalisable(plan: &Plan) -> bool {
    match &plan.body {
        Body::Unparsable(_) => false,
        Body::Tables(t) => t.insert.as_ref().is_none_or(|i| i.statement.is_none()),
        _ => true,
    }
}

/// Statements sqlparser does not parse but whose first word says they touch no table (e.g.
/// `SET CONSTRAINTS ALL DEFERRED`, `CHECKPOINT`): routing them needs no parse.
fn utility_fallback(text: &str) -> Option<Plan> {
    let first = lexer::Words::new(text).next()?.to_ascii_lowercase();
    let (kind, write, body) = match first.as_str() {
        "set" | "reset" => (StatementKind::Set, false, Body::NoTable),
        "begin" | "start" | "commit" | "end" | "abort" | "rollback" | "savepoint" | "release" => {
            (StatementKind::Transaction, false, Body::NoTable)
        }
        "show" | "discard" | "deallocate" | "listen" | "unlisten" | "notify" | "close" => {
            (StatementKind::Utility, false, Body::NoTable)
        }
        "checkpoint" => (StatementKind::Utility, true, Body::Everywhere),
        _ => return None,
    };
    Some(Plan { kind, write, body })
}

/// Without a plan: whether a statement may write, erring towards yes.
fn may_write(sql: &str) -> bool {
    lexer::statements(sql).any(statement_may_write)
}

/// One statement, read lexically: reads are SELECT/SHOW/VALUES without `FOR UPDATE` or
/// `INTO`; transaction control and session commands neither read nor write data (they go
/// with whatever server the session uses); everything else may write.
fn statement_may_write(sql: &str) -> bool {
    const READS: [&str; 3] = ["select", "show", "values"];
    const NEITHER: [&str; 12] = [
        "begin",
        "start",
        "commit",
        "end",
        "rollback",
        "abort",
        "savepoint",
        "release",
        "set",
        "reset",
        "discard",
        "deallocate",
    ];
    let mut words = lexer::Words::new(sql);
    let first = words.next().unwrap_or_default();
    if NEITHER.iter().any(|k| first.eq_ignore_ascii_case(k)) {
        return false;
    }
    let reads = READS.iter().any(|k| first.eq_ignore_ascii_case(k));
    !reads || words.any(|w| w.eq_ignore_ascii_case("for") || w.eq_ignore_ascii_case("into"))
}

/// Of two `read_from` settings, the one that sends reads closer to the primary.
fn strictest(a: Option<ReadFrom>, b: Option<ReadFrom>) -> Option<ReadFrom> {
    let rank = |r: ReadFrom| match r {
        ReadFrom::Any => 0,
        ReadFrom::Replica => 1,
        ReadFrom::Primary => 2,
    };
    match (a, b) {
        (Some(x), Some(y)) => Some(if rank(y) > rank(x) { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Functions that write, take locks or assign a transaction ID: a SELECT calling one needs
/// the primary (a replica would refuse it). Prefix entries end in `*`. The map's
/// `write_functions` adds to this list.
const WRITE_FUNCTIONS: &[&str] = &[
    "nextval",
    "setval",
    "pg_advisory*",
    "pg_try_advisory*",
    "txid_current",
    "pg_current_xact_id",
    "pg_notify",
    "lo_*",
    "pg_switch_wal",
    "pg_create_restore_point",
];

/// A read that must run on the primary: a data-modifying CTE (`WITH … AS (INSERT …)`) or a
/// call of a function on the write list. Lexical and conservative: a false positive only
/// sends a read to the primary.
fn needs_primary(sql: &str, extra: &[String]) -> bool {
    let mut words = lexer::Words::new(sql).peekable();
    let cte = words.peek().is_some_and(|w| w.eq_ignore_ascii_case("with"));
    while let Some(w) = words.next() {
        if cte && ["insert", "update", "delete", "merge"].iter().any(|k| w.eq_ignore_ascii_case(k)) {
            return true;
        }
        if words.peek() != Some(&"(") || !w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            continue;
        }
        // `pg_catalog.setval(`: the function's own name.
        let w = w.rsplit('.').next().unwrap_or(w);
        let named = |pattern: &str| match pattern.strip_suffix('*') {
            Some(prefix) => {
                w.len() >= prefix.len() && w.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            }
            None => w.eq_ignore_ascii_case(pattern),
        };
        if WRITE_FUNCTIONS.iter().any(|p| named(p)) || extra.iter().any(|p| named(p)) {
            return true;
        }
    }
    false
}

/// The statements of one simple query go to one place, or the query is refused.
fn combine(routes: impl Iterator<Item = Route>, map: &ShardMap) -> Route {
    let mut write = false;
    let mut reasons: Vec<String> = Vec::new();
    let mut target = Target::Any;
    let mut lookups = Vec::new();
    // The statements' one key, if they all name the same one (`None` once two differ).
    let mut tenant: Option<Option<values::Keys>> = None;
    let mut read_from: Option<ReadFrom> = None;
    for r in routes {
        write |= r.write;
        read_from = strictest(read_from, r.read_from);
        if let Some(k) = &r.tenant {
            tenant = match tenant {
                None => Some(Some(k.clone())),
                Some(Some(t)) if t == *k => Some(Some(t)),
                Some(_) => Some(None),
            };
        }
        match r.target {
            Target::Refuse(e) => {
                return Route { target: Target::Refuse(e), write, reason: r.reason, tenant: None, read_from: None }
            }
            Target::Lookup(mut l) => lookups.append(&mut l),
            Target::Any => {}
            t @ (Target::Shard(_) | Target::All) if target == Target::Any || target == t => target = t,
            t => {
                let names = |t: &Target| -> String {
                    match t {
                        Target::Shard(s) => shard_name(map, *s),
                        Target::All => "all shards".into(),
                        Target::Shards(v) => v.iter().map(|s| shard_name(map, *s)).collect::<Vec<_>>().join(", "),
                        Target::Split(_) => "a split INSERT".into(),
                        _ => String::new(),
                    }
                };
                return Route {
                    target: Target::Refuse(RouteError::unsupported(
                        format!(
                            "statements of one query go to different shards ({} and {})",
                            names(&target),
                            names(&t)
                        ),
                        "send the statements as separate queries, or add /* shardgate: shard=<name> */",
                    )),
                    write,
                    reason: reasons.join("; "),
                    tenant: None,
                    read_from: None,
                };
            }
        }
        reasons.push(r.reason);
    }
    if !lookups.is_empty() {
        return Route {
            target: Target::Lookup(lookups),
            write,
            reason: "directory lookup needed".into(),
            tenant: None,
            read_from: None,
        };
    }
    Route { target, write, reason: reasons.join("; "), tenant: tenant.flatten(), read_from }
}

#[cfg(test)]
impl Router {
    pub(crate) fn cache_len_for_test(&self) -> usize {
        self.cache.len()
    }

    /// Routes one simple-protocol statement by a full parse of its text, bypassing
    /// normalisation: the reference the normalised path must agree with.
    pub(crate) fn route_full_parse_for_test(&self, sql: &str) -> Route {
        let comment = hint::scan(sql);
        if let Some(name) = comment.shard.as_deref() {
            return self.pinned(sql, name);
        }
        let keys: Vec<(&str, &str)> = comment.keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let plan = self.parse(sql);
        self.decide(&plan, Values::None, &keys, &ctx_for_test())
    }
    /// Shard names as refusals list them.
    pub(crate) fn names_for_test(&self, shards: &[ShardIdx]) -> String {
        let mut s = shards.to_vec();
        s.sort_unstable();
        s.dedup();
        s.iter().map(|x| shard_name(&self.map, *x)).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
fn ctx_for_test() -> Context<'static> {
    Context { hints: Hints::default(), lookups: &NoLookups, explain: true, shapes: None, statement: None }
}

fn shard_name(map: &ShardMap, s: ShardIdx) -> String {
    map.shard(s).map(|x| x.name.to_string()).unwrap_or_default()
}
