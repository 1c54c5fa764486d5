//! PEM and DER sniffing: split a file into PEM blocks (or take it as raw DER), and read just enough
//! DER to tell what a key file holds (PKCS#8 vs PKCS#1, RSA vs EC, encrypted or not), so every
//! wrong file gets one precise sentence instead of a parser's "invalid key".

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// One `-----BEGIN LABEL-----` ... `-----END LABEL-----` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub label: String,
    /// `Proc-Type: 4,ENCRYPTED` and friends (legacy OpenSSL encryption).
    pub headers: Vec<(String, String)>,
    pub der: Vec<u8>,
}

impl Block {
    pub fn is_legacy_encrypted(&self) -> bool {
        self.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("Proc-Type") && v.to_ascii_uppercase().contains("ENCRYPTED")
        })
    }
}

/// Why a file could not be read as PEM/DER. The caller prefixes the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemError {
    Empty,
    /// No BEGIN line and not DER either.
    NotPem,
    /// A BEGIN line without its END line.
    Truncated(String),
    /// The base64 body does not decode.
    BadBase64(String),
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
            PemError::Mismatched(a, b) => {
                write!(f, "the PEM block `{a}` ends with `{b}` (corrupt file)")
            }
        }
    }
}

/// What a file holds: PEM blocks, or a single DER structure (label `None`).
#[derive(Debug)]
pub enum Contents {
    Pem(Vec<Block>),
    Der(Vec<u8>),
}

/// Split `bytes` into PEM blocks; a binary file that is one complete DER SEQUENCE is `Der`.
pub fn parse(bytes: &[u8]) -> Result<Contents, PemError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(PemError::Empty);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return der_or_not(bytes);
    };
    if !text.contains("-----BEGIN ") {
        return der_or_not(bytes);
    }
    // Files saved by Windows editors may start with a byte-order mark.
    let text = text.trim_start_matches('\u{feff}');
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = marker(line, "-----BEGIN ") else {
            continue;
        };
        let mut headers = Vec::new();
        let mut body = String::new();
        let mut ended = false;
        for inner in lines.by_ref() {
            if let Some(end) = marker(inner, "-----END ") {
                if end != label {
                    return Err(PemError::Mismatched(label.to_string(), end.to_string()));
                }
                ended = true;
                break;
            }
            if let Some((k, v)) = inner.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            } else {
                body.push_str(inner);
            }
        }
        if !ended {
            return Err(PemError::Truncated(label.to_string()));
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| PemError::BadBase64(label.to_string()))?;
        blocks.push(Block {
            label: label.to_string(),
            headers,
            der,
        });
    }
    if blocks.is_empty() {
        return Err(PemError::NotPem);
    }
    Ok(Contents::Pem(blocks))
}

fn der_or_not(bytes: &[u8]) -> Result<Contents, PemError> {
    match read_tlv(bytes) {
        Some((TAG_SEQUENCE, _, [])) => Ok(Contents::Der(bytes.to_vec())),
        _ => Err(PemError::NotPem),
    }
}

fn marker<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.strip_prefix(prefix)?.strip_suffix("-----")
}

/// PEM-encode `der` under `label` with 64-column lines.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str(&format!("-----BEGIN {label}-----\n"));
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

// --- minimal DER reading -------------------------------------------------------------------

pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_BIT_STRING: u8 = 0x03;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_OID: u8 = 0x06;
pub const TAG_SEQUENCE: u8 = 0x30;

/// Read one DER TLV: (tag, contents, rest). `None` when truncated or malformed.
pub fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Object identifiers we recognise in keys and certificates (DER contents of the OID).
pub const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
pub const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
pub const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
pub const OID_ED448: &[u8] = &[0x2b, 0x65, 0x71];
pub const OID_RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
pub const OID_DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];

/// The key algorithm named by an AlgorithmIdentifier OID, in words.
pub fn algorithm_name(oid: &[u8]) -> &'static str {
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

/// A PKCS#8 `PrivateKeyInfo`: the algorithm OID and the inner private key (PKCS#1 for RSA).
#[derive(Debug)]
pub struct Pkcs8<'a> {
    pub algorithm: &'a [u8],
    pub private_key: &'a [u8],
}

