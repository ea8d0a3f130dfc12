//! `date`, `time`, `timestamp` and `timestamptz` as integers (days, or microseconds, since
//! 2000-01-01 — PostgreSQL's own epoch, so binary values need no conversion), read from the
//! ISO DateStyle text the server prints by default.
//!
//! Other DateStyles (`Postgres`, `SQL`, `German`) put fields in orders that cannot be told
//! apart reliably, so they are refused with a syntax error and the caller refuses the query.
//! A timestamptz is printed with its UTC offset (`+01`, `+05:30`, `-03:30:15`), which gives
//! the instant whatever the session's TimeZone.

use super::interval::{fraction_micros, push_fraction, two_digits};
use super::ValueError;

const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;
/// 2000-01-01 counted from 1970-01-01, the epoch of `days_from_civil`.
const PG_EPOCH_FROM_UNIX_DAYS: i64 = 10_957;
const OUT_OF_RANGE: ValueError = ValueError::DatetimeOutOfRange("date/time field value out of range");

/// Days since 2000-01-01 of a proleptic Gregorian date, with astronomical years (1 BC = 0).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468 - PG_EPOCH_FROM_UNIX_DAYS
}

/// The inverse of [`days_from_civil`]: (astronomical year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + PG_EPOCH_FROM_UNIX_DAYS + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DD` (the year may have more digits) to days; `bc` flips the year as " BC" does.
fn parse_ymd(s: &str, bc: bool) -> Option<i64> {
    let mut parts = s.splitn(3, '-');
    let year = parts.next().filter(|y| y.len() >= 4 && y.len() <= 7 && y.bytes().all(|b| b.is_ascii_digit()))?;
    let year: i64 = year.parse().ok()?;
    let month = two_digits(parts.next()?)?;
    let day = two_digits(parts.next()?)?;
    // There is no year 0: 1 BC is followed by 1 AD.
    if year == 0 || !(1..=12).contains(&month) {
        return None;
    }
    let year = if bc { 1 - year } else { year };
    (1..=days_in_month(year, month)).contains(&day).then(|| days_from_civil(year, month, day))
}

/// `HH:MM:SS[.ffffff]` to microseconds since midnight; 24:00:00 is allowed, as in `time`.
fn parse_clock(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, ':');
    let hours = two_digits(parts.next()?)?;
    let minutes = two_digits(parts.next()?).filter(|&m| m < 60)?;
    let seconds = parts.next()?;
    let (seconds, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let seconds = two_digits(seconds).filter(|&s| s < 60)?;
    let micros = ((hours * 60 + minutes) * 60 + seconds) * USECS_PER_SEC + fraction_micros(fraction)?;
    (micros <= USECS_PER_DAY).then_some(micros)
}

/// Splits off a trailing " BC".
fn strip_bc(s: &str) -> (&str, bool) {
    match s.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (s, false),
    }
}

/// `infinity` / `-infinity`, which the server prints for the extreme values.
fn infinity(s: &str) -> Option<bool> {
    match s {
        _ if s.eq_ignore_ascii_case("infinity") || s.eq_ignore_ascii_case("+infinity") => Some(true),
        _ if s.eq_ignore_ascii_case("-infinity") => Some(false),
        _ => None,
    }
}

fn text<'a>(raw: &'a [u8], type_name: &'static str) -> Result<&'a str, ValueError> {
    std::str::from_utf8(raw.trim_ascii()).map_err(|_| ValueError::syntax(type_name, raw))
}

pub fn parse_date(raw: &[u8]) -> Result<i32, ValueError> {
    let s = text(raw, "date")?;
    if let Some(positive) = infinity(s) {
        return Ok(if positive { i32::MAX } else { i32::MIN });
    }
    let (s, bc) = strip_bc(s);
    let days = parse_ymd(s, bc).ok_or_else(|| ValueError::syntax("date", raw))?;
    i32::try_from(days).ok().filter(|d| *d != i32::MAX && *d != i32::MIN).ok_or(OUT_OF_RANGE)
}

