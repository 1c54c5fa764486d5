//! Passphrase-protected PKCS#8 keys (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, what
//! `openssl genrsa -aes256` and `openssl pkcs8 -topk8` write): PBES2 with PBKDF2 (HMAC-SHA1/256/
//! 384/512) and AES-128/192/256-CBC, all from aws-lc-rs. Older schemes (PBES1, 3DES, scrypt) get
//! a clear error with the conversion command.

use std::num::NonZeroU32;

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::pbkdf2;

use pkcs8::der::asn1::{AnyRef, OctetStringRef};
use pkcs8::der::{Decode, ErrorKind};
use pkcs8::pkcs5::{EncryptionScheme, pbes2};
use pkcs8::spki::AlgorithmIdentifierRef;
use pkcs8::{EncryptedPrivateKeyInfo, ObjectIdentifier};

/// Upper bound on PBKDF2 rounds we are willing to run (a few seconds at most).
const MAX_ITERATIONS: u32 = 10_000_000;

/// Why decryption failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecryptError {
    /// Structure we cannot read.
    Corrupt,
    /// A scheme other than PBES2 + PBKDF2 + AES-CBC.
    Unsupported,
    /// Padding or structure wrong after decryption: almost always the passphrase.
    WrongPassphrase,
}

/// The `encryptionAlgorithm` OID of an `EncryptedPrivateKeyInfo`, whatever the scheme.
fn scheme_oid(der: &[u8]) -> Option<ObjectIdentifier> {
    let any = AnyRef::from_der(der).ok()?;
    any.sequence(|reader| {
        let algorithm = AlgorithmIdentifierRef::decode(reader)?;
        OctetStringRef::decode(reader)?;
        Ok(algorithm.oid)
    })
    .ok()
}

