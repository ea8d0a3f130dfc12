//! Cross-shard reads in the client loop: the I/O around `scatter`'s merge. Each involved
//! shard gets its own pooled server and task (`scatter::shard::run`), all in parallel; the
//! merge pulls rows from their bounded channels and writes the client one RowDescription,
//! the merged rows and one CommandComplete with the total.
//!
//! Runs only between transactions: inside one, a read on other connections would not see the
//! transaction's own writes, so it is refused rather than answered differently.

use std::sync::Arc;
use std::task::Poll;

use bytes::{Bytes, BytesMut};

use super::client::Client;
use super::error::FrontendError;
use crate::error::ClientError;
use crate::protocol::build;
use crate::protocol::messages::data_row;
use crate::protocol::messages::error_response::ErrorFields;
use crate::protocol::messages::ready_for_query::TxStatus;
use crate::protocol::messages::row_description::{self, Column};
use crate::scatter::group::{Grouper, MergedRow};
use crate::scatter::having::{Having, ParamValue};
use crate::scatter::layout::{is_collatable, Layout};
use crate::scatter::merge::{write_visible, Admit, Sorter, Window};
use crate::scatter::plan::{MergePlan, Shape};
use crate::scatter::planner::Planned;
use crate::scatter::shard::{self, ShardEvent};
use crate::scatter::value::{self, Format};
use crate::scatter::ScatterError;
use crate::shardmap::ShardIdx;

/// Flush merged rows to the client once this much is buffered.
const FLUSH_AT: usize = 64 * 1024;
/// Rows read and dropped per shard after the LIMIT is reached, so its server can go back
/// to the pool; past this the server is closed instead.
const DRAIN_LIMIT: usize = 10_000;

/// Parameters of an extended-protocol scatter, copied out of the client's Bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BoundParams {
    pub types: Vec<u32>,
    pub formats: Vec<i16>,
    pub values: Vec<Option<Bytes>>,
    pub results: Vec<i16>,
}

impl BoundParams {
    fn format_of(&self, i: usize) -> Format {
        let code = match self.formats.as_slice() {
            [] => 0,
            [one] => *one,
            many => many.get(i).copied().unwrap_or(0),
        };
        Format::from_code(code)
    }

    fn get(&self, i: usize) -> ParamValue<'_> {
        self.values.get(i).and_then(|v| v.as_deref()).map(|v| (v, self.format_of(i)))
    }
}

/// A cross-shard read to run.
#[derive(Debug, Clone)]
pub(super) struct ScatterJob {
    /// The client's statement, for Describe.
    pub sql: String,
    pub plan: Arc<Planned>,
    pub shards: Vec<ShardIdx>,
    pub params: Option<BoundParams>,
    /// The map's `table_read_from` for the tables read.
    pub read_from: Option<crate::shardmap::ReadFrom>,
}

impl PartialEq for ScatterJob {
    fn eq(&self, other: &Self) -> bool {
        self.sql == other.sql && self.shards == other.shards && self.params == other.params
    }
}
impl Eq for ScatterJob {}

/// One shard's stream of events.
struct Feed {
    shard: ShardIdx,
    events: shard::Events,
    done: bool,
}

impl Client {
    /// Runs a cross-shard read and answers the client: RowDescription when `describe`, the
    /// merged rows, CommandComplete, and ReadyForQuery when `ready` (simple protocol).
    pub(super) async fn scatter(&mut self, job: &ScatterJob, describe: bool, ready: bool) -> Result<(), FrontendError> {
        // Between transactions (the caller checked): a held server can go back first.
        self.release();
        let plan = match job.plan.ready() {
            Some(p) => p,
            None => self.learn_types(job).await?,
        };
        let mut feeds = self.start_shards(job, &plan).await?;
        let result = self.merge(job, &plan, &mut feeds, describe).await;
        drain(&mut feeds).await;
        let sent = result?;
        build::command_complete(&mut self.wbuf, &format!("SELECT {sent}"));
        if ready {
            build::ready_for_query(&mut self.wbuf, TxStatus::Idle);
        }
        Ok(())
    }

