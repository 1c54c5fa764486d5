//! Human byte counts used by limits on both sides: `1048576`, `512KiB`, `64MiB`, `1GiB` (also
//! `K`, `M`, `G`, `KB`, `MB`, `GB`, any case: all powers of 1024, as limits are usually meant).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteCountError(String);

impl fmt::Display for ByteCountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ByteCountError {}

/// A byte count above zero.
pub fn parse(text: &str) -> Result<u64, ByteCountError> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = t.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(ByteCountError(format!(
                "`{text}` is not a byte count (e.g. 1048576, 512KiB, 64MiB, 1GiB)"
            )));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ByteCountError(format!(
                "`{text}` is not a byte count above zero (e.g. 512KiB, 64MiB, 1GiB)"
            ))
        })
}

/// The shortest exact form: `256MiB`, `1GiB`, `1536KiB`, `1000B`.
pub fn format(bytes: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counts_with_binary_units() {
        assert_eq!(parse("1048576"), Ok(1 << 20));
        assert_eq!(parse("64MiB"), Ok(64 << 20));
        assert_eq!(parse("512 kb"), Ok(512 << 10));
        assert_eq!(parse("1G"), Ok(1 << 30));
        for bad in [
            "",
            "0",
            "0MiB",
            "12 parsecs",
            "-1",
            "1.5GiB",
            "99999999999999999999",
            "99999999TiB",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format(256 << 20), "256MiB");
        assert_eq!(format(1 << 30), "1GiB");
        assert_eq!(format(1536 << 10), "1536KiB");
        assert_eq!(format(1000), "1000B");
        for text in ["1MiB", "64MiB", "3KiB", "7B", "2TiB"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
    }
}
