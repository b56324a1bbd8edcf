//! bc's numbers: an integer and a count of decimal places, with GNU bc's scale rules for each
//! operation (truncating, never rounding) and its output in bases 2 to 16.

use num_bigint::{BigInt, Sign};
use num_traits::{One, Signed, ToPrimitive, Zero};

/// `value = v / 10^scale`.
#[derive(Clone, Debug)]
pub(super) struct Num {
    pub(super) v: BigInt,
    pub(super) scale: u32,
}

/// Why an operation could not give a number.
pub(super) enum NumError {
    DivideByZero,
    NegativeSqrt,
    /// Past this sandbox's digit bound: the operation is refused.
    TooLong(usize),
}

fn pow10(n: u32) -> BigInt {
    num_traits::pow(BigInt::from(10), n as usize)
}

impl Num {
    pub(super) fn zero() -> Self {
        Num {
            v: BigInt::zero(),
            scale: 0,
        }
    }

    pub(super) fn int(n: i64) -> Self {
        Num {
            v: BigInt::from(n),
            scale: 0,
        }
    }

    pub(super) fn is_zero(&self) -> bool {
        self.v.is_zero()
    }

    /// The value with `s` decimal places (truncated toward zero when fewer).
    pub(super) fn rescale(&self, s: u32) -> Num {
        let v = if s >= self.scale {
            &self.v * pow10(s - self.scale)
        } else {
            &self.v / pow10(self.scale - s)
        };
        Num { v, scale: s }
    }

    /// The integer part as an `i64`, if it fits.
    pub(super) fn to_i64(&self) -> Option<i64> {
        self.rescale(0).v.to_i64()
    }

    fn digits(&self) -> usize {
        self.v.magnitude().bits() as usize * 30103 / 100_000 + 1
    }

    /// Refuses a number longer than `max` digits.
    pub(super) fn bounded(self, max: usize) -> Result<Num, NumError> {
        if self.digits() > max {
            return Err(NumError::TooLong(max));
        }
        Ok(self)
    }

    pub(super) fn add(&self, o: &Num) -> Num {
        let s = self.scale.max(o.scale);
        Num {
            v: self.rescale(s).v + o.rescale(s).v,
            scale: s,
        }
    }

    pub(super) fn sub(&self, o: &Num) -> Num {
        let s = self.scale.max(o.scale);
        Num {
            v: self.rescale(s).v - o.rescale(s).v,
            scale: s,
        }
    }

    pub(super) fn neg(&self) -> Num {
        Num {
            v: -&self.v,
            scale: self.scale,
        }
    }

    pub(super) fn mul(&self, o: &Num, scale: u32) -> Num {
        let full = self.scale + o.scale;
        let exact = Num {
            v: &self.v * &o.v,
            scale: full,
        };
        exact.rescale(full.min(scale.max(self.scale).max(o.scale)))
    }

    pub(super) fn div(&self, o: &Num, scale: u32) -> Result<Num, NumError> {
        if o.is_zero() {
            return Err(NumError::DivideByZero);
        }
        let num = &self.v * pow10(scale + o.scale);
        let den = &o.v * pow10(self.scale);
        Ok(Num {
            v: num / den,
            scale,
        })
    }

    pub(super) fn rem(&self, o: &Num, scale: u32) -> Result<Num, NumError> {
        let q = self.div(o, scale)?;
        let prod = Num {
            v: &q.v * &o.v,
            scale: q.scale + o.scale,
        };
        let r = self.sub(&prod);
        Ok(r.rescale((scale + o.scale).max(self.scale)))
    }

    /// `self ^ e` for an integer `e`; past `max` digits it is refused before it is computed.
    pub(super) fn pow(&self, e: i64, scale: u32, max: usize) -> Result<Num, NumError> {
        if e == 0 {
            return Ok(Num::int(1));
        }
        let n = e.unsigned_abs();
        if !(self.is_zero() || (self.v.magnitude().is_one() && self.scale == 0)) {
            let est = (self.digits() as u128).saturating_mul(u128::from(n));
            if est > max as u128 {
                return Err(NumError::TooLong(max));
            }
        }
        let n32 = u32::try_from(n).map_err(|_| NumError::TooLong(max))?;
        let exact = Num {
            v: num_traits::pow(self.v.clone(), n as usize),
            scale: self.scale.checked_mul(n32).ok_or(NumError::TooLong(max))?,
        };
        if e < 0 {
            return Num::int(1).div(&exact, scale);
        }
        Ok(exact.rescale(exact.scale.min(scale.max(self.scale))))
    }

