//! contexts.toml, credentials.toml and qlik-cli's contexts.yml: any bytes give a value or a
//! positioned error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qtool::context::store::{ContextsFile, CredentialsFile, parse_toml};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err((line, column, message)) = parse_toml::<ContextsFile>(text) {
        assert!(line >= 1 && column >= 1);
        assert!(!message.contains('\n'));
    }
    let _ = parse_toml::<CredentialsFile>(text);
    let _ = qtool::context::qlikcli::parse(text);
});
