//! RSA keys: load a private key (PKCS#8 or PKCS#1 PEM, as `openssl genrsa` writes them), load a
//! public key (certificate, SPKI or PKCS#1 PEM, or the private key itself), and generate new keys.
//! Every rejected file gets one line naming the file, what it is, and what to use instead.

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};

use super::pem::{self, Block, Contents, PemError};
use crate::error::{Error, Result};
use crate::input::InputKind;

const KEYGEN_HINT: &str = "create one with `qtool jwt keygen --out privatekey.pem`";

/// How a private key file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `-----BEGIN PRIVATE KEY-----` (what `openssl genrsa` writes since OpenSSL 3).
    Pkcs8,
    /// `-----BEGIN RSA PRIVATE KEY-----` (`openssl genrsa -traditional`).
    Pkcs1,
}

impl KeyFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyFormat::Pkcs8 => "PKCS#8",
            KeyFormat::Pkcs1 => "PKCS#1",
        }
    }
}

/// An RSA private key, parsed and checked by aws-lc-rs.
pub struct PrivateKey {
    pub format: KeyFormat,
    /// PKCS#1 `RSAPrivateKey` DER (what jsonwebtoken's RSA signer takes).
    pub pkcs1: Vec<u8>,
    pub pair: RsaKeyPair,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PrivateKey({} RSA {})",
            self.format.as_str(),
            self.bits()
        )
    }
}

impl PrivateKey {
    pub fn bits(&self) -> usize {
        self.pair.public_modulus_len() * 8
    }

    /// PKCS#1 `RSAPublicKey` DER of the public half.
    pub fn public_pkcs1(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// The key as PKCS#8 DER.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>> {
        self.pair
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| Error::failed("cannot encode the RSA key as PKCS#8"))
    }
}

/// Read a key/cert file (bounded, regular files and pipes only); a missing private key says
/// how to make one.
pub fn read_file(path: &Path, what: KeyFile) -> Result<Vec<u8>> {
    crate::input::read_file(path, InputKind::Credential).map_err(|err| {
        if what == KeyFile::PrivateKey && err.class() == crate::error::ErrorClass::NotFound {
            Error::not_found(err.message()).with_hint(KEYGEN_HINT)
        } else {
            err
        }
    })
}

/// Which kind of key file [`read_file`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFile {
    PrivateKey,
    Certificate,
}

/// Environment variable holding the passphrase of an encrypted private key (named in hints).
const ENV_KEY_PASSPHRASE: &str = crate::settings::vars::KEY_PASSPHRASE;

/// Load an RSA private key from a file, decrypting it with `passphrase` when it is encrypted.
pub fn load_private_key_with(path: &Path, passphrase: Option<&str>) -> Result<PrivateKey> {
    let bytes = read_file(path, KeyFile::PrivateKey)?;
    parse_private_key_with(&bytes, passphrase).map_err(|e| about_file(e, path))
}

/// `<file> <message>`: the parse errors read "is a certificate; ...", so prefixing the file
/// name makes one sentence naming the file.
pub fn about_file(e: Error, path: &Path) -> Error {
    about(e, &path.display().to_string())
}

/// `<what> <message>` keeping class and hint.
pub fn about(e: Error, what: &str) -> Error {
    let err = Error::new(e.class(), format!("{what} {}", e.message()));
    match e.hint() {
        Some(hint) => err.with_hint(hint),
        None => err,
    }
}

/// Parse an RSA private key from PEM (or DER) bytes. Errors say what the bytes are instead.
pub fn parse_private_key(bytes: &[u8]) -> Result<PrivateKey> {
    parse_private_key_with(bytes, None)
}

/// [`parse_private_key`] with the passphrase for an `ENCRYPTED PRIVATE KEY`.
pub fn parse_private_key_with(bytes: &[u8], passphrase: Option<&str>) -> Result<PrivateKey> {
    let contents = pem::parse(bytes).map_err(pem_error_for_key)?;
    match contents {
        Contents::Der(der) => private_from_der(&der),
        Contents::Pem(blocks) => {
            let block = blocks
                .iter()
                .find(|b| b.tag().ends_with("PRIVATE KEY"))
                .unwrap_or(&blocks[0]);
            if block.tag() == "ENCRYPTED PRIVATE KEY" {
                return private_from_encrypted(block.contents(), passphrase);
            }
            private_from_block(block)
        }
    }
}

