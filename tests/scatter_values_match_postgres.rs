//! The proxy's value handling (`scatter::value`) agrees with a live PostgreSQL on tricky
//! values of every supported type: order (as ORDER BY and `<`/`>`), equality (as `=`), the
//! merged `sum` and `avg` of partitions (as one `sum`/`avg` over all rows, to the digit), and
//! the bytes written back (as the server's own text and binary output).

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::cmp::Ordering;

use shardgate::scatter::value::{self, oid, Format, Value};
use support::raw::Raw;
use support::PgCluster;
use tokio_postgres::{Client, SimpleQueryMessage};

/// A column type and values worth testing (SQL literals), plus optionally an expression over
/// `g` that generates 200 more.
struct Case {
    ty: &'static str,
    oid: u32,
    values: &'static [&'static str],
    generated: Option<&'static str>,
}

const fn case(ty: &'static str, oid: u32, values: &'static [&'static str]) -> Case {
    Case { ty, oid, values, generated: None }
}

fn cases() -> Vec<Case> {
    vec![
        case("bool", oid::BOOL, &["t", "f", "true"]),
        case("int2", oid::INT2, &["-32768", "32767", "0", "-1", "1"]),
        case("int4", oid::INT4, &["-2147483648", "2147483647", "0", "42", "-42"]),
        case("int8", oid::INT8, &["-9223372036854775808", "9223372036854775807", "0", "-1", "4294967296"]),
        case("oid", oid::OID, &["0", "1", "4294967295", "2147483648", "2147483647"]),
        case(
            "float4",
            oid::FLOAT4,
            &[
                "NaN",
                "Infinity",
                "-Infinity",
                "-0",
                "0",
                "1.5",
                "1e-45",
                "3.4028235e38",
                "-1e-10",
                "0.1",
                "1e6",
                "123456",
            ],
        ),
        case(
            "float8",
            oid::FLOAT8,
            &[
                "NaN",
                "Infinity",
                "-Infinity",
                "-0",
                "0",
                "1e300",
                "-1e-300",
                "0.1",
                "5e-324",
                "1.7976931348623157e308",
                "123456789012345678",
                "1e15",
                "999999999999999",
                "0.0001",
                "0.00001",
            ],
        ),
        case(
            "numeric",
            oid::NUMERIC,
            &[
                "NaN",
                "Infinity",
                "-Infinity",
                "0",
                "0.00",
                "-0.0",
                "1.0",
                "1.00",
                "1",
                "10000",
                "9999.9999",
                "0.0001",
                "-0.0001",
                "123456789012345678901234567890.123456789",
                "-1e-20",
                "1e100",
                "99999999.99999999",
                "-100000000",
            ],
        ),
        case("text COLLATE \"C\"", oid::TEXT, &["", " ", "a", "a ", "B", "b", "ß", "日本", "a\tb"]),
        case("varchar(10) COLLATE \"C\"", oid::VARCHAR, &["", "z", "Z", "zz "]),
        case("name", oid::NAME, &["", "abc", "abd", "ABC"]),
        case("char(4) COLLATE \"C\"", oid::BPCHAR, &["", "a", "a  ", "ab", " a", "a\tb", "    "]),
        case(
            "uuid",
            oid::UUID,
            &[
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "00000000-0000-0000-0000-000000000000",
                "ffffffff-ffff-ffff-ffff-ffffffffffff",
                "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12}",
            ],
        ),
        case(
            "date",
            oid::DATE,
            &[
                "infinity",
                "-infinity",
                "2000-01-01",
                "0044-03-15 BC",
                "4713-01-01 BC",
                "0001-01-01",
                "0001-12-31 BC",
                "2024-02-29",
                "5874897-12-31",
                "1999-12-31",
            ],
        ),
        case("time", oid::TIME, &["00:00:00", "24:00:00", "12:34:56.789", "23:59:59.999999", "00:00:00.000001"]),
        case(
            "timestamp",
            oid::TIMESTAMP,
            &[
                "infinity",
                "-infinity",
                "2024-01-31 12:00:00.5",
                "0044-03-15 12:00:00 BC",
                "294276-12-31 23:59:59.999999",
                "2000-01-01",
                "1999-12-31 23:59:59.999999",
                "4713-01-01 00:00:00 BC",
            ],
        ),
        case(
            "timestamptz",
            oid::TIMESTAMPTZ,
            &[
                "2024-03-31 01:30:00+01",
                "2024-03-31 03:30:00+02",
                "2024-10-27 02:30:00+02",
                "2024-10-27 02:30:00+01",
                "2024-10-27 00:30:00 UTC",
                "1890-01-01 12:00:00",
                "0044-03-15 12:00:00 BC",
                "infinity",
                "-infinity",
                "2024-06-01 12:00:00 America/St_Johns",
                "2024-06-01 12:00:00 Asia/Kolkata",
                "1900-01-01 00:00:00 Africa/Monrovia",
            ],
        ),
        // The most negative interval ends in -2562047788:00:54.775808 when printed, but
        // PostgreSQL 15 refuses that text as input; the unit tests cover it.
        case(
            "interval",
            oid::INTERVAL,
            &[
                "1 mon",
                "30 days",
                "720 hours",
                "-1 day 2 hours",
                "-00:00:01",
                "1 year 2 mons 3 days 04:05:06.5",
                "0",
                "-1 year",
                "1 day -24 hours",
                "1 mon -1 days",
                "29 days 24:00:00",
                "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775807",
                "178956970 years 7 mons 2147483647 days 2562047788:00:54.775807",
                "-1 mons 30 days 00:00:00.000001",
            ],
        ),
    ]
}

async fn setup(c: &Client, table: &str, case: &Case) -> anyhow::Result<()> {
    let rows: Vec<String> =
        case.values.iter().enumerate().map(|(i, v)| format!("({i}, '{}')", v.replace('\'', "''"))).collect();
    c.batch_execute(&format!("CREATE TABLE {table} (id int PRIMARY KEY, x {})", case.ty)).await?;
    if !rows.is_empty() {
        c.batch_execute(&format!("INSERT INTO {table} VALUES {}", rows.join(", "))).await?;
    }
    if let Some(expr) = case.generated {
        c.batch_execute(&format!("INSERT INTO {table} SELECT 1000 + g, {expr} FROM generate_series(1, 200) g")).await?;
    }
    Ok(())
}

/// Session settings every test starts from: the server's defaults spelled out, and a zone
/// with daylight saving time.
async fn session(pg: &PgCluster) -> anyhow::Result<Client> {
    let c = pg.client("postgres").await?;
    c.batch_execute("SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET TimeZone = 'Europe/Berlin'; SET extra_float_digits = 1").await?;
    Ok(c)
}

/// `(id, x)` rows in text format (simple query protocol).
async fn text_rows(c: &Client, sql: &str) -> anyhow::Result<Vec<Vec<Option<String>>>> {
    let mut rows = Vec::new();
    for m in c.simple_query(sql).await? {
        if let SimpleQueryMessage::Row(r) = m {
            rows.push((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect());
        }
    }
    Ok(rows)
}

/// `(id, x)` with x decoded from text and from binary; the two must agree.
async fn decoded(c: &Client, table: &str, case: &Case) -> anyhow::Result<Vec<(i32, Value)>> {
    let text = text_rows(c, &format!("SELECT id, x FROM {table} ORDER BY id")).await?;
    let binary = c.query(&format!("SELECT id, x FROM {table} ORDER BY id"), &[]).await?;
    let mut out = Vec::new();
    for (t, b) in text.iter().zip(&binary) {
        let id: i32 = b.get(0);
        let shown = t[1].clone().unwrap();
        let from_text = value::decode(case.oid, Format::Text, shown.as_bytes())
            .unwrap_or_else(|e| panic!("{} {shown:?}: {e}", case.ty));
        let raw: Raw = b.get(1);
        let from_binary =
            value::decode(case.oid, Format::Binary, &raw.0).unwrap_or_else(|e| panic!("{} {:?}: {e}", case.ty, raw.0));
        assert_eq!(value::compare(&from_text, &from_binary), Ordering::Equal, "{} {shown:?}", case.ty);
        assert_eq!(key(&from_text), key(&from_binary), "{} {shown:?}", case.ty);
        out.push((id, from_text));
    }
    assert_eq!(out.len(), binary.len());
    Ok(out)
}

fn key(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    value::group_key(v, &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_and_equality_match_postgresql_for_every_type() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let c = session(&pg).await?;
    for (n, case) in cases().iter().enumerate() {
        let table = format!("ord_{n}");
        setup(&c, &table, case).await?;
        let values = decoded(&c, &table, case).await?;

        let pg_order: Vec<i32> =
            c.query(&format!("SELECT id FROM {table} ORDER BY x, id"), &[]).await?.iter().map(|r| r.get(0)).collect();
        let mut ours = values.clone();
        ours.sort_by(|(ia, a), (ib, b)| value::compare(a, b).then(ia.cmp(ib)));
        assert_eq!(ours.iter().map(|(id, _)| *id).collect::<Vec<_>>(), pg_order, "ORDER BY of {}", case.ty);

        let pairs = c
            .query(
                &format!(
                    "SELECT a.id, b.id, CASE WHEN a.x < b.x THEN -1 WHEN a.x > b.x THEN 1 ELSE 0 END, a.x = b.x \
                     FROM {table} a CROSS JOIN {table} b"
                ),
                &[],
            )
            .await?;
        let by_id = |id: i32| &values.iter().find(|(i, _)| *i == id).unwrap().1;
        for r in pairs {
            let (a, b) = (by_id(r.get(0)), by_id(r.get(1)));
            let expected = match r.get::<_, i32>(2) {
                -1 => Ordering::Less,
                0 => Ordering::Equal,
                _ => Ordering::Greater,
            };
            assert_eq!(value::compare(a, b), expected, "{}: {a:?} vs {b:?}", case.ty);
            assert_eq!(key(a) == key(b), r.get::<_, bool>(3), "{}: {a:?} = {b:?}", case.ty);
        }
    }
    Ok(())
}

/// A column aggregated in three partitions (`id % 3`), as three shards would.
struct AggCase {
    ty: &'static str,
    values: &'static [&'static str],
    /// An expression over `g` and how many rows it generates.
    generated: Option<(&'static str, i32)>,
    /// Type of `sum(x)` (and thus of the partials).
    sum_oid: u32,
    /// avg's result type, the cast each shard applies to its sum; None: avg not merged.
    avg: Option<(&'static str, u32)>,
}

const NUMERIC_AVG: Option<(&str, u32)> = Some(("numeric", oid::NUMERIC));

fn agg_cases() -> Vec<AggCase> {
    let agg = |ty: &'static str, values: &'static [&'static str], sum_oid: u32, avg: Option<(&'static str, u32)>| {
        AggCase { ty, values, generated: None, sum_oid, avg }
    };
    vec![
        agg("int2", &["-32768", "32767", "1", "2", "3", "NULL", "100", "7"], oid::INT8, NUMERIC_AVG),
        agg("int4", &["2147483647", "2147483647", "2147483647", "-5", "7", "NULL"], oid::INT8, NUMERIC_AVG),
        agg("int8", &["9223372036854775807", "9223372036854775807", "-1", "3", "NULL"], oid::NUMERIC, NUMERIC_AVG),
        agg("int8", &["0", "0", "0", "0"], oid::NUMERIC, NUMERIC_AVG),
        agg("int4", &["1", "1", "0"], oid::INT8, NUMERIC_AVG),
        // Sum and count with equal leading digits: the quotient is assumed to start lower.
        agg("int4", &["1", "1", "1"], oid::INT8, NUMERIC_AVG),
        agg("numeric", &["7.5", "0", "0", "-0.5", "0", "0", "0"], oid::NUMERIC, NUMERIC_AVG),
        // Quotients exactly halfway at the result scale round away from zero.
        agg("numeric", &["1.5000000000000000", "1.5000000000000001"], oid::NUMERIC, NUMERIC_AVG),
        agg("numeric", &["-1.5000000000000000", "-1.5000000000000001"], oid::NUMERIC, NUMERIC_AVG),
        agg(
            "numeric",
            &["1.0", "1.00", "0.001", "123456789012345678901234567890.5", "-0.5", "NULL", "7"],
            oid::NUMERIC,
            NUMERIC_AVG,
        ),
        agg("numeric", &["0.00000001", "0.00000002", "0.00000004"], oid::NUMERIC, NUMERIC_AVG),
        agg("numeric", &["-99999999", "0.5", "12345.6789"], oid::NUMERIC, NUMERIC_AVG),
        agg("numeric", &["1", "NaN", "2", "3"], oid::NUMERIC, NUMERIC_AVG),
        agg("numeric", &["1", "Infinity", "2", "3"], oid::NUMERIC, NUMERIC_AVG),
        agg("numeric", &["Infinity", "-Infinity", "2"], oid::NUMERIC, NUMERIC_AVG),
        agg(
            "float8",
            &["0.5", "1.25", "-3", "1e10", "2.5", "0.125", "NULL"],
            oid::FLOAT8,
            Some(("float8", oid::FLOAT8)),
        ),
        agg("float8", &["1", "Infinity", "2"], oid::FLOAT8, Some(("float8", oid::FLOAT8))),
        agg("float8", &["1", "NaN", "2"], oid::FLOAT8, Some(("float8", oid::FLOAT8))),
        agg("float8", &["Infinity", "-Infinity", "2"], oid::FLOAT8, Some(("float8", oid::FLOAT8))),
        agg("float4", &["0.5", "1.25", "-3", "1e10", "-0"], oid::FLOAT4, None),
        agg("interval", &["1 mon", "-3 days", "04:05:06.5", "-1 year", "30 days", "-25:00:00"], oid::INTERVAL, None),
        AggCase {
            ty: "numeric",
            values: &[],
            generated: Some((
                "round(((random() - 0.5) * 10 ^ (random() * 30 - 10))::numeric, (random() * 12)::int)",
                300,
            )),
            sum_oid: oid::NUMERIC,
            avg: NUMERIC_AVG,
        },
        AggCase {
            ty: "int8",
            values: &[],
            generated: Some(("((random() - 0.5) * 10 ^ (random() * 18))::int8", 300)),
            sum_oid: oid::NUMERIC,
            avg: NUMERIC_AVG,
        },
        AggCase {
            ty: "int4",
            values: &[],
            generated: Some(("(random() * 1000)::int4", 300)),
            sum_oid: oid::INT8,
            avg: NUMERIC_AVG,
        },
        // Counts of several base-10000 digits, whose leading digit enters the result scale.
        AggCase {
            ty: "int4",
            values: &[],
            generated: Some(("(random() * 100000 - 50000)::int4", 25_000)),
            sum_oid: oid::INT8,
            avg: NUMERIC_AVG,
        },
        AggCase {
            ty: "numeric",
            values: &[],
            generated: Some(("g * 0.000000000000000000000000000001", 12_345)),
            sum_oid: oid::NUMERIC,
            avg: NUMERIC_AVG,
        },
        AggCase {
            ty: "int8",
            values: &[],
            generated: Some(("9000000000000000000 - g", 10_000)),
            sum_oid: oid::NUMERIC,
            avg: NUMERIC_AVG,
        },
    ]
}

/// Merges the partials `sql` returns per partition (`{table}` and `{k}` substituted): the
/// added first column (decoded as `oid`) and the summed second (count), NULL partials
/// skipped as the merge skips them.
async fn merged(c: &Client, sql: &str, table: &str, oid: u32) -> anyhow::Result<(Option<Value>, i64)> {
    let (mut sum, mut count) = (None::<Value>, 0i64);
    for k in 0..3 {
        let row = text_rows(c, &sql.replace("{table}", table).replace("{k}", &k.to_string())).await?.remove(0);
        count += row[1].as_deref().unwrap().parse::<i64>()?;
        if let Some(s) = &row[0] {
            let part = value::decode(oid, Format::Text, s.as_bytes()).unwrap();
            sum = Some(match sum {
                None => part,
                Some(acc) => value::add(&acc, &part).unwrap(),
            });
        }
    }
    Ok((sum, count))
}

fn shown(v: &Value, oid: u32) -> String {
    let mut out = Vec::new();
    value::encode(v, oid, Format::Text, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_and_averages_merged_from_partitions_print_what_postgresql_prints() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let c = session(&pg).await?;
    for (n, case) in agg_cases().iter().enumerate() {
        let table = format!("agg_{n}");
        let rows: Vec<String> = case
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| match *v {
                "NULL" => format!("({i}, NULL)"),
                v => format!("({i}, '{v}')"),
            })
            .collect();
        c.batch_execute(&format!("CREATE TABLE {table} (id int, x {})", case.ty)).await?;
        if !rows.is_empty() {
            c.batch_execute(&format!("INSERT INTO {table} VALUES {}", rows.join(", "))).await?;
        }
        if let Some((expr, n)) = case.generated {
            c.batch_execute(&format!("INSERT INTO {table} SELECT g, {expr} FROM generate_series(1, {n}) g")).await?;
        }
        let whole = text_rows(&c, &format!("SELECT sum(x), avg(x) FROM {table}")).await?.remove(0);

        let (sum, _) =
            merged(&c, "SELECT sum(x), count(x) FROM {table} WHERE id % 3 = {k}", &table, case.sum_oid).await?;
        assert_eq!(Some(shown(&sum.unwrap(), case.sum_oid)), whole[0], "sum over {table} ({})", case.ty);

        match case.avg {
            Some((cast, avg_oid)) => {
                let sql = format!("SELECT sum(x)::{cast}, count(x) FROM {{table}} WHERE id % 3 = {{k}}");
                let (sum, count) = merged(&c, &sql, &table, avg_oid).await?;
                let avg = value::avg(&sum.unwrap(), count, avg_oid).unwrap();
                assert_eq!(Some(shown(&avg, avg_oid)), whole[1], "avg over {table} ({})", case.ty);
            }
            None if case.ty == "interval" => {
                let (sum, count) =
                    merged(&c, "SELECT sum(x), count(x) FROM {table} WHERE id % 3 = {k}", &table, oid::INTERVAL)
                        .await?;
                assert!(
                    value::avg(&sum.unwrap(), count, oid::INTERVAL).is_err(),
                    "avg(interval) is refused, not guessed"
                );
            }
            None => {}
        }
    }
    // Overflow is reported as PostgreSQL reports it.
    let row = text_rows(&c, "SELECT 9223372036854775807::int8").await?.remove(0);
    let big = value::decode(oid::INT8, Format::Text, row[0].as_deref().unwrap().as_bytes())?;
    let err = value::add(&big, &Value::Int(1)).unwrap_err();
    let server = c.query("SELECT 9223372036854775807::int8 + 1", &[]).await.unwrap_err();
    assert_eq!(server.code().map(|s| s.code()), Some("22003"));
    assert_eq!(server.as_db_error().map(|e| e.message().to_owned()), Some(err.to_string()));
    Ok(())
}

fn printing_cases() -> Vec<Case> {
    let mut all = cases();
    all.extend([
        Case { generated: Some("(random() - 0.5) * 10 ^ (random() * 600 - 300)"), ..case("float8", oid::FLOAT8, &[]) },
        Case { generated: Some("(random() * 10 ^ (random() * 20 - 5))::int8::float8 / 8"), ..case("float8", oid::FLOAT8, &[]) },
        Case { generated: Some("((random() - 0.5) * 10 ^ (random() * 70 - 35))::float4"), ..case("float4", oid::FLOAT4, &[]) },
        Case { generated: Some("(random() * 10 ^ (random() * 9 - 3))::float4"), ..case("float4", oid::FLOAT4, &[]) },
        Case {
            generated: Some("round(((random() - 0.5) * 10 ^ (random() * 60 - 30))::numeric, (random() * 40)::int)"),
            ..case("numeric", oid::NUMERIC, &[])
        },
        Case {
            generated: Some("make_interval(0, (random() * 40 - 20)::int, 0, (random() * 80 - 40)::int, 0, 0, (random() - 0.5) * 10 ^ (random() * 8))"),
            ..case("interval", oid::INTERVAL, &[])
        },
        Case { generated: Some("'2000-01-01'::timestamp + (random() - 0.5) * interval '3000000 days'"), ..case("timestamp", oid::TIMESTAMP, &[]) },
        Case { generated: Some("'2000-01-01'::date + ((random() - 0.5) * 3000000)::int"), ..case("date", oid::DATE, &[]) },
    ]);
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_written_back_are_the_bytes_postgresql_sends() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let c = session(&pg).await?;
    for (n, case) in printing_cases().iter().enumerate() {
        let table = format!("print_{n}");
        setup(&c, &table, case).await?;
        let text = text_rows(&c, &format!("SELECT id, x FROM {table} ORDER BY id")).await?;
        let binary = c.query(&format!("SELECT id, x FROM {table} ORDER BY id"), &[]).await?;
        assert_eq!(text.len(), binary.len());
        for (t, b) in text.iter().zip(&binary) {
            let shown = t[1].clone().unwrap();
            let raw: Raw = b.get(1);
            let from_text = value::decode(case.oid, Format::Text, shown.as_bytes()).unwrap();
            let from_binary = value::decode(case.oid, Format::Binary, &raw.0).unwrap();
            let mut out = Vec::new();
            value::encode(&from_text, case.oid, Format::Binary, &mut out).unwrap();
            assert_eq!(out, raw.0, "{} {shown:?} in binary", case.ty);
            if case.oid != oid::TIMESTAMPTZ {
                let mut out = Vec::new();
                value::encode(&from_binary, case.oid, Format::Text, &mut out).unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), shown, "{} in text", case.ty);
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_styles_other_than_the_defaults_are_refused_not_misread() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let c = session(&pg).await?;
    let refused = [
        ("SET DateStyle = 'SQL, DMY'", "SELECT '2024-01-31'::date", oid::DATE),
        ("SET DateStyle = 'German'", "SELECT '2024-01-31'::date", oid::DATE),
        ("SET DateStyle = 'Postgres, MDY'", "SELECT '2024-01-31 12:00'::timestamp", oid::TIMESTAMP),
        ("SET DateStyle = 'SQL, MDY'", "SELECT '2024-01-31 12:00'::timestamptz", oid::TIMESTAMPTZ),
        ("SET IntervalStyle = 'postgres_verbose'", "SELECT '1 day 2 hours'::interval", oid::INTERVAL),
        ("SET IntervalStyle = 'sql_standard'", "SELECT '1 year 2 mons 3 days'::interval", oid::INTERVAL),
        ("SET IntervalStyle = 'iso_8601'", "SELECT '-1 day 2 hours'::interval", oid::INTERVAL),
    ];
    for (set, select, type_oid) in refused {
        c.batch_execute(set).await?;
        let row = text_rows(&c, select).await?.remove(0);
        let shown = row[0].clone().unwrap();
        assert!(value::decode(type_oid, Format::Text, shown.as_bytes()).is_err(), "{set}: {shown:?} was accepted");
        c.batch_execute("RESET DateStyle; RESET IntervalStyle").await?;
    }
    Ok(())
}
