//! shardgate's port of PostgreSQL's extended hash functions gives exactly what PostgreSQL
//! computes, for integer, text and uuid keys and for a non-zero seed — checked on a live
//! server, so a DBA can always compute placement in SQL. And placement itself (hash ranges and
//! the ring) computed by the map equals the SQL that docs/shard-maps.md gives DBAs.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use shardgate::shardmap::hash::{hashint8extended, hashtextextended, uuid_hash_extended};
use shardgate::shardmap::{KeyType, KeyValue, Placement, ShardMap, TableKind};
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

/// A map whose one function hashes `key_type` keys into quarters of the signed hash space, as
/// shard-maps/pms-4.yaml does for bigint.
fn quarters_map(key_type: &str) -> ShardMap {
    let shards: String = (0..4)
        .map(|i| format!("  - name: shard-{i}\n    primary: {{ host: 127.0.0.1, database: pms_{i} }}\n"))
        .collect();
    let yaml = format!(
        "version: 1\nshards:\n{shards}functions:
  - name: f
    kind: hash
    key: {key_type}
    ranges:
      - {{ to: -4611686018427387904, shard: shard-0 }}
      - {{ from: -4611686018427387904, to: 0, shard: shard-1 }}
      - {{ from: 0, to: 4611686018427387904, shard: shard-2 }}
      - {{ from: 4611686018427387904, shard: shard-3 }}
default_rule: {{ columns: [k], function: f }}
"
    );
    ShardMap::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

/// The shard name the map's default rule gives one key.
fn shard_name(map: &ShardMap, key: KeyValue) -> String {
    let rule = map.default_rule().unwrap();
    match map.place(rule, &[key]) {
        Placement::Shard(s) => map.shard(s).unwrap().name.to_string(),
        other => panic!("{other:?}"),
    }
}

/// The quarters as a DBA would write them in SQL over a hash `h` (docs/shard-maps.md).
const QUARTERS_SQL: &str = "CASE WHEN h < -4611686018427387904 THEN 'shard-0' WHEN h < 0 THEN 'shard-1' \
     WHEN h < 4611686018427387904 THEN 'shard-2' ELSE 'shard-3' END";

/// The ring as a DBA would compute it in SQL: points and keys at their hashes read as
/// unsigned 64-bit numbers; a key goes to the first point at or after it, else the first point.
const RING_SQL: &str = "WITH points AS (
    SELECT name, hashtextextended(name || '-' || i, 0)::numeric
                 + CASE WHEN hashtextextended(name || '-' || i, 0) < 0 THEN 18446744073709551616 ELSE 0 END AS pos
    FROM unnest($2::text[]) name, generate_series(0, $3 - 1) i),
  keys AS (
    SELECT k, hashint8extended(k, 0)::numeric
              + CASE WHEN hashint8extended(k, 0) < 0 THEN 18446744073709551616 ELSE 0 END AS pos
    FROM unnest($1::int8[]) k)
SELECT k, coalesce((SELECT name FROM points p WHERE p.pos >= keys.pos ORDER BY p.pos LIMIT 1),
                   (SELECT name FROM points ORDER BY pos LIMIT 1))
FROM keys";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_computed_by_the_map_matches_placement_computed_in_sql() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let c = pg.client("postgres").await?;

    let map = quarters_map("bigint");
    let keys = ints();
    let sql = format!("SELECT k, {QUARTERS_SQL} FROM (SELECT k, hashint8extended(k, 0) h FROM unnest($1::int8[]) k) s");
    for r in c.query(&sql, &[&keys]).await? {
        let k: i64 = r.get(0);
        assert_eq!(shard_name(&map, KeyValue::Int(k)), r.get::<_, String>(1), "bigint {k}");
    }
    // The shipped map places exactly as the generic one.
    let shipped = shardgate::config::load_map(std::path::Path::new("shard-maps/pms-4.yaml"))?;
    for &k in &keys {
        let TableKind::Sharded(rule) = shipped.table(None, "reservations") else { panic!("not sharded") };
        let Placement::Shard(s) = shipped.place(rule, &[KeyValue::Int(k)]) else { panic!("no shard") };
        assert_eq!(shipped.shard(s).unwrap().name.to_string(), shard_name(&map, KeyValue::Int(k)));
    }

    let map = quarters_map("text");
    let mut texts: Vec<String> = (0..300).map(|i| format!("tenant-{i}")).collect();
    texts.extend(["", "42", "Marriott", "日本語", "a\u{1F600}b"].map(String::from));
    let sql = format!("SELECT t, {QUARTERS_SQL} FROM (SELECT t, hashtextextended(t, 0) h FROM unnest($1::text[]) t) s");
    for r in c.query(&sql, &[&texts]).await? {
        let t: String = r.get(0);
        assert_eq!(shard_name(&map, KeyValue::Text(t.clone())), r.get::<_, String>(1), "text {t:?}");
    }

    let map = quarters_map("uuid");
    let sql = format!(
        "SELECT uuid_send(u), u::text, {QUARTERS_SQL} FROM (SELECT u, uuid_hash_extended(u, 0) h \
         FROM (SELECT md5(i::text)::uuid u FROM generate_series(1, 300) i) g) s"
    );
    for r in c.query(&sql, &[]).await? {
        let bytes: Vec<u8> = r.get(0);
        let from_binary = KeyValue::from_binary(KeyType::Uuid, &bytes)?;
        let from_text = KeyValue::from_text(KeyType::Uuid, r.get::<_, &str>(1))?;
        assert_eq!(from_binary, from_text);
        assert_eq!(shard_name(&map, from_binary), r.get::<_, String>(2), "uuid {}", r.get::<_, &str>(1));
    }

    let ring = shardgate::config::load_map(std::path::Path::new("shard-maps/pms-4-ring.yaml"))?;
    let names: Vec<String> = ring.shards().iter().map(|s| s.name.to_string()).collect();
    let vnodes = 64i32;
    let rows = c.query(RING_SQL, &[&keys, &names, &vnodes]).await?;
    assert_eq!(rows.len(), keys.len());
    for r in rows {
        let k: i64 = r.get(0);
        assert_eq!(shard_name(&ring, KeyValue::Int(k)), r.get::<_, String>(1), "ring, bigint {k}");
    }
    Ok(())
}
