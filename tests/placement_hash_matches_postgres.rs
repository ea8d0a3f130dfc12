//! shardgate's port of PostgreSQL's extended hash functions gives exactly what PostgreSQL
//! computes, for integer, text and uuid keys and for a non-zero seed — checked on a live
//! server, so a DBA can always compute placement in SQL.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use shardgate::shardmap::hash::{hashint8extended, hashtextextended, uuid_hash_extended};
use support::PgCluster;

fn ints() -> Vec<i64> {
    let mut v: Vec<i64> = (-300..300).collect();
    for shift in 0..63 {
        v.push(1i64 << shift);
        v.push(-(1i64 << shift));
        v.push((1i64 << shift) - 1);
    }
    v.extend([i64::MIN, i64::MAX, i32::MIN as i64, i32::MAX as i64, 4_294_967_295, 4_294_967_296, 1_000_000_007]);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_keys_hash_like_hashint8extended() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let c = pg.client("postgres").await?;
    let keys = ints();
    for seed in [0i64, 42, -7] {
        let rows = c.query("SELECT k, hashint8extended(k, $2) FROM unnest($1::int8[]) k", &[&keys, &seed]).await?;
        assert_eq!(rows.len(), keys.len());
        for r in rows {
            let k: i64 = r.get(0);
            assert_eq!(hashint8extended(k, seed as u64), r.get::<_, i64>(1), "key {k} seed {seed}");
        }
    }
    // int4 and int2 keys hash as their int8 value does.
    let r = c.query_one("SELECT hashint4extended(-12345, 0), hashint2extended(77::int2, 0)", &[]).await?;
    assert_eq!(r.get::<_, i64>(0), hashint8extended(-12345, 0));
    assert_eq!(r.get::<_, i64>(1), hashint8extended(77, 0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_uuid_keys_hash_like_postgresql() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let c = pg.client("postgres").await?;
    let mut texts: Vec<String> = (0..40).map(|n| "x".repeat(n)).collect();
    texts.extend(
        ["", "42", "tenant-0042", "Marriott", "US-NE", "ß", "日本語のテキスト", "a\u{1F600}b"].map(String::from),
    );
    texts.extend((0..200).map(|i| format!("brand-{i}/region-{}", i * 7919 % 101)));
    for seed in [0i64, 99] {
        let rows = c.query("SELECT t, hashtextextended(t, $2) FROM unnest($1::text[]) t", &[&texts, &seed]).await?;
        for r in rows {
            let t: String = r.get(0);
            assert_eq!(hashtextextended(&t, seed as u64), r.get::<_, i64>(1), "text {t:?} seed {seed}");
        }
    }
    let rows = c.query("SELECT uuid_send(u), uuid_hash_extended(u, 0) FROM (SELECT md5(i::text)::uuid u FROM generate_series(1, 200) i) s", &[]).await?;
    for r in rows {
        let bytes: Vec<u8> = r.get(0);
        let arr: [u8; 16] = bytes.try_into().unwrap();
        assert_eq!(uuid_hash_extended(&arr, 0), r.get::<_, i64>(1));
    }
    Ok(())
}

/// Pinned forever (values read from PostgreSQL 15): if one of these changes, data already
/// placed by it would be misrouted.
#[test]
fn golden_hashes_never_change() {
    let ints: [(i64, i64); 6] = [
        (0, 4154612158245552303),
        (1, -3670598878359251130),
        (42, 8010225493015854792),
        (-1, -1888257769727981238),
        (1_000_000, 8952854757942890677),
        (i64::MAX, 1977219185673256887),
    ];
    for (k, h) in ints {
        assert_eq!(hashint8extended(k, 0), h, "int {k}");
    }
    let texts: [(&str, i64); 4] = [
        ("", -6939563903564495251),
        ("42", -2402356501652256834),
        ("tenant-0042", -5369490632256841860),
        ("Marriott/US-NE", 8316631221886915289),
    ];
    for (t, h) in texts {
        assert_eq!(hashtextextended(t, 0), h, "text {t:?}");
    }
}
