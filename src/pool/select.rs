//! Which server of a replicated shard a statement gets: the primary of the moment for writes,
//! a healthy, caught-up replica for reads. Pure: reads the health board and the pools' load,
//! decides, and does no I/O.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::health::{Board, Health};
use crate::config::{ReplicaSettings, Selection};
use crate::shardmap::{Declared, ReadFrom, ServerIdx, Shard};

/// What the statement needs from the shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want<'a> {
    /// Writes, transactions, anything that must see the latest data.
    Primary,
    Read {
        from: ReadFrom,
        /// Only replicas with this tag (then untagged ones, then the primary).
        tag: Option<&'a str>,
        /// Read-your-writes: only replicas that have replayed up to this LSN.
        min_lsn: u64,
    },
}

/// Why no server can take a write right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoPrimary(pub String);

/// Picks a server. `load(i)`: servers of `i` this client's pool has checked out.
pub fn pick(
    shard: &Shard,
    board: &Board,
    health: &Health,
    want: Want<'_>,
    settings: &ReplicaSettings,
    load: &mut dyn FnMut(ServerIdx) -> usize,
) -> Result<ServerIdx, NoPrimary> {
    let now = Instant::now();
    let Want::Read { from, tag, min_lsn } = want else { return primary(shard, board, now) };
    if from == ReadFrom::Primary {
        return primary(shard, board, now);
    }
    let eligible = |i: usize, want_tag: Option<&str>| -> bool {
        let Some(server) = shard.servers.get(i) else { return false };
        let tag_ok = match want_tag {
            Some(t) => server.tags.iter().any(|s| s == t),
            None => server.tags.is_empty(),
        };
        let Some(h) = board.get(&server.endpoint) else { return false };
        let Some(s) = h.status.as_ref().filter(|_| h.up(now)) else { return false };
        tag_ok
            && s.in_recovery
            && s.lag_bytes <= settings.max_lag_bytes
            && s.lag <= settings.max_lag
            && s.lsn >= min_lsn
    };
    let mut candidates: Vec<usize> = (0..shard.servers.len()).filter(|&i| eligible(i, tag)).collect();
    if candidates.is_empty() && tag.is_some() {
        candidates = (0..shard.servers.len()).filter(|&i| eligible(i, None)).collect();
    }
    if from == ReadFrom::Any {
        if let Ok(p) = primary(shard, board, now) {
            candidates.push(usize::from(p.0));
        }
    }
    if candidates.is_empty() {
        // The primary is never banned for reads: with no replica and no primary known, a
        // read still tries the server the map names (and fails with its own error if down).
        return Ok(primary(shard, board, now).unwrap_or_else(|_| declared_primary(shard)));
    }
    let weight = |i: usize| -> u64 {
        let w = shard.servers.get(i).map_or(1, |s| s.weight);
        u64::from(w.max(1))
    };
    let turn = health.turn.fetch_add(1, Ordering::Relaxed);
    let chosen = match settings.selection {
        Selection::RoundRobin => {
            let total: u64 = candidates.iter().map(|&i| weight(i)).sum();
            let mut t = (turn as u64) % total.max(1);
            let mut chosen = candidates.first().copied().unwrap_or(0);
            for &i in &candidates {
                if t < weight(i) {
                    chosen = i;
                    break;
                }
                t -= weight(i);
            }
            chosen
        }
        Selection::LeastOutstanding => {
            // Fewest in use per unit of weight; ties go round, so idle replicas share work.
            let n = candidates.len();
            let mut best: Option<(u64, u64, usize)> = None;
            for k in 0..n {
                let Some(&i) = candidates.get((turn + k) % n) else { continue };
                let used = load(ServerIdx(i as u16)) as u64 + 1;
                let w = weight(i);
                let better = match best {
                    None => true,
                    Some((bu, bw, _)) => used * bw < bu * w,
                };
                if better {
                    best = Some((used, w, i));
                }
            }
            best.map_or(0, |(_, _, i)| i)
        }
    };
    Ok(ServerIdx(chosen as u16))
}

/// The one server that accepts writes. Before the first health check, the map's declared
/// primary (or first server); after it, only what the checks found — two servers out of
/// recovery at once (a split brain) is refused rather than guessed.
pub fn primary(shard: &Shard, board: &Board, now: Instant) -> Result<ServerIdx, NoPrimary> {
    let mut found: Vec<usize> = Vec::new();
    let mut any_known = false;
    for (i, s) in shard.servers.iter().enumerate() {
        let Some(h) = board.get(&s.endpoint) else { continue };
        any_known = true;
        if h.up(now) && h.status.as_ref().is_some_and(|st| !st.in_recovery) {
            found.push(i);
        }
    }
    match found.as_slice() {
        [one] => Ok(ServerIdx(*one as u16)),
        [] if !any_known => Ok(declared_primary(shard)),
        [] => Err(NoPrimary(format!("no server of shard {} accepts writes right now", shard.name))),
        several => {
            let names: Vec<String> =
                several.iter().filter_map(|&i| shard.servers.get(i)).map(|s| s.endpoint.to_string()).collect();
            Err(NoPrimary(format!(
                "several servers of shard {} accept writes ({}); writes wait until only one does",
                shard.name,
                names.join(", ")
            )))
        }
    }
}

/// The server the map names as primary (the first of `servers:`).
fn declared_primary(shard: &Shard) -> ServerIdx {
    ServerIdx(shard.servers.iter().position(|s| s.declared == Declared::Primary).unwrap_or(0) as u16)
}