    /// Describes a scatter portal for the client: the client's own statement described by one
    /// shard (all shards share the schema), with the result formats of its Bind.
    pub(super) async fn scatter_describe(&mut self, job: &ScatterJob) -> Result<(), FrontendError> {
        let types = job.params.as_ref().map(|p| p.types.clone()).unwrap_or_default();
        let cols = self.describe_on_shard(job, &job.sql, &types).await?;
        let mut out = BytesMut::new();
        match cols {
            Some(mut cols) if !cols.is_empty() => {
                let results = job.params.as_ref().map(|p| p.results.clone()).unwrap_or_default();
                for (i, c) in cols.iter_mut().enumerate() {
                    c.format = match results.as_slice() {
                        [] => 0,
                        [one] => *one,
                        many => many.get(i).copied().unwrap_or(0),
                    };
                }
                row_description::write(&mut out, &cols);
            }
            _ => build::no_data(&mut out),
        }
        self.synthetic(out.freeze());
        Ok(())
    }

    /// The first run of a plan that compares columns: learns from one shard which of them
    /// are text, so the shards can be asked for those columns' collations.
    async fn learn_types(&mut self, job: &ScatterJob) -> Result<Arc<MergePlan>, FrontendError> {
        let base = job.plan.base.clone().map_err(FrontendError::from)?;
        let types = job.params.as_ref().map(|p| p.types.clone()).unwrap_or_default();
        let cols = self.describe_on_shard(job, &base.shard_sql, &types).await?.unwrap_or_default();
        let width = cols.len();
        let collatable = |c: crate::scatter::plan::ColumnRef| {
            c.index(width, base.hidden).and_then(|i| cols.get(i)).is_some_and(|col| is_collatable(col.type_oid))
        };
        Ok(job.plan.check(&collatable)?)
    }

    /// Parse + Describe (statement) of `sql` on the job's first shard: its RowDescription, or
    /// `None` for a statement without rows.
    async fn describe_on_shard(
        &mut self,
        job: &ScatterJob,
        sql: &str,
        types: &[u32],
    ) -> Result<Option<Vec<Column>>, FrontendError> {
        let Some(&first) = job.shards.first() else { return Ok(None) };
        let need = self.need(first, &job.sql, false, job.read_from);
        let pool = self.pool_for(first, &need)?;
        let now = self.now();
        let server = super::timing::checkout(&pool, &self.shared.metrics, need.role(), now)
            .await
            .map_err(|e| self.shard_error(first, &e))?;
        let mut req = BytesMut::new();
        build::parse(&mut req, "", sql, types);
        build::describe(&mut req, b'S', "");
        build::sync(&mut req);
        let mut events = shard::Events::start(server, req.freeze());
        let mut cols: Option<Vec<Column>> = None;
        while let Some(ev) = events.next().await {
            match ev {
                ShardEvent::Description(c) => cols = Some(c),
                ShardEvent::Error(e) => return Err(self.shard_failed(first, e)),
                ShardEvent::Failed(m) if !m.is_empty() => {
                    return Err(self.shard_failed(first, fields("08006", &m)));
                }
                _ => {}
            }
        }
        Ok(cols)
    }

