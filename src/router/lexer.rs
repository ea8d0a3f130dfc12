//! A small SQL lexer: splits a query string into statements at top-level semicolons and reads
//! words, honouring quotes ('…', E'…', "…", $tag$…$tag$) and comments (--, nested /* */).
//! It is a byte scan with no allocation, cheap enough to run on every simple Query.

/// Statements of `sql`, trimmed, without their terminating `;`. Empty statements are skipped.
pub fn statements(sql: &str) -> impl Iterator<Item = &str> {
    let bytes = sql.as_bytes();
    let mut start = 0usize;
    let mut done = false;
    std::iter::from_fn(move || loop {
        if done {
            return None;
        }
        let end = next_semicolon(bytes, start);
        let piece = sql.get(start..end).unwrap_or_default();
        if end >= bytes.len() {
            done = true;
        }
        start = end + 1;
        let t = piece.trim();
        if !strip_comments_only(t) {
            return Some(t);
        }
    })
}

/// `true` when the text is empty or only comments and whitespace.
fn strip_comments_only(t: &str) -> bool {
    Words::new(t).next().is_none()
}

/// Byte classes for the word and whitespace scans here and in `normalise.rs`, looked up in
/// one table instead of several compares per byte: these scans run over every
/// simple-protocol statement a routed client sends. Under callgrind, routing a point select
/// by tenant_id cost ~6,600 instructions per transaction, ~2,700 of them in these scans; the
/// table, the memchr3 statement split (`next_special`) and the hint pre-check took ~1,150 off.
const WORD: u8 = 1; // part of an identifier, keyword or number: [A-Za-z0-9_] and non-ASCII
const SPACE: u8 = 2; // ASCII whitespace, as `u8::is_ascii_whitespace`

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 {
            t[c] |= WORD;
        }
        if b.is_ascii_whitespace() {
            t[c] |= SPACE;
        }
        c += 1;
    }
    t
};

/// `[A-Za-z0-9_]` or a byte of a non-ASCII character.
pub(super) fn is_word_byte(c: u8) -> bool {
    CLASS[c as usize] & WORD != 0
}

/// `u8::is_ascii_whitespace`, by table.
pub(crate) fn is_space(c: u8) -> bool {
    CLASS[c as usize] & SPACE != 0
}

/// The index of the first byte at or after `i` that is not a word byte (`b.len()` if none).
pub(super) fn word_end(b: &[u8], i: usize) -> usize {
    b.get(i..).and_then(|r| r.iter().position(|&c| !is_word_byte(c))).map_or(b.len(), |p| i + p)
}

/// The first byte at or after `i` that may start a quote, a comment or a dollar quote, or
/// end a statement (`b.len()` if none). Two vectorised searches (memchr3), the second only up
/// to the first's hit, cost less than a byte-by-byte loop over a typical statement.
fn next_special(b: &[u8], i: usize) -> usize {
    let r = b.get(i..).unwrap_or_default();
    let quote_or_end = memchr::memchr3(b';', b'\'', b'"', r);
    let upto = r.get(..quote_or_end.unwrap_or(r.len())).unwrap_or_default();
    let comment_or_dollar = memchr::memchr3(b'-', b'/', b'$', upto);
    i + comment_or_dollar.or(quote_or_end).unwrap_or(r.len())
}

fn next_semicolon(b: &[u8], mut i: usize) -> usize {
    loop {
        i = next_special(b, i);
        let Some(&c) = b.get(i) else { return b.len() };
        match c {
            b';' => return i,
            b'\'' => i = skip_quoted(b, i + 1, b'\'', backslash_escapes(b, i)),
            b'"' => i = skip_quoted(b, i + 1, b'"', false),
            b'-' if b.get(i + 1) == Some(&b'-') => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block(b, i),
            b'$' => i = skip_dollar(b, i),
            _ => i += 1,
        }
    }
}

