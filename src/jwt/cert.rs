//! The self-signed X.509 certificate pasted into the virtual proxy's "JWT certificate" box: the
//! key's public half with an explicit subject, a random serial and an explicit validity window
//! (never rcgen's placeholder CN or its 1975–4096 default validity).

use rcgen::{
    CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber,
};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};
use time::OffsetDateTime;

use super::keys::PrivateKey;
use crate::error::{Error, Result};

pub(crate) const DEFAULT_SUBJECT: &str = "CN=qtool JWT signing";
pub(crate) const DEFAULT_DAYS: u32 = 1825;
/// Backdate `notBefore` a little so a server with a slightly slow clock accepts the cert at once.
const CLOCK_SKEW_SECS: i64 = 60;

/// What the certificate says.
#[derive(Debug, Clone)]
pub struct CertSpec {
    pub subject: String,
    pub days: u32,
    pub sans: Vec<String>,
}

impl Default for CertSpec {
    fn default() -> Self {
        CertSpec {
            subject: DEFAULT_SUBJECT.into(),
            days: DEFAULT_DAYS,
            sans: Vec::new(),
        }
    }
}

/// A generated certificate.
#[derive(Debug, Clone)]
pub(crate) struct Generated {
    pub pem: String,
    pub serial_hex: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// Parse `CN=x,O=y` (or OpenSSL's `/CN=x/O=y`) into a distinguished name.
pub(crate) fn parse_subject(text: &str) -> Result<DistinguishedName> {
    let bad = |why: &str| {
        Error::usage(format!("invalid --subject `{text}`: {why}"))
            .with_hint("use e.g. \"CN=qtool JWT signing,O=Example Ltd,C=SE\"")
    };
    let trimmed = text.trim();
    let parts: Vec<&str> = if let Some(rest) = trimmed.strip_prefix('/') {
        rest.split('/').collect()
    } else {
        split_unescaped_commas(trimmed)
    };
    let mut dn = DistinguishedName::new();
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad(&format!("`{part}` is not KEY=VALUE")))?;
        let value = v.trim().replace("\\,", ",");
        if value.is_empty() {
            return Err(bad(&format!("`{}` is empty", k.trim())));
        }
        let ty = match k.trim().to_ascii_uppercase().as_str() {
            "CN" => DnType::CommonName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "C" => {
                if value.len() != 2 {
                    return Err(bad("C (country) must be a 2-letter code"));
                }
                DnType::CountryName
            }
            "ST" => DnType::StateOrProvinceName,
            "L" => DnType::LocalityName,
            other => {
                return Err(bad(&format!(
                    "unknown attribute `{other}` (use CN, O, OU, C, ST, L)"
                )));
            }
        };
        dn.push(ty, value);
    }
    if dn.iter().next().is_none() {
        return Err(bad("it is empty"));
    }
    Ok(dn)
}