    /// Checks out a server on every shard (in parallel), brings its settings in line with the
    /// client's, and starts its task.
    async fn start_shards(&mut self, job: &ScatterJob, plan: &MergePlan) -> Result<Vec<Feed>, FrontendError> {
        let mut pools = Vec::with_capacity(job.shards.len());
        for &s in &job.shards {
            let need = self.need(s, &job.sql, false, job.read_from);
            pools.push((s, self.pool_for(s, &need)?, need.role()));
        }
        let metrics = &self.shared.metrics;
        let now = tokio::time::Instant::now();
        let checkouts = futures_util::future::join_all(
            pools.iter().map(|(_, p, role)| super::timing::checkout(p, metrics, role, now)),
        )
        .await;
        let mut servers = Vec::with_capacity(pools.len());
        for ((s, _, _), r) in pools.iter().zip(checkouts) {
            match r {
                Ok(c) => servers.push((*s, c)),
                Err(e) => return Err(self.shard_error(*s, &e)),
            }
        }
        for (s, server) in servers.iter_mut() {
            if let Some(diff) = server.settings.diff_sql(&self.settings) {
                if let Err(e) = server.run_internal(&diff).await {
                    return Err(self.shard_failed(*s, fields("08006", &e.to_string())));
                }
            }
            server.settings = self.settings.clone();
        }
        let request = request(plan, job.params.as_ref());
        let mut feeds = Vec::with_capacity(servers.len());
        for (s, server) in servers {
            feeds.push(Feed { shard: s, events: shard::Events::start(server, request.clone()), done: false });
        }
        Ok(feeds)
    }

    /// Reads every shard's RowDescription, checks them, then merges by the plan's shape.
    /// Returns the number of rows sent.
    async fn merge(
        &mut self,
        job: &ScatterJob,
        plan: &MergePlan,
        feeds: &mut [Feed],
        describe: bool,
    ) -> Result<u64, FrontendError> {
        let mut descriptions = Vec::with_capacity(feeds.len());
        for i in 0..feeds.len() {
            match self.next_event(feeds, i).await? {
                Some(ShardEvent::Description(c)) => descriptions.push(c),
                Some(other) => self.unexpected(feeds, i, other)?,
                None => return Err(ScatterError::ShapeMismatch { detail: "a shard returned no result".into() }.into()),
            }
        }
        let layout = Layout::new(&descriptions, plan)?;
        for &c in &plan.text_compared {
            let collatable = is_collatable(layout.type_oid(layout.index(c)?));
            if collatable && !plan.collations.iter().any(|k| k.column == c) {
                // Planned when this column was not text: the table changed since.
                job.plan.forget_checked();
                return Err(ScatterError::unsupported(
                    "a compared column's type changed since shardgate planned this statement",
                    "run the statement again",
                )
                .into());
            }
        }
        if describe {
            row_description::write(&mut self.wbuf, &layout.client_description(plan));
        }
        let params = job.params.as_ref();
        let mut window = Window::new(plan, |i| param_count(params, i))?;
        match &plan.shape {
            Shape::Stream if plan.order.is_empty() => self.merge_unordered(feeds, &layout, &mut window).await,
            Shape::Stream => self.merge_ordered(plan, feeds, &layout, &mut window).await,
            Shape::Group(g) => {
                let mut grouper = Grouper::new(g, &layout)?;
                loop {
                    let Some((i, ev)) = self.any_event(feeds).await? else { break };
                    match ev {
                        ShardEvent::Row(body) => {
                            let f = data_row::fields(&body).map_err(FrontendError::from)?;
                            check_collations(plan, &layout, &f)?;
                            grouper.add(&f)?;
                        }
                        other => self.unexpected(feeds, i, other)?,
                    }
                }
                grouper.ensure_one_group();
                let types: Vec<u32> = (0..layout.width()).map(|i| layout.client_type(plan, i)).collect();
                let mut rows = grouper.finish(|i| layout.client_type(plan, i))?;
                if let Some(pred) = &g.having {
                    let get = |i: usize| -> ParamValue<'_> { params.and_then(|p| p.get(i)) };
                    let having = Having::new(pred, &layout, types.clone(), &get);
                    let mut kept = Vec::with_capacity(rows.len());
                    for r in rows {
                        if having.passes(&r.values)? {
                            kept.push(r);
                        }
                    }
                    rows = kept;
                }
                if !plan.order.is_empty() {
                    let sorter = Sorter::new(&plan.order, &layout, |i| types.get(i).copied().unwrap_or(0))?;
                    let mut keyed: Vec<(Vec<Option<value::Value>>, MergedRow)> =
                        rows.into_iter().map(|r| (sorter.pick(&r.values), r)).collect();
                    keyed.sort_by(|a, b| sorter.compare(&a.0, &b.0));
                    rows = keyed.into_iter().map(|(_, r)| r).collect();
                }
                let visible = layout.visible();
                let mut sent = 0u64;
                for r in rows {
                    let more = self
                        .emit(&mut window, &mut sent, |out| {
                            data_row::write(out, r.bytes.iter().take(visible).map(|b| b.as_deref()));
                            Ok(())
                        })
                        .await?;
                    if !more {
                        break;
                    }
                }
                Ok(sent)
            }
        }
    }