    pub(super) fn sqrt(&self, scale: u32) -> Result<Num, NumError> {
        if self.v.is_negative() {
            return Err(NumError::NegativeSqrt);
        }
        let r = scale.max(self.scale);
        // sqrt(v / 10^s) * 10^r = sqrt(v * 10^(2r - s)).
        let radicand = &self.v * pow10(2 * r - self.scale);
        Ok(Num {
            v: radicand.sqrt(),
            scale: r,
        })
    }

    pub(super) fn cmp(&self, o: &Num) -> std::cmp::Ordering {
        let s = self.scale.max(o.scale);
        self.rescale(s).v.cmp(&o.rescale(s).v)
    }

    /// bc's `length()`: significant digits, counting the decimal places.
    pub(super) fn length(&self) -> u32 {
        if self.is_zero() {
            return self.scale.max(1);
        }
        let digits = self.v.magnitude().to_string().len() as u32;
        digits.max(self.scale)
    }

    /// The number as bc prints it in `obase` (2 to 16), before line wrapping.
    pub(super) fn render(&self, obase: u32) -> String {
        if self.is_zero() {
            return "0".to_owned();
        }
        let neg = self.v.sign() == Sign::Minus;
        let mag = self.v.abs();
        let unit = pow10(self.scale);
        let int = &mag / &unit;
        let mut frac = &mag % &unit;
        let mut s = String::new();
        if neg {
            s.push('-');
        }
        if !int.is_zero() {
            if obase == 10 {
                s.push_str(&int.to_string());
            } else {
                s.push_str(&int.to_str_radix(obase).to_uppercase());
            }
        }
        if self.scale > 0 {
            s.push('.');
            if obase == 10 {
                let f = frac.to_string();
                s.push_str(&"0".repeat(self.scale as usize - f.len()));
                s.push_str(&f);
            } else {
                // As GNU: digits until their precision reaches the number's decimal places.
                let mut reached = BigInt::one();
                while reached < unit {
                    frac *= obase;
                    let d = (&frac / &unit).to_u32().unwrap_or(0);
                    frac %= &unit;
                    s.push(
                        std::char::from_digit(d, obase)
                            .unwrap_or('0')
                            .to_ascii_uppercase(),
                    );
                    reached *= obase;
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::Num;

    fn n(s: &str) -> Num {
        let (i, f) = s.split_once('.').unwrap_or((s, ""));
        Num {
            v: format!("{i}{f}").parse().unwrap_or_default(),
            scale: f.len() as u32,
        }
    }

    #[test]
    fn scale_rules_follow_gnu_bc() {
        // Values checked against GNU bc 1.07.1.
        let r = |x: Result<Num, super::NumError>| x.ok().map(|v| v.render(10));
        assert_eq!(n("3.5").mul(&n("2"), 0).render(10), "7.0");
        assert_eq!(r(n("10").div(&n("3"), 2)).as_deref(), Some("3.33"));
        assert_eq!(r(n("-5").div(&n("3"), 2)).as_deref(), Some("-1.66"));
        assert_eq!(r(n("7").rem(&n("3"), 3)).as_deref(), Some(".001"));
        assert_eq!(r(n("7.5").rem(&n("2"), 2)).as_deref(), Some("0"));
        assert_eq!(r(n("2").pow(-1, 3, 100)).as_deref(), Some(".500"));
        assert_eq!(r(n("2.0000").sqrt(2)).as_deref(), Some("1.4142"));
        assert_eq!(n("255.5").render(16), "FF.8");
        assert_eq!(n("-0.5").render(10), "-.5");
        assert_eq!(n("0.000").length(), 3);
        assert!(n("2").pow(1_000_000, 0, 20_000).is_err());
        assert!(n("1").div(&n("0"), 0).is_err());
    }
}
