//! Human durations used across the tool: `30s`, `15m`, `12h`, `365d`, `2w`, `1h30m`, `250ms`,
//! or a bare number of seconds (as Node's jsonwebtoken `expiresIn` accepts).

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DurationError {}

/// Longest accepted duration: 100 years (keeps `iat + exp` far from overflow).
const MAX_SECONDS: u64 = 100 * 366 * 86_400;

pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let bad = || {
        DurationError(format!(
            "invalid duration `{text}`: use a number with a unit, like 30s, 15m, 12h, 365d or 1h30m"
        ))
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(bad());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = s.parse().map_err(|_| bad())?;
        return check(Duration::from_secs(secs), text);
    }
    let mut total_ms: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let value: u128 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let per_unit_ms: u128 = match unit {
            "ms" => 1,
            "s" | "sec" | "secs" => 1_000,
            "m" | "min" | "mins" => 60_000,
            "h" | "hr" | "hrs" => 3_600_000,
            "d" | "day" | "days" => 86_400_000,
            "w" | "week" | "weeks" => 7 * 86_400_000,
            "y" | "year" | "years" => 365 * 86_400_000,
            _ => return Err(bad()),
        };
        total_ms = total_ms
            .checked_add(value.checked_mul(per_unit_ms).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        if total_ms > u128::from(MAX_SECONDS) * 1000 {
            return Err(DurationError(format!(
                "duration `{text}` is longer than 100 years"
            )));
        }
    }
    let total_ms = u64::try_from(total_ms).map_err(|_| bad())?;
    check(Duration::from_millis(total_ms), text)
}

fn check(d: Duration, text: &str) -> Result<Duration, DurationError> {
    if d.as_secs() > MAX_SECONDS {
        return Err(DurationError(format!(
            "duration `{text}` is longer than 100 years"
        )));
    }
    Ok(d)
}

/// Short human form: `5m`, `1h30m`, `365d`, `250ms`.
pub fn format(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_forms() {
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse("365d").unwrap(), Duration::from_secs(365 * 86_400));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("60").unwrap(), Duration::from_secs(60));
        assert_eq!(parse("2w").unwrap(), Duration::from_secs(14 * 86_400));
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "",
            "abc",
            "10x",
            "m5",
            "-5s",
            "1.5h",
            "5 m",
            "99999999999999999999999d",
            "200y",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format(Duration::from_secs(365 * 86_400)), "365d");
        assert_eq!(format(Duration::from_millis(20)), "20ms");
        for text in ["30s", "15m", "12h", "365d", "1h30m"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
    }
}