    /// No ORDER BY: rows go to the client as they arrive from any shard.
    async fn merge_unordered(
        &mut self,
        feeds: &mut [Feed],
        layout: &Layout,
        window: &mut Window,
    ) -> Result<u64, FrontendError> {
        let mut sent = 0u64;
        while !window.is_done() {
            let Some((i, ev)) = self.any_event(feeds).await? else { break };
            let body = match ev {
                ShardEvent::Row(body) => body,
                other => {
                    self.unexpected(feeds, i, other)?;
                    continue;
                }
            };
            if !self.emit(window, &mut sent, |out| write_row(out, &body, layout)).await? {
                break;
            }
        }
        Ok(sent)
    }

    /// ORDER BY: a k-way merge of the shards' sorted streams, holding one row per shard.
    async fn merge_ordered(
        &mut self,
        plan: &MergePlan,
        feeds: &mut [Feed],
        layout: &Layout,
        window: &mut Window,
    ) -> Result<u64, FrontendError> {
        let sorter = Sorter::new(&plan.order, layout, |i| layout.type_oid(i))?;
        let mut heads: Vec<Option<(Vec<Option<value::Value>>, Bytes)>> = Vec::with_capacity(feeds.len());
        for i in 0..feeds.len() {
            heads.push(self.next_row(feeds, i, &sorter, plan, layout).await?);
        }
        let mut sent = 0u64;
        while !window.is_done() {
            let mut best: Option<usize> = None;
            for (i, h) in heads.iter().enumerate() {
                let Some((k, _)) = h else { continue };
                let better = match best.and_then(|b| heads.get(b)).and_then(|h| h.as_ref()) {
                    None => true,
                    Some((bk, _)) => sorter.compare(k, bk).is_lt(),
                };
                if better {
                    best = Some(i);
                }
            }
            let Some(b) = best else { break };
            let Some((_, body)) = heads.get_mut(b).and_then(|h| h.take()) else { break };
            if let Some(slot) = heads.get_mut(b) {
                *slot = self.next_row(feeds, b, &sorter, plan, layout).await?;
            }
            if !self.emit(window, &mut sent, |out| write_row(out, &body, layout)).await? {
                break;
            }
        }
        Ok(sent)
    }

    /// Passes one merged row through the OFFSET/LIMIT window to the client, flushing now and
    /// then. `Ok(false)`: the LIMIT is reached and no more rows are wanted.
    async fn emit(
        &mut self,
        window: &mut Window,
        sent: &mut u64,
        write: impl FnOnce(&mut BytesMut) -> Result<(), FrontendError>,
    ) -> Result<bool, FrontendError> {
        match window.admit() {
            Admit::Skip => return Ok(true),
            Admit::Done => return Ok(false),
            Admit::Send => {}
        }
        write(&mut self.wbuf)?;
        *sent += 1;
        if self.wbuf.len() >= FLUSH_AT {
            self.flush_client().await?;
        }
        Ok(true)
    }