fn backslash_escapes(b: &[u8], quote_at: usize) -> bool {
    quote_at > 0
        && matches!(b.get(quote_at - 1), Some(b'e' | b'E'))
        && !quote_at.checked_sub(2).and_then(|p| b.get(p)).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Returns the index after the closing quote (doubled quotes stay inside; with `escapes`,
/// as in `E'…'`, a backslash escapes the next byte).
pub(super) fn skip_quoted(b: &[u8], mut i: usize, q: u8, escapes: bool) -> usize {
    while let Some(&c) = b.get(i) {
        if escapes && c == b'\\' {
            i += 2;
            continue;
        }
        if c == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// The index after the newline that ends a `--` comment.
pub(super) fn skip_line(b: &[u8], i: usize) -> usize {
    b.get(i..).and_then(|r| r.iter().position(|&c| c == b'\n')).map_or(b.len(), |p| i + p + 1)
}

/// The index after a (nested) `/* … */` comment that starts at `i`.
pub(super) fn skip_block(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        if b.get(i) == Some(&b'/') && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b.get(i) == Some(&b'*') && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// `$tag$ … $tag$`; a `$` that does not open a dollar quote (e.g. `$1`) is one byte.
fn skip_dollar(b: &[u8], i: usize) -> usize {
    let tag_end = b
        .get(i + 1..)
        .and_then(|r| r.iter().position(|&c| !(c.is_ascii_alphanumeric() || c == b'_')))
        .map(|p| i + 1 + p);
    let Some(te) = tag_end else { return i + 1 };
    if b.get(te) != Some(&b'$') || b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        return i + 1;
    }
    let tag = b.get(i..=te).unwrap_or_default();
    let body = te + 1;
    b.get(body..).and_then(|r| r.windows(tag.len()).position(|w| w == tag)).map_or(b.len(), |p| body + p + tag.len())
}

/// Words of one statement: identifiers/keywords, quoted strings, numbers and single
/// punctuation characters, each as a slice of the input. Comments are skipped.
pub struct Words<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Words<'a> {
    pub fn new(s: &'a str) -> Self {
        Self { s, i: 0 }
    }

    /// The rest of the statement from the current position, trimmed.
    pub fn rest(&self) -> &'a str {
        self.s.get(self.i..).unwrap_or_default().trim()
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let b = self.s.as_bytes();
        loop {
            let c = *b.get(self.i)?;
            if is_space(c) {
                self.i += 1;
            } else if c == b'-' && b.get(self.i + 1) == Some(&b'-') {
                self.i = skip_line(b, self.i);
            } else if c == b'/' && b.get(self.i + 1) == Some(&b'*') {
                self.i = skip_block(b, self.i);
            } else {
                break;
            }
        }
        let start = self.i;
        let c = *b.get(start)?;
        let end = match c {
            b'\'' => skip_quoted(b, start + 1, b'\'', false),
            b'"' => skip_quoted(b, start + 1, b'"', false),
            b'$' => skip_dollar(b, start),
            c if is_word_byte(c) => {
                // Words include dots (`schema.table`, `1.5`).
                let mut e = word_end(b, start);
                while b.get(e) == Some(&b'.') {
                    e = word_end(b, e + 1);
                }
                e
            }
            _ => start + 1,
        };
        let end = end.max(start + 1).min(b.len());
        // Stay on a char boundary for multi-byte input.
        let mut end = end;
        while end < b.len() && !self.s.is_char_boundary(end) {
            end += 1;
        }
        self.i = end;
        self.s.get(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let q = "SET a = 'x;y'; select $$;$$ ; /* ; */ -- ;\n select \"a;b\";;";
        let v: Vec<_> = statements(q).collect();
        assert_eq!(v, vec!["SET a = 'x;y'", "select $$;$$", "/* ; */ -- ;\n select \"a;b\""]);
    }

    #[test]
    fn lone_dashes_slashes_and_dollars_are_plain_text() {
        let q = "select 1 - 2, a/b, $1; select '-;/*' ; select x$y -- ;\n; select 3";
        let v: Vec<_> = statements(q).collect();
        assert_eq!(v, vec!["select 1 - 2, a/b, $1", "select '-;/*'", "select x$y -- ;", "select 3"]);
    }

    #[test]
    fn words_skip_comments() {
        let w: Vec<_> = Words::new("/* c */ SET  search_path -- x\n TO 'a b', public").collect();
        assert_eq!(w, vec!["SET", "search_path", "TO", "'a b'", ",", "public"]);
    }

    #[test]
    fn e_strings_and_dollar_params() {
        let v: Vec<_> = statements(r"select E'a\';b'; select $1").collect();
        assert_eq!(v, vec![r"select E'a\';b'", "select $1"]);
    }
}