fn private_from_encrypted(der: &[u8], passphrase: Option<&str>) -> Result<PrivateKey> {
    use super::encrypted::{DecryptError, decrypt_pkcs8};
    let Some(passphrase) = passphrase else {
        return Err(encrypted_error());
    };
    match decrypt_pkcs8(der, passphrase.as_bytes()) {
        Ok(plain) => private_from_pkcs8(&plain),
        Err(DecryptError::WrongPassphrase) => Err(Error::input(
            "cannot be decrypted with this passphrase",
        )
        .with_hint(format!(
            "check the passphrase (--passphrase-stdin or {ENV_KEY_PASSPHRASE})"
        ))),
        Err(DecryptError::Unsupported) => Err(Error::input(
            "is encrypted with a scheme qtool does not support (PBES2 + PBKDF2 + AES-CBC only)",
        )
        .with_hint(
            "re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY.pem -out KEY-aes.pem`",
        )),
        Err(DecryptError::Corrupt) => Err(Error::input(
            "is a corrupt encrypted private key",
        )
        .with_hint(KEYGEN_HINT)),
    }
}

fn pem_error_for_key(e: PemError) -> Error {
    Error::input(format!("is not a private key: {e}"))
        .with_hint("give the PEM private key file (PEM `BEGIN PRIVATE KEY`)")
}

fn private_from_block(block: &Block) -> Result<PrivateKey> {
    match block.tag() {
        "PRIVATE KEY" => private_from_pkcs8(block.contents()),
        "RSA PRIVATE KEY" if pem::is_legacy_encrypted(block) => Err(Error::input(
            "is encrypted in the legacy OpenSSL format (Proc-Type: 4,ENCRYPTED)",
        )
        .with_hint(
            "convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY.pem -out KEY8.pem`",
        )),
        "RSA PRIVATE KEY" => private_from_pkcs1(block.contents(), KeyFormat::Pkcs1),
        "ENCRYPTED PRIVATE KEY" => Err(encrypted_error()),
        "EC PRIVATE KEY" => Err(not_rsa("an EC private key")),
        "DSA PRIVATE KEY" => Err(not_rsa("a DSA private key")),
        "OPENSSH PRIVATE KEY" => Err(Error::input("is an OpenSSH private key, not PEM")
            .with_hint("convert it with `ssh-keygen -p -m PKCS8 -f FILE` or create a new one with `qtool jwt keygen`")),
        "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(Error::input(
            "is a public key; signing needs the private key",
        )
        .with_hint("give the private key file (e.g. privatekey.pem)")),
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => Err(Error::input(
            "is a certificate; signing needs the private key",
        )
        .with_hint("give the private key file (e.g. privatekey.pem), not the .cer")),
        other => Err(Error::input(format!(
            "holds a `{other}` PEM block, not a private key"
        ))
        .with_hint("give the PEM private key file (PEM `BEGIN PRIVATE KEY`)")),
    }
}

fn private_from_der(der: &[u8]) -> Result<PrivateKey> {
    if pem::parse_pkcs8(der).is_some() {
        private_from_pkcs8(der)
    } else if pem::looks_like_pkcs1_private(der) {
        private_from_pkcs1(der, KeyFormat::Pkcs1)
    } else if pem::parse_spki(der).is_some() {
        Err(Error::input(
            "is a public key (DER); signing needs the private key",
        ))
    } else {
        Err(Error::input("is not a private key (unrecognised DER)")
            .with_hint("give the PEM private key file (PEM `BEGIN PRIVATE KEY`)"))
    }
}

fn private_from_pkcs8(der: &[u8]) -> Result<PrivateKey> {
    let info = pem::parse_pkcs8(der).ok_or_else(|| {
        Error::input("is not a valid PKCS#8 private key (corrupt or truncated)")
            .with_hint(KEYGEN_HINT)
    })?;
    if info.algorithm.oid != pem::OID_RSA_ENCRYPTION {
        let name = pem::algorithm_name(info.algorithm.oid);
        return Err(not_rsa(&format!("{} private key", with_article(name))));
    }
    private_from_pkcs1(info.private_key, KeyFormat::Pkcs8)
}

fn private_from_pkcs1(der: &[u8], format: KeyFormat) -> Result<PrivateKey> {
    let pair = RsaKeyPair::from_der(der).map_err(|e| {
        Error::input(format!("is not a usable RSA private key ({e})")).with_hint(KEYGEN_HINT)
    })?;
    Ok(PrivateKey {
        format,
        pkcs1: der.to_vec(),
        pair,
    })
}

fn not_rsa(what: &str) -> Error {
    Error::input(format!(
        "is {what}; Qlik JWT virtual proxies need an RSA key (RS256/RS384/RS512)"
    ))
    .with_hint(KEYGEN_HINT)
}

fn with_article(name: &str) -> String {
    if name == "DSA" {
        format!("a {name}")
    } else {
        format!("an {name}")
    }
}

