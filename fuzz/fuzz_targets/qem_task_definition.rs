//! Task definitions (files and exports) and QEM response bodies: parsing, normalising and diffing
//! never panic, a definition never differs from itself, and error bodies parse or are ignored.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qtool::qem::api::parse_definition;
use qtool::qem::apply::diff::{diff, normalize};
use qtool::qem::apply::execute::version_object;
use qtool::qem::client::{parse_api_error, strip_comment_line};

fuzz_target!(|data: &[u8]| {
    let _ = strip_comment_line(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_api_error(text);
        let _ = version_object(text);
    }
    let Ok(def) = parse_definition(data) else { return };
    let norm = normalize(&def);
    assert!(diff(&norm, &norm).is_empty(), "a definition differs from itself");
    let live = serde_json::json!({
        "cmd.replication_definition": {
            "tasks": [{"task": {"name": "t", "source_name": "s"}, "targets": [{"rep_target_name": "d"}]}],
            "databases": [{"name": "s", "db_settings": {"password": "{ZABCDEF}"}}]
        },
        "_version": {"version": "2023.11.0.159"},
        "description": "exported"
    });
    for change in diff(&normalize(&live), &norm) {
        let _ = change.render();
    }
    for change in diff(&norm, &normalize(&live)) {
        let _ = change.render();
    }
});
