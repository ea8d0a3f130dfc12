//! Map parsing, validation and placement, from YAML text.

use super::*;

const SHARDS4: &str = "shards:
  - name: shard-0
    primary: { host: 127.0.0.1, port: 5432, database: pms_0 }
  - name: shard-1
    primary: { host: 127.0.0.1, port: 5432, database: pms_1 }
  - name: shard-2
    primary: { host: 127.0.0.1, port: 5432, database: pms_2 }
  - name: shard-3
    primary: { host: 127.0.0.1, port: 5432, database: pms_3 }
";

/// SHARDS4 is 9 lines; `rest` starts on line 10 (`version:` goes last, to keep it so).
fn map(rest: &str) -> Result<ShardMap, Vec<MapError>> {
    ShardMap::from_yaml(&format!("{SHARDS4}{rest}version: 1\n"))
}

fn ok(rest: &str) -> ShardMap {
    map(rest).unwrap_or_else(|e| panic!("{e:?}"))
}

/// The problem at `field`, which must exist.
fn problem(rest: &str, field: &str) -> MapError {
    let errs = map(rest).err().unwrap_or_else(|| panic!("map is valid, expected a problem at {field}"));
    errs.iter().find(|e| e.field == field).cloned().unwrap_or_else(|| panic!("no problem at {field}: {errs:#?}"))
}

const QUARTERS: &str = "functions:
  - name: tenant_hash
    kind: hash
    key: bigint
    ranges:
      - { to: -4611686018427387904, shard: shard-0 }
      - { from: -4611686018427387904, to: 0, shard: shard-1 }
      - { from: 0, to: 4611686018427387904, shard: shard-2 }
      - { from: 4611686018427387904, shard: shard-3 }
";

fn int(v: i64) -> KeyValue {
    KeyValue::Int(v)
}

fn quarter(h: i64) -> ShardIdx {
    ShardIdx(match h {
        i64::MIN..=-4611686018427387905 => 0,
        -4611686018427387904..=-1 => 1,
        0..=4611686018427387903 => 2,
        _ => 3,
    })
}

#[test]
fn hash_ranges_place_by_the_signed_extended_hash() {
    let m = ok(QUARTERS);
    let f = &m.functions()[0];
    for k in (-50..50).chain([i64::MIN, i64::MAX]) {
        assert_eq!(f.place(&[int(k)]), Placement::Shard(quarter(int(k).hash())), "key {k}");
    }
}

#[test]
fn the_single_shard_map_pins_everything_to_its_shard() {
    let m = ShardMap::from_yaml(include_str!("../../shard-maps/single.yaml")).unwrap();
    assert_eq!(m.table(None, "anything"), TableKind::Pinned(ShardIdx(0)));
    assert_eq!(m.table(Some("s"), "t"), TableKind::Pinned(ShardIdx(0)));
}

#[test]
fn hash_ranges_that_overlap_leave_a_gap_or_miss_an_end_are_refused() {
    let overlap = "functions:
  - name: h
    kind: hash
    key: bigint
    ranges:
      - { to: 10, shard: shard-0 }
      - { from: 5, shard: shard-1 }
";
    let e = problem(overlap, "functions[0].ranges[1].from");
    assert_eq!((e.line, e.column), (16, 17));
    assert!(e.message.contains("overlaps ranges[0]"), "{e}");

    let gap = "functions:
  - name: h
    kind: hash
    key: bigint
    ranges:
      - { to: 0, shard: shard-0 }
      - { from: 1, shard: shard-1 }
";
    let e = problem(gap, "functions[0].ranges[1].from");
    assert_eq!(e.line, 16);
    assert!(e.message.contains("gap"), "{e}");

    let ends = "functions:
  - name: h
    kind: hash
    key: bigint
    ranges:
      - { from: 0, to: 100, shard: shard-0 }
";
    assert!(problem(ends, "functions[0].ranges[0].from").message.contains("below 0"));
    assert_eq!(problem(ends, "functions[0].ranges[0].to").line, 15);
}