pub fn parse_time(raw: &[u8]) -> Result<i64, ValueError> {
    let s = text(raw, "time without time zone")?;
    parse_clock(s).ok_or_else(|| ValueError::syntax("time without time zone", raw))
}

/// `timestamp` (`with_zone` false) or `timestamptz` text to microseconds (UTC for
/// timestamptz).
pub fn parse_timestamp(raw: &[u8], with_zone: bool) -> Result<i64, ValueError> {
    let type_name = if with_zone { "timestamp with time zone" } else { "timestamp without time zone" };
    let syntax = || ValueError::syntax(type_name, raw);
    let s = text(raw, type_name)?;
    if let Some(positive) = infinity(s) {
        return Ok(if positive { i64::MAX } else { i64::MIN });
    }
    let (s, bc) = strip_bc(s);
    let (date, clock) = s.split_once(' ').ok_or_else(syntax)?;
    let (clock, offset) = if with_zone {
        let at = clock.find(['+', '-']).ok_or_else(syntax)?;
        let (clock, zone) = clock.split_at(at);
        (clock, parse_offset(zone).ok_or_else(syntax)?)
    } else {
        (clock, 0)
    };
    let days = parse_ymd(date, bc).ok_or_else(syntax)?;
    let micros = parse_clock(clock).ok_or_else(syntax)?;
    let local = i128::from(days) * i128::from(USECS_PER_DAY) + i128::from(micros);
    i64::try_from(local - i128::from(offset) * i128::from(USECS_PER_SEC))
        .ok()
        .filter(|t| *t != i64::MAX && *t != i64::MIN)
        .ok_or(ValueError::DatetimeOutOfRange("timestamp out of range"))
}

/// `±HH[:MM[:SS]]` east of UTC, in seconds.
fn parse_offset(zone: &str) -> Option<i64> {
    let (negative, rest) = match zone.as_bytes().first() {
        Some(b'+') => (false, zone.get(1..)?),
        Some(b'-') => (true, zone.get(1..)?),
        _ => return None,
    };
    let mut fields = rest.split(':');
    let hours = two_digits(fields.next()?)?;
    let minutes = fields.next().map_or(Some(0), two_digits).filter(|&m| m < 60)?;
    let seconds = fields.next().map_or(Some(0), two_digits).filter(|&s| s < 60)?;
    if fields.next().is_some() {
        return None;
    }
    let total = (hours * 60 + minutes) * 60 + seconds;
    Some(if negative { -total } else { total })
}

/// ISO text of a date, as `date_out` prints it.
pub fn write_date(days: i32, out: &mut Vec<u8>) {
    match days {
        i32::MAX => out.extend_from_slice(b"infinity"),
        i32::MIN => out.extend_from_slice(b"-infinity"),
        _ => {
            let (text, bc) = ymd(i64::from(days));
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(if bc { &b" BC"[..] } else { b"" });
        }
    }
}

fn ymd(days: i64) -> (String, bool) {
    let (year, month, day) = civil_from_days(days);
    let bc = year <= 0;
    let shown = if bc { 1 - year } else { year };
    (format!("{shown:04}-{month:02}-{day:02}"), bc)
}

fn clock(micros: i64) -> String {
    let secs = micros / USECS_PER_SEC;
    let mut text = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    push_fraction(&mut text, (micros % USECS_PER_SEC).unsigned_abs());
    text
}

pub fn write_time(micros: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(clock(micros).as_bytes());
}

/// ISO text of a `timestamp` (without time zone), as `timestamp_out` prints it.
pub fn write_timestamp(micros: i64, out: &mut Vec<u8>) {
    match micros {
        i64::MAX => out.extend_from_slice(b"infinity"),
        i64::MIN => out.extend_from_slice(b"-infinity"),
        _ => {
            let (date, bc) = ymd(micros.div_euclid(USECS_PER_DAY));
            out.extend_from_slice(format!("{date} {}", clock(micros.rem_euclid(USECS_PER_DAY))).as_bytes());
            out.extend_from_slice(if bc { &b" BC"[..] } else { b"" });
        }
    }
}