/// Parse a PKCS#8 `PrivateKeyInfo` (version, AlgorithmIdentifier, OCTET STRING privateKey, ...).
pub fn parse_pkcs8(der: &[u8]) -> Option<Pkcs8<'_>> {
    let (tag, body, rest) = read_tlv(der)?;
    if tag != TAG_SEQUENCE || !rest.is_empty() {
        return None;
    }
    let (tag, _version, body) = read_tlv(body)?;
    if tag != TAG_INTEGER {
        return None;
    }
    let (tag, alg_id, body) = read_tlv(body)?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let (tag, algorithm, _params) = read_tlv(alg_id)?;
    if tag != TAG_OID {
        return None;
    }
    let (tag, private_key, _attributes) = read_tlv(body)?;
    if tag != TAG_OCTET_STRING {
        return None;
    }
    Some(Pkcs8 {
        algorithm,
        private_key,
    })
}

/// The algorithm OID and key bits of a `SubjectPublicKeyInfo`.
pub fn parse_spki(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, body, rest) = read_tlv(der)?;
    if tag != TAG_SEQUENCE || !rest.is_empty() {
        return None;
    }
    let (tag, alg_id, body) = read_tlv(body)?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let (tag, algorithm, _) = read_tlv(alg_id)?;
    if tag != TAG_OID {
        return None;
    }
    let (tag, bits, _) = read_tlv(body)?;
    if tag != TAG_BIT_STRING {
        return None;
    }
    // First byte of a BIT STRING is the number of unused bits (0 for keys).
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    Some((algorithm, key))
}

/// Whether `der` is a whole PKCS#1 `RSAPrivateKey` (SEQUENCE of 9 INTEGERs, version first).
pub fn looks_like_pkcs1_private(der: &[u8]) -> bool {
    let Some((TAG_SEQUENCE, mut body, rest)) = read_tlv(der) else {
        return false;
    };
    if !rest.is_empty() {
        return false;
    }
    let mut count = 0;
    while !body.is_empty() {
        match read_tlv(body) {
            Some((TAG_INTEGER, _, next)) => {
                count += 1;
                body = next;
            }
            _ => return false,
        }
    }
    count >= 9
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
        assert_eq!(blocks[0].label, "RSA PRIVATE KEY");
        assert!(blocks[0].is_legacy_encrypted());
        assert_eq!(blocks[0].der, vec![0x30, 0x01, 0x02]);
    }

    #[test]
    fn reports_truncation_and_garbage() {
        assert_eq!(
            parse(b"-----BEGIN PRIVATE KEY-----\nMIIB\n").unwrap_err(),
            PemError::Truncated("PRIVATE KEY".into())
        );
        assert_eq!(parse(b"hello world").unwrap_err(), PemError::NotPem);
        assert_eq!(parse(b"\n  \n").unwrap_err(), PemError::Empty);
        assert_eq!(
            parse(&[0xff, 0x00, 0x13, 0x37]).unwrap_err(),
            PemError::NotPem
        );
        assert!(matches!(
            parse(b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"),
            Err(PemError::BadBase64(_))
        ));
        assert!(matches!(
            parse(b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PUBLIC KEY-----\n"),
            Err(PemError::Mismatched(_, _))
        ));
    }

    #[test]
    fn crlf_and_bom_are_fine() {
        let text = "\u{feff}-----BEGIN CERTIFICATE-----\r\nMAEC\r\n-----END CERTIFICATE-----\r\n";
        let Ok(Contents::Pem(blocks)) = parse(text.as_bytes()) else {
            panic!("expected PEM");
        };
        assert_eq!(blocks[0].der, vec![0x30, 0x01, 0x02]);
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
        let Ok(Contents::Pem(blocks)) = parse(text.as_bytes()) else {
            panic!("expected PEM");
        };
        assert_eq!(blocks[0].der, der);
    }

    #[test]
    fn tlv_long_lengths() {
        let mut der = vec![0x04, 0x82, 0x01, 0x00];
        der.extend(std::iter::repeat_n(7u8, 256));
        let (tag, body, rest) = read_tlv(&der).unwrap();
        assert_eq!((tag, body.len(), rest.len()), (TAG_OCTET_STRING, 256, 0));
        assert!(read_tlv(&der[..100]).is_none());
    }
}
