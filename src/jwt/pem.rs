//! Key and certificate file sniffing on maintained parsers: the `pem` crate splits a file into
//! PEM blocks (legacy `Proc-Type` headers included), RustCrypto's format-only `pkcs8`/`spki`/
//! `pkcs1` read the DER structures (no crypto there: keys go to aws-lc-rs). What this module adds
//! is the wording: every wrong file gets one precise sentence instead of a parser's "invalid key".

use ::pem::{EncodeConfig, LineEnding};
use pkcs8::ObjectIdentifier;
use pkcs8::der::{Decode, Tag, Tagged, asn1::AnyRef};
use pkcs8::spki::SubjectPublicKeyInfoRef;

/// One `-----BEGIN LABEL-----` ... `-----END LABEL-----` block (`tag()`, `headers()`,
/// `contents()`).
pub(crate) type Block = ::pem::Pem;

/// Whether a block carries `Proc-Type: 4,ENCRYPTED` (legacy OpenSSL encryption).
pub(crate) fn is_legacy_encrypted(block: &Block) -> bool {
    block.headers().iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("Proc-Type") && v.to_ascii_uppercase().contains("ENCRYPTED")
    })
}

/// Why a file could not be read as PEM/DER. The caller prefixes the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PemError {
    Empty,
    /// No BEGIN line and not DER either.
    NotPem,
    /// A BEGIN line without its END line.
    Truncated(String),
    /// The base64 body does not decode.
    BadBase64(String),
    /// A header line (before the blank line) is not `Key: value`.
    BadHeader(String),
    /// END label differs from BEGIN label.
    Mismatched(String, String),
}

impl std::fmt::Display for PemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PemError::Empty => f.write_str("the file is empty"),
            PemError::NotPem => f.write_str("not a PEM file (no -----BEGIN line) and not DER"),
            PemError::Truncated(label) => {
                write!(f, "the PEM block `{label}` is truncated (no -----END line)")
            }
            PemError::BadBase64(label) => {
                write!(f, "the PEM block `{label}` is corrupt (invalid base64)")
            }
            PemError::BadHeader(label) => {
                write!(
                    f,
                    "the PEM block `{label}` is corrupt (invalid header line)"
                )
            }
            PemError::Mismatched(a, b) => {
                write!(f, "the PEM block `{a}` ends with `{b}` (corrupt file)")
            }
        }
    }
}

/// What a file holds: PEM blocks, or a single DER structure.
#[derive(Debug)]
pub(crate) enum Contents {
    Pem(Vec<Block>),
    Der(Vec<u8>),
}

const BEGIN: &str = "-----BEGIN ";

/// Split `bytes` into PEM blocks; a binary file that is one complete DER SEQUENCE is `Der`.
pub(crate) fn parse(bytes: &[u8]) -> Result<Contents, PemError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(PemError::Empty);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) if text.contains(BEGIN) => text,
        _ => return der_or_not(bytes),
    };
    let text = &drop_stray_blank_lines(text);
    // `parse_many` stops quietly at a block without END and fails without saying which block is
    // bad: when it does not account for every BEGIN line, parse the first bad one on its own.
    if let Ok(blocks) = ::pem::parse_many(text)
        && blocks.len() == text.matches(BEGIN).count()
    {
        return Ok(Contents::Pem(blocks));
    }
    Err(first_bad_block(text))
}

/// Blank lines inside a block are harmless to most PEM readers, but `pem` takes the first one as
/// the end of the headers. Keep only the blank line after a `Key: value` header line.
fn drop_stray_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous = "";
    for line in text.lines() {
        if !line.trim().is_empty() || previous.contains(':') {
            out.push_str(line);
            out.push('\n');
        }
        previous = line;
    }
    out
}

/// The error of the first block that does not parse on its own, named by its BEGIN label.
fn first_bad_block(text: &str) -> PemError {
    for (at, _) in text.match_indices(BEGIN) {
        let from = &text[at..];
        let label = from[BEGIN.len()..]
            .split("-----")
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        match ::pem::parse(from) {
            Ok(_) => continue,
            Err(::pem::PemError::MismatchedTags(begin, end)) => {
                return PemError::Mismatched(begin, end);
            }
            Err(::pem::PemError::MissingEndTag) => {
                return PemError::Mismatched(label, String::new());
            }
            Err(::pem::PemError::InvalidData(_)) => return PemError::BadBase64(label),
            Err(::pem::PemError::InvalidHeader(_)) => return PemError::BadHeader(label),
            Err(_) => return PemError::Truncated(label),
        }
    }
    PemError::NotPem
}

fn der_or_not(bytes: &[u8]) -> Result<Contents, PemError> {
    match AnyRef::from_der(bytes) {
        Ok(any) if any.tag() == Tag::Sequence => Ok(Contents::Der(bytes.to_vec())),
        _ => Err(PemError::NotPem),
    }
}

/// PEM-encode `der` under `label` with 64-column lines and `\n` line ends.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    ::pem::encode_config(
        &Block::new(label, der),
        EncodeConfig::new().set_line_ending(LineEnding::LF),
    )
}

// --- DER structures ------------------------------------------------------------------------

/// Key algorithms we name in messages.
pub(crate) const OID_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");

