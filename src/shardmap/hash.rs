//! PostgreSQL's extended hash functions, so that placement computed by shardgate can be
//! checked — and computed by a DBA — in SQL on any shard:
//! `hashint8extended(v, 0)` for integer keys, `hashtextextended(s, 0)` for text keys (under a
//! deterministic collation), `uuid_hash_extended(u, 0)` for uuid keys.
//!
//! The algorithm is Bob Jenkins' lookup3 as PostgreSQL uses it (`src/common/hashfn.c`,
//! little-endian word order, `(b << 32) | c` as the 64-bit result). Results are pinned by
//! tests against a live PostgreSQL. Never replace this with Rust's `Hash`/`DefaultHasher`:
//! placement must not drift between releases.

const INIT: u32 = 0x9e37_79b9;
const EXTRA: u32 = 3_923_095;

#[inline]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

#[inline]
fn finish(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// Little-endian value of up to four bytes.
fn le(bytes: &[u8]) -> u32 {
    bytes.iter().rev().fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
}

fn seeded(len: u32, seed: u64) -> (u32, u32, u32) {
    let init = INIT.wrapping_add(len).wrapping_add(EXTRA);
    let (mut a, mut b, mut c) = (init, init, init);
    if seed != 0 {
        // The seed is hashed as if it were a leading 12-byte block (high, low, zero).
        a = a.wrapping_add((seed >> 32) as u32);
        b = b.wrapping_add(seed as u32);
        mix(&mut a, &mut b, &mut c);
    }
    (a, b, c)
}

/// `hash_bytes_extended(k, len, seed)`.
pub fn hash_bytes_extended(k: &[u8], seed: u64) -> u64 {
    let (mut a, mut b, mut c) = seeded(k.len() as u32, seed);
    let mut blocks = k.chunks_exact(12);
    for block in &mut blocks {
        let (x, rest) = block.split_at(4);
        let (y, z) = rest.split_at(4);
        a = a.wrapping_add(le(x));
        b = b.wrapping_add(le(y));
        c = c.wrapping_add(le(z));
        mix(&mut a, &mut b, &mut c);
    }
    let tail = blocks.remainder();
    a = a.wrapping_add(le(tail.get(..4.min(tail.len())).unwrap_or_default()));
    b = b.wrapping_add(le(tail.get(4..8.min(tail.len())).unwrap_or_default()));
    // The lowest byte of c is reserved for the length.
    c = c.wrapping_add(le(tail.get(8..).unwrap_or_default()) << 8);
    finish(&mut a, &mut b, &mut c);
    (u64::from(b) << 32) | u64::from(c)
}

/// `hash_bytes_uint32_extended(k, seed)`.
pub fn hash_uint32_extended(k: u32, seed: u64) -> u64 {
    let (mut a, mut b, mut c) = seeded(4, seed);
    a = a.wrapping_add(k);
    finish(&mut a, &mut b, &mut c);
    (u64::from(b) << 32) | u64::from(c)
}

/// `hashint8extended(v, seed)`; equals `hashint4extended`/`hashint2extended` for values that
/// fit those types, so a key hashes the same whatever integer type carries it.
pub fn hashint8extended(v: i64, seed: u64) -> i64 {
    let lo = v as u32;
    let hi = (v >> 32) as u32;
    let folded = if v >= 0 { lo ^ hi } else { lo ^ !hi };
    hash_uint32_extended(folded, seed) as i64
}

/// `hashtextextended(s, seed)` under a deterministic collation: the hash of the UTF-8 bytes.
pub fn hashtextextended(s: &str, seed: u64) -> i64 {
    hash_bytes_extended(s.as_bytes(), seed) as i64
}

/// `uuid_hash_extended(u, seed)`: the hash of the 16 bytes.
pub fn uuid_hash_extended(u: &[u8; 16], seed: u64) -> i64 {
    hash_bytes_extended(u, seed) as i64
}
