//! `numeric` in binary (`numeric_send` / `numeric_recv`): four 16-bit header fields (digit
//! count, weight, sign, display scale), then the base-10000 digits, all big-endian.
//! <https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-FORMAT-CODES>

use super::{Decimal, Numeric, DEC_DIGITS, DSCALE_MAX, NBASE};
use crate::scatter::value::ValueError;

const SIGN_POS: u16 = 0x0000;
const SIGN_NEG: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_PINF: u16 = 0xD000;
const SIGN_NINF: u16 = 0xF000;

/// The display scale `numeric_send` reports for ±Infinity. It is not a scale: the server
/// reads the scale of a special value out of header bits meant for its short format, and for
/// the infinities those bits happen to spell 32 (for NaN, 0). Clients ignore it, but the
/// proxy sends the server's bytes exactly (checked against PostgreSQL 15).
const INFINITY_DSCALE: u16 = 32;

const BAD: ValueError = ValueError::Binary { type_name: "numeric" };

impl Numeric {
    pub fn parse_binary(raw: &[u8]) -> Result<Numeric, ValueError> {
        let field = |i: usize| -> Result<u16, ValueError> {
            match raw.get(2 * i..2 * i + 2) {
                Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
                _ => Err(BAD),
            }
        };
        let ndigits = field(0)? as i16;
        let weight = field(1)? as i16;
        let sign = field(2)?;
        let dscale = u32::from(field(3)?);
        let ndigits = usize::try_from(ndigits).map_err(|_| BAD)?;
        if raw.len() != 8 + 2 * ndigits {
            return Err(BAD);
        }
        let negative = match sign {
            SIGN_NAN => return Ok(Numeric::NaN),
            SIGN_PINF => return Ok(Numeric::PosInfinity),
            SIGN_NINF => return Ok(Numeric::NegInfinity),
            SIGN_POS => false,
            SIGN_NEG => true,
            _ => return Err(BAD),
        };
        if dscale > DSCALE_MAX {
            return Err(BAD);
        }
        let mut digits = Vec::with_capacity(ndigits);
        for i in 0..ndigits {
            let d = field(4 + i)?;
            if u32::from(d) >= NBASE {
                return Err(BAD);
            }
            digits.push(d);
        }
        // Digits the display scale would hide are dropped, as the server does on receipt.
        let mut d = Decimal::new(negative, i32::from(weight), dscale, digits)?;
        d.truncate_to_scale();
        Ok(Numeric::Finite(d))
    }

    /// Writes what `numeric_send` would for this value.
    pub fn write_binary(&self, out: &mut Vec<u8>) {
        let (sign, d) = match self {
            Numeric::NaN => (SIGN_NAN, None),
            Numeric::PosInfinity => (SIGN_PINF, None),
            Numeric::NegInfinity => (SIGN_NINF, None),
            Numeric::Finite(d) => (if d.negative { SIGN_NEG } else { SIGN_POS }, Some(d)),
        };
        let (ndigits, weight, dscale, digits) = match d {
            // Decimal::new keeps weight within i16 and dscale within 14 bits.
            Some(d) => (d.digits.len() as u16, d.weight as i16, d.dscale as u16, &d.digits[..]),
            None if sign == SIGN_NAN => (0, 0, 0, &[][..]),
            None => (0, 0, INFINITY_DSCALE, &[][..]),
        };
        out.extend_from_slice(&ndigits.to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&dscale.to_be_bytes());
        for digit in digits {
            out.extend_from_slice(&digit.to_be_bytes());
        }
    }
}

impl Decimal {
    /// Drops decimal digits beyond the display scale (no rounding).
    fn truncate_to_scale(&mut self) {
        let scale = self.dscale as i32;
        // Last base-10000 position that holds kept decimals, and how many of its four count.
        let last_pos = -((scale + DEC_DIGITS - 1) / DEC_DIGITS);
        let keep = scale - (-last_pos - 1) * DEC_DIGITS;
        let Ok(len) = usize::try_from(self.weight - last_pos + 1) else {
            *self = Decimal::zero(self.dscale);
            return;
        };
        self.digits.truncate(len);
        if last_pos < 0 && keep < DEC_DIGITS && self.digits.len() == len {
            if let Some(last) = self.digits.last_mut() {
                let unit = 10u16.pow((DEC_DIGITS - keep) as u32);
                *last -= *last % unit;
            }
        }
        let digits = std::mem::take(&mut self.digits);
        *self = Decimal::new(self.negative, self.weight, self.dscale, digits).unwrap_or(Decimal::zero(self.dscale));
    }
}