fn encrypted_error() -> Error {
    Error::input("is an encrypted private key and no passphrase was given").with_hint(format!(
        "pipe the passphrase to --passphrase-stdin or set {ENV_KEY_PASSPHRASE}"
    ))
}

/// What a public-key file turned out to be.
#[derive(Debug, Clone)]
pub enum PublicSource {
    Certificate {
        subject: String,
        not_before: i64,
        not_after: i64,
        /// The certificate PEM as found in the file (what the QMC box wants).
        pem: String,
    },
    PublicKey,
    PrivateKey,
}

/// An RSA public key for verification.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// PKCS#1 `RSAPublicKey` DER.
    pub pkcs1: Vec<u8>,
    pub bits: usize,
    pub source: PublicSource,
}

/// Load the public key from a certificate, a public key, or a private key file.
pub fn load_public_key(path: &Path) -> Result<PublicKey> {
    let bytes = read_file(path, KeyFile::Certificate)?;
    parse_public_key(&bytes).map_err(|e| about_file(e, path))
}

pub fn parse_public_key(bytes: &[u8]) -> Result<PublicKey> {
    let contents = pem::parse(bytes).map_err(|e| {
        Error::input(format!("is not a certificate or public key: {e}"))
            .with_hint("give the PEM certificate (PEM `BEGIN CERTIFICATE`) or public key")
    })?;
    match contents {
        Contents::Der(der) => {
            if let Ok(key) = public_from_certificate(&der, None) {
                Ok(key)
            } else if pem::parse_spki(&der).is_some() {
                public_from_spki(&der)
            } else {
                let key = private_from_der(&der)?;
                public_from_private(&key)
            }
        }
        Contents::Pem(blocks) => {
            let block = blocks
                .iter()
                .find(|b| b.tag().contains("CERTIFICATE") || b.tag().contains("PUBLIC KEY"))
                .unwrap_or(&blocks[0]);
            match block.tag() {
                "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
                    let text = pem::encode("CERTIFICATE", block.contents());
                    public_from_certificate(block.contents(), Some(text))
                }
                "PUBLIC KEY" => public_from_spki(block.contents()),
                "RSA PUBLIC KEY" => public_from_pkcs1(block.contents(), PublicSource::PublicKey),
                label if label.ends_with("PRIVATE KEY") => {
                    let key = private_from_block(block)?;
                    public_from_private(&key)
                }
                other => Err(Error::input(format!(
                    "holds a `{other}` PEM block, not a certificate or public key"
                ))
                .with_hint("give the PEM certificate (PEM `BEGIN CERTIFICATE`)")),
            }
        }
    }
}

fn public_from_private(key: &PrivateKey) -> Result<PublicKey> {
    Ok(PublicKey {
        pkcs1: key.public_pkcs1(),
        bits: key.bits(),
        source: PublicSource::PrivateKey,
    })
}

fn public_from_spki(der: &[u8]) -> Result<PublicKey> {
    let (alg, key) = pem::parse_spki(der)
        .ok_or_else(|| Error::input("is not a valid public key (corrupt or truncated)"))?;
    if alg != pem::OID_RSA_ENCRYPTION {
        return Err(not_rsa(&format!(
            "{} public key",
            with_article(pem::algorithm_name(alg))
        )));
    }
    public_from_pkcs1(key, PublicSource::PublicKey)
}

fn public_from_pkcs1(der: &[u8], source: PublicSource) -> Result<PublicKey> {
    let parsed = aws_lc_rs::rsa::PublicKey::from_der(der)
        .map_err(|e| Error::input(format!("is not a usable RSA public key ({e})")))?;
    Ok(PublicKey {
        pkcs1: parsed.as_ref().to_vec(),
        bits: parsed.modulus_len() * 8,
        source,
    })
}

fn public_from_certificate(der: &[u8], pem_text: Option<String>) -> Result<PublicKey> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
        Error::input(format!("is not a valid X.509 certificate ({e})"))
            .with_hint("create one with `qtool jwt cert --key privatekey.pem --out publickey.cer`")
    })?;
    if !rest.is_empty() {
        return Err(Error::input(
            "is not a valid X.509 certificate (trailing data)",
        ));
    }
    let (alg, key) = pem::parse_spki(cert.public_key().raw)
        .ok_or_else(|| Error::input("has a certificate with an unreadable public key"))?;
    if alg != pem::OID_RSA_ENCRYPTION {
        return Err(not_rsa(&format!(
            "a certificate for {} key",
            with_article(pem::algorithm_name(alg))
        )));
    }
    let validity = cert.validity();
    let source = PublicSource::Certificate {
        subject: cert.subject().to_string(),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        pem: pem_text.unwrap_or_else(|| pem::encode("CERTIFICATE", der)),
    };
    public_from_pkcs1(key, source)
}

