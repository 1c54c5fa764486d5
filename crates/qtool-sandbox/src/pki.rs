//! The sandbox's certificates and keys, generated once into the state directory and reused on
//! every later start (so trust set up by a user or a test survives restarts):
//!
//! - `ca.pem` / `ca_key.pem`: the sandbox CA (the "root.pem" of a QSEoW site);
//! - `server.pem` / `server_key.pem`: the TLS certificate of all three listeners, for
//!   `localhost`, `127.0.0.1` and `::1`, signed by the CA;
//! - `client.pem` / `client_key.pem`: a client certificate signed by the CA, accepted by the
//!   certificate port (like the QMC's certificate export);
//! - `jwt_private.pem` / `jwt_cert.pem`: the JWT virtual proxy's RSA key and its self-signed
//!   certificate (what an admin pastes into the virtual proxy).
//!
//! Keys are 0600; certificates 0644.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PKCS_RSA_SHA256, RsaKeySize, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};
use qtool_common::fs::{self as files, Sensitivity};

const ORGANIZATION: &str = "qtool sandbox";

/// Paths of the PKI files in a state directory.
#[derive(Debug, Clone)]
pub struct PkiPaths {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub jwt_private_key: PathBuf,
    pub jwt_cert: PathBuf,
}

impl PkiPaths {
    pub fn new(dir: &Path) -> PkiPaths {
        PkiPaths {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca_key.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server_key.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client_key.pem"),
            jwt_private_key: dir.join("jwt_private.pem"),
            jwt_cert: dir.join("jwt_cert.pem"),
        }
    }

    fn all(&self) -> [&PathBuf; 8] {
        [
            &self.ca_cert,
            &self.ca_key,
            &self.server_cert,
            &self.server_key,
            &self.client_cert,
            &self.client_key,
            &self.jwt_private_key,
            &self.jwt_cert,
        ]
    }
}

/// The loaded PKI (PEM text).
#[derive(Debug, Clone)]
pub struct Pki {
    pub paths: PkiPaths,
    pub ca_cert: String,
    pub server_cert: String,
    pub server_key: String,
    pub jwt_private_key: String,
    pub jwt_cert: String,
}

impl Pki {
    /// Load the PKI from `dir`, generating it first when the directory has none.
    /// A partial set (some files missing) is an error rather than silently replaced, because
    /// clients may already trust the old CA.
    pub fn load_or_create(dir: &Path) -> Result<Pki> {
        let paths = PkiPaths::new(dir);
        let present: Vec<&PathBuf> = paths.all().into_iter().filter(|p| p.exists()).collect();
        if present.is_empty() {
            generate(&paths)?;
        } else if present.len() != paths.all().len() {
            let missing: Vec<String> = paths
                .all()
                .into_iter()
                .filter(|p| !p.exists())
                .map(|p| p.display().to_string())
                .collect();
            return Err(Error::state(format!(
                "the sandbox PKI in {} is incomplete (missing {})",
                dir.display(),
                missing.join(", ")
            ))
            .with_hint(
                "restore the missing files, or delete all *.pem files there to generate a new PKI",
            ));
        }
        Ok(Pki {
            ca_cert: read_text(&paths.ca_cert)?,
            server_cert: read_text(&paths.server_cert)?,
            server_key: read_text(&paths.server_key)?,
            jwt_private_key: read_text(&paths.jwt_private_key)?,
            jwt_cert: read_text(&paths.jwt_cert)?,
            paths,
        })
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

fn pki_error(what: &str, e: rcgen::Error) -> Error {
    Error::failed(format!("cannot generate the sandbox {what}: {e}"))
}

fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::failed("the system random number generator failed"))?;
    // Positive and non-zero, as RFC 5280 requires.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

fn params(common_name: &str, valid_days: i64) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, ORGANIZATION);
    params.distinguished_name = dn;
    let now = OffsetDateTime::now_utc();
    // A day of slack for clients whose clock is behind.
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(valid_days);
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