/// The key algorithm named by an AlgorithmIdentifier OID, in words.
pub(crate) fn algorithm_name(oid: ObjectIdentifier) -> &'static str {
    match oid {
        OID_RSA_ENCRYPTION => "RSA",
        OID_EC_PUBLIC_KEY => "EC",
        OID_ED25519 => "Ed25519",
        OID_ED448 => "Ed448",
        OID_RSA_PSS => "RSA-PSS",
        OID_DSA => "DSA",
        _ => "unknown-algorithm",
    }
}

/// A PKCS#8 `PrivateKeyInfo`: `algorithm.oid` and the inner `private_key` (PKCS#1 for RSA).
pub(crate) type Pkcs8<'a> = pkcs8::PrivateKeyInfo<'a>;

/// Parse a whole PKCS#8 `PrivateKeyInfo`.
pub(crate) fn parse_pkcs8(der: &[u8]) -> Option<Pkcs8<'_>> {
    Pkcs8::from_der(der).ok()
}

/// The algorithm OID and key bits of a whole `SubjectPublicKeyInfo`.
pub(crate) fn parse_spki(der: &[u8]) -> Option<(ObjectIdentifier, &[u8])> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).ok()?;
    // `None` when the BIT STRING has unused bits (never so for a key).
    let key = spki.subject_public_key.as_bytes()?;
    Some((spki.algorithm.oid, key))
}

/// Whether `der` is a whole PKCS#1 `RSAPrivateKey`.
pub(crate) fn looks_like_pkcs1_private(der: &[u8]) -> bool {
    pkcs1::RsaPrivateKey::from_der(der).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_blocks_and_headers() {
        let text = "junk\n-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nMAEC\n-----END RSA PRIVATE KEY-----\n";
        let Ok(Contents::Pem(blocks)) = parse(text.as_bytes()) else {
            panic!("expected PEM");
        };
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].tag(), "RSA PRIVATE KEY");
        assert!(is_legacy_encrypted(&blocks[0]));
        assert_eq!(blocks[0].contents(), [0x30, 0x01, 0x02]);
    }

    #[test]
    fn reports_truncation_and_garbage() {
        assert_eq!(
            parse(b"-----BEGIN PRIVATE KEY-----\nMIIB\n").unwrap_err(),
            PemError::Truncated("PRIVATE KEY".into())
        );
        // A complete block before the truncated one does not hide it.
        assert_eq!(
            parse(b"-----BEGIN CERTIFICATE-----\nMAEC\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIB\n")
                .unwrap_err(),
            PemError::Truncated("PRIVATE KEY".into())
        );
        assert_eq!(parse(b"hello world").unwrap_err(), PemError::NotPem);
        assert_eq!(parse(b"\n  \n").unwrap_err(), PemError::Empty);
        assert_eq!(
            parse(&[0xff, 0x00, 0x13, 0x37]).unwrap_err(),
            PemError::NotPem
        );
        assert_eq!(
            parse(b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n").unwrap_err(),
            PemError::BadBase64("PRIVATE KEY".into())
        );
        assert_eq!(
            parse(b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PUBLIC KEY-----\n").unwrap_err(),
            PemError::Mismatched("PRIVATE KEY".into(), "PUBLIC KEY".into())
        );
    }

    #[test]
    fn blank_lines_in_the_body_are_fine() {
        let text = "-----BEGIN CERTIFICATE-----\r\n\r\nMA\n\nEC\n \n-----END CERTIFICATE-----\n\n";
        let Ok(Contents::Pem(blocks)) = parse(text.as_bytes()) else {
            panic!("expected PEM");
        };
        assert_eq!(blocks[0].contents(), [0x30, 0x01, 0x02]);
    }

    #[test]
    fn crlf_and_bom_are_fine() {
        let text = "\u{feff}-----BEGIN CERTIFICATE-----\r\nMAEC\r\n-----END CERTIFICATE-----\r\n";
        let Ok(Contents::Pem(blocks)) = parse(text.as_bytes()) else {
            panic!("expected PEM");
        };
        assert_eq!(blocks[0].contents(), [0x30, 0x01, 0x02]);
    }

    #[test]
    fn der_is_recognised() {
        assert!(matches!(
            parse(&[0x30, 0x03, 0x02, 0x01, 0x00]),
            Ok(Contents::Der(_))
        ));
        // A SEQUENCE claiming more bytes than present is not DER.
        assert!(parse(&[0x30, 0x09, 0x02, 0x01, 0x00]).is_err());
    }

    #[test]
    fn encode_round_trips() {
        let der: Vec<u8> = (0..=200u8).collect();
        let text = encode("CERTIFICATE", &der);
        assert!(text.lines().all(|l| l.len() <= 64));
        assert!(!text.contains('\r'));
        let Ok(Contents::Pem(blocks)) = parse(text.as_bytes()) else {
            panic!("expected PEM");
        };
        assert_eq!(blocks[0].contents(), der);
    }

    #[test]
    fn names_key_algorithms() {
        assert_eq!(algorithm_name(OID_RSA_ENCRYPTION), "RSA");
        assert_eq!(algorithm_name(OID_ED25519), "Ed25519");
        assert_eq!(
            algorithm_name(ObjectIdentifier::new_unwrap("1.2.3.4")),
            "unknown-algorithm"
        );
    }
}
