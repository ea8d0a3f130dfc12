//! `interval`: months, days and microseconds kept apart, as PostgreSQL stores them, because
//! they do not convert into each other exactly ('1 mon' is not always 30 days when added to a
//! date) — yet compare and group as if they did: months count as 30 days and days as 24 hours,
//! so '1 mon' = '30 days' and the two land in one group.
//!
//! Text is the default IntervalStyle `postgres` (`1 year 2 mons -3 days +04:05:06.5`); the
//! other styles (`@ …` postgres_verbose, sql_standard, ISO 8601) are refused with a syntax
//! error rather than guessed at.

use std::cmp::Ordering;

use super::ValueError;

const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_MINUTE: i64 = 60 * USECS_PER_SEC;
const USECS_PER_HOUR: i64 = 60 * USECS_PER_MINUTE;
const USECS_PER_DAY: i128 = 24 * USECS_PER_HOUR as i128;
const DAYS_PER_MONTH: i128 = 30;
const TYPE_NAME: &str = "interval";
const OUT_OF_RANGE: ValueError = ValueError::DatetimeOutOfRange("interval out of range");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    /// The span PostgreSQL orders and hashes intervals by.
    pub fn span(&self) -> i128 {
        (i128::from(self.months) * DAYS_PER_MONTH + i128::from(self.days)) * USECS_PER_DAY + i128::from(self.micros)
    }

    pub fn cmp_sql(&self, other: &Interval) -> Ordering {
        self.span().cmp(&other.span())
    }

    /// Field-wise sum, as `interval + interval`; any field overflowing is an error.
    pub fn add(&self, other: &Interval) -> Result<Interval, ValueError> {
        Ok(Interval {
            months: self.months.checked_add(other.months).ok_or(OUT_OF_RANGE)?,
            days: self.days.checked_add(other.days).ok_or(OUT_OF_RANGE)?,
            micros: self.micros.checked_add(other.micros).ok_or(OUT_OF_RANGE)?,
        })
    }

    /// Binary: i64 microseconds, i32 days, i32 months.
    pub fn parse_binary(raw: &[u8]) -> Result<Interval, ValueError> {
        let bad = ValueError::Binary { type_name: TYPE_NAME };
        let bytes: &[u8; 16] = raw.try_into().map_err(|_| bad.clone())?;
        let [t0, t1, t2, t3, t4, t5, t6, t7, d0, d1, d2, d3, m0, m1, m2, m3] = *bytes;
        Ok(Interval {
            micros: i64::from_be_bytes([t0, t1, t2, t3, t4, t5, t6, t7]),
            days: i32::from_be_bytes([d0, d1, d2, d3]),
            months: i32::from_be_bytes([m0, m1, m2, m3]),
        })
    }

    pub fn write_binary(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.micros.to_be_bytes());
        out.extend_from_slice(&self.days.to_be_bytes());
        out.extend_from_slice(&self.months.to_be_bytes());
    }

    /// Reads the `postgres` IntervalStyle: optional `N year(s)`, `N mon(s)`, `N day(s)` in that
    /// order, then an optional `[+-]H:MM:SS[.ffffff]`.
    pub fn parse_text(raw: &[u8]) -> Result<Interval, ValueError> {
        let syntax = || ValueError::syntax(TYPE_NAME, raw);
        let s = std::str::from_utf8(raw).map_err(|_| syntax())?;
        let mut words = s.split_ascii_whitespace().peekable();
        let (mut years, mut mons, mut days, mut micros) = (0i64, 0i64, 0i64, 0i64);
        // Fields seen so far, to insist on the order the server prints them in.
        let mut stage = 0;
        let mut any = false;
        while let Some(word) = words.next() {
            any = true;
            if word.contains(':') {
                if stage > 3 || words.peek().is_some() {
                    return Err(syntax());
                }
                micros = parse_clock(word).ok_or_else(syntax)?;
                stage = 4;
                continue;
            }
            let n: i64 = word.parse().map_err(|_| syntax())?;
            let (slot, at) = match words.next() {
                Some("year" | "years") => (&mut years, 1),
                Some("mon" | "mons") => (&mut mons, 2),
                Some("day" | "days") => (&mut days, 3),
                _ => return Err(syntax()),
            };
            if at <= stage {
                return Err(syntax());
            }
            *slot = n;
            stage = at;
        }
        if !any {
            return Err(syntax());
        }
        let months = years.checked_mul(12).and_then(|m| m.checked_add(mons)).and_then(|m| i32::try_from(m).ok());
        Ok(Interval {
            months: months.ok_or(OUT_OF_RANGE)?,
            days: i32::try_from(days).map_err(|_| OUT_OF_RANGE)?,
            micros,
        })
    }

    /// Writes the `postgres` IntervalStyle exactly as the server does: each non-zero field,
    /// a `+` on a positive field that follows a negative one, and the clock part when it is
    /// non-zero or nothing else was written.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        let mut text = String::new();
        let mut previous_negative = false;
        let years = self.months / 12;
        let mons = self.months % 12;
        for (value, unit) in [(i64::from(years), "year"), (i64::from(mons), "mon"), (i64::from(self.days), "day")] {
            if value == 0 {
                continue;
            }
            let space = if text.is_empty() { "" } else { " " };
            let plus = if previous_negative && value > 0 { "+" } else { "" };
            let plural = if value == 1 { "" } else { "s" };
            text.push_str(&format!("{space}{plus}{value} {unit}{plural}"));
            previous_negative = value < 0;
        }
        if text.is_empty() || self.micros != 0 {
            let space = if text.is_empty() { "" } else { " " };
            let sign = if self.micros < 0 {
                "-"
            } else if previous_negative {
                "+"
            } else {
                ""
            };
            let abs = self.micros.unsigned_abs();
            let (hours, rest) = (abs / USECS_PER_HOUR as u64, abs % USECS_PER_HOUR as u64);
            let (minutes, rest) = (rest / USECS_PER_MINUTE as u64, rest % USECS_PER_MINUTE as u64);
            let (seconds, fraction) = (rest / USECS_PER_SEC as u64, rest % USECS_PER_SEC as u64);
            text.push_str(&format!("{space}{sign}{hours:02}:{minutes:02}:{seconds:02}"));
            push_fraction(&mut text, fraction);
        }
        out.extend_from_slice(text.as_bytes());
    }
}

