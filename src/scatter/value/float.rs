//! `float4` and `float8` in text, as PostgreSQL 12 and later print them with the default
//! `extra_float_digits = 1`: the shortest digits that read back to the same value, laid out
//! like C's `%g` — plain between 1e-4 and 1e15 (float8) or 1e6 (float4), otherwise
//! `d.ddde±XX` with at least two exponent digits. A client that lowers extra_float_digits
//! asks for rounded output instead, which this does not produce.
//!
//! Rust's `{:e}` formatting yields the same shortest digits (both pick, among the shortest
//! strings that round-trip, the one nearest the exact value); the live-server test checks it.

use super::ValueError;

/// Decimal exponents from -4 up to (not including) these print without an exponent.
const FLOAT8_FIXED_BELOW: i32 = 15;
const FLOAT4_FIXED_BELOW: i32 = 6;

pub fn write_f64(v: f64, out: &mut Vec<u8>) {
    if let Some(special) = special(v.is_nan(), v.is_infinite(), v.is_sign_negative()) {
        return out.extend_from_slice(special);
    }
    layout(v.is_sign_negative(), &format!("{:e}", v.abs()), FLOAT8_FIXED_BELOW, out);
}

pub fn write_f32(v: f32, out: &mut Vec<u8>) {
    if let Some(special) = special(v.is_nan(), v.is_infinite(), v.is_sign_negative()) {
        return out.extend_from_slice(special);
    }
    layout(v.is_sign_negative(), &format!("{:e}", v.abs()), FLOAT4_FIXED_BELOW, out);
}

fn special(nan: bool, infinite: bool, negative: bool) -> Option<&'static [u8]> {
    match (nan, infinite, negative) {
        (true, _, _) => Some(b"NaN"),
        (false, true, false) => Some(b"Infinity"),
        (false, true, true) => Some(b"-Infinity"),
        (false, false, _) => None,
    }
}

/// Lays out `sci` (Rust's `{:e}` of the magnitude: `d[.ddd]e[-]x`) the way PostgreSQL does.
fn layout(negative: bool, sci: &str, fixed_below: i32, out: &mut Vec<u8>) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    if negative {
        out.push(b'-');
    }
    if (-4..fixed_below).contains(&exp) {
        if exp < 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            out.extend_from_slice(&digits);
        } else {
            let int_len = exp as usize + 1;
            match (digits.get(..int_len), digits.get(int_len..)) {
                (Some(int), Some(frac)) if !frac.is_empty() => {
                    out.extend_from_slice(int);
                    out.push(b'.');
                    out.extend_from_slice(frac);
                }
                _ => {
                    out.extend_from_slice(&digits);
                    out.extend(std::iter::repeat_n(b'0', int_len.saturating_sub(digits.len())));
                }
            }
        }
        return;
    }
    let (first, rest) = digits.split_first().map_or((b'0', &[][..]), |(f, r)| (*f, r));
    out.push(first);
    if !rest.is_empty() {
        out.push(b'.');
        out.extend_from_slice(rest);
    }
    out.extend_from_slice(format!("e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.unsigned_abs()).as_bytes());
}

/// Reads `float8` text as `float8in` does: surrounding spaces, NaN, [+-]Infinity/inf,
/// decimal and exponent notation; values beyond the range (or non-zero ones that underflow
/// to zero) are out of range.
pub fn parse_f64(raw: &[u8]) -> Result<f64, ValueError> {
    let (s, v) = parse_with(raw, "double precision", |s| s.parse::<f64>().ok())?;
    check_range(s, v.is_infinite(), v == 0.0, "double precision").map(|()| v)
}

pub fn parse_f32(raw: &[u8]) -> Result<f32, ValueError> {
    let (s, v) = parse_with(raw, "real", |s| s.parse::<f32>().ok())?;
    check_range(s, v.is_infinite(), v == 0.0, "real").map(|()| v)
}

fn parse_with<'a, T>(
    raw: &'a [u8],
    type_name: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<(&'a str, T), ValueError> {
    let syntax = || ValueError::syntax(type_name, raw);
    let s = std::str::from_utf8(raw.trim_ascii()).map_err(|_| syntax())?;
    // Rust also reads "nan" with a sign, which PostgreSQL does not.
    if s.len() > 1 && s.get(1..).is_some_and(|t| t.eq_ignore_ascii_case("nan")) {
        return Err(syntax());
    }
    parse(s).map(|v| (s, v)).ok_or_else(syntax)
}

fn check_range(s: &str, infinite: bool, zero: bool, type_name: &'static str) -> Result<(), ValueError> {
    let lower = s.to_ascii_lowercase();
    let spelled_infinite = lower.contains("inf");
    let mantissa = lower.split('e').next().unwrap_or("");
    let nonzero_digits = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if (infinite && !spelled_infinite) || (zero && nonzero_digits) {
        return Err(ValueError::OutOfRange(match type_name {
            "real" => "value out of range for type real",
            _ => "value out of range for type double precision",
        }));
    }
    Ok(())
}
