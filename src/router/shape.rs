//! Statement shapes: the text of a simple-protocol statement around its literals, kept per
//! client, so the client's next statement of the same shape is routed without splitting,
//! normalising or hashing its text.
//!
//! Why: an application sends the same few statements with different literals (`… WHERE
//! tenant_id = 4711`). Normalising one and finding its cached plan cost ~2,400 instructions
//! per routed point select (the statement split, the normaliser's byte scan, hashing the
//! normalised text), half of what routing costs. Comparing the text between the literals of
//! a remembered statement with the new one, and reading only the literals, costs a fraction.
//!
//! Exactness: a shape matches only when every byte outside the literals is the same and each
//! literal position holds a literal of the same kind, read by the normaliser's own functions
//! (`normalise::number_at`, `string_at`). Lexing is a function of the text before a point, so
//! identical text up to a literal puts the normaliser in the same state there, and it would
//! produce the same normalised text (hence the same plan) and the same literals. The
//! remembered plan belongs to one router (one map version); a reload builds a new router with
//! a new id, and shapes of the old one stop matching.
//!
//! Hints: a statement whose text holds a hint mark (`shardgate:`) is never remembered, and a
//! statement matches a shape only when none of its string literals holds one (a mark cannot
//! span a literal's edge: numbers hold no `s`, strings end in a quote). So a statement that
//! matches has no hint comment, and the router looks shapes up before its hint scan.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::hint::MARK;
use super::normalise::{number_at, string_at, LiteralKind, Literals, Span, Spans};
use super::plan::Plan;

/// Shapes a client remembers: enough for the statements an application repeats in a loop;
/// beyond that the oldest is replaced, which costs a copy of the statement's text.
const CAPACITY: usize = 4;

/// Statements longer than this are not remembered, so a client's shapes hold at most
/// `CAPACITY` × 1 KiB of text.
pub const MAX_SHAPE_LEN: usize = 1024;

static NEXT_ROUTER_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh router identity (never 0, never reused in the process).
pub(super) fn next_router_id() -> u64 {
    NEXT_ROUTER_ID.fetch_add(1, Ordering::Relaxed)
}

struct Shape {
    router: u64,
    /// The whole query string the shape was taken from.
    text: String,
    spans: Spans,
    plan: Arc<Plan>,
}

impl Shape {
    /// The literals of `sql` if it has this shape.
    fn literals<'s>(&self, sql: &'s str) -> Option<Literals<'s>> {
        let (t, b) = (self.text.as_bytes(), sql.as_bytes());
        let mut literals = Literals::new();
        let (mut ti, mut si) = (0usize, 0usize);
        for span in &self.spans {
            let between = t.get(ti..span.start)?;
            if b.get(si..si + between.len())? != between {
                return None;
            }
            si += between.len();
            let (end, value): (usize, Cow<'s, str>) = match span.kind {
                LiteralKind::Number => number_at(sql, si)?,
                LiteralKind::String => string_at(sql, si)?,
            };
            if span.kind == LiteralKind::String && sql.get(si..end)?.contains(MARK) {
                return None; // the hint scan would read it: leave the statement to the full path
            }
            literals.push(value);
            si = end;
            ti = span.end;
        }
        (b.get(si..)? == t.get(ti..)?).then_some(literals)
    }
}

/// One client's remembered shapes.
#[derive(Default)]
pub struct Shapes {
    shapes: Vec<Shape>,
    /// The slot the next new shape replaces once all are taken.
    next: usize,
}

impl Shapes {
    pub fn new() -> Self {
        Self::default()
    }

