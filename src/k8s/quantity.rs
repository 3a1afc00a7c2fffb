//! Kubernetes resource quantities ("500m", "2", "512Mi", "1G", "1e3"), held exactly in billionths.

use std::fmt;
use std::ops::{Add, Mul, Sub};

use serde_json::Value;

/// Billionths of a unit (nano-cores for cpu, nano-bytes for memory), so sums and comparisons are exact.
const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// An amount of a resource, exact to a billionth of a unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity {
    nanos: i128,
}

impl Quantity {
    pub const ZERO: Quantity = Quantity { nanos: 0 };

    /// Parses a quantity; fractions finer than a billionth round up, as Kubernetes rounds them.
    pub fn parse(text: &str) -> Option<Quantity> {
        let text = text.trim();
        let (negative, unsigned) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let number_length = unsigned
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(unsigned.len());
        let (number, suffix) = unsigned.split_at(number_length);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let digits: i128 = format!("{whole}{fraction}").parse().ok()?;
        let scale = Scale::of_suffix(suffix)?;
        let fraction_digits = i32::try_from(fraction.len()).ok()?;
        let nanos = scale.apply(digits, 9 - fraction_digits)?;
        Some(Quantity {
            nanos: if negative { -nanos } else { nanos },
        })
    }

    /// A quantity written as a YAML string or number (`cpu: 2`, `cpu: 0.5`, `memory: 1Gi`).
    pub fn of_value(value: &Value) -> Option<Quantity> {
        match value {
            Value::String(text) => Quantity::parse(text),
            Value::Number(number) => Quantity::parse(&number.to_string()),
            _ => None,
        }
    }

    /// A size in GiB (`32`, `28.5`), to the byte.
    pub fn from_gib(gib: f64) -> Quantity {
        let bytes = (gib * 1024.0 * 1024.0 * 1024.0).round() as i128;
        Quantity {
            nanos: bytes.saturating_mul(NANOS_PER_UNIT),
        }
    }

    /// How many whole `self` fit in `room`; None when `self` is not positive.
    pub fn times_within(self, room: Quantity) -> Option<i64> {
        (self.nanos > 0).then(|| i64::try_from(room.nanos.max(0) / self.nanos).unwrap_or(i64::MAX))
    }

    /// The amount in whole units, for display.
    pub fn as_units(self) -> f64 {
        self.nanos as f64 / NANOS_PER_UNIT as f64
    }

    /// Shown as a memory size: the largest binary unit (Ki..Ti) that keeps at least 1.
    pub fn as_bytes_text(self) -> String {
        let bytes = self.as_units();
        let units = [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)];
        for (suffix, power) in units {
            let size = 2f64.powi(power);
            if bytes.abs() >= size {
                return format!("{}{suffix}", format_decimal(bytes / size));
            }
        }
        format_decimal(bytes)
    }
}

impl From<i64> for Quantity {
    fn from(units: i64) -> Quantity {
        Quantity {
            nanos: i128::from(units) * NANOS_PER_UNIT,
        }
    }
}

impl Add for Quantity {
    type Output = Quantity;

    fn add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
        }
    }
}

impl Sub for Quantity {
    type Output = Quantity;

    fn sub(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_sub(other.nanos),
        }
    }
}

impl Mul<i64> for Quantity {
    type Output = Quantity;

    fn mul(self, count: i64) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_mul(i128::from(count)),
        }
    }
}

impl fmt::Display for Quantity {
    /// Whole units with up to three decimals (cpu cores, pods, bytes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_decimal(self.as_units()))
    }
}

/// What a suffix multiplies by: a power of ten or a power of two.
enum Scale {
    Decimal(i32),
    Binary(u32),
}

impl Scale {
    fn of_suffix(suffix: &str) -> Option<Scale> {
        let scale = match suffix {
            "" => Scale::Decimal(0),
            "n" => Scale::Decimal(-9),
            "u" => Scale::Decimal(-6),
            "m" => Scale::Decimal(-3),
            "k" => Scale::Decimal(3),
            "M" => Scale::Decimal(6),
            "G" => Scale::Decimal(9),
            "T" => Scale::Decimal(12),
            "P" => Scale::Decimal(15),
            "E" => Scale::Decimal(18),
            "Ki" => Scale::Binary(10),
            "Mi" => Scale::Binary(20),
            "Gi" => Scale::Binary(30),
            "Ti" => Scale::Binary(40),
            "Pi" => Scale::Binary(50),
            "Ei" => Scale::Binary(60),
            exponent => {
                let power = exponent.strip_prefix(['e', 'E'])?;
                let unsigned = power.strip_prefix(['+', '-']).unwrap_or(power);
                if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                Scale::Decimal(power.parse().ok()?)
            }
        };
        Some(scale)
    }

