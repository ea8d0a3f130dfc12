//! Key → shard for the shipped example maps, pinned forever. Rows already stored by a map
//! live where these tables say: if one of these assertions ever fails, a change to hashing,
//! canonicalisation, the ring or a shipped map would misroute existing data. Fix the change,
//! never the table.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use shardgate::shardmap::{FunctionKind, KeyType, KeyValue, Placement, ShardMap, TableKind};

fn load(file: &str) -> ShardMap {
    shardgate::config::load_map(Path::new(file)).unwrap_or_else(|e| panic!("{e}"))
}

/// The shard name `table`'s rule gives `key` in `map`.
fn shard_of(map: &ShardMap, table: &str, key: &[KeyValue]) -> String {
    let TableKind::Sharded(rule) = map.table(None, table) else { panic!("{table} is not sharded") };
    match map.place(rule, key) {
        Placement::Shard(s) => map.shard(s).unwrap().name.to_string(),
        other => panic!("{key:?} placed as {other:?}"),
    }
}

/// tenant_id → shard under pms-4.yaml (hash ranges, quarters of the signed 64-bit hash).
const PMS4: [(i64, &str); 40] = [
    (0, "shard-2"),
    (-1, "shard-1"),
    (-9223372036854775808, "shard-0"),
    (9223372036854775807, "shard-2"),
    (1, "shard-1"),
    (2, "shard-2"),
    (3, "shard-0"),
    (4, "shard-2"),
    (5, "shard-0"),
    (6, "shard-1"),
    (7, "shard-1"),
    (8, "shard-3"),
    (9, "shard-2"),
    (10, "shard-1"),
    (11, "shard-0"),
    (12, "shard-0"),
    (13, "shard-1"),
    (14, "shard-3"),
    (15, "shard-2"),
    (16, "shard-2"),
    (17, "shard-2"),
    (18, "shard-3"),
    (19, "shard-3"),
    (20, "shard-2"),
    (42, "shard-3"),
    (100, "shard-1"),
    (1000, "shard-2"),
    (12345, "shard-1"),
    (1000000, "shard-3"),
    (4294967296, "shard-1"),
    (9007199254740993, "shard-0"),
    (-42, "shard-3"),
    (-1000000, "shard-3"),
    (2147483647, "shard-0"),
    (-2147483648, "shard-2"),
    (123456789012, "shard-3"),
    (-9223372036854775807, "shard-2"),
    (9223372036854775806, "shard-3"),
    (8675309, "shard-1"),
    (31337, "shard-1"),
];

/// tenant_id → shard under pms-4-ring.yaml (ring, 64 vnodes per shard).
const PMS4_RING: [(i64, &str); 40] = [
    (0, "shard-1"),
    (-1, "shard-1"),
    (-9223372036854775808, "shard-2"),
    (9223372036854775807, "shard-0"),
    (1, "shard-1"),
    (2, "shard-2"),
    (3, "shard-2"),
    (4, "shard-2"),
    (5, "shard-2"),
    (6, "shard-2"),
    (7, "shard-3"),
    (8, "shard-2"),
    (9, "shard-3"),
    (10, "shard-1"),
    (11, "shard-2"),
    (12, "shard-1"),
    (13, "shard-1"),
    (14, "shard-2"),
    (15, "shard-2"),
    (16, "shard-1"),
    (17, "shard-3"),
    (18, "shard-3"),
    (19, "shard-3"),
    (20, "shard-2"),
    (42, "shard-1"),
    (100, "shard-1"),
    (1000, "shard-2"),
    (12345, "shard-2"),
    (1000000, "shard-0"),
    (4294967296, "shard-1"),
    (9007199254740993, "shard-0"),
    (-42, "shard-2"),
    (-1000000, "shard-1"),
    (2147483647, "shard-2"),
    (-2147483648, "shard-0"),
    (123456789012, "shard-3"),
    (-9223372036854775807, "shard-2"),
    (9223372036854775806, "shard-0"),
    (8675309, "shard-1"),
    (31337, "shard-1"),
];

