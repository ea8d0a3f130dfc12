//! PostgreSQL's `numeric`, as far as merging needs it: read (text and binary), order, add,
//! divide by a row count (for `avg`), and print.
//!
//! Kept in PostgreSQL's own shape — base-10000 digits, a weight and a display scale — rather
//! than a binary decimal, because the results must match the server digit for digit: the
//! display scale of a sum is the larger of the operands' scales, and the scale of a quotient
//! depends on the leading base-10000 digits of the operands (see `div.rs`).

mod binary;
mod div;
mod text;

use std::cmp::Ordering;

use super::ValueError;

/// One base-10000 digit is four decimal digits.
const DEC_DIGITS: i32 = 4;
const NBASE: u32 = 10_000;
/// The largest display scale the on-disk format can hold.
const DSCALE_MAX: u32 = 0x3FFF;
const OVERFLOW: &str = "value overflows numeric format";

/// A `numeric` value. `PartialEq` is structural (1.0 and 1.00 differ, as their text does);
/// SQL equality and order are [`Numeric::cmp_sql`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Numeric {
    NaN,
    PosInfinity,
    NegInfinity,
    Finite(Decimal),
}

/// A finite `numeric`: sum of `digits[i] * 10000^(weight - i)`, printed with `dscale`
/// decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    /// Power of 10000 of the first digit; within i16 (the wire format's field).
    weight: i32,
    /// Decimal digits after the point in the text form.
    dscale: u32,
    /// No leading or trailing zero digits; empty means zero.
    digits: Vec<u16>,
}

impl Decimal {
    /// Normalises as the server does before storing (no leading or trailing zero digits; zero
    /// is positive with weight 0) and checks the format's limits.
    fn new(negative: bool, weight: i32, dscale: u32, mut digits: Vec<u16>) -> Result<Decimal, ValueError> {
        let leading = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..leading);
        let weight = weight - i32::try_from(leading).map_err(|_| ValueError::OutOfRange(OVERFLOW))?;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if dscale > DSCALE_MAX {
            return Err(ValueError::OutOfRange(OVERFLOW));
        }
        if digits.is_empty() {
            return Ok(Decimal { negative: false, weight: 0, dscale, digits });
        }
        if weight > i32::from(i16::MAX) || weight < i32::from(i16::MIN) {
            return Err(ValueError::OutOfRange(OVERFLOW));
        }
        Ok(Decimal { negative, weight, dscale, digits })
    }

    fn zero(dscale: u32) -> Decimal {
        Decimal { negative: false, weight: 0, dscale, digits: Vec::new() }
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Power of 10000 of the last digit (meaningless for zero).
    fn last_weight(&self) -> i32 {
        self.weight + 1 - self.digits.len() as i32
    }

    /// The digit multiplying `10000^pos` (0 outside the stored digits).
    fn digit_at(&self, pos: i32) -> u16 {
        usize::try_from(self.weight - pos).ok().and_then(|i| self.digits.get(i)).copied().unwrap_or(0)
    }

    /// Compares absolute values. Digits are normalised, so weights decide first and then the
    /// digit sequences compare lexicographically (a shorter prefix is smaller: the longer
    /// one's remaining digits end in a non-zero digit).
    fn cmp_abs(&self, other: &Decimal) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self.weight.cmp(&other.weight).then_with(|| self.digits.cmp(&other.digits)),
        }
    }

    fn signum(&self) -> i8 {
        match (self.is_zero(), self.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        }
    }

    fn cmp_sql(&self, other: &Decimal) -> Ordering {
        match self.signum().cmp(&other.signum()) {
            Ordering::Equal if self.negative => other.cmp_abs(self),
            Ordering::Equal => self.cmp_abs(other),
            unequal => unequal,
        }
    }

    /// Exact sum; the display scale is the larger of the two, as PostgreSQL's `+` gives.
    fn add(&self, other: &Decimal) -> Result<Decimal, ValueError> {
        let dscale = self.dscale.max(other.dscale);
        if self.is_zero() || other.is_zero() {
            let mut sum = if self.is_zero() { other.clone() } else { self.clone() };
            sum.dscale = dscale;
            return Ok(sum);
        }
        // One spare position above for the carry.
        let high = self.weight.max(other.weight) + 1;
        let low = self.last_weight().min(other.last_weight());
        let (big, small, negative) = match self.cmp_abs(other) {
            Ordering::Less => (other, self, other.negative),
            _ => (self, other, self.negative),
        };
        let subtract = self.negative != other.negative;
        let mut out = Vec::with_capacity((high - low + 1) as usize);
        let mut carry: i32 = 0;
        for pos in low..=high {
            let (a, b) = (i32::from(big.digit_at(pos)), i32::from(small.digit_at(pos)));
            let mut d = if subtract { a - b + carry } else { a + b + carry };
            carry = 0;
            if d < 0 {
                d += NBASE as i32;
                carry = -1;
            } else if d >= NBASE as i32 {
                d -= NBASE as i32;
                carry = 1;
            }
            out.push(d as u16);
        }
        out.reverse();
        Decimal::new(negative, high, dscale, out)
    }
}