/// Decrypt an `EncryptedPrivateKeyInfo` into the inner PKCS#8 `PrivateKeyInfo` DER. The `pkcs8`
/// and `pkcs5` crates read the structure (an OID they do not know is a scheme we do not
/// support); aws-lc-rs runs PBKDF2 and AES-CBC.
pub(crate) fn decrypt_pkcs8(der: &[u8], passphrase: &[u8]) -> Result<Vec<u8>, DecryptError> {
    // `pkcs5` reports an unknown top-level scheme (e.g. PKCS#12 3DES) as a plain value error:
    // check the scheme OID first so "unsupported" is not mistaken for "corrupt".
    if scheme_oid(der).ok_or(DecryptError::Corrupt)? != pbes2::PBES2_OID {
        return Err(DecryptError::Unsupported);
    }
    // Inside PBES2 an unknown KDF, PRF or cipher is `OidUnknown`.
    let info = EncryptedPrivateKeyInfo::from_der(der).map_err(|e| match e.kind() {
        ErrorKind::OidUnknown { .. } => DecryptError::Unsupported,
        _ => DecryptError::Corrupt,
    })?;
    let EncryptionScheme::Pbes2(params) = info.encryption_algorithm else {
        return Err(DecryptError::Unsupported);
    };
    let pbes2::Kdf::Pbkdf2(kdf) = params.kdf else {
        return Err(DecryptError::Unsupported);
    };
    let prf = match kdf.prf {
        pbes2::Pbkdf2Prf::HmacWithSha1 => pbkdf2::PBKDF2_HMAC_SHA1,
        pbes2::Pbkdf2Prf::HmacWithSha256 => pbkdf2::PBKDF2_HMAC_SHA256,
        pbes2::Pbkdf2Prf::HmacWithSha384 => pbkdf2::PBKDF2_HMAC_SHA384,
        pbes2::Pbkdf2Prf::HmacWithSha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        _ => return Err(DecryptError::Unsupported),
    };
    // OpenSSL writes 2048; a file asking for billions of rounds would hang us, not protect more.
    if kdf.iteration_count > MAX_ITERATIONS {
        return Err(DecryptError::Unsupported);
    }
    let iterations = NonZeroU32::new(kdf.iteration_count).ok_or(DecryptError::Corrupt)?;
    let (cipher, cipher_key_len, iv) = match params.encryption {
        pbes2::EncryptionScheme::Aes128Cbc { iv } => (&AES_128, 16, *iv),
        pbes2::EncryptionScheme::Aes192Cbc { iv } => (&AES_192, 24, *iv),
        pbes2::EncryptionScheme::Aes256Cbc { iv } => (&AES_256, 32, *iv),
        _ => return Err(DecryptError::Unsupported),
    };
    if kdf
        .key_length
        .is_some_and(|l| usize::from(l) != cipher_key_len)
    {
        return Err(DecryptError::Corrupt);
    }

    let mut key = vec![0u8; cipher_key_len];
    pbkdf2::derive(prf, iterations, kdf.salt, passphrase, &mut key);
    let unbound = UnboundCipherKey::new(cipher, &key).map_err(|_| DecryptError::Corrupt)?;
    let decrypting =
        PaddedBlockDecryptingKey::cbc_pkcs7(unbound).map_err(|_| DecryptError::Corrupt)?;
    let mut data = info.encrypted_data.to_vec();
    let plain = decrypting
        .decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| DecryptError::WrongPassphrase)?;
    let plain = plain.to_vec();
    // A wrong passphrase passes the padding check about 1 time in 256: check the structure too.
    if super::pem::parse_pkcs8(&plain).is_none() {
        return Err(DecryptError::WrongPassphrase);
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::cipher::{EncryptionContext, PaddedBlockEncryptingKey};
    use pkcs8::der::Encode;

    use super::*;

    /// A small well-formed PKCS#8 `PrivateKeyInfo` (EC OID, empty inner key).
    const PLAIN: [u8; 21] = [
        0x30, 0x13, 0x02, 0x01, 0x00, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
        0x01, 0x04, 0x03, 0x30, 0x01, 0x00,
    ];
    const SALT: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
    const IV: [u8; 16] = [9; 16];

    /// What `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes (PBKDF2-HMAC-SHA256), built with
    /// the format crates and encrypted with aws-lc-rs.
    fn encrypt(passphrase: &[u8]) -> Vec<u8> {
        let mut key = [0u8; 32];
        let rounds = NonZeroU32::new(2048).unwrap();
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            &SALT,
            passphrase,
            &mut key,
        );
        let cipher =
            PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, &key).unwrap())
                .unwrap();
        let mut data = PLAIN.to_vec();
        cipher
            .less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(IV)))
            .unwrap();
        let params = pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &SALT, &IV).unwrap();
        let info = EncryptedPrivateKeyInfo {
            encryption_algorithm: params.into(),
            encrypted_data: &data,
        };
        let mut out = vec![0u8; 512];
        let len = info.encode_to_slice(&mut out).unwrap().len();
        out.truncate(len);
        out
    }

    /// Replace the first occurrence of `from` in `der` by `to` (same length).
    fn patch(der: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = der.windows(from.len()).position(|w| w == from).unwrap();
        let mut out = der.to_vec();
        out[at..at + to.len()].copy_from_slice(to);
        out
    }

    #[test]
    fn decrypts_pbes2_and_spots_a_wrong_passphrase() {
        let der = encrypt(b"s3cret");
        assert_eq!(decrypt_pkcs8(&der, b"s3cret").unwrap(), PLAIN);
        assert_eq!(
            decrypt_pkcs8(&der, b"wrong").unwrap_err(),
            DecryptError::WrongPassphrase
        );
    }

    #[test]
    fn other_schemes_are_unsupported_and_garbage_is_corrupt() {
        let der = encrypt(b"pw");
        // PBES2 (1.2.840.113549.1.5.13) -> pbeWithMD5AndDES-CBC (1.2.840.113549.1.5.3).
        let pbes1 = patch(&der, &[0x01, 0x05, 0x0d], &[0x01, 0x05, 0x03]);
        // AES-256-CBC (2.16.840.1.101.3.4.1.42) -> AES-256-GCM (…1.46).
        let gcm = patch(&der, &[0x03, 0x04, 0x01, 0x2a], &[0x03, 0x04, 0x01, 0x2e]);
        // PBKDF2 (1.2.840.113549.1.5.12) -> an unknown KDF (…1.5.127).
        let kdf = patch(&der, &[0x01, 0x05, 0x0c], &[0x01, 0x05, 0x7f]);
        for (name, der) in [("pbes1", pbes1), ("gcm", gcm), ("kdf", kdf)] {
            assert_eq!(
                decrypt_pkcs8(&der, b"pw").unwrap_err(),
                DecryptError::Unsupported,
                "{name}"
            );
        }
        assert_eq!(
            decrypt_pkcs8(&der[..der.len() - 3], b"pw").unwrap_err(),
            DecryptError::Corrupt
        );
        assert_eq!(
            decrypt_pkcs8(&[0x30, 0x00], b"pw").unwrap_err(),
            DecryptError::Corrupt
        );
    }
}
