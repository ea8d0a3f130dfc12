//! Literal normalisation for simple-protocol statements: `… WHERE aid = 48213` becomes
//! `… WHERE aid = $1` with `48213` extracted, so statements that differ only in their
//! literals share one cached plan and pay no parse.
//!
//! The scan uses the same quoting rules as `lexer.rs`. It is conservative: it only replaces
//! literals where a `$n` is grammatical (a plain number, or a plain '…' string that does not
//! follow a word, so `DATE '…'` and `INTERVAL '…'` stay), and gives up (`None`) on anything
//! it does not understand — the caller then parses the original text. If the normalised text
//! does not parse (a literal where sqlparser wants a constant, e.g. `numeric(10,2)`), the
//! caller also falls back to the original, so normalisation never changes a route.

use std::borrow::Cow;

use super::lexer::{is_space, is_word_byte, skip_block, skip_line, skip_quoted, word_end};

/// The literals of a normalised statement, in `$n` order. Inline up to four: a point
/// statement has one or two, and a heap allocation per routed statement cost more than the
/// rest of its normalisation's bookkeeping.
pub type Literals<'a> = smallvec::SmallVec<[Cow<'a, str>; 4]>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prev {
    Start,
    Word,
    Punct,
    Value,
}

/// Statements worth normalising: data access, where literals vary between executions.
fn is_dml(sql: &str) -> bool {
    let first = sql.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or_default();
    ["select", "insert", "update", "delete", "with", "values"].iter().any(|k| first.eq_ignore_ascii_case(k))
}

/// Normalises one statement (no top-level `;` inside): the text with `$1…` for literals
/// goes to `out` (cleared first; the caller reuses one buffer, so no allocation per
/// statement), the literals are returned. `None`: leave it as it is — not a DML statement,
/// no literal to replace, or something the scan does not handle (a `$n` parameter, `U&'…'`,
/// string continuation across lines); `out` then holds nothing useful.
pub fn normalise<'a>(sql: &'a str, out: &mut String) -> Option<Literals<'a>> {
    normalise_with_spans(sql, out, &mut Spans::new())
}

/// Where a literal stood in the statement and of which kind: what a [`super::shape`] needs
/// to recognise the next statement of the same shape without normalising it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub kind: LiteralKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralKind {
    Number,
    String,
}

/// The spans of a statement's literals, inline like [`Literals`].
pub type Spans = smallvec::SmallVec<[Span; 4]>;

/// [`normalise`], also recording each literal's span in `spans` (cleared first).
pub fn normalise_with_spans<'a>(sql: &'a str, out: &mut String, spans: &mut Spans) -> Option<Literals<'a>> {
    out.clear();
    spans.clear();
    if !is_dml(sql) {
        return None;
    }
    let b = sql.as_bytes();
    out.reserve(sql.len() + 8);
    let mut literals = Literals::new();
    let mut prev = Prev::Start;
    let mut i = 0usize;
    let mut copied = 0usize; // `sql[copied..i]` is pending verbatim output
    let flush = |out: &mut String, from: usize, to: usize| out.push_str(sql.get(from..to).unwrap_or_default());
    while let Some(&c) = b.get(i) {
        match c {
            c if is_space(c) => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => {
                flush(out, copied, i);
                i = skip_line(b, i);
                out.push(' ');
                copied = i;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                flush(out, copied, i);
                i = skip_block(b, i);
                out.push(' ');
                copied = i;
            }
            b'\'' => {
                if prev == Prev::Word {
                    i = skip_quoted(b, i + 1, b'\'', false);
                } else {
                    let (end, value) = string_at(sql, i)?;
                    flush(out, copied, i);
                    literals.push(value);
                    spans.push(Span { start: i, end, kind: LiteralKind::String });
                    push_placeholder(out, literals.len());
                    i = end;
                    copied = i;
                }
                prev = Prev::Value;
            }
            b'"' => {
                i = skip_quoted(b, i + 1, b'"', false);
                prev = Prev::Word;
            }
            b'$' => {
                if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    return None;
                }
                i = skip_dollar(b, i)?;
                prev = Prev::Value;
            }
            c if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) => {
                let (end, value) = number_at(sql, i)?;
                flush(out, copied, i);
                literals.push(value);
                spans.push(Span { start: i, end, kind: LiteralKind::Number });
                push_placeholder(out, literals.len());
                i = end;
                copied = i;
                prev = Prev::Value;
            }
            c if is_word_byte(c) => {
                let start = i;
                i = word_end(b, i);
                match b.get(i) {
                    // E'…', B'…', X'…', N'…': a prefixed string stays as it is.
                    Some(b'\'') => {
                        let escapes = matches!(b.get(start..i), Some(b"e" | b"E"));
                        i = skip_quoted(b, i + 1, b'\'', escapes);
                        prev = Prev::Value;
                    }
                    Some(b'&') if matches!(b.get(start..i), Some(b"u" | b"U")) => return None,
                    _ => prev = Prev::Word,
                }
            }
            _ => {
                i += 1;
                prev = Prev::Punct;
            }
        }
    }
    if literals.is_empty() {
        return None;
    }
    flush(out, copied, b.len());
    Some(literals)
}