#[test]
fn an_empty_range_is_refused() {
    let e = problem(
        "functions:
  - name: r
    kind: range
    key: bigint
    ranges:
      - { from: 10, to: 10, shard: shard-0 }
    default_shard: shard-1
",
        "functions[0].ranges[0].to",
    );
    assert_eq!(e.line, 15);
    assert!(e.message.contains("empty range"), "{e}");
}

const SHOPS: &str = "functions:
  - name: shop_range
    kind: range
    key: bigint
    ranges:
      - { from: 1, to: 1001, shard: shard-0 }
      - { from: 1001, to: 2001, shard: shard-1 }
";

#[test]
fn range_gaps_are_refused_unless_there_is_a_default() {
    let e = problem(SHOPS, "functions[0].ranges[0].from");
    assert_eq!(e.line, 15);
    assert!(problem(SHOPS, "functions[0].ranges[1].to").message.contains("from 2001 up"));
    let m = ok(&format!("{SHOPS}    default_shard: shard-3\n"));
    let f = &m.functions()[0];
    assert_eq!(f.place(&[int(1)]), Placement::Shard(ShardIdx(0)));
    assert_eq!(f.place(&[int(1000)]), Placement::Shard(ShardIdx(0)));
    assert_eq!(f.place(&[int(1001)]), Placement::Shard(ShardIdx(1)));
    assert_eq!(f.place(&[int(2000)]), Placement::Shard(ShardIdx(1)));
    assert_eq!(f.place(&[int(2001)]), Placement::Shard(ShardIdx(3)));
    assert_eq!(f.place(&[int(0)]), Placement::Shard(ShardIdx(3)));
}

#[test]
fn range_overlaps_are_refused_even_with_a_default() {
    let e = problem(
        "functions:
  - name: r
    kind: range
    key: bigint
    ranges:
      - { from: 1, to: 100, shard: shard-0 }
      - { from: 50, to: 200, shard: shard-1 }
    default_shard: shard-0
",
        "functions[0].ranges[1].from",
    );
    assert_eq!(e.line, 16);
}

