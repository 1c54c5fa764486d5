//! Small helpers: randomness, timestamps, name matching and decoding.

use base64::Engine;
use percent_encoding::percent_decode_str;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// QEM timestamps: ISO-8601 UTC without `Z` (§1).
pub(super) const ISO: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
pub(super) const DATE: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

pub(super) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub(super) fn unix_now() -> i64 {
    now().unix_timestamp()
}

pub(super) fn iso(t: OffsetDateTime) -> String {
    t.format(ISO).unwrap_or_default()
}

pub(super) fn iso_unix(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(iso)
        .unwrap_or_default()
}

pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if aws_lc_rs::rand::fill(&mut out).is_err() {
        // aws-lc's RNG does not fail in practice; fall back to UUIDv4 randomness.
        for chunk in out.chunks_mut(16) {
            let id = uuid::Uuid::new_v4();
            chunk.copy_from_slice(&id.as_bytes()[..chunk.len()]);
        }
    }
    out
}

/// A random integer in `lo..=hi`.
pub(super) fn random_between(lo: u64, hi: u64) -> u64 {
    if hi <= lo {
        return lo;
    }
    lo + u64::from_le_bytes(random_bytes::<8>()) % (hi - lo + 1)
}

/// A URL-safe random session id like the documented `wCo0_KvjEUFROvfHF5KGrw`.
pub(super) fn session_id() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<16>())
}

/// A stable 64-bit hash (FNV-1a) for deterministic plausible numbers.
pub(super) fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0u8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A name from a path segment or a name-valued query parameter that the HTTP layer has
/// percent-decoded once, decoded once more, as QEM does: Qlik's 2018 Python client (the one the
/// Michelin role ships) encodes names twice (`My%2520Sample%2520Server`), its 2021 client once,
/// and both reach the same object on a real QEM. The second pass decodes `%XX` only (a `+` stays
/// a `+`), never a third time, and keeps the once-decoded text when the second pass does not
/// give UTF-8. The price, as on QEM: a name that itself contains `%` and two hex digits cannot
/// be reached by a client that encodes once (docs/sandbox-qem.md, "names in paths").
pub(super) fn decode_again(once: &str) -> String {
    match percent_decode_str(once).decode_utf8() {
        Ok(twice) => twice.into_owned(),
        Err(_) => once.to_string(),
    }
}

/// Replicate table filters: `%` (newer docs) and `*` (older docs) match any run, `_` and `?`
/// one character. Empty pattern matches everything. Case-insensitive for table names is not
/// documented; schema names are case-sensitive (§5.8), so matching is exact-case.
pub(super) fn wildcard_match(pattern: &str, text: &str) -> bool {
    if pattern.is_empty() {
        return true;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '%' || p[pi] == '*') {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '_' || p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && (p[pi] == '%' || p[pi] == '*') {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_decoded_a_second_time() {
        assert_eq!(decode_again("My Sample Server"), "My Sample Server");
        assert_eq!(decode_again("My%20Sample%20Server"), "My Sample Server");
        assert_eq!(decode_again("caf%C3%A9"), "café");
        // Never a third time.
        assert_eq!(decode_again("a%2541"), "a%41");
        // `+` is not a space outside form bodies.
        assert_eq!(decode_again("a+b%2Bc"), "a+b+c");
        // Not UTF-8 after the second pass: the once-decoded text stays.
        assert_eq!(decode_again("100%FF"), "100%FF");
        // A `%` without two hex digits is left alone.
        assert_eq!(decode_again("50% off"), "50% off");
        assert_eq!(decode_again("%"), "%");
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("%", "anything"));
        assert!(wildcard_match("", "x"));
        assert!(wildcard_match("EMP%", "EMPLOYEES"));
        assert!(wildcard_match("*LOYEE_", "EMPLOYEES"));
        assert!(!wildcard_match("EMP", "EMPLOYEES"));
        assert!(wildcard_match("dbo", "dbo"));
    }

    #[test]
    fn session_ids_are_url_safe() {
        let id = session_id();
        assert_eq!(id.len(), 22);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(id, session_id());
    }
}
