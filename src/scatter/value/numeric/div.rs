//! `numeric / count`, the last step of `avg` over int2, int4, int8 and numeric columns.
//!
//! PostgreSQL's `avg` ends in numeric division of the sum by the row count, and numeric
//! division chooses its result scale from the operands: enough decimals for at least 16
//! significant digits of the quotient as estimated from the leading base-10000 digits, never
//! fewer than either operand's display scale, and at most 1000. The quotient is rounded half
//! away from zero at that scale. Reproducing the rule exactly is what makes `avg` through the
//! proxy print the same digits as `avg` on one server.

use super::{Decimal, Numeric, DEC_DIGITS, NBASE};
use crate::scatter::value::ValueError;

/// Significant decimal digits a quotient gets at least.
const MIN_SIG_DIGITS: i32 = 16;
/// The largest result scale division picks.
const MAX_DISPLAY_SCALE: i32 = 1000;

impl Numeric {
    /// `self / count` with numeric division's result scale; `count` must be positive (the
    /// caller returns NULL for an average over no rows, as PostgreSQL does).
    pub fn div_by_count(&self, count: i64) -> Result<Numeric, ValueError> {
        let divisor = u64::try_from(count).ok().filter(|&c| c > 0).ok_or(ValueError::DivisionByZero)?;
        Ok(match self {
            Numeric::NaN => Numeric::NaN,
            Numeric::PosInfinity => Numeric::PosInfinity,
            Numeric::NegInfinity => Numeric::NegInfinity,
            Numeric::Finite(d) => Numeric::Finite(d.div_by_count(divisor)?),
        })
    }
}

impl Decimal {
    fn div_by_count(&self, divisor: u64) -> Result<Decimal, ValueError> {
        let rscale = self.div_scale(divisor);
        // Long division, one base-10000 digit at a time, from the dividend's first digit down
        // to one position past the result scale (the rounding digit). The remainder stays below
        // the divisor, so `rem * 10000 + digit` fits in u128.
        let top = self.weight.max(0);
        let last = -((rscale + DEC_DIGITS - 1) / DEC_DIGITS) - 1;
        let mut quotient = Vec::with_capacity((top - last + 2) as usize);
        quotient.push(0); // room for a carry out of rounding
        let mut rem: u128 = 0;
        for pos in (last..=top).rev() {
            let cur = rem * u128::from(NBASE) + u128::from(self.digit_at(pos));
            quotient.push((cur / u128::from(divisor)) as u16);
            rem = cur % u128::from(divisor);
        }
        round_half_away(&mut quotient, top + 1, rscale);
        Decimal::new(self.negative, top + 1, rscale as u32, quotient)
    }

    /// The result scale numeric division picks for `self / divisor`.
    fn div_scale(&self, divisor: u64) -> i32 {
        let (weight1, first1) = match self.digits.first() {
            Some(&d) => (self.weight, u64::from(d)),
            None => (0, 0),
        };
        let mut weight2 = 0;
        let mut first2 = divisor;
        while first2 >= u64::from(NBASE) {
            first2 /= u64::from(NBASE);
            weight2 += 1;
        }
        // When the leading digits cannot tell, the quotient is assumed to start one position
        // lower, which may give one base-10000 digit more than needed — as the server does.
        let mut qweight = weight1 - weight2;
        if first1 <= first2 {
            qweight -= 1;
        }
        let rscale = (MIN_SIG_DIGITS - qweight * DEC_DIGITS).max(self.dscale as i32).max(0);
        rscale.min(MAX_DISPLAY_SCALE)
    }
}

/// Rounds dense base-10000 `digits` (the first of power `weight`) to `scale` decimals, half
/// away from zero (on the magnitude), dropping everything after. `digits[0]` must be a zero
/// that can take a carry, and the digits must reach at least one position past the scale.
fn round_half_away(digits: &mut Vec<u16>, weight: i32, scale: i32) {
    let last_pos = -((scale + DEC_DIGITS - 1) / DEC_DIGITS);
    let keep_in_last = scale - (-last_pos - 1) * DEC_DIGITS;
    let Ok(len) = usize::try_from(weight - last_pos + 1) else { return };
    let (unit, round_up) = if last_pos == 0 || keep_in_last == DEC_DIGITS {
        (1, digits.get(len).is_some_and(|&next| u32::from(next) >= NBASE / 2))
    } else {
        let unit = 10u16.pow((DEC_DIGITS - keep_in_last) as u32);
        let rest = digits.get(len - 1).map_or(0, |&d| d % unit);
        if let Some(d) = digits.get_mut(len - 1) {
            *d -= rest;
        }
        (unit, rest >= unit / 2)
    };
    digits.truncate(len);
    if !round_up {
        return;
    }
    let mut add = unit;
    for d in digits.iter_mut().rev() {
        let sum = *d + add;
        if u32::from(sum) < NBASE {
            *d = sum;
            return;
        }
        *d = sum - NBASE as u16;
        add = 1;
    }
}