/// `$n`. Statements have few literals: one digit is pushed directly, since the formatting
/// machinery costs more than the rest of the scan for a short statement.
fn push_placeholder(out: &mut String, n: usize) {
    out.push('$');
    match u8::try_from(n) {
        Ok(d @ 0..=9) => out.push(char::from(b'0' + d)),
        _ => {
            use std::fmt::Write;
            let _ = write!(out, "{n}");
        }
    }
}

/// The plain string literal whose opening quote is at `i`: the index after its closing quote
/// and its value (`''` read as `'`). `None` when `i` holds no quote, when the string is not
/// closed (normalising it would route by a value the server then rejects), or when a
/// newline-separated string continues it. Shared with [`super::shape`], so a statement
/// recognised by its shape yields exactly the literals normalising it would.
pub(super) fn string_at(sql: &str, i: usize) -> Option<(usize, Cow<'_, str>)> {
    let b = sql.as_bytes();
    if b.get(i) != Some(&b'\'') {
        return None;
    }
    let end = closing_quote(b, i + 1)?;
    if continues_string(b, end) {
        return None;
    }
    let body = sql.get(i + 1..end - 1)?;
    Some((end, if body.contains("''") { Cow::Owned(body.replace("''", "'")) } else { Cow::Borrowed(body) }))
}

/// The index after the `'` that closes a plain string whose body starts at `i` (a doubled
/// `''` stays inside), or `None` if the text ends first.
fn closing_quote(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i += memchr::memchr(b'\'', b.get(i..)?)?;
        if b.get(i + 1) == Some(&b'\'') {
            i += 2;
        } else {
            return Some(i + 1);
        }
    }
}

/// The numeric literal starting at `i` (a digit, or `.` and a digit): the index after it and
/// its text. Shared with [`super::shape`] like [`string_at`].
pub(super) fn number_at(sql: &str, i: usize) -> Option<(usize, Cow<'_, str>)> {
    let b = sql.as_bytes();
    let starts = match b.get(i) {
        Some(c) if c.is_ascii_digit() => true,
        Some(b'.') => b.get(i + 1).is_some_and(u8::is_ascii_digit),
        _ => false,
    };
    if !starts {
        return None;
    }
    let end = number_end(b, i);
    Some((end, Cow::Borrowed(sql.get(i..end)?)))
}

/// `'a'` newline `'b'` is one string in SQL; leave such text alone.
fn continues_string(b: &[u8], mut i: usize) -> bool {
    let mut newline = false;
    while let Some(&c) = b.get(i) {
        if c == b'\n' {
            newline = true;
        } else if !c.is_ascii_whitespace() {
            return newline && c == b'\'';
        }
        i += 1;
    }
    false
}

/// End of a numeric literal: digits, `.`, `_`, hex/octal/binary prefixes, exponent with sign.
fn number_end(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        let exponent_sign = (c == b'+' || c == b'-') && matches!(b.get(i.wrapping_sub(1)), Some(b'e' | b'E'));
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// `$tag$ … $tag$`; `None` for a lone `$` the scan does not understand.
fn skip_dollar(b: &[u8], i: usize) -> Option<usize> {
    let rest = b.get(i + 1..)?;
    let tag_len = rest.iter().position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))?;
    if rest.get(tag_len) != Some(&b'$') {
        return None;
    }
    let tag = b.get(i..=i + 1 + tag_len)?;
    let body = i + 2 + tag_len;
    let end = b.get(body..)?.windows(tag.len()).position(|w| w == tag)?;
    Some(body + end + tag.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(sql: &str) -> Option<(String, Vec<String>)> {
        let mut text = String::from("left over from the last statement");
        normalise(sql, &mut text).map(|l| (text, l.into_iter().map(|l| l.into_owned()).collect()))
    }

    #[test]
    fn numbers_and_plain_strings_become_placeholders() {
        assert_eq!(
            n("SELECT abalance FROM pgbench_accounts WHERE aid = 48213"),
            Some(("SELECT abalance FROM pgbench_accounts WHERE aid = $1".into(), vec!["48213".into()]))
        );
        assert_eq!(
            n("select * from t where a = 'it''s' and b in (1, -2.5e-3) limit 10"),
            Some((
                "select * from t where a = $1 and b in ($2, -$3) limit $4".into(),
                vec!["it's".into(), "1".into(), "2.5e-3".into(), "10".into()]
            ))
        );
    }

    #[test]
    fn placeholders_past_nine_have_two_digits() {
        let (text, lits) = n("select * from t where a in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)").unwrap();
        assert_eq!(text, "select * from t where a in ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
        assert_eq!(lits.last().map(String::as_str), Some("11"));
    }

    #[test]
    fn typed_and_prefixed_strings_identifiers_and_comments_stay() {
        assert_eq!(
            n("select DATE '2024-01-01', E'a\\'b', t1.c2 from \"x1\" /* shardgate: tenant_id=7 */ where id = 3"),
            Some(("select DATE '2024-01-01', E'a\\'b', t1.c2 from \"x1\"   where id = $1".into(), vec!["3".into()]))
        );
    }

    #[test]
    fn gives_up_on_parameters_utility_statements_and_no_literals() {
        assert_eq!(n("select * from t where a = $1 and b = 2"), None);
        assert_eq!(n("SET search_path = 'x'"), None);
        assert_eq!(n("select * from t"), None);
        assert_eq!(n("select U&'d\\0061t' from t where a = 1"), None);
    }
}