    /// The next row of shard `i` with its sort key, or `None` when the shard is done.
    async fn next_row(
        &mut self,
        feeds: &mut [Feed],
        i: usize,
        sorter: &Sorter,
        plan: &MergePlan,
        layout: &Layout,
    ) -> Result<Option<(Vec<Option<value::Value>>, Bytes)>, FrontendError> {
        loop {
            match self.next_event(feeds, i).await? {
                None => return Ok(None),
                Some(ShardEvent::Row(body)) => {
                    let f = data_row::fields(&body).map_err(FrontendError::from)?;
                    check_collations(plan, layout, &f)?;
                    return Ok(Some((sorter.values(&f)?, body)));
                }
                Some(other) => self.unexpected(feeds, i, other)?,
            }
        }
    }

    /// The next event of shard `i`; `None` once it completed.
    async fn next_event(&mut self, feeds: &mut [Feed], i: usize) -> Result<Option<ShardEvent>, FrontendError> {
        let Some(feed) = feeds.get_mut(i) else { return Ok(None) };
        if feed.done {
            return Ok(None);
        }
        match feed.events.next().await {
            Some(ShardEvent::Complete) => {
                feed.done = true;
                Ok(None)
            }
            Some(ev) => Ok(Some(ev)),
            None => {
                feed.done = true;
                Err(self.shard_failed(feed.shard, fields("08006", "the shard's connection ended early")))
            }
        }
    }

    /// The next event of whichever shard has one; `None` once all completed. Errors end it.
    async fn any_event(&mut self, feeds: &mut [Feed]) -> Result<Option<(usize, ShardEvent)>, FrontendError> {
        loop {
            if feeds.iter().all(|f| f.done) {
                return Ok(None);
            }
            let (i, ev) = std::future::poll_fn(|cx| {
                for (i, f) in feeds.iter_mut().enumerate() {
                    if f.done {
                        continue;
                    }
                    if let Poll::Ready(ev) = f.events.poll_next(cx) {
                        return Poll::Ready((i, ev));
                    }
                }
                Poll::Pending
            })
            .await;
            let shard = feeds.get(i).map(|f| f.shard).unwrap_or(ShardIdx(0));
            match ev {
                Some(ShardEvent::Complete) => {
                    if let Some(f) = feeds.get_mut(i) {
                        f.done = true;
                    }
                }
                Some(ev) => return Ok(Some((i, ev))),
                None => {
                    if let Some(f) = feeds.get_mut(i) {
                        f.done = true;
                    }
                    return Err(self.shard_failed(shard, fields("08006", "the shard's connection ended early")));
                }
            }
        }
    }

    /// Anything but a row in the middle of a shard's rows ends the scatter with that error.
    fn unexpected(&self, feeds: &mut [Feed], i: usize, ev: ShardEvent) -> Result<(), FrontendError> {
        let shard = feeds.get(i).map(|f| f.shard).unwrap_or(ShardIdx(0));
        if let Some(f) = feeds.get_mut(i) {
            f.done = true;
        }
        Err(match ev {
            ShardEvent::Error(e) => self.shard_failed(shard, e),
            ShardEvent::Failed(m) => self.shard_failed(shard, fields("08006", &m)),
            _ => ScatterError::ShapeMismatch { detail: "a shard answered out of order".into() }.into(),
        })
    }

    fn shard_failed(&self, shard: ShardIdx, e: ErrorFields) -> FrontendError {
        FrontendError::ShardFailed {
            shard: self.routing.shard_name(shard),
            code: if e.code.is_empty() { "XX000".into() } else { e.code },
            message: e.message,
            hint: e.hint,
        }
    }

    fn shard_error(&self, shard: ShardIdx, e: &dyn ClientError) -> FrontendError {
        FrontendError::ShardFailed {
            shard: self.routing.shard_name(shard),
            code: e.sqlstate().code().to_string(),
            message: e.client_message(),
            hint: e.hint(),
        }
    }
}