#[test]
fn text_ranges_compare_as_bytes_and_unplaced_keys_say_why() {
    let m = ok("functions:
  - name: r
    kind: range
    key: text
    ranges:
      - { to: m, shard: shard-0 }
      - { from: m, to: t, shard: shard-1 }
    default_shard: shard-3
");
    let f = &m.functions()[0];
    let t = |s: &str| KeyValue::Text(s.into());
    assert_eq!(f.place(&[t("Zebra")]), Placement::Shard(ShardIdx(0)), "upper case sorts first in C order");
    assert_eq!(f.place(&[t("apple")]), Placement::Shard(ShardIdx(0)));
    assert_eq!(f.place(&[t("m")]), Placement::Shard(ShardIdx(1)));
    assert_eq!(f.place(&[t("zoo")]), Placement::Shard(ShardIdx(3)));
    assert!(matches!(f.place(&[int(1)]), Placement::NoShard { .. }), "a key of the wrong type places nowhere");
}

#[test]
fn unknown_shard_names_are_refused_everywhere() {
    let rest = "functions:
  - name: h
    kind: hash
    key: bigint
    ranges:
      - { shard: shard-9 }
  - name: l
    kind: list
    key: bigint
    values:
      - { key: 1, shard: nowhere }
    default_shard: nope
  - name: ring
    kind: hash
    key: text
    ring: { vnodes: 8, shards: [shard-0, shard-x] }
unsharded_tables:
  - { name: audit, shard: shard-7 }
unknown_tables: { shard: elsewhere }
";
    assert_eq!(problem(rest, "functions[0].ranges[0].shard").line, 15);
    assert_eq!(problem(rest, "functions[1].values[0].shard").line, 20);
    assert_eq!(problem(rest, "functions[1].default_shard").line, 21);
    assert_eq!(problem(rest, "functions[2].ring.shards[1]").line, 25);
    assert_eq!(problem(rest, "unsharded_tables[0].shard").line, 27);
    assert_eq!(problem(rest, "unknown_tables.shard").line, 28);
}

const BRANDS: &str = "functions:
  - name: brand_region
    kind: list
    key: [text, text]
    values:
      - { key: [marriott, us-northeast], shard: shard-1 }
      - { key: [hilton, eu-west], shard: shard-2 }
";

#[test]
fn list_functions_place_exact_composite_keys() {
    let m = ok(BRANDS);
    let f = &m.functions()[0];
    let key = |a: &str, b: &str| [KeyValue::Text(a.into()), KeyValue::Text(b.into())];
    assert_eq!(f.place(&key("marriott", "us-northeast")), Placement::Shard(ShardIdx(1)));
    assert_eq!(f.place(&key("hilton", "eu-west")), Placement::Shard(ShardIdx(2)));
    assert!(matches!(f.place(&key("hilton", "us-northeast")), Placement::NoShard { .. }));
    let m = ok(&format!("{BRANDS}    default_shard: shard-0\n"));
    assert_eq!(m.functions()[0].place(&key("hilton", "us-northeast")), Placement::Shard(ShardIdx(0)));
}

#[test]
fn a_list_key_given_twice_is_refused_even_spelled_differently() {
    let e = problem(
        "functions:
  - name: l
    kind: list
    key: bigint
    values:
      - { key: 42, shard: shard-0 }
      - { key: \"42\", shard: shard-1 }
      - { key: \" 42\", shard: shard-1 }
",
        "functions[0].values[1].key",
    );
    assert_eq!(e.line, 16);
    assert!(e.message.contains("duplicate key"), "{e}");
}

#[test]
fn list_keys_of_the_wrong_arity_or_type_are_refused() {
    let rest = "functions:
  - name: l
    kind: list
    key: [text, bigint]
    values:
      - { key: marriott, shard: shard-0 }
      - { key: [a, b, c], shard: shard-0 }
      - { key: [a, twelve], shard: shard-0 }
  - name: u
    kind: list
    key: uuid
    values:
      - { key: not-a-uuid, shard: shard-0 }
";
    assert!(problem(rest, "functions[0].values[0].key").message.contains("1 value(s)"));
    assert_eq!(problem(rest, "functions[0].values[1].key").line, 16);
    let e = problem(rest, "functions[0].values[2].key[1]");
    assert_eq!((e.line, e.column), (17, 20));
    assert_eq!(problem(rest, "functions[1].values[0].key").line, 22);
}

#[test]
fn a_composite_key_needs_a_list_function() {
    let e = problem(
        "functions:
  - name: h
    kind: hash
    key: [bigint, text]
    ring: { vnodes: 4 }
",
        "functions[0].key",
    );
    assert_eq!(e.line, 13);
}

#[test]
fn unhashable_key_types_are_refused() {
    let rest = "functions:
  - name: h
    kind: hash
    key: numeric
    ring: { vnodes: 4 }
";
    let e = problem(rest, "functions[0].key");
    assert!(e.message.contains("cannot hash"), "{e}");
    assert_eq!(e.line, 13);
}

#[test]
fn duplicate_function_names_are_refused() {
    let e = problem(
        &format!("{QUARTERS}  - name: tenant_hash\n    kind: hash\n    key: text\n    ring: {{ vnodes: 2 }}\n"),
        "functions[1].name",
    );
    assert_eq!(e.line, 19);
}

#[test]
fn hash_functions_need_exactly_one_of_ranges_and_ring() {
    let both = "functions:
  - name: h
    kind: hash
    key: bigint
    ranges: [{ shard: shard-0 }]
    ring: { vnodes: 4 }
";
    assert_eq!(problem(both, "functions[0].ring").line, 15);
    let neither = "functions:\n  - name: h\n    kind: hash\n    key: bigint\n";
    assert_eq!(problem(neither, "functions[0].kind").line, 12);
}

#[test]
fn ring_vnodes_must_be_between_1_and_4096() {
    for v in [0, 4097] {
        let e = problem(
            &format!("functions:\n  - name: h\n    kind: hash\n    key: bigint\n    ring: {{ vnodes: {v} }}\n"),
            "functions[0].ring.vnodes",
        );
        assert_eq!(e.line, 14);
    }
}

#[test]
fn a_lookup_needs_a_query_with_the_key() {
    let rest = "functions:
  - name: dir
    kind: lookup
    key: bigint
    lookup:
      endpoint: { host: 127.0.0.1, database: directory }
      query: \"  \"
";
    assert_eq!(problem(rest, "functions[0].lookup.query").line, 16);
    let m = ok("functions:
  - name: dir
    kind: lookup
    key: bigint
    lookup:
      endpoint: { host: 127.0.0.1, database: directory }
      query: SELECT shard FROM property_shards WHERE property_id = $1
");
    assert_eq!(m.functions()[0].place(&[int(7)]), Placement::Lookup);
    let FunctionKind::Lookup(spec) = &m.functions()[0].kind else { panic!("not a lookup") };
    assert_eq!((spec.cache_size, spec.ttl.as_secs(), spec.endpoint.port), (100_000, 300, 5432));
}

#[test]
fn fields_a_kind_does_not_use_are_refused() {
    let e = problem(&format!("{QUARTERS}    default_shard: shard-0\n"), "functions[0].default_shard");
    assert_eq!(e.line, 19);
}

#[test]
fn unknown_fields_are_refused_with_their_line() {
    let errs = map("functions:\n  - name: h\n    kind: hash\n    key: bigint\n    rnages: []\n").unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, 14, "{errs:?}");
    assert!(errs[0].message.contains("rnages"), "{errs:?}");
}

#[test]
fn table_rules_must_name_a_function_of_the_right_arity_and_type() {
    let rest = format!(
        "{QUARTERS}tables:
  - {{ name: reservations, columns: [tenant_id], function: tenant_hsah }}
  - {{ name: rooms, columns: [tenant_id, id], function: tenant_hash }}
  - {{ name: guests, columns: [tenant_id], function: tenant_hash, types: [numeric] }}
  - {{ name: folios, columns: [tenant_id], function: tenant_hash, types: [text] }}
  - {{ name: payments, columns: [tenant_id], function: tenant_hash, types: [int4] }}
default_rule: {{ columns: [tenant_id], function: nope }}
"
    );
    assert_eq!(problem(&rest, "tables[0].function").line, 20);
    assert!(problem(&rest, "tables[1].columns").message.contains("takes 1 key column"));
    assert!(problem(&rest, "tables[2].types[0]").message.contains("cannot hash"));
    let e = problem(&rest, "tables[3].types[0]");
    assert_eq!(e.line, 23);
    assert!(e.message.contains("hashes a bigint key"), "{e}");
    assert_eq!(problem(&rest, "default_rule.function").line, 25);
    let errs = map(&rest).unwrap_err();
    assert!(!errs.iter().any(|e| e.field.starts_with("tables[4]")), "int4 hashes as bigint: {errs:?}");
}

#[test]
fn a_table_named_twice_is_refused() {
    let rest = format!(
        "{QUARTERS}tables:
  - {{ name: reservations, columns: [tenant_id], function: tenant_hash }}
reference_tables: [currencies, reservations]
unsharded_tables:
  - {{ name: currencies, shard: shard-0 }}
"
    );
    let e = problem(&rest, "reference_tables[1]");
    assert_eq!(e.line, 21);
    assert!(e.message.contains("tables[0].name"), "{e}");
    assert_eq!(problem(&rest, "unsharded_tables[0].name").line, 23);
}

#[test]
fn every_problem_is_reported_at_once() {
    let rest = "functions:
  - name: h
    kind: hash
    key: date
    ring: { vnodes: 0 }
  - name: r
    kind: range
    key: bigint
    ranges: [{ from: 5, to: 1, shard: shard-0 }]
unknown_tables: sometimes
";
    let errs = map(rest).unwrap_err();
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    for want in ["functions[0].key", "functions[1].ranges[0].to", "unknown_tables"] {
        assert!(fields.contains(&want), "{want} missing from {fields:?}");
    }
}

#[test]
fn table_resolution_prefers_qualified_names_then_lists_then_the_default() {
    let m = ok(&format!(
        "{QUARTERS}tables:
  - {{ name: reservations, columns: [tenant_id], function: tenant_hash }}
  - {{ name: archive.reservations, columns: [id], function: tenant_hash }}
default_rule: {{ columns: [tenant_id], function: tenant_hash }}
reference_tables: [currencies, ops.reservations]
unsharded_tables:
  - {{ name: directory_audit, shard: shard-2 }}
"
    ));
    let columns = |k: TableKind<'_>| match k {
        TableKind::Sharded(r) => (r.table.clone(), r.columns.clone()),
        other => panic!("not sharded: {other:?}"),
    };
    assert_eq!(columns(m.table(None, "reservations")).1, ["tenant_id"]);
    assert_eq!(columns(m.table(Some("public"), "reservations")).0.as_deref(), Some("reservations"));
    assert_eq!(columns(m.table(Some("archive"), "reservations")).1, ["id"]);
    assert_eq!(m.table(Some("ops"), "reservations"), TableKind::Reference);
    assert_eq!(m.table(None, "currencies"), TableKind::Reference);
    assert_eq!(m.table(None, "directory_audit"), TableKind::Pinned(ShardIdx(2)));
    assert_eq!(columns(m.table(None, "anything_else")).0, None, "the default rule");
    assert!(!m.broadcast_writes());
}

#[test]
fn unnamed_tables_are_refused_or_pinned_as_unknown_tables_says() {
    assert_eq!(ok(QUARTERS).table(None, "x"), TableKind::Unknown, "refuse is the default with 4 shards");
    assert_eq!(
        ok(&format!("{QUARTERS}unknown_tables: {{ shard: shard-3 }}\n")).table(None, "x"),
        TableKind::Pinned(ShardIdx(3))
    );
    assert_eq!(ok(&format!("{QUARTERS}unknown_tables: refuse\n")).table(None, "x"), TableKind::Unknown);
}

#[test]
fn integer_keys_are_one_value_however_they_are_spelled() {
    let m = ok(QUARTERS);
    let f = &m.functions()[0];
    let spellings = [
        KeyValue::from_text(KeyType::Int, "42").unwrap(),
        KeyValue::from_text(KeyType::Int, " 42 ").unwrap(),
        KeyValue::from_binary(KeyType::Int, &42i16.to_be_bytes()).unwrap(),
        KeyValue::from_binary(KeyType::Int, &42i32.to_be_bytes()).unwrap(),
        KeyValue::from_binary(KeyType::Int, &42i64.to_be_bytes()).unwrap(),
    ];
    for v in &spellings {
        assert_eq!(v, &int(42));
        assert_eq!(f.place(std::slice::from_ref(v)), f.place(&[int(42)]));
    }
    // In the map, `42` and `"42"` are the same list key and the same range bound.
    let m = ok("functions:
  - name: l
    kind: list
    key: bigint
    values:
      - { key: \"42\", shard: shard-1 }
");
    assert_eq!(m.functions()[0].place(&[int(42)]), Placement::Shard(ShardIdx(1)));
}

#[test]
fn text_list_keys_keep_what_yaml_wrote() {
    let m = ok("functions:
  - name: l
    kind: list
    key: text
    values:
      - { key: 42, shard: shard-1 }
      - { key: \"007\", shard: shard-2 }
");
    let f = &m.functions()[0];
    assert_eq!(f.place(&[KeyValue::Text("42".into())]), Placement::Shard(ShardIdx(1)));
    assert_eq!(f.place(&[KeyValue::Text("007".into())]), Placement::Shard(ShardIdx(2)));
}

#[test]
fn sql_type_names_map_to_key_types() {
    for (name, ty) in [
        ("smallint", Some(KeyType::Int)),
        ("INT4", Some(KeyType::Int)),
        ("bigint", Some(KeyType::Int)),
        ("character varying(64)", Some(KeyType::Text)),
        ("varchar", Some(KeyType::Text)),
        ("bpchar", Some(KeyType::Text)),
        ("uuid", Some(KeyType::Uuid)),
        ("numeric", None),
        ("double precision", None),
        ("date", None),
    ] {
        assert_eq!(KeyType::from_sql_name(name), ty, "{name}");
    }
}

#[test]
fn a_ring_map_places_by_the_first_point_at_or_after_the_key_hash() {
    let m = ok("functions:
  - name: h
    kind: hash
    key: bigint
    ring: { vnodes: 64 }
");
    let f = &m.functions()[0];
    let FunctionKind::HashRing(ring) = &f.kind else { panic!("not a ring") };
    assert_eq!(ring.points.len(), 256);
    let mut counts = [0usize; 4];
    for k in 0..4000 {
        let Placement::Shard(s) = f.place(&[int(k)]) else { panic!("no shard for {k}") };
        let pos = int(k).hash() as u64;
        let expect = ring.points.iter().find(|p| p.0 >= pos).or(ring.points.first()).map(|p| p.1);
        assert_eq!(Some(s), expect);
        counts[usize::from(s.0)] += 1;
    }
    assert!(counts.iter().all(|c| *c > 500), "every shard gets keys: {counts:?}");
}

#[test]
fn one_unbounded_hash_range_covers_everything() {
    let m = ShardMap::from_yaml(
        "version: 1
shards:
  - name: main
    primary: { host: 127.0.0.1, database: pms }
functions:
  - name: tenant_hash
    kind: hash
    key: bigint
    ranges:
      - { shard: main }
default_rule: { columns: [tenant_id], function: tenant_hash }
",
    )
    .unwrap();
    let TableKind::Sharded(rule) = m.table(None, "reservations") else { panic!("not sharded") };
    for k in [i64::MIN, -1, 0, 1, i64::MAX] {
        assert_eq!(m.place(rule, &[int(k)]), Placement::Shard(ShardIdx(0)));
    }
}

#[test]
fn range_bounds_must_be_valid_keys_of_the_function_type() {
    let rest = "functions:
  - name: r
    kind: range
    key: bigint
    ranges:
      - { from: one, to: 10, shard: shard-0 }
    default_shard: shard-1
";
    let e = problem(rest, "functions[0].ranges[0].from");
    assert_eq!(e.line, 15);
    assert!(e.message.contains("not a valid bigint key"), "{e}");
}

#[test]
fn a_float_is_no_key_value_and_is_refused_while_reading() {
    let errs = map("functions:
  - name: h
    kind: hash
    key: text
    ranges:
      - { to: 1.5e3, shard: shard-0 }
      - { from: 1.5e3, shard: shard-0 }
")
    .unwrap_err();
    assert_eq!(errs.len(), 1, "a type error stops reading: {errs:?}");
    assert_eq!(errs[0].line, 15, "{errs:?}");
    assert!(errs[0].message.contains("an integer or a string"), "{errs:?}");
}

#[test]
fn an_unhashable_type_in_a_composite_key_is_pointed_at() {
    let e = problem(
        "functions:\n  - name: l\n    kind: list\n    key: [text, date]\n    values: [{ key: [a, b], shard: shard-0 }]\n",
        "functions[0].key[1]",
    );
    assert_eq!((e.line, e.column), (13, 17));
}

/// A whole map (without SHARDS4) parsed for its problems.
fn whole(yaml: &str) -> Vec<MapError> {
    ShardMap::from_yaml(yaml).err().unwrap_or_default()
}

#[test]
fn replicas_and_failover_servers_are_validated() {
    let errs = whole(
        "version: 1
shards:
  - name: a
    primary: { host: h, database: d, tags: [x] }
  - name: b
    primary: { host: h, database: d }
    servers: [{ host: h2, database: d }]
  - name: c
    replicas: [{ host: h, database: d }]
  - name: d
    primary: { host: h, database: d }
    replicas: [{ host: h, port: 5433, database: d, weight: 0 }]
read_from: replicas
",
    );
    let at = |f: &str| errs.iter().find(|e| e.field == f).unwrap_or_else(|| panic!("no problem at {f}: {errs:#?}"));
    assert!(at("shards[0].primary.tags").message.contains("a primary has none"));
    assert!(at("shards[1].servers").message.contains("not both"));
    assert!(at("shards[2].primary").message.contains("needs `primary`"));
    assert!(at("shards[3].replicas[0].weight").message.contains("weight 0"));
    assert!(at("read_from").message.contains("replica, primary or any"));
    let m = ShardMap::from_yaml(
        "version: 1
read_from: any
shards:
  - name: a
    servers: [{ host: h1, database: d }, { host: h2, database: d }]
",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let a = &m.shards()[0];
    assert!(a.servers.iter().all(|s| s.declared == Declared::Auto));
    assert_eq!(a.primary.host, "h1", "the first server is assumed primary until checked");
    assert_eq!(m.read_from, ReadFrom::Any);
}