/// Key sizes `keygen` offers.
pub fn key_size(bits: u32) -> Result<KeySize> {
    match bits {
        2048 => Ok(KeySize::Rsa2048),
        3072 => Ok(KeySize::Rsa3072),
        4096 => Ok(KeySize::Rsa4096),
        other => Err(Error::usage(format!("unsupported key size {other}"))
            .with_hint("use --bits 2048, 3072 or 4096")),
    }
}

/// Generate an RSA key. RSA prime search time varies a lot from run to run, so with two or more
/// cores two searches race and the first key found wins (the loser is abandoned; it dies with the
/// process). Returns the key as PKCS#8 DER.
pub fn generate(bits: u32) -> Result<Vec<u8>> {
    let size = key_size(bits)?;
    let racers = std::thread::available_parallelism()
        .map(|n| n.get().min(2))
        .unwrap_or(1);
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..racers {
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("rsa-keygen".into())
            .spawn(move || {
                let result = RsaKeyPair::generate(size)
                    .ok()
                    .and_then(|pair| pair.as_der().ok().map(|d| d.as_ref().to_vec()));
                let _ = tx.send(result);
            });
        if spawned.is_err() && racers == 1 {
            return Err(Error::failed("cannot start the key generation thread"));
        }
    }
    drop(tx);
    // The first successful key wins; an error from one racer waits for the other.
    if let Some(der) = rx.iter().flatten().next() {
        return Ok(der);
    }
    Err(
        Error::failed(format!("RSA {bits}-bit key generation failed"))
            .with_hint("try again; if it keeps failing report a bug"),
    )
}

/// PKCS#1 `RSAPrivateKey` DER inside a PKCS#8 `PrivateKeyInfo`.
pub fn pkcs8_to_pkcs1(pkcs8: &[u8]) -> Result<Vec<u8>> {
    pem::parse_pkcs8(pkcs8)
        .filter(|info| info.algorithm.oid == pem::OID_RSA_ENCRYPTION)
        .map(|info| info.private_key.to_vec())
        .ok_or_else(|| Error::failed("cannot convert the key to PKCS#1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    fn fresh_pkcs8() -> Vec<u8> {
        generate(2048).unwrap()
    }

    #[test]
    fn generated_key_loads_as_pkcs8_and_pkcs1() {
        let der = fresh_pkcs8();
        let pem8 = pem::encode("PRIVATE KEY", &der);
        let k8 = parse_private_key(pem8.as_bytes()).unwrap();
        assert_eq!(k8.format, KeyFormat::Pkcs8);
        assert_eq!(k8.bits(), 2048);
        let pkcs1 = pkcs8_to_pkcs1(&der).unwrap();
        let pem1 = pem::encode("RSA PRIVATE KEY", &pkcs1);
        let k1 = parse_private_key(pem1.as_bytes()).unwrap();
        assert_eq!(k1.format, KeyFormat::Pkcs1);
        assert_eq!(k1.public_pkcs1(), k8.public_pkcs1());
        // The private key also serves as a public key for verification.
        let public = parse_public_key(pem8.as_bytes()).unwrap();
        assert_eq!(public.pkcs1, k8.public_pkcs1());
    }

    #[test]
    fn wrong_files_are_input_errors_naming_the_problem() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "empty"),
            (b"random words", "not a private key"),
            (b"-----BEGIN PRIVATE KEY-----\nMIIE\n", "truncated"),
            (
                b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "encrypted",
            ),
            (
                b"-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n",
                "EC private key",
            ),
            (
                b"-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n",
                "public key",
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
                "certificate",
            ),
        ];
        for (bytes, needle) in cases {
            let err = parse_private_key(bytes).unwrap_err();
            assert_eq!(err.class(), ErrorClass::Input, "{needle}: {err}");
            assert!(err.to_string().contains(needle), "{needle}: {err}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn ec_pkcs8_is_named() {
        // PKCS#8 wrapper with the ecPublicKey OID and an empty inner key.
        let der = [
            0x30, 0x13, 0x02, 0x01, 0x00, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
            0x02, 0x01, 0x04, 0x03, 0x30, 0x01, 0x00,
        ];
        let pem = pem::encode("PRIVATE KEY", &der);
        let err = parse_private_key(pem.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("EC private key"), "{err}");
    }

    #[test]
    fn key_sizes() {
        assert!(key_size(2048).is_ok());
        assert_eq!(key_size(1024).unwrap_err().class(), ErrorClass::Usage);
    }
}