/// What every shard is sent: the rewritten statement as a simple Query, or (extended
/// protocol) Parse/Bind/Describe/Execute/Sync with the client's parameters unchanged.
fn request(plan: &MergePlan, params: Option<&BoundParams>) -> Bytes {
    let mut out = BytesMut::new();
    match params {
        None => build::query(&mut out, &plan.shard_sql),
        Some(p) => {
            build::parse(&mut out, "", &plan.shard_sql, &p.types);
            // Hidden columns come back in text unless the client asked one format for all.
            let mut results = p.results.clone();
            if results.len() > 1 {
                results.extend(std::iter::repeat_n(0, plan.hidden));
            }
            build::bind(&mut out, "", "", &p.formats, p.values.iter().map(|v| v.as_deref()), &results);
            build::describe(&mut out, b'P', "");
            build::execute(&mut out, "", 0);
            build::sync(&mut out);
        }
    }
    out.freeze()
}

/// Reads what is left of each shard's answer (bounded), so that servers whose rows were
/// not all needed can still go back to the pool.
async fn drain(feeds: &mut [Feed]) {
    for f in feeds.iter_mut() {
        let mut left = DRAIN_LIMIT;
        while left > 0 {
            match f.events.next().await {
                None => break,
                Some(_) => left -= 1,
            }
        }
        f.events.close();
    }
}

/// Checks each shard row's collation verdicts (see `scatter::analyse::collation`): text the
/// proxy compares must be byte-comparable, else the query is refused before any wrong order
/// or grouping reaches the client.
fn check_collations(plan: &MergePlan, layout: &Layout, fields: &[Option<&[u8]>]) -> Result<(), ScatterError> {
    for check in &plan.collations {
        let column = layout.index(check.column)?;
        if !is_collatable(layout.type_oid(column)) {
            continue;
        }
        let at = layout.index(check.verdict)?;
        let ok = match fields.get(at).copied().flatten() {
            Some(v) => {
                value::decode(crate::scatter::layout::oid::BOOL, layout.format(at), v)? == value::Value::Bool(true)
            }
            None => false,
        };
        if !ok {
            let name =
                layout.columns.get(column).map(|c| String::from_utf8_lossy(&c.name).into_owned()).unwrap_or_default();
            return Err(if check.ordered {
                ScatterError::unsupported(
                    format!("ordering text across shards: column \"{name}\" uses a collation whose order shardgate cannot reproduce (only C/POSIX byte order is exact)"),
                    "add COLLATE \"C\" to the ORDER BY (byte order), or add the shard key to the WHERE clause",
                )
            } else {
                ScatterError::unsupported(
                    format!("grouping text across shards: column \"{name}\" uses a nondeterministic collation"),
                    "group by the column with COLLATE \"C\", or add the shard key to the WHERE clause",
                )
            });
        }
    }
    Ok(())
}

/// A LIMIT/OFFSET parameter's value.
fn param_count(params: Option<&BoundParams>, i: usize) -> Result<Option<i64>, ScatterError> {
    let Some((raw, fmt)) = params.and_then(|p| p.get(i)) else { return Ok(None) };
    let n = match fmt {
        Format::Text => std::str::from_utf8(raw).ok().and_then(|s| s.trim().parse::<i64>().ok()),
        Format::Binary => match raw.len() {
            8 => raw.try_into().ok().map(i64::from_be_bytes),
            4 => raw.try_into().ok().map(i32::from_be_bytes).map(i64::from),
            2 => raw.try_into().ok().map(i16::from_be_bytes).map(i64::from),
            _ => None,
        },
    };
    n.map(Some).ok_or(ScatterError::Value { code: "22P02", message: "invalid LIMIT/OFFSET parameter".into() })
}

/// Writes one shard row for the client, without the hidden columns (as received when there
/// are none).
fn write_row(out: &mut BytesMut, body: &Bytes, layout: &Layout) -> Result<(), FrontendError> {
    if layout.hidden == 0 {
        data_row::write_raw(out, body);
    } else {
        let f = data_row::fields(body).map_err(FrontendError::from)?;
        write_visible(out, &f, layout.visible());
    }
    Ok(())
}

fn fields(code: &str, message: &str) -> ErrorFields {
    ErrorFields { severity: "ERROR".into(), code: code.into(), message: message.into(), detail: None, hint: None }
}