fn split_unescaped_commas(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b',' && (i == 0 || bytes[i - 1] != b'\\') {
            parts.push(&text[start..i]);
            start = i + 1;
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A subject alternative name as `--san` takes it: an IP address, or a DNS host name (RFC 1123:
/// dot-separated labels of letters, digits and `-`, each 1 to 63 characters not starting or
/// ending with `-`; 253 characters at most; `*.` allowed first for a wildcard).
pub(crate) fn parse_san(text: &str) -> std::result::Result<String, String> {
    if text.parse::<std::net::IpAddr>().is_ok() {
        return Ok(text.to_string());
    }
    let rule = "a DNS name is dot-separated labels of letters, digits and `-` (e.g. qlik.example.com, *.example.com), or give an IP address";
    let shown = text.escape_debug();
    let name = text.strip_prefix("*.").unwrap_or(text);
    if name.is_empty() || text.len() > 253 {
        return Err(format!("`{shown}` is not a DNS name or IP address; {rule}"));
    }
    for label in name.split('.') {
        let valid = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(format!(
                "`{shown}` is not a DNS name or IP address (label `{}`); {rule}",
                label.escape_debug()
            ));
        }
    }
    Ok(text.to_string())
}

/// Build and self-sign the certificate for `key`.
pub(crate) fn self_signed(key: &PrivateKey, spec: &CertSpec) -> Result<Generated> {
    if spec.days == 0 || spec.days > 36_500 {
        return Err(
            Error::usage(format!("--days {} is out of range", spec.days))
                .with_hint("use 1 to 36500 days"),
        );
    }
    let distinguished_name = parse_subject(&spec.subject)?;
    let mut params = CertificateParams::new(Vec::<String>::new())
        .map_err(|e| Error::failed(format!("cannot prepare the certificate: {e}")))?;
    for san in &spec.sans {
        let san = parse_san(san).map_err(|e| Error::usage(format!("--san {e}")))?;
        let san_type = match san.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(san.clone().try_into().map_err(|_| {
                Error::usage(format!("--san `{san}` is not a DNS name or IP address"))
            })?),
        };
        params.subject_alt_names.push(san_type);
    }
    params.distinguished_name = distinguished_name;
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .map_err(|_| Error::failed("cannot read the clock"))?;
    params.not_before = now - time::Duration::seconds(CLOCK_SKEW_SECS);
    params.not_after = now + time::Duration::days(i64::from(spec.days));
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial)
        .map_err(|_| Error::failed("the system random number generator failed"))?;
    serial[0] &= 0x7f; // positive
    serial[0] |= 0x40; // and 16 bytes long, no leading zero
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let der = PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(key.pkcs1.clone()));
    let key_pair = KeyPair::from_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| Error::input(format!("the key cannot sign a certificate: {e}")))?;
    let cert = params
        .self_signed(&key_pair)
        .map_err(|e| Error::failed(format!("cannot sign the certificate: {e}")))?;
    Ok(Generated {
        pem: cert.pem(),
        serial_hex: serial.iter().map(|b| format!("{b:02x}")).collect(),
        not_before: params.not_before,
        not_after: params.not_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::keys;

    #[test]
    fn subject_alternative_names_are_host_names_or_addresses() {
        for good in [
            "qlik.example.com",
            "localhost",
            "10.0.0.1",
            "::1",
            "*.example.com",
            "a-1.b",
        ] {
            assert_eq!(parse_san(good).as_deref(), Ok(good));
        }
        for bad in [
            "", "a b", "a..b", "-a.com", "a-.com", "*", "*.", "a_b.com", "é.com", "a.b/c", "x\u{7}",
        ] {
            let err = parse_san(bad).unwrap_err();
            assert!(
                err.contains("is not a DNS name or IP address"),
                "{bad}: {err}"
            );
        }
        assert!(parse_san(&"a".repeat(64)).is_err());
        assert!(parse_san(&format!("{}.com", "a.".repeat(130))).is_err());
    }

    #[test]
    fn subjects_parse() {
        let dn = parse_subject("CN=qtool JWT signing,O=Acme\\, Inc,C=SE").unwrap();
        assert_eq!(dn.iter().count(), 3);
        let dn = parse_subject("/CN=a/OU=b").unwrap();
        assert_eq!(dn.iter().count(), 2);
        assert!(parse_subject("XX=1").is_err());
        assert!(parse_subject("CN").is_err());
        assert!(parse_subject("C=Sweden").is_err());
        assert!(parse_subject("").is_err());
    }

    #[test]
    fn certificate_carries_the_key_and_explicit_fields() {
        let der = keys::generate(2048).unwrap();
        let key = keys::parse_private_key(crate::jwt::pem::encode("PRIVATE KEY", &der).as_bytes())
            .unwrap();
        let spec = CertSpec {
            subject: "CN=unit test".into(),
            days: 10,
            sans: vec!["qlik.example.com".into(), "10.0.0.1".into()],
        };
        let generated = self_signed(&key, &spec).unwrap();
        let public = keys::parse_public_key(generated.pem.as_bytes()).unwrap();
        assert_eq!(public.pkcs1, key.public_pkcs1());
        let keys::PublicSource::Certificate {
            subject,
            not_before,
            not_after,
            ..
        } = public.source
        else {
            panic!("expected a certificate");
        };
        assert_eq!(subject, "CN=unit test");
        assert_eq!(not_after - not_before, 10 * 86_400 + 60);
        assert_eq!(generated.serial_hex.len(), 32);
    }
}