    /// The plan and literals of `sql` from a shape remembered under `router`.
    pub(super) fn find<'s>(&self, router: u64, sql: &'s str) -> Option<(&Plan, Literals<'s>)> {
        self.shapes.iter().filter(|s| s.router == router).find_map(|s| s.literals(sql).map(|l| (&*s.plan, l)))
    }

    /// Remembers `sql`, whose literals stand at `spans` and whose normalised text has `plan`.
    /// The text buffer of a replaced shape is reused.
    pub(super) fn remember(&mut self, router: u64, sql: &str, spans: &[Span], plan: &Arc<Plan>) {
        if sql.len() > MAX_SHAPE_LEN || sql.contains(MARK) {
            return;
        }
        if self.shapes.len() < CAPACITY {
            self.shapes.push(Shape {
                router,
                text: sql.to_owned(),
                spans: spans.iter().copied().collect(),
                plan: Arc::clone(plan),
            });
            return;
        }
        let Some(slot) = self.shapes.get_mut(self.next) else { return };
        self.next = (self.next + 1) % CAPACITY;
        slot.router = router;
        slot.text.clear();
        slot.text.push_str(sql);
        slot.spans.clear();
        slot.spans.extend_from_slice(spans);
        slot.plan = Arc::clone(plan);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::normalise::normalise_with_spans;
    use crate::router::plan::{Body, StatementKind};

    fn plan() -> Arc<Plan> {
        Arc::new(Plan { kind: StatementKind::Select, write: false, body: Body::NoTable })
    }

    fn shapes_of(sql: &str) -> Shapes {
        let (mut out, mut spans) = (String::new(), Spans::new());
        normalise_with_spans(sql, &mut out, &mut spans).expect("normalisable");
        let mut s = Shapes::new();
        s.remember(1, sql, &spans, &plan());
        s
    }

    fn lits(shapes: &Shapes, sql: &str) -> Option<Vec<String>> {
        shapes.find(1, sql).map(|(_, l)| l.into_iter().map(Cow::into_owned).collect())
    }

    /// Whatever a shape reads must be what normalising the statement reads.
    fn agrees_with_normalise(shapes: &Shapes, sql: &str) {
        let Some(found) = lits(shapes, sql) else { return };
        let mut out = String::new();
        let normalised = crate::router::normalise::normalise(sql, &mut out)
            .map(|l| l.into_iter().map(Cow::into_owned).collect::<Vec<_>>());
        assert_eq!(Some(found), normalised, "{sql}");
    }

    #[test]
    fn the_same_shape_with_other_literals_matches_and_reads_them() {
        let s = shapes_of("SELECT balance FROM accounts WHERE tenant_id = 42 AND name = 'a''b';");
        assert_eq!(
            lits(&s, "SELECT balance FROM accounts WHERE tenant_id = 4711 AND name = 'it''s';"),
            Some(vec!["4711".into(), "it's".into()])
        );
        assert_eq!(
            lits(&s, "SELECT balance FROM accounts WHERE tenant_id = 1.5e3 AND name = '';"),
            Some(vec!["1.5e3".into(), "".into()])
        );
    }

    #[test]
    fn other_text_kinds_or_endings_do_not_match() {
        let s = shapes_of("SELECT balance FROM accounts WHERE tenant_id = 42");
        for sql in [
            "SELECT balance FROM accounts WHERE tenant_id = 42 OR true",
            "SELECT balance FROM accounts WHERE tenant_id = '42'",
            "SELECT balance FROM accounts WHERE tenant_id = $1",
            "SELECT balance FROM accounts WHERE tenant_id = -42",
            "SELECT balance FROM accounts WHERE tenant_id = ",
            "SELECT balance FROM accounts WHERE tenant_id = 42; DELETE FROM accounts",
            "select balance FROM accounts WHERE tenant_id = 42",
            "SELECT balance FROM accounts WHERE tenant_id = 42 -- x",
        ] {
            assert_eq!(lits(&s, sql), None, "{sql}");
        }
        assert_eq!(s.find(2, "SELECT balance FROM accounts WHERE tenant_id = 7").map(|_| ()), None, "another router");
    }

    #[test]
    fn strings_that_are_not_closed_or_continue_do_not_match() {
        let s = shapes_of("SELECT * FROM t WHERE a = 'x'");
        assert_eq!(lits(&s, "SELECT * FROM t WHERE a = 'x"), None);
        assert_eq!(lits(&s, "SELECT * FROM t WHERE a = 'x''"), None);
        let mut out = String::new();
        assert!(normalise_with_spans("SELECT * FROM t WHERE a = 'x''", &mut out, &mut Spans::new()).is_none());
        // A string with a semicolon or a comment opener inside is still one literal.
        assert_eq!(
            lits(&s, "SELECT * FROM t WHERE a = 'x; DROP TABLE t; --'"),
            Some(vec!["x; DROP TABLE t; --".into()])
        );
    }

    #[test]
    fn literals_read_by_a_shape_equal_the_normalisers_on_many_variants() {
        let s = shapes_of("select * from t where a = 1 and b = 'q' and c in (2, 3.5)");
        for a in ["0", "7", "12345678901234567890", "1e5", "1e-5", "0x1F", "1_000", ".5", "5.", "5abc"] {
            for b in ["''", "'x'", "'it''s'", "'a;b'", "'/* c */'", "'\\'"] {
                for c in ["4", "00", "9.99"] {
                    let sql = format!("select * from t where a = {a} and b = {b} and c in (2, {c})");
                    agrees_with_normalise(&s, &sql);
                    assert!(lits(&s, &sql).is_some(), "{sql}");
                }
            }
        }
    }

    #[test]
    fn the_oldest_shape_is_replaced_beyond_capacity() {
        let mut s = Shapes::new();
        let (mut out, mut spans) = (String::new(), Spans::new());
        for n in 0..=CAPACITY {
            let sql = format!("select c{n} from t where id = 1");
            normalise_with_spans(&sql, &mut out, &mut spans).expect("normalisable");
            s.remember(1, &sql, &spans, &plan());
        }
        assert!(lits(&s, "select c0 from t where id = 2").is_none());
        for n in 1..=CAPACITY {
            assert!(lits(&s, &format!("select c{n} from t where id = 2")).is_some(), "c{n}");
        }
        let long = format!("select * from t where id = 1 {}", " ".repeat(MAX_SHAPE_LEN));
        normalise_with_spans(&long, &mut out, &mut spans).expect("normalisable");
        s.remember(1, &long, &spans, &plan());
        assert!(lits(&s, &long).is_none(), "too long to remember");
    }
}
