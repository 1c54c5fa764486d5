//! `-v` logging through `tracing`, on stderr. Only qtool's own events are shown (dependencies stay
//! at `warn`, so no library dumps headers), and every line passes through [`scrub`], which masks
//! anything shaped like a credential even if a caller forgot to redact it.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Install the subscriber. `settings.filter` (`QTOOL_LOG`, an `EnvFilter` directive) overrides `-v`.
pub fn init(settings: &crate::settings::LogSettings) {
    let verbose = settings.verbosity;
    // Dependencies stay silent below -vvv: qtool reports their failures itself, in one line
    // with a fix (e.g. rustls logging "failed to verify TLS certificate" next to our error).
    let default = match verbose {
        0 => "off,qtool=warn,qtool_sandbox=warn",
        1 => "off,qtool=info,qtool_sandbox=info",
        2 => "off,qtool=debug,qtool_sandbox=debug",
        _ => "warn,qtool=trace,qtool_sandbox=trace",
    };
    let filter = settings
        .filter
        .as_deref()
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(ScrubbingStderr)
        .with_ansi(settings.ansi)
        .with_target(verbose >= 3)
        .without_time()
        .try_init();
}

/// Header names whose values are never logged.
pub fn is_secret_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "authorization"
        || lower == "cookie"
        || lower == "set-cookie"
        || lower == "proxy-authorization"
        || lower.contains("session")
        || lower.contains("token")
        || lower.contains("password")
        || lower.contains("api-key")
}

/// A header value as it may appear in a log.
pub fn header_for_log(name: &str, value: &str) -> String {
    if is_secret_header(name) {
        let scheme = value
            .split_once(' ')
            .map(|(s, _)| s)
            .filter(|s| matches!(*s, "Bearer" | "Basic"));
        match scheme {
            Some(s) => format!("{s} <redacted>"),
            None => "<redacted>".to_string(),
        }
    } else {
        value.to_string()
    }
}

/// Mask credential-shaped substrings: JWTs (`eyJ…`), `Bearer`/`Basic` values, NTLM messages,
/// `qlikTicket` values, PEM private keys, and values following `password`/`session`-like keys.
pub fn scrub(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(len) = jwt_len(rest) {
            out.push_str("<redacted-jwt>");
            rest = &rest[len..];
            continue;
        }
        // NTLM messages (base64 of `NTLMSSP\0`), whatever carries them.
        if rest.starts_with("TlRMTVNT") {
            out.push_str("<redacted-ntlm>");
            rest = &rest[token_len(rest)..];
            continue;
        }
        // A proxy's one-time login ticket in a URL.
        if rest.len() >= TICKET_KEY.len()
            && rest.is_char_boundary(TICKET_KEY.len())
            && rest[..TICKET_KEY.len()].eq_ignore_ascii_case(TICKET_KEY)
        {
            out.push_str(&rest[..TICKET_KEY.len()]);
            out.push_str("<redacted>");
            let after = &rest[TICKET_KEY.len()..];
            rest = &after[after.find(['&', ' ', '\n']).unwrap_or(after.len())..];
            continue;
        }
        if let Some(after) = strip_any_prefix(rest, &["Bearer ", "Basic "]) {
            let prefix_len = rest.len() - after.len();
            out.push_str(&rest[..prefix_len]);
            out.push_str("<redacted>");
            rest = &after[token_len(after)..];
            continue;
        }
        if rest.starts_with("-----BEGIN") && rest.get(..60).unwrap_or(rest).contains("PRIVATE KEY")
        {
            out.push_str("<redacted-private-key>");
            rest = match rest.find("-----END") {
                Some(end) => {
                    let after = &rest[end + 8..];
                    after.find("-----").map_or("", |j| &after[j + 5..])
                }
                None => "",
            };
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

const TICKET_KEY: &str = "qlikTicket=";

fn strip_any_prefix<'a>(text: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    prefixes.iter().find_map(|p| text.strip_prefix(p))
}

fn token_len(text: &str) -> usize {
    text.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | ')' | '}' | ']'))
        .unwrap_or(text.len())
}

/// Length of a JWT (three base64url segments starting with `eyJ`) at the start of `text`.
fn jwt_len(text: &str) -> Option<usize> {
    if !text.starts_with("eyJ") {
        return None;
    }
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut dots = 0;
    while i < bytes.len() && (b64(bytes[i]) || bytes[i] == b'.') {
        if bytes[i] == b'.' {
            dots += 1;
        }
        i += 1;
    }
    // A sentence-ending dot is not part of the token.
    while i > 0 && bytes[i - 1] == b'.' {
        i -= 1;
        dots -= 1;
    }
    (dots >= 2 && i > 20).then_some(i)
}

#[derive(Clone, Copy)]
struct ScrubbingStderr;

impl<'a> MakeWriter<'a> for ScrubbingStderr {
    type Writer = ScrubWriter;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubWriter { buf: Vec::new() }
    }
}

/// Buffers one event, scrubs it, writes it to stderr in one call.
struct ScrubWriter {
    buf: Vec<u8>,
}

impl Write for ScrubWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubWriter {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = scrub(&String::from_utf8_lossy(&self.buf));
        let _ = io::stderr().lock().write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_masks_jwts_and_schemes() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJ1c2VyaWQiOiJoYXJyeSJ9.c2lnbmF0dXJlLXN0dWZm";
        let line = format!("GET /x authorization=Bearer {jwt} ok");
        let s = scrub(&line);
        assert!(!s.contains("eyJ1c2Vy"), "{s}");
        assert!(s.contains("Bearer <redacted>"));
        assert_eq!(
            scrub("Authorization: Basic QUJDOmRlZg=="),
            "Authorization: Basic <redacted>"
        );
        assert_eq!(scrub(&format!("token {jwt}.")), "token <redacted-jwt>.");
    }

    #[test]
    fn scrub_masks_ntlm_messages_and_tickets() {
        assert_eq!(
            scrub("WWW-Authenticate: NTLM TlRMTVNTUAACAAAAEAAQADgAAAA1gori, next"),
            "WWW-Authenticate: NTLM <redacted-ntlm>, next"
        );
        assert_eq!(
            scrub("GET https://h/qrs/about?xrfkey=abc&qlikTicket=d46c88106b6a4bab&x=1"),
            "GET https://h/qrs/about?xrfkey=abc&qlikTicket=<redacted>&x=1"
        );
        assert_eq!(
            scrub("offers Negotiate without NTLM"),
            "offers Negotiate without NTLM"
        );
    }

    #[test]
    fn scrub_masks_private_keys() {
        let pem = "key: -----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY----- tail";
        let s = scrub(pem);
        assert!(!s.contains("MIIabc"), "{s}");
        assert!(s.ends_with(" tail"), "{s}");
    }

    #[test]
    fn header_values_are_redacted_by_name() {
        assert_eq!(
            header_for_log("Authorization", "Bearer abc"),
            "Bearer <redacted>"
        );
        assert_eq!(
            header_for_log("EnterpriseManager.APISessionID", "xyz"),
            "<redacted>"
        );
        assert_eq!(
            header_for_log("X-Qlik-Xrfkey", "abcdefghijklmnop"),
            "abcdefghijklmnop"
        );
    }
}
