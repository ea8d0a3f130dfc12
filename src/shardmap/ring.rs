//! The consistent-hash ring of a `kind: hash` function with `ring:`.
//!
//! Points and keys are placed by PostgreSQL's own hashes, never by Rust's `Hash`, so that a DBA
//! can recompute both in SQL on any shard:
//!
//! - vnode `i` (0-based) of the shard named `N` sits at
//!   `hashtextextended(N || '-' || i, 0)` read as an unsigned 64-bit number;
//! - a key sits at its extended hash (`hashint8extended(k, 0)` …) read the same way;
//! - the key belongs to the first point at or after its position, wrapping to the first point.
//!
//! The search is the `hashring` crate's. It hashes nodes and keys with a `BuildHasher` of our
//! choosing; [`Positions`] hands back exactly the `u64` a value writes, and both [`RingPoint`]
//! and `u64` write only their precomputed position, so the crate never hashes anything itself.

use std::hash::{BuildHasher, Hash, Hasher};

use super::hash::hashtextextended;
use super::ShardIdx;

/// A consistent-hash ring: `vnodes` points per shard, positions from the documented hash.
#[derive(Debug, Clone, PartialEq)]
pub struct HashRing {
    pub vnodes: u32,
    /// Sorted by position (the hash as unsigned 64-bit); ties broken by shard index. For
    /// display and debugging: placement asks `ring`, which holds the same points.
    pub points: Vec<(u64, ShardIdx)>,
    ring: hashring::HashRing<RingPoint, Positions>,
}

/// Two ring points at the same position: the ring would depend on insertion order. With 64-bit
/// positions this needs astronomically bad luck; renaming one shard resolves it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ring points of two shards share position {position}; rename one of the shards")]
pub struct RingCollision {
    pub position: u64,
    pub first: ShardIdx,
    pub second: ShardIdx,
}

impl HashRing {
    /// Builds the ring for `shards` (index and name), `vnodes` points each.
    pub fn new(vnodes: u32, shards: &[(ShardIdx, &str)]) -> Result<Self, RingCollision> {
        let mut points: Vec<(u64, ShardIdx)> =
            shards.iter().flat_map(|&(idx, name)| (0..vnodes).map(move |i| (Self::position(name, i), idx))).collect();
        points.sort_unstable();
        for w in points.windows(2) {
            if let [a, b] = w {
                if a.0 == b.0 {
                    return Err(RingCollision { position: a.0, first: a.1, second: b.1 });
                }
            }
        }
        let mut ring = hashring::HashRing::with_hasher(Positions);
        ring.batch_add(points.iter().map(|&(position, shard)| RingPoint { position, shard }).collect());
        Ok(Self { vnodes, points, ring })
    }

    /// The documented position of vnode `vnode` of the shard named `shard_name`:
    /// `hashtextextended('<name>-<vnode>', 0)::bit(64)` read as unsigned.
    pub fn position(shard_name: &str, vnode: u32) -> u64 {
        hashtextextended(&format!("{shard_name}-{vnode}"), 0) as u64
    }

    /// The shard owning a key whose extended hash is `hash` (signed, as PostgreSQL returns
    /// it). The two's-complement reinterpretation puts negative hashes in the upper half.
    pub fn shard_for(&self, hash: i64) -> Option<ShardIdx> {
        self.ring.get(&(hash as u64)).map(|p| p.shard)
    }
}

/// One point on the ring. Its `Hash` writes only its position (see [`Positions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RingPoint {
    position: u64,
    shard: ShardIdx,
}

impl Hash for RingPoint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.position);
    }
}

/// A `BuildHasher` whose hashers return the last `u64` written to them: the ring is ordered by
/// our documented positions, not by any hash of the crate's choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Positions;

impl BuildHasher for Positions {
    type Hasher = PositionHasher;
    fn build_hasher(&self) -> PositionHasher {
        PositionHasher(0)
    }
}

struct PositionHasher(u64);

impl Hasher for PositionHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, position: u64) {
        self.0 = position;
    }

    /// Only reached if something other than a position were hashed, which this module never
    /// does; folding the bytes in keeps the hasher total rather than panicking.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> HashRing {
        HashRing::new(16, &[(ShardIdx(0), "a"), (ShardIdx(1), "b"), (ShardIdx(2), "c")]).unwrap()
    }

    /// The crate's search agrees with a plain "first point at or after, wrapping" over the
    /// sorted points, for positions on, between, before and after the points.
    #[test]
    fn the_ring_picks_the_first_point_at_or_after_the_key_wrapping() {
        let r = ring();
        assert_eq!(r.points.len(), 48);
        let expect = |pos: u64| r.points.iter().find(|p| p.0 >= pos).or(r.points.first()).map(|p| p.1);
        let mut probes = vec![0u64, 1, u64::MAX, u64::MAX - 1, 1 << 63];
        for &(p, _) in &r.points {
            probes.extend([p, p.wrapping_sub(1), p.wrapping_add(1)]);
        }
        for pos in probes {
            assert_eq!(r.shard_for(pos as i64), expect(pos), "position {pos}");
        }
    }

    #[test]
    fn point_positions_are_the_documented_text_hash() {
        assert_eq!(HashRing::position("shard-0", 3), hashtextextended("shard-0-3", 0) as u64);
        let r = ring();
        assert!(r.points.contains(&(HashRing::position("b", 15), ShardIdx(1))));
    }
}