impl Numeric {
    /// The `numeric` value of an integer (display scale 0), as `int8::numeric` gives.
    pub fn from_i64(v: i64) -> Numeric {
        let mut rest = v.unsigned_abs();
        let mut digits = Vec::new();
        while rest > 0 {
            digits.push((rest % u64::from(NBASE)) as u16);
            rest /= u64::from(NBASE);
        }
        let weight = digits.len() as i32 - 1;
        digits.reverse();
        match Decimal::new(v < 0, weight, 0, digits) {
            Ok(d) => Numeric::Finite(d),
            // Twenty decimal digits always fit.
            Err(_) => Numeric::NaN,
        }
    }

    /// PostgreSQL's btree order: -Infinity < finite values < Infinity < NaN, NaN equal to
    /// itself, and 1.0 equal to 1.00.
    pub fn cmp_sql(&self, other: &Numeric) -> Ordering {
        fn rank(n: &Numeric) -> u8 {
            match n {
                Numeric::NegInfinity => 0,
                Numeric::Finite(_) => 1,
                Numeric::PosInfinity => 2,
                Numeric::NaN => 3,
            }
        }
        match (self, other) {
            (Numeric::Finite(a), Numeric::Finite(b)) => a.cmp_sql(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }

    /// `a + b` as PostgreSQL computes it: exact, NaN absorbing, Infinity + -Infinity = NaN.
    pub fn add(&self, other: &Numeric) -> Result<Numeric, ValueError> {
        Ok(match (self, other) {
            (Numeric::NaN, _) | (_, Numeric::NaN) => Numeric::NaN,
            (Numeric::PosInfinity, Numeric::NegInfinity) | (Numeric::NegInfinity, Numeric::PosInfinity) => Numeric::NaN,
            (Numeric::PosInfinity, _) | (_, Numeric::PosInfinity) => Numeric::PosInfinity,
            (Numeric::NegInfinity, _) | (_, Numeric::NegInfinity) => Numeric::NegInfinity,
            (Numeric::Finite(a), Numeric::Finite(b)) => Numeric::Finite(a.add(b)?),
        })
    }

    /// Bytes equal exactly when the values are equal under `=` (display scale ignored).
    /// Self-delimiting, so keys of several columns can be concatenated.
    pub fn group_key(&self, out: &mut Vec<u8>) {
        match self {
            Numeric::NegInfinity => out.push(0),
            Numeric::PosInfinity => out.push(3),
            Numeric::NaN => out.push(4),
            Numeric::Finite(d) => {
                out.push(if d.negative { 1 } else { 2 });
                out.extend_from_slice(&d.weight.to_be_bytes());
                out.extend_from_slice(&(d.digits.len() as u32).to_be_bytes());
                for digit in &d.digits {
                    out.extend_from_slice(&digit.to_be_bytes());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
