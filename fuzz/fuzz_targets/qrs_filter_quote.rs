//! Client-side filter building: whatever a user types after `--name`, the quoted filter parses
//! (with the sandbox's QRS filter parser) and matches exactly that name, so a name can never
//! inject filter syntax. GUID detection never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qtool::qrs::filter::{and, eq, is_guid, with_name};
use qtool_sandbox::qrs::filter::{eval, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else { return };
    let _ = is_guid(name);
    let filter = eq("name", name);
    let expr = parse(&filter).unwrap_or_else(|e| panic!("quoted filter {filter:?} does not parse: {e}"));
    assert!(eval(&expr, &serde_json::json!({ "name": name })), "{filter:?} does not match its own name");
    let other = format!("{name}x");
    assert!(!eval(&expr, &serde_json::json!({ "name": other })), "{filter:?} matches another name");
    let combined = with_name(Some("published eq true"), "name", Some(name)).expect("two clauses");
    let expr = parse(&combined).unwrap_or_else(|e| panic!("{combined:?} does not parse: {e}"));
    assert!(eval(&expr, &serde_json::json!({ "name": name, "published": true })));
    assert!(!eval(&expr, &serde_json::json!({ "name": name, "published": false })));
    let _ = and(&[Some(name.to_string()), None, Some(String::new())]);
});
