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

use super::pem::{TAG_INTEGER, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, read_tlv};

const OID_PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
const OID_PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
const OID_HMAC_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x07];
const OID_HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
const OID_HMAC_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0a];
const OID_HMAC_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0b];
const OID_AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
const OID_AES192_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16];
const OID_AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];

/// Upper bound on PBKDF2 rounds we are willing to run (a few seconds at most).
const MAX_ITERATIONS: u32 = 10_000_000;

/// Why decryption failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecryptError {
    /// Structure we cannot read.
    Corrupt,
    /// A scheme other than PBES2 + PBKDF2 + AES-CBC.
    Unsupported,
    /// Padding or structure wrong after decryption: almost always the passphrase.
    WrongPassphrase,
}

fn seq(input: &[u8]) -> Result<(&[u8], &[u8]), DecryptError> {
    match read_tlv(input) {
        Some((TAG_SEQUENCE, body, rest)) => Ok((body, rest)),
        _ => Err(DecryptError::Corrupt),
    }
}

fn tlv(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), DecryptError> {
    match read_tlv(input) {
        Some((t, body, rest)) if t == tag => Ok((body, rest)),
        _ => Err(DecryptError::Corrupt),
    }
}

fn small_uint(bytes: &[u8]) -> Result<u32, DecryptError> {
    let bytes = match bytes {
        [0, rest @ ..] => rest,
        other => other,
    };
    if bytes.is_empty() || bytes.len() > 4 {
        return Err(DecryptError::Corrupt);
    }
    Ok(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// Decrypt an `EncryptedPrivateKeyInfo` into the inner PKCS#8 `PrivateKeyInfo` DER.
pub fn decrypt_pkcs8(der: &[u8], passphrase: &[u8]) -> Result<Vec<u8>, DecryptError> {
    let (body, _) = seq(der)?;
    let (alg_id, rest) = seq(body)?;
    let (encrypted, _) = tlv(rest, TAG_OCTET_STRING)?;
    let (oid, params) = tlv(alg_id, TAG_OID)?;
    if oid != OID_PBES2 {
        return Err(DecryptError::Unsupported);
    }
    let (pbes2, _) = seq(params)?;
    let (kdf, rest) = seq(pbes2)?;
    let (enc, _) = seq(rest)?;

    let (kdf_oid, kdf_params) = tlv(kdf, TAG_OID)?;
    if kdf_oid != OID_PBKDF2 {
        return Err(DecryptError::Unsupported);
    }
    let (pbkdf2_params, _) = seq(kdf_params)?;
    let (salt, rest) = tlv(pbkdf2_params, TAG_OCTET_STRING)?;
    let (iterations, mut rest) = tlv(rest, TAG_INTEGER)?;
    let iterations = small_uint(iterations)?;
    // OpenSSL writes 2048; a file asking for billions of rounds would hang us, not protect more.
    if iterations > MAX_ITERATIONS {
        return Err(DecryptError::Unsupported);
    }
    let iterations = NonZeroU32::new(iterations).ok_or(DecryptError::Corrupt)?;
    // Optional keyLength INTEGER, then optional prf AlgorithmIdentifier (default HMAC-SHA1).
    let mut key_length = None;
    if let Ok((len, after)) = tlv(rest, TAG_INTEGER) {
        key_length = Some(small_uint(len)? as usize);
        rest = after;
    }
    let prf = if rest.is_empty() {
        OID_HMAC_SHA1
    } else {
        let (prf_id, _) = seq(rest)?;
        tlv(prf_id, TAG_OID)?.0
    };
    let prf = match prf {
        OID_HMAC_SHA1 => pbkdf2::PBKDF2_HMAC_SHA1,
        OID_HMAC_SHA256 => pbkdf2::PBKDF2_HMAC_SHA256,
        OID_HMAC_SHA384 => pbkdf2::PBKDF2_HMAC_SHA384,
        OID_HMAC_SHA512 => pbkdf2::PBKDF2_HMAC_SHA512,
        _ => return Err(DecryptError::Unsupported),
    };

    let (enc_oid, enc_params) = tlv(enc, TAG_OID)?;
    let (cipher, cipher_key_len) = match enc_oid {
        OID_AES128_CBC => (&AES_128, 16),
        OID_AES192_CBC => (&AES_192, 24),
        OID_AES256_CBC => (&AES_256, 32),
        _ => return Err(DecryptError::Unsupported),
    };
    if key_length.is_some_and(|l| l != cipher_key_len) {
        return Err(DecryptError::Corrupt);
    }
    let (iv, _) = tlv(enc_params, TAG_OCTET_STRING)?;
    let iv: [u8; 16] = iv.try_into().map_err(|_| DecryptError::Corrupt)?;

    let mut key = vec![0u8; cipher_key_len];
    pbkdf2::derive(prf, iterations, salt, passphrase, &mut key);
    let unbound = UnboundCipherKey::new(cipher, &key).map_err(|_| DecryptError::Corrupt)?;
    let decrypting =
        PaddedBlockDecryptingKey::cbc_pkcs7(unbound).map_err(|_| DecryptError::Corrupt)?;
    let mut data = encrypted.to_vec();
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
