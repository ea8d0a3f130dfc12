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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::pool::health::{ServerHealth, Status};
    use crate::shardmap::ShardMap;

    const MAP: &str = "version: 1
shards:
  - name: s
    primary: { host: p, database: d }
    replicas:
      - { host: r1, database: d }
      - { host: r2, database: d, weight: 3 }
      - { host: ra, database: d, tags: [analytics] }
";

    fn shard() -> Shard {
        ShardMap::from_yaml(MAP).unwrap().shards()[0].clone()
    }

    fn status(in_recovery: bool, lsn: u64, lag_bytes: u64) -> ServerHealth {
        ServerHealth {
            status: Some(Status { in_recovery, lsn, lag_bytes, lag: Duration::ZERO, paused: false }),
            ..ServerHealth::default()
        }
    }

    /// Primary p up; replicas r1, r2, ra up and caught up at LSN 100.
    fn healthy(shard: &Shard) -> Board {
        let mut servers = HashMap::new();
        for (i, s) in shard.servers.iter().enumerate() {
            servers.insert(s.endpoint.clone(), status(i > 0, 100, 0));
        }
        Board { servers, rounds: 1 }
    }

    fn picks(shard: &Shard, board: &Board, want: Want<'_>, selection: Selection, n: usize) -> Vec<u16> {
        let health = Health::default();
        let settings = ReplicaSettings { selection, ..ReplicaSettings::default() };
        (0..n).map(|_| pick(shard, board, &health, want, &settings, &mut |_| 0).unwrap().0).collect()
    }

    const READ: Want<'static> = Want::Read { from: ReadFrom::Replica, tag: None, min_lsn: 0 };

    #[test]
    fn writes_take_the_server_out_of_recovery_and_reads_the_untagged_replicas() {
        let s = shard();
        let b = healthy(&s);
        assert_eq!(picks(&s, &b, Want::Primary, Selection::RoundRobin, 3), vec![0, 0, 0]);
        let reads = picks(&s, &b, READ, Selection::RoundRobin, 400);
        assert!(reads.iter().all(|&i| i == 1 || i == 2), "the analytics replica serves only tagged reads");
        let heavy = reads.iter().filter(|&&i| i == 2).count();
        assert_eq!(heavy, 300, "weight 3 against 1: three reads in four");
    }

    #[test]
    fn tags_lag_and_read_your_writes_narrow_the_choice() {
        let s = shard();
        let mut b = healthy(&s);
        let tagged = Want::Read { from: ReadFrom::Replica, tag: Some("analytics"), min_lsn: 0 };
        assert_eq!(picks(&s, &b, tagged, Selection::LeastOutstanding, 5), vec![3; 5]);
        // r2 far behind, r1 not yet at the client's commit: only the primary qualifies.
        b.servers.insert(s.servers[2].endpoint.clone(), status(true, 10, 1 << 30));
        let after_write = Want::Read { from: ReadFrom::Replica, tag: None, min_lsn: 150 };
        assert_eq!(picks(&s, &b, after_write, Selection::LeastOutstanding, 3), vec![0; 3]);
        assert_eq!(picks(&s, &b, READ, Selection::LeastOutstanding, 3), vec![1; 3], "r2 lags past max_lag_bytes");
    }

    #[test]
    fn no_primary_or_two_primaries_refuse_writes_but_reads_go_on() {
        let s = shard();
        let mut b = healthy(&s);
        b.servers.insert(s.servers[0].endpoint.clone(), ServerHealth::default());
        let now = Instant::now();
        assert!(primary(&s, &b, now).is_err(), "the primary is down");
        assert!(picks(&s, &b, READ, Selection::RoundRobin, 4).iter().all(|&i| i == 1 || i == 2));
        // A promoted replica is the new primary.
        b.servers.insert(s.servers[1].endpoint.clone(), status(false, 200, 0));
        assert_eq!(primary(&s, &b, now), Ok(ServerIdx(1)));
        // The old primary back without being rewound: two primaries, writes wait.
        b.servers.insert(s.servers[0].endpoint.clone(), status(false, 150, 0));
        assert!(primary(&s, &b, now).unwrap_err().0.contains("several servers"));
        // Before any check the map's primary is assumed.
        assert_eq!(primary(&s, &Board::default(), now), Ok(ServerIdx(0)));
    }

    #[test]
    fn least_outstanding_follows_load_per_weight() {
        let s = shard();
        let b = healthy(&s);
        let health = Health::default();
        let settings = ReplicaSettings::default();
        // r1 has 2 in use (weight 1), r2 has 5 (weight 3): 3/1 > 6/3, so r2.
        let mut load = |i: ServerIdx| match i.0 {
            1 => 2,
            2 => 5,
            _ => 0,
        };
        assert_eq!(pick(&s, &b, &health, READ, &settings, &mut load), Ok(ServerIdx(2)));
    }
}
