//! `-t/--traffic`: every JSON frame of the engine socket on stderr, as `-> {…}` (sent) and
//! `<- {…}` (received), with secrets redacted: any member whose name says password, and
//! credential-shaped text (tokens, `Bearer …`, `pwd=…` in connection strings) in any string.

use serde_json::Value;

/// Print one frame (`outgoing` or not) to stderr, redacted.
pub(super) fn log_frame(outgoing: bool, frame: &Value) {
    let mut copy = frame.clone();
    redact(&mut copy);
    let arrow = if outgoing { "->" } else { "<-" };
    crate::output::status(&crate::logging::scrub(&format!("{arrow} {copy}")));
}

/// Print a line about the connection itself (the upgrade request and its answer).
pub(super) fn log_line(text: &str) {
    crate::output::status(&crate::logging::scrub(&format!("== {text}")));
}

/// Replace secret values in place.
pub(super) fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key.to_ascii_lowercase().contains("password") {
                    if !v.is_null() && v.as_str() != Some("") {
                        *v = Value::String("<redacted>".into());
                    }
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(text) => {
            if let Some(clean) = redact_connection_string(text) {
                *text = clean;
            }
        }
        _ => {}
    }
}

/// `…;pwd=secret;…` / `password=…` / `XPassword=…` in a connection string: the values masked.
fn redact_connection_string(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    if !(lower.contains("pwd=") || lower.contains("password=")) {
        return None;
    }
    let parts: Vec<String> = text
        .split(';')
        .map(|part| match part.split_once('=') {
            Some((key, _)) if is_password_key(key) => format!("{key}=<redacted>"),
            _ => part.to_string(),
        })
        .collect();
    Some(parts.join(";"))
}

fn is_password_key(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    key == "pwd" || key.ends_with("password")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_are_masked_anywhere() {
        let mut frame = json!({"params": [{"qName": "db", "qPassword": "hunter2", "qUserName": "u",
            "qConnectionString": "ODBC CONNECT TO x;UID=u;PWD=hunter2;Host=h"}], "qPassword": ""});
        redact(&mut frame);
        let text = frame.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.contains("PWD=<redacted>") && text.contains("UID=u"),
            "{text}"
        );
        assert_eq!(
            frame["qPassword"], "",
            "an empty password stays visible as empty"
        );
    }
}
