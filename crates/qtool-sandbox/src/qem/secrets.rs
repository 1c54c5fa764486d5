//! Endpoint secrets in task exports: `"{Z<hex>}"` strings, AES-256-GCM under the server's master
//! key (the sandbox's `mk.dat`) with a fresh random nonce, so every export of the same secret
//! differs (§5.7). Imports decrypt what this sandbox encrypted; anything else is kept verbatim.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde_json::Value;

use super::util::random_bytes;

/// Whether a settings key holds a secret (password, secret key, token…).
pub(super) fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password") || k.contains("secret") || k.ends_with("token") || k == "passphrase"
}

fn cipher(master_key: &[u8; 32]) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, master_key)
        .ok()
        .map(LessSafeKey::new)
}

pub(super) fn encrypt(master_key: &[u8; 32], plain: &str) -> String {
    let Some(key) = cipher(master_key) else {
        return plain.to_string();
    };
    let nonce_bytes = random_bytes::<NONCE_LEN>();
    let mut data = plain.as_bytes().to_vec();
    let nonce = Nonce::assume_unique_for_key(nonce_bytes);
    if key
        .seal_in_place_append_tag(nonce, Aad::empty(), &mut data)
        .is_err()
    {
        return plain.to_string();
    }
    let mut out = String::with_capacity(4 + 2 * (NONCE_LEN + data.len()));
    out.push_str("{Z");
    for b in nonce_bytes.iter().chain(data.iter()) {
        out.push_str(&format!("{b:02X}"));
    }
    out.push('}');
    out
}

/// `Some(plain)` if `value` is a `{Z…}` string this master key encrypted.
pub(super) fn decrypt(master_key: &[u8; 32], value: &str) -> Option<String> {
    let hex = value.strip_prefix("{Z")?.strip_suffix('}')?;
    if hex.len() % 2 != 0 || hex.len() < 2 * (NONCE_LEN + 16) {
        return None;
    }
    let mut bytes = Vec::with_capacity(hex.len() / 2);
    for i in (0..hex.len()).step_by(2) {
        bytes.push(u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()?);
    }
    let (nonce_bytes, rest) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce_bytes).ok()?;
    let mut rest = rest.to_vec();
    let key = cipher(master_key)?;
    let plain = key.open_in_place(nonce, Aad::empty(), &mut rest).ok()?;
    String::from_utf8(plain.to_vec()).ok()
}

pub(super) fn looks_encrypted(value: &str) -> bool {
    value.starts_with("{Z") && value.ends_with('}')
}

/// Encrypt every non-empty secret string in `value` (recursively).
pub(super) fn encrypt_tree(master_key: &[u8; 32], value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(s)
                        if is_secret_key(k) && !s.is_empty() && !looks_encrypted(s) =>
                    {
                        *s = encrypt(master_key, s);
                    }
                    _ => encrypt_tree(master_key, v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| encrypt_tree(master_key, v)),
        _ => {}
    }
}

/// Decrypt every `{Z…}` secret this master key can open (recursively); others stay verbatim.
pub(super) fn decrypt_tree(master_key: &[u8; 32], value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (_, v) in map.iter_mut() {
                match v {
                    Value::String(s) if looks_encrypted(s) => {
                        if let Some(plain) = decrypt(master_key, s) {
                            *s = plain;
                        }
                    }
                    _ => decrypt_tree(master_key, v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| decrypt_tree(master_key, v)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_fresh_nonce() {
        let mk = random_bytes::<32>();
        let a = encrypt(&mk, "s3cret");
        let b = encrypt(&mk, "s3cret");
        assert!(a.starts_with("{Z") && a.ends_with('}'));
        assert_ne!(a, b);
        assert_eq!(decrypt(&mk, &a).as_deref(), Some("s3cret"));
        assert_eq!(decrypt(&random_bytes::<32>(), &a), None);
        assert_eq!(decrypt(&mk, "{Zzz}"), None);
    }
}
