//! `float4` and `float8` in text, as PostgreSQL 12 and later print them with the default
//! `extra_float_digits = 1`: the shortest digits that read back to the same value, laid out
//! like C's `%g` — plain between 1e-4 and 1e15 (float8) or 1e6 (float4), otherwise
//! `d.ddde±XX` with at least two exponent digits. A client that lowers extra_float_digits
//! asks for rounded output instead, which this does not produce.
//!
//! Rust's `{:e}` formatting gives the shortest length that round-trips, and mostly the same
//! digits, with two differences: PostgreSQL never prints a decimal lying exactly halfway
//! between two floats (reading it back depends on the reader breaking the tie to even), where
//! Rust does when the float's mantissa is even; and when two candidates of the shortest length
//! are equally near, PostgreSQL takes the even one, Rust the upper. Both are corrected here
//! (`postgres_digits`); the live-server test compares thousands of random values.

use super::ValueError;

/// Decimal exponents from -4 up to (not including) these print without an exponent.
const FLOAT8_FIXED_BELOW: i32 = 15;
const FLOAT4_FIXED_BELOW: i32 = 6;

/// Significant digits that always suffice to round-trip.
const FLOAT8_MAX_DIGITS: usize = 17;
const FLOAT4_MAX_DIGITS: usize = 9;

pub fn write_f64(v: f64, out: &mut Vec<u8>) {
    if let Some(special) = special(v.is_nan(), v.is_infinite(), v.is_sign_negative()) {
        return out.extend_from_slice(special);
    }
    let bits = v.to_bits();
    let (exponent_field, fraction) = ((bits >> 52) & 0x7ff, bits & ((1 << 52) - 1));
    let halfway = Halfway::new(exponent_field, fraction, 52, 1075);
    let parses_back = |s: &str| s.parse::<f64>().is_ok_and(|p| p == v.abs());
    let sci = postgres_digits(
        format!("{:e}", v.abs()),
        |digits| format!("{:.*e}", digits - 1, v.abs()),
        &halfway,
        parses_back,
        FLOAT8_MAX_DIGITS,
    );
    layout(v.is_sign_negative(), &sci, FLOAT8_FIXED_BELOW, out);
}

pub fn write_f32(v: f32, out: &mut Vec<u8>) {
    if let Some(special) = special(v.is_nan(), v.is_infinite(), v.is_sign_negative()) {
        return out.extend_from_slice(special);
    }
    let bits = u64::from(v.to_bits());
    let (exponent_field, fraction) = ((bits >> 23) & 0xff, bits & ((1 << 23) - 1));
    let halfway = Halfway::new(exponent_field, fraction, 23, 150);
    let parses_back = |s: &str| s.parse::<f32>().is_ok_and(|p| p == v.abs());
    let sci = postgres_digits(
        format!("{:e}", v.abs()),
        |digits| format!("{:.*e}", digits - 1, v.abs()),
        &halfway,
        parses_back,
        FLOAT4_MAX_DIGITS,
    );
    layout(v.is_sign_negative(), &sci, FLOAT4_FIXED_BELOW, out);
}

/// The two points halfway between a float and its neighbours, each as `odd * 2^exp`.
struct Halfway {
    upper: (u64, i32),
    lower: (u64, i32),
}

impl Halfway {
    /// From the IEEE fields: `bias` is the exponent bias plus the fraction width.
    fn new(exponent_field: u64, fraction: u64, fraction_bits: u32, bias: i32) -> Halfway {
        let (mantissa, exp) = if exponent_field == 0 {
            (fraction, 1 - bias)
        } else {
            (fraction | (1 << fraction_bits), exponent_field as i32 - bias)
        };
        let upper = (2 * mantissa + 1, exp - 1);
        // Just above a power of two the gap below is half the gap above.
        // (Zero has no halfway points; saturating keeps its arithmetic from underflowing.)
        let lower = if fraction == 0 && exponent_field > 1 {
            ((4 * mantissa).saturating_sub(1), exp - 2)
        } else {
            ((2 * mantissa).saturating_sub(1), exp - 1)
        };
        Halfway { upper, lower }
    }

    /// Whether `digits * 10^exp10` is exactly one of the halfway points.
    fn contains(&self, digits: u64, exp10: i32) -> bool {
        [self.upper, self.lower].into_iter().any(|(odd, exp2)| equals_dyadic(digits, exp10, odd, exp2))
    }
}

/// `d * 10^k == odd * 2^t`, exactly. With d = d' 2^a 5^b (d' prime to 10) the left side is
/// d' 5^(b+k) 2^(a+k): equal iff a+k = t and d' 5^(b+k) = odd (b+k < 0 leaves a 5 in the
/// denominator, which no dyadic number has).
fn equals_dyadic(d: u64, k: i32, odd: u64, t: i32) -> bool {
    if d == 0 {
        return false;
    }
    let (mut rest, mut twos, mut fives) = (d, 0i32, 0i32);
    while rest % 2 == 0 {
        rest /= 2;
        twos += 1;
    }
    while rest % 5 == 0 {
        rest /= 5;
        fives += 1;
    }
    if twos + k != t || fives + k < 0 {
        return false;
    }
    let mut product = u128::from(rest);
    for _ in 0..fives + k {
        product *= 5;
        if product > u128::from(odd) {
            return false;
        }
    }
    product == u128::from(odd)
}

/// The digits PostgreSQL prints. Rust's shortest (`{:e}`) gives the length; at that length
/// PostgreSQL takes the value rounded to nearest with ties to even (Rust's shortest mode breaks
/// ties upwards: 2533424.25f32 is 2.5334243e6 there, 2.5334242e+06 in PostgreSQL), and when
/// that is a halfway point, or does not read back, the next length.
fn postgres_digits(
    shortest: String,
    with_digits: impl Fn(usize) -> String,
    halfway: &Halfway,
    parses_back: impl Fn(&str) -> bool,
    max_digits: usize,
) -> String {
    let is_halfway = |sci: &str| {
        let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let exp: i32 = exp.parse().unwrap_or(0);
        match digits.parse::<u64>() {
            Ok(d) => halfway.contains(d, exp - (digits.len() as i32 - 1)),
            Err(_) => false,
        }
    };
    let shown = shortest.split_once('e').map_or(1, |(m, _)| m.chars().filter(char::is_ascii_digit).count());
    (shown.max(1)..=max_digits)
        .map(with_digits)
        .find(|candidate| !is_halfway(candidate) && parses_back(candidate))
        .map(|candidate| trim_mantissa_zeros(&candidate))
        .unwrap_or(shortest)
}

/// `1.0264230400e8` → `1.02642304e8`.
fn trim_mantissa_zeros(sci: &str) -> String {
    match sci.split_once('e') {
        Some((mantissa, exp)) if mantissa.contains('.') => {
            format!("{}e{exp}", mantissa.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => sci.to_owned(),
    }
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
