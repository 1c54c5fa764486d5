//! `jwt decode` and `jwt verify` on arbitrary tokens: a reason, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use qtool::jwt::keys::{PublicKey, parse_public_key};
use qtool::jwt::token::{VerifyOptions, decode_unverified, verify};

// A fixed public key (verification fails on signatures, which is the point: the parsing before it
// and the error paths are what is fuzzed).
const CERT: &str = include_str!("../fixtures/jwt_cert.pem");

fn key() -> &'static PublicKey {
    static KEY: OnceLock<PublicKey> = OnceLock::new();
    KEY.get_or_init(|| parse_public_key(CERT.as_bytes()).expect("fixture certificate"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let _ = decode_unverified(token);
    let _ = verify(token, key(), &VerifyOptions::default());
});