#[test]
fn tenant_ids_land_where_pms_4_has_always_put_them() {
    let map = load("shard-maps/pms-4.yaml");
    for (tenant, shard) in PMS4 {
        assert_eq!(shard_of(&map, "reservations", &[KeyValue::Int(tenant)]), shard, "tenant {tenant}");
        assert_eq!(shard_of(&map, "some_new_table", &[KeyValue::Int(tenant)]), shard, "default rule, tenant {tenant}");
    }
}

#[test]
fn tenant_ids_land_where_the_ring_map_has_always_put_them() {
    let map = load("shard-maps/pms-4-ring.yaml");
    for (tenant, shard) in PMS4_RING {
        assert_eq!(shard_of(&map, "reservations", &[KeyValue::Int(tenant)]), shard, "tenant {tenant}");
    }
}

#[test]
fn a_tenant_id_spelled_as_text_or_binary_lands_on_the_same_shard() {
    let map = load("shard-maps/pms-4.yaml");
    for (tenant, shard) in PMS4 {
        let text = KeyValue::from_text(KeyType::Int, &tenant.to_string()).unwrap();
        assert_eq!(shard_of(&map, "folios", &[text]), shard);
        let binary = KeyValue::from_binary(KeyType::Int, &tenant.to_be_bytes()).unwrap();
        assert_eq!(shard_of(&map, "folios", &[binary]), shard);
        if let Ok(small) = i32::try_from(tenant) {
            let binary4 = KeyValue::from_binary(KeyType::Int, &small.to_be_bytes()).unwrap();
            assert_eq!(shard_of(&map, "folios", &[binary4]), shard);
        }
    }
}

const BRANDS: [&str; 10] =
    ["marriott", "hilton", "hyatt", "ihg", "accor", "wyndham", "choice", "bestwestern", "radisson", "fourseasons"];
const REGIONS: [&str; 10] = [
    "us-northeast",
    "us-southeast",
    "us-midwest",
    "us-west",
    "canada",
    "latam",
    "eu-west",
    "eu-central",
    "middle-east",
    "apac",
];

#[test]
fn each_brand_and_region_pair_has_its_own_shard_forever() {
    let map = load("shard-maps/pms-brand-region.yaml");
    assert_eq!(map.shards().len(), 100);
    let text = |s: &str| KeyValue::Text(s.to_string());
    for (b, brand) in BRANDS.iter().enumerate() {
        for (r, region) in REGIONS.iter().enumerate() {
            let want = format!("shard-{:03}", b * 10 + r + 1);
            assert_eq!(shard_of(&map, "properties", &[text(brand), text(region)]), want, "({brand}, {region})");
        }
    }
    let TableKind::Sharded(rule) = map.table(None, "properties") else { panic!("properties is not sharded") };
    assert!(matches!(map.place(rule, &[text("marriott"), text("mars")]), Placement::NoShard { .. }));
    assert_eq!(
        map.place(rule, &[text("marriott"), text("us-northeast")]),
        Placement::Shard(map.shard_by_name("shard-001").unwrap())
    );
}

#[test]
fn property_keyed_tables_ask_the_directory() {
    let map = load("shard-maps/pms-brand-region.yaml");
    for table in ["reservations", "rooms", "guests", "folios"] {
        let TableKind::Sharded(rule) = map.table(None, table) else { panic!("{table} is not sharded") };
        assert_eq!(rule.columns, ["property_id"]);
        assert_eq!(map.place(rule, &[KeyValue::Int(42)]), Placement::Lookup);
        let f = map.function(rule.function).unwrap();
        let FunctionKind::Lookup(spec) = &f.kind else { panic!("not a lookup") };
        assert_eq!(spec.endpoint.database, "directory");
    }
    assert_eq!(map.table(None, "currencies"), TableKind::Reference);
    assert_eq!(map.table(None, "nightly_audit"), TableKind::Unknown);
}

#[test]
fn the_single_database_map_sends_everything_to_its_one_shard() {
    let map = load("shard-maps/single.yaml");
    assert_eq!(map.table(None, "reservations"), TableKind::Pinned(map.shard_by_name("main").unwrap()));
}
