//! Client certificates as the QMC exports them: `client.pem` + `client_key.pem` (PEM), or one
//! password-protected `client.pfx` ("Windows format", PKCS#12). PKCS#12 files are read with the
//! `p12-keystore` crate: the legacy encryption of older exports and Windows (RC2-40 for the
//! certificates, 3DES for the key, SHA-1 MAC) and OpenSSL 3's default (PBES2 with AES-256, SHA-256
//! MAC). An expired certificate is refused here, before any server sees it.

use std::path::Path;

use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::context::model::ClientCert;
use crate::error::{Error, Result};
use crate::input::{InputKind, read_file};

/// A certificate chain (leaf first) and its private key.
pub(crate) type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The chain and key of a context's client certificate; `password` opens a PKCS#12 file.
pub(crate) fn load(cc: &ClientCert, password: Option<&str>) -> Result<Identity> {
    let bytes = read_file(&cc.cert, InputKind::Credential)?;
    let identity = if is_pem(&bytes) {
        let Some(key) = &cc.key else {
            return Err(Error::config(format!(
                "client certificate {} is PEM and the context has no key file",
                cc.cert.display()
            ))
            .with_hint("give its key: `qtool context update NAME --client-cert client.pem --client-key client_key.pem`"));
        };
        load_pem(&cc.cert, &bytes, key)?
    } else {
        load_pkcs12(&cc.cert, &bytes, password)?
    };
    check_validity(&cc.cert, &identity.0[0])?;
    Ok(identity)
}

fn is_pem(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    text.contains("-----BEGIN")
}

fn load_pem(cert_path: &Path, pem: &[u8], key_path: &Path) -> Result<Identity> {
    let key = read_file(key_path, InputKind::Credential)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<_, _>>()
        .unwrap_or_default();
    if certs.is_empty() {
        return Err(
            Error::input(format!("{} is not a PEM certificate", cert_path.display()))
                .with_hint("export client.pem from the QMC in PEM format"),
        );
    }
    let key = PrivateKeyDer::from_pem_slice(&key).map_err(|_| {
        Error::input(format!("{} is not a PEM private key", key_path.display()))
            .with_hint("export client_key.pem from the QMC in PEM format")
    })?;
    Ok((certs, key))
}

const PASSWORD_HINT: &str = "give the password the certificate was exported with: `qtool context update NAME --cert-password-stdin`, or QTOOL_CERT_PASSWORD";

fn load_pkcs12(path: &Path, der: &[u8], password: Option<&str>) -> Result<Identity> {
    let shown = path.display();
    let store = KeyStore::from_pkcs12(der, password.unwrap_or(""), Pkcs12ImportPolicy::Relaxed)
        .map_err(|e| {
            use p12_keystore::error::Error as P12;
            match e {
                // The MAC check, or the decryption's padding when the file has no MAC.
                P12::MacError(_) | P12::UnpadError | P12::Pkcs5Error(_) => {
                    let what = if password.is_some() {
                        format!("the password of {shown} is wrong")
                    } else {
                        format!("{shown} is password-protected and no password was given")
                    };
                    Error::input(what).with_hint(PASSWORD_HINT)
                }
                P12::UnsupportedEncryptionScheme | P12::UnsupportedMacAlgorithm => {
                    Error::input(format!("{shown} uses a PKCS#12 encryption qtool cannot read ({e})"))
                        .with_hint("export it again with AES-256 (OpenSSL 3's default) or as PEM")
                }
                _ => Error::input(format!(
                    "{shown} is neither a PEM certificate nor a PKCS#12 (.pfx) file"
                ))
                .with_hint("give the client.pfx exported from the QMC (Windows format), or client.pem with --client-key"),
            }
        })?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(
            Error::input(format!("{shown} holds no private key")).with_hint(
                "export the client certificate from the QMC with its secret key ('Include secret key')",
            ),
        );
    };
    let certs: Vec<CertificateDer<'static>> = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(Error::input(format!(
            "{shown} holds a private key without its certificate"
        ))
        .with_hint("export the client certificate from the QMC with its secret key"));
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
    Ok((certs, key))
}

/// A client certificate that expired (or is not valid yet) is refused before a server sees it.
fn check_validity(path: &Path, leaf: &CertificateDer<'_>) -> Result<()> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else {
        return Err(Error::input(format!(
            "the certificate in {} is malformed",
            path.display()
        )));
    };
    let validity = cert.validity();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let date = |t: &x509_parser::time::ASN1Time| t.to_datetime().date().to_string();
    if now > validity.not_after.timestamp() {
        return Err(Error::tls(format!(
            "the client certificate in {} ({}) expired on {}",
            path.display(),
            cert.subject(),
            date(&validity.not_after)
        ))
        .with_hint("export a new client certificate from the QMC (Certificates)"));
    }
    if now < validity.not_before.timestamp() {
        return Err(Error::tls(format!(
            "the client certificate in {} ({}) is not valid before {}",
            path.display(),
            cert.subject(),
            date(&validity.not_before)
        ))
        .with_hint("check this machine's clock"));
    }
    Ok(())
}

/// The identity as PEM text (certificates, then the PKCS#8 key), as reqwest's own TLS
/// configuration takes it.
pub(crate) fn to_pem((certs, key): &Identity) -> String {
    let mut blocks: Vec<pem::Pem> = certs
        .iter()
        .map(|c| pem::Pem::new("CERTIFICATE", c.as_ref().to_vec()))
        .collect();
    let key_tag = match key {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    };
    blocks.push(pem::Pem::new(key_tag, key.secret_der().to_vec()));
    pem::encode_many(&blocks)
}
