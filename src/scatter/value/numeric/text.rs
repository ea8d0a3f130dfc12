//! `numeric` in text: what `numeric_out` prints and what `numeric_in` accepts (plain and
//! exponent notation, NaN and the infinities; not the hexadecimal or underscore forms of
//! PostgreSQL 16, which the server never prints).

use super::{Decimal, Numeric, DEC_DIGITS, DSCALE_MAX, OVERFLOW};
use crate::scatter::value::ValueError;

const TYPE_NAME: &str = "numeric";
/// The largest exponent `numeric_in` accepts (its maximum precision).
const MAX_EXPONENT: i64 = 1000;

impl Numeric {
    pub fn parse_text(raw: &[u8]) -> Result<Numeric, ValueError> {
        let syntax = || ValueError::syntax(TYPE_NAME, raw);
        let s = raw.trim_ascii();
        let special = [
            ("nan", Numeric::NaN),
            ("infinity", Numeric::PosInfinity),
            ("+infinity", Numeric::PosInfinity),
            ("inf", Numeric::PosInfinity),
            ("+inf", Numeric::PosInfinity),
            ("-infinity", Numeric::NegInfinity),
            ("-inf", Numeric::NegInfinity),
        ];
        if let Some((_, n)) = special.into_iter().find(|(word, _)| s.eq_ignore_ascii_case(word.as_bytes())) {
            return Ok(n);
        }
        let (negative, s) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, s),
        };
        let (mantissa, exponent) = match s.iter().position(|&b| b == b'e' || b == b'E') {
            Some(at) => (s.get(..at).unwrap_or_default(), Some(s.get(at + 1..).unwrap_or_default())),
            None => (s, None),
        };
        let (int_part, frac_part) = match mantissa.iter().position(|&b| b == b'.') {
            Some(at) => (mantissa.get(..at).unwrap_or_default(), mantissa.get(at + 1..).unwrap_or_default()),
            None => (mantissa, &[][..]),
        };
        let all_digits = |p: &[u8]| p.iter().all(u8::is_ascii_digit);
        if !all_digits(int_part) || !all_digits(frac_part) || int_part.len() + frac_part.len() == 0 {
            return Err(syntax());
        }
        let exponent = match exponent {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(b"+").or_else(|| e.strip_prefix(b"-")).unwrap_or(e);
                if digits.is_empty() || digits.len() > 9 || !all_digits(digits) {
                    return Err(syntax());
                }
                let v: i64 = std::str::from_utf8(e).ok().and_then(|t| t.parse().ok()).ok_or_else(syntax)?;
                if v.abs() > MAX_EXPONENT {
                    return Err(syntax());
                }
                v
            }
        };
        let dscale = (frac_part.len() as i64 - exponent).max(0);
        if dscale > i64::from(DSCALE_MAX) {
            return Err(ValueError::OutOfRange(OVERFLOW));
        }
        // Decimal power of the first digit written.
        let dweight = int_part.len() as i64 - 1 + exponent;
        Ok(Numeric::Finite(from_decimal_digits(negative, dweight, dscale as u32, int_part.iter().chain(frac_part))?))
    }

    /// Writes the text `numeric_out` prints: every digit up to the display scale.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        match self {
            Numeric::NaN => out.extend_from_slice(b"NaN"),
            Numeric::PosInfinity => out.extend_from_slice(b"Infinity"),
            Numeric::NegInfinity => out.extend_from_slice(b"-Infinity"),
            Numeric::Finite(d) => d.write_text(out),
        }
    }
}

/// Groups decimal digits (the first of power `dweight`) into base-10000 digits.
fn from_decimal_digits<'a>(
    negative: bool,
    dweight: i64,
    dscale: u32,
    decimal: impl Iterator<Item = &'a u8> + Clone,
) -> Result<Decimal, ValueError> {
    let count = decimal.clone().count() as i64;
    let weight = dweight.div_euclid(i64::from(DEC_DIGITS));
    let last = (dweight - count + 1).div_euclid(i64::from(DEC_DIGITS));
    let mut digits = vec![0u16; (weight - last + 1).max(0) as usize];
    for (i, d) in decimal.enumerate() {
        let power = dweight - i as i64;
        let index = (weight - power.div_euclid(i64::from(DEC_DIGITS))) as usize;
        let scale = 10u16.pow(power.rem_euclid(i64::from(DEC_DIGITS)) as u32);
        if let Some(slot) = digits.get_mut(index) {
            *slot += u16::from(d - b'0') * scale;
        }
    }
    let weight = i32::try_from(weight).map_err(|_| ValueError::OutOfRange(OVERFLOW))?;
    Decimal::new(negative, weight, dscale, digits)
}

impl Decimal {
    fn write_text(&self, out: &mut Vec<u8>) {
        if self.negative {
            out.push(b'-');
        }
        if self.weight < 0 {
            out.push(b'0');
        } else {
            for pos in (0..=self.weight).rev() {
                let d = self.digit_at(pos);
                if pos == self.weight {
                    out.extend_from_slice(d.to_string().as_bytes());
                } else {
                    out.extend_from_slice(format!("{d:04}").as_bytes());
                }
            }
        }
        if self.dscale == 0 {
            return;
        }
        out.push(b'.');
        let mut written = 0u32;
        let mut pos = -1;
        while written < self.dscale {
            let group = format!("{:04}", self.digit_at(pos));
            let take = (self.dscale - written).min(DEC_DIGITS as u32) as usize;
            out.extend_from_slice(group.as_bytes().get(..take).unwrap_or_default());
            written += take as u32;
            pos -= 1;
        }
    }
}
