//! Router cost on a PMS statement mix, under shard-maps/pms-4.yaml (plus pgbench_accounts
//! keyed by aid):
//! - `cached_extended`: extended-protocol statements whose plans are cached, new values each
//!   time (the steady state of an application using prepared statements);
//! - `uncached`, `uncached_point_select`: a statement text never seen before (parse + plan +
//!   route), a two-table join and a point select; `uncached_mix`: the four statements of
//!   `cached_extended` in turn, each text new (the typical uncached cost); `parse_only`:
//!   sqlparser alone on the join;
//! - `simple_varying_literals`: simple-protocol statements that differ only in literals, after
//!   the first (pgbench -S style): normalise + cached plan + route.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};

/// The allocator the binary uses (src/main.rs), so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use shardgate::router::{Context, Hints, NoLookups, Params, Router};
use shardgate::shardmap::ShardMap;

fn router() -> Router {
    let yaml = include_str!("../shard-maps/pms-4.yaml")
        .replace("tables:\n", "tables:\n  - { name: pgbench_accounts, columns: [aid], function: tenant_hash }\n");
    let map = match ShardMap::from_yaml(&yaml) {
        Ok(m) => m,
        Err(e) => panic!("pms-4.yaml: {e:?}"),
    };
    Router::new(Arc::new(map))
}

const EXTENDED: &[(&str, usize)] = &[
    ("SELECT * FROM reservations WHERE tenant_id = $1 AND id = $2", 2),
    (
        "SELECT r.id, r.arrival, g.name FROM reservations r JOIN guests g ON g.tenant_id = r.tenant_id AND g.id = r.guest_id \
         WHERE r.tenant_id = $1 AND r.arrival >= $2 ORDER BY r.arrival LIMIT 50",
        2,
    ),
    (
        "INSERT INTO reservations (tenant_id, id, property_id, guest_id, arrival, departure, status) \
         VALUES ($1, $2, $3, $4, $5, $6, 'booked') RETURNING id",
        6,
    ),
    ("UPDATE folios SET balance = balance + $1, updated_at = now() WHERE tenant_id = $2 AND id = $3", 3),
];

fn ctx() -> Context<'static> {
    Context { hints: Hints::default(), lookups: &NoLookups, explain: false, shapes: None, statement: None }
}

fn bench(c: &mut Criterion) {
    let r = router();
    let ctx = ctx();

    let mut g = c.benchmark_group("route");
    let vals: Vec<String> = (0..8).map(|i| (1000 + i * 7).to_string()).collect();
    let mut n = 0usize;
    g.bench_function("cached_extended", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let (sql, np) = EXTENDED[n % EXTENDED.len()];
            let values: Vec<Option<&[u8]>> =
                (0..np).map(|i| vals.get((n + i) % vals.len()).map(|v| v.as_bytes())).collect();
            let p = Params { types: &[], formats: &[], values: &values };
            black_box(r.route(black_box(sql), Some(&p), &ctx))
        })
    });

    let mut u = 0u64;
    g.bench_function("uncached", |b| {
        b.iter(|| {
            u += 1;
            let sql = format!(
                "SELECT r.id, r.arrival FROM reservations r{u} JOIN guests g ON g.tenant_id = r{u}.tenant_id \
                 WHERE r{u}.tenant_id = $1 AND r{u}.status = $2"
            );
            let values: [Option<&[u8]>; 2] = [Some(b"42"), Some(b"booked")];
            let p = Params { types: &[], formats: &[], values: &values };
            black_box(r.route(&sql, Some(&p), &ctx))
        })
    });

    let mut pu = 0u64;
    g.bench_function("uncached_point_select", |b| {
        b.iter(|| {
            pu += 1;
            let sql = format!("SELECT * FROM reservations r{pu} WHERE r{pu}.tenant_id = $1");
            let values: [Option<&[u8]>; 1] = [Some(b"42")];
            let p = Params { types: &[], formats: &[], values: &values };
            black_box(r.route(&sql, Some(&p), &ctx))
        })
    });

    // The typical uncached cost: the statements of the mix above in turn, each text new (a
    // counter in a trailing comment), so every call parses, plans, caches and routes.
    let mut m = 0usize;
    g.bench_function("uncached_mix", |b| {
        b.iter(|| {
            m += 1;
            let (sql, np) = EXTENDED[m % EXTENDED.len()];
            let sql = format!("{sql} /* {m} */");
            let values: Vec<Option<&[u8]>> =
                (0..np).map(|i| vals.get((m + i) % vals.len()).map(|v| v.as_bytes())).collect();
            let p = Params { types: &[], formats: &[], values: &values };
            black_box(r.route(&sql, Some(&p), &ctx))
        })
    });

    // For comparison: sqlparser alone on the same kind of fresh text.
    let mut q = 0u64;
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            q += 1;
            let sql = format!(
                "SELECT r.id, r.arrival FROM reservations r{q} JOIN guests g ON g.tenant_id = r{q}.tenant_id \
                 WHERE r{q}.tenant_id = $1 AND r{q}.status = $2"
            );
            black_box(
                sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, &sql).map(|v| v.len()),
            )
        })
    });

    // Statements whose literals vary, from a client without and with remembered shapes.
    let shapes = std::cell::RefCell::new(shardgate::router::shape::Shapes::new());
    let with_shapes = Context { shapes: Some(&shapes), ..self::ctx() };
    let mut s = 0u64;
    for (name, c) in [("simple_varying_literals", &ctx), ("simple_varying_literals_remembered_shapes", &with_shapes)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                s += 1;
                let sql = if s.is_multiple_of(2) {
                    format!("SELECT abalance FROM pgbench_accounts WHERE aid = {};", 1 + s % 100_000)
                } else {
                    format!("SELECT * FROM reservations WHERE tenant_id = {} AND id = {}", s % 5000, s)
                };
                black_box(r.route(&sql, None, c))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
