//! `qtool qrs ...`: every QRS path qtool calls exists in the QRS OpenAPI spec; the commands
//! against the sandbox (each verb, each auth method, faults, TLS, conflicts).

use std::collections::HashSet;

use serde_json::Value;

use qtool::qrs::endpoints;
use qtool::qrs::resources::{Op, RESOURCES};

/// The QRS Swagger file of the shared reference material (tests may read it; qtool does not).
fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/specs/qrs-repository-api.swagger.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("spec is JSON")
}

fn has(spec: &Value, method: &str, template: &str) -> bool {
    spec["paths"]
        .get(template)
        .and_then(|p| p.get(method.to_ascii_lowercase()))
        .is_some()
}

#[test]
fn every_qrs_path_qtool_calls_is_in_the_spec() {
    let spec = spec();
    let mut checked = HashSet::new();
    let mut missing = Vec::new();
    for e in endpoints::ALL {
        checked.insert((e.method.to_string(), e.template.to_string()));
        if !has(&spec, e.method, e.template) {
            missing.push(format!("{} {}", e.method, e.template));
        }
    }
    for r in RESOURCES {
        for op in Op::ALL {
            if r.supports(op) {
                let t = r.template(op);
                checked.insert((op.method().to_string(), t.clone()));
                if !has(&spec, op.method(), &t) {
                    missing.push(format!("{} {t} ({})", op.method(), r.name));
                }
            }
        }
    }
    assert!(missing.is_empty(), "not in the QRS spec: {missing:#?}");
    assert!(checked.len() > 100, "only {} paths checked", checked.len());
}

#[test]
fn required_resources_are_all_there() {
    for name in [
        "app",
        "stream",
        "tag",
        "user",
        "reloadtask",
        "task",
        "executionresult",
        "executionsession",
        "schemaevent",
        "compositeevent",
        "custompropertydefinition",
        "dataconnection",
        "extension",
        "contentlibrary",
        "systemrule",
        "virtualproxyconfig",
        "userdirectory",
    ] {
        let r = qtool::qrs::resources::find(name).unwrap_or_else(|| panic!("{name}"));
        assert!(r.supports(Op::List) && r.supports(Op::Full), "{name}");
    }
}