/// `.ffffff` without trailing zeros; nothing for a whole second.
pub(super) fn push_fraction(text: &mut String, micros: u64) {
    if micros != 0 {
        let digits = format!("{micros:06}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
}

/// `[+-]H:MM:SS[.f…]` (hours unbounded) to signed microseconds.
fn parse_clock(word: &str) -> Option<i64> {
    let (negative, rest) = match word.as_bytes().first() {
        Some(b'-') => (true, word.get(1..)?),
        Some(b'+') => (false, word.get(1..)?),
        _ => (false, word),
    };
    let mut parts = rest.split(':');
    let hours = parts.next().filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()))?;
    let minutes = two_digits(parts.next()?).filter(|&m| m < 60)?;
    let seconds = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let whole = two_digits(whole).filter(|&s| s < 60)?;
    let micros = fraction_micros(fraction)?;
    // In i128, so that the most negative interval (whose magnitude exceeds i64) reads back.
    let total = hours.parse::<i128>().ok()?.checked_mul(i128::from(USECS_PER_HOUR))?
        + i128::from(minutes * USECS_PER_MINUTE + whole * USECS_PER_SEC + micros);
    i64::try_from(if negative { -total } else { total }).ok()
}

pub(super) fn two_digits(s: &str) -> Option<i64> {
    match s.as_bytes() {
        &[a @ b'0'..=b'9', b @ b'0'..=b'9'] => Some(i64::from(a - b'0') * 10 + i64::from(b - b'0')),
        _ => None,
    }
}

/// Up to six digits after the point, as microseconds ("" is 0). Plain arithmetic: an ORDER
/// BY on a timestamp decodes this for every row a scatter merges.
pub(super) fn fraction_micros(fraction: &str) -> Option<i64> {
    if fraction.len() > 6 {
        return None;
    }
    let mut micros = 0i64;
    for b in fraction.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        micros = micros * 10 + i64::from(b - b'0');
    }
    Some(micros * 10i64.pow(6 - fraction.len() as u32))
}