    /// `digits` x this scale x 10^`power_of_ten`, rounded up; None on overflow.
    fn apply(&self, digits: i128, power_of_ten: i32) -> Option<i128> {
        let (scaled, power) = match *self {
            Scale::Decimal(exponent) => (digits, power_of_ten.checked_add(exponent)?),
            Scale::Binary(exponent) => (
                digits.checked_mul(2i128.checked_pow(exponent)?)?,
                power_of_ten,
            ),
        };
        let factor = 10i128.checked_pow(power.unsigned_abs())?;
        if power >= 0 {
            scaled.checked_mul(factor)
        } else {
            Some(scaled.checked_add(factor - 1)? / factor)
        }
    }
}

/// A number without trailing zeros: 3, 2.5, 8.75, 0.333.
pub fn format_decimal(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(text: &str) -> f64 {
        Quantity::parse(text).unwrap().as_units()
    }

    #[test]
    fn millicores_and_whole_cores_parse_to_cores() {
        assert_eq!(units("500m"), 0.5);
        assert_eq!(units("2"), 2.0);
        assert_eq!(units("0.25"), 0.25);
        assert_eq!(units(".5"), 0.5);
        assert_eq!(units("1.5"), 1.5);
    }

    #[test]
    fn binary_suffixes_are_powers_of_two() {
        assert_eq!(units("512Mi"), 512.0 * 1024.0 * 1024.0);
        assert_eq!(units("1Gi"), 1024.0 * 1024.0 * 1024.0);
        assert_eq!(units("1Ki"), 1024.0);
        assert_eq!(units("1.5Gi"), 1.5 * 1024.0 * 1024.0 * 1024.0);
    }

    #[test]
    fn decimal_suffixes_are_powers_of_ten() {
        assert_eq!(units("1G"), 1e9);
        assert_eq!(units("128M"), 128e6);
        assert_eq!(units("1k"), 1e3);
        assert_eq!(units("100u"), 100e-6);
    }

    #[test]
    fn exponents_are_decimal_and_a_bare_capital_e_is_exa() {
        assert_eq!(units("1e3"), 1e3);
        assert_eq!(units("1E3"), 1e3);
        assert_eq!(units("5e-3"), 5e-3);
        assert_eq!(units("1E"), 1e18);
    }

    #[test]
    fn fractions_finer_than_a_nano_round_up() {
        assert_eq!(Quantity::parse("0.1n"), Quantity::parse("1n"));
    }

    #[test]
    fn sums_and_multiples_are_exact() {
        let quarter = Quantity::parse("250m").unwrap();
        let total = quarter * 35 + Quantity::parse("0.25").unwrap();
        assert_eq!(total, Quantity::parse("9").unwrap());
        assert_eq!(total.to_string(), "9");
    }

    #[test]
    fn differences_and_whole_multiples_within_a_room_are_exact() {
        let node = Quantity::from_gib(32.0) - Quantity::parse("3584Mi").unwrap();
        assert_eq!(node, Quantity::parse("28.5Gi").unwrap());
        let pod = Quantity::parse("1536Mi").unwrap();
        assert_eq!(pod.times_within(node), Some(19));
        assert_eq!(Quantity::ZERO.times_within(node), None);
    }

    #[test]
    fn numbers_written_unquoted_in_yaml_parse() {
        assert_eq!(
            Quantity::of_value(&serde_json::json!(2)),
            Quantity::parse("2")
        );
        assert_eq!(
            Quantity::of_value(&serde_json::json!(0.5)),
            Quantity::parse("500m")
        );
        assert_eq!(Quantity::of_value(&serde_json::json!(null)), None);
    }

    #[test]
    fn malformed_quantities_are_refused() {
        for text in [
            "", "m", "Mi", "1.2.3", "1Mb", "1e", "1e+", "abc", "1 Gi", "1ee3", "1e99999",
        ] {
            assert_eq!(Quantity::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn memory_is_shown_in_the_largest_binary_unit() {
        assert_eq!(Quantity::parse("1536Mi").unwrap().as_bytes_text(), "1.5Gi");
        assert_eq!(Quantity::parse("300Gi").unwrap().as_bytes_text(), "300Gi");
        assert_eq!(Quantity::parse("100").unwrap().as_bytes_text(), "100");
    }
}