fn generate(paths: &PkiPaths) -> Result<()> {
    // CA: ten years, may sign certificates only.
    let ca_key =
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| pki_error("CA key", e))?;
    let mut ca_params = params("qtool sandbox CA", 3650)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| pki_error("CA", e))?;

    // Server certificate for the loopback names, 825 days (the longest clients accept).
    let server_key =
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| pki_error("server key", e))?;
    let mut server_params = params("localhost", 825)?;
    server_params.subject_alt_names = vec![
        SanType::DnsName(
            "localhost"
                .try_into()
                .map_err(|e| pki_error("server name", e))?,
        ),
        SanType::IpAddress(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)),
    ];
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.use_authority_key_identifier_extension = true;
    let server_cert = server_params
        .signed_by(&server_key, &ca)
        .map_err(|e| pki_error("server certificate", e))?;

    // Client certificate for the certificate port (QMC export: "QlikClient").
    let client_key =
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| pki_error("client key", e))?;
    let mut client_params = params("QlikClient", 825)?;
    client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    client_params.use_authority_key_identifier_extension = true;
    let client_cert = client_params
        .signed_by(&client_key, &ca)
        .map_err(|e| pki_error("client certificate", e))?;

    // JWT signing key (RSA, as QSEoW requires) and its self-signed certificate.
    let jwt_key = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)
        .map_err(|e| pki_error("JWT key", e))?;
    let mut jwt_params = params("qtool sandbox JWT", 3650)?;
    jwt_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let jwt_cert = jwt_params
        .self_signed(&jwt_key)
        .map_err(|e| pki_error("JWT certificate", e))?;

    // Keys first, CA certificate last: a crash in between leaves an incomplete set, which
    // load_or_create reports instead of trusting half of it.
    files::atomic_write(&paths.ca_key, ca_key_pem.as_bytes(), Sensitivity::Secret)?;
    files::atomic_write(
        &paths.server_key,
        server_key.serialize_pem().as_bytes(),
        Sensitivity::Secret,
    )?;
    files::atomic_write(
        &paths.client_key,
        client_key.serialize_pem().as_bytes(),
        Sensitivity::Secret,
    )?;
    files::atomic_write(
        &paths.jwt_private_key,
        jwt_key.serialize_pem().as_bytes(),
        Sensitivity::Secret,
    )?;
    files::atomic_write(
        &paths.server_cert,
        server_cert.pem().as_bytes(),
        Sensitivity::Public,
    )?;
    files::atomic_write(
        &paths.client_cert,
        client_cert.pem().as_bytes(),
        Sensitivity::Public,
    )?;
    files::atomic_write(
        &paths.jwt_cert,
        jwt_cert.pem().as_bytes(),
        Sensitivity::Public,
    )?;
    files::atomic_write(&paths.ca_cert, ca.pem().as_bytes(), Sensitivity::Public)?;
    Ok(())
}

/// The DER of the first certificate of a PEM text (a listener's own certificate, for the
/// channel binding of Windows authentication).
pub fn first_certificate_der(pem: &str) -> Result<Vec<u8>> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map(|(_, block)| block.contents)
        .map_err(|e| Error::input(format!("the sandbox server certificate is not PEM: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(dir.path()).unwrap();
        let again = Pki::load_or_create(dir.path()).unwrap();
        assert_eq!(first.ca_cert, again.ca_cert);
        assert_eq!(first.jwt_private_key, again.jwt_private_key);
        let (_, pem) = x509_parser::pem::parse_x509_pem(first.server_cert.as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        assert_eq!(cert.subject().to_string(), "CN=localhost, O=qtool sandbox");
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(san.value.general_names.len(), 3);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&first.paths.jwt_private_key), 0o600);
            assert_eq!(mode(&first.paths.client_key), 0o600);
            assert_eq!(mode(&first.paths.ca_cert), 0o644);
        }
        std::fs::remove_file(&first.paths.server_key).unwrap();
        assert!(Pki::load_or_create(dir.path()).is_err());
    }
}
