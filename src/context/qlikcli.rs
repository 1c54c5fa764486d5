//! Reading qlik-cli's `~/.qlik/contexts.yml` so its users switch with one command.
//! The file is `current-context` plus a map of free-form contexts (`server`, `server-type`,
//! `headers`, `api-key`, `insecure`, `comment`, ...); see qrs-and-qlik-cli.md §1.2.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::model::{AuthKind, Context, Secrets, ServerType};
use crate::error::{Error, Result};
use crate::input::{InputKind, InputSource};

#[derive(Debug, Default, Deserialize)]
struct QlikCliFile {
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
    #[serde(default)]
    contexts: BTreeMap<String, Value>,
}

/// One context converted from qlik-cli, or the reason it was skipped.
#[derive(Debug)]
pub enum Imported {
    Context {
        name: String,
        context: Box<Context>,
        secrets: Secrets,
    },
    Skipped {
        name: String,
        reason: String,
    },
}

#[derive(Debug)]
pub struct ImportedFile {
    pub current: Option<String>,
    pub items: Vec<Imported>,
}

pub fn read(path: &Path) -> Result<ImportedFile> {
    let text = InputSource::File(path.to_path_buf()).read_to_string(InputKind::Config)?;
    parse(&text).map_err(|e| e.context(path.display()))
}

pub fn parse(text: &str) -> Result<ImportedFile> {
    let file: QlikCliFile = if text.trim().is_empty() {
        QlikCliFile::default()
    } else {
        yaml_serde::from_str(text).map_err(|e| {
            let position = e
                .location()
                .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
                .unwrap_or_default();
            let message = e.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            Error::input(format!("not a qlik-cli contexts file{position}: {message}"))
        })?
    };
    let items = file
        .contexts
        .into_iter()
        .map(|(name, value)| convert(name, &value))
        .collect();
    Ok(ImportedFile {
        current: file.current_context.filter(|c| !c.is_empty()),
        items,
    })
}

fn convert(name: String, value: &Value) -> Imported {
    let skip = |reason: String| Imported::Skipped {
        name: name.clone(),
        reason,
    };
    let Some(map) = value.as_object() else {
        return skip("not a mapping".into());
    };
    let text = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    let server_type_text = text("server-type").unwrap_or_else(|| "cloud".into());
    if !server_type_text.eq_ignore_ascii_case("windows") {
        return skip(format!(
            "server type `{server_type_text}` is not supported (qtool handles QSEoW and QEM)"
        ));
    }
    let Some(server) = text("server") else {
        return skip("no server URL".into());
    };
    if let Err(e) = crate::settings::parse_server_url(&server) {
        return skip(e.to_string());
    }
    if let Err(reason) = super::model::validate_name(&name) {
        return skip(reason);
    }

    let mut secrets = Secrets {
        api_key: text("api-key"),
        ..Secrets::default()
    };
    if let Some(headers) = map.get("headers").and_then(Value::as_object) {
        for (k, v) in headers {
            let Some(v) = v.as_str() else { continue };
            if k.eq_ignore_ascii_case("authorization") {
                match v
                    .strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
                {
                    Some(token) if secrets.api_key.is_none() => {
                        secrets.api_key = Some(token.trim().to_string())
                    }
                    Some(_) => {}
                    None => {
                        secrets.headers.insert(k.clone(), v.to_string());
                    }
                }
            } else if k.eq_ignore_ascii_case("cookie") {
                secrets.cookie = Some(v.to_string());
            } else {
                secrets.headers.insert(k.clone(), v.to_string());
            }
        }
    }
    let auth = if secrets.api_key.is_some() {
        AuthKind::Bearer
    } else if secrets.cookie.is_some() {
        AuthKind::Cookie
    } else {
        AuthKind::None
    };
    let insecure = match map.get("insecure") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let context = Context {
        server,
        server_type: ServerType::Windows,
        auth,
        insecure,
        ca_cert: None,
        comment: text("comment"),
        user: None,
        jwt: None,
        client_cert: None,
        max_response_size: None,
    };
    Imported::Context {
        name,
        context: Box::new(context),
        secrets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
current-context: QSEoW
contexts:
  QSEoW:
    server: https://192.168.254.243/jwt
    server-type: windows
    headers:
      Authorization: Bearer eyJhbGciOi.payload.sig
      X-Extra: yes
    insecure: true
    comment: tutorial
  tenant:
    server: https://x.eu.qlikcloud.com
    server-type: cloud
    api-key: abc
  engine-only:
    server: wss://host:9076
    server-type: engine
  formsy:
    server: https://qs.example.com
    server-type: Windows
    headers:
      cookie: X-Qlik-Session=0f1e
"#;

    #[test]
    fn converts_windows_contexts_and_skips_others() {
        let file = parse(SAMPLE).unwrap();
        assert_eq!(file.current.as_deref(), Some("QSEoW"));
        let mut imported = 0;
        for item in &file.items {
            match item {
                Imported::Context {
                    name,
                    context,
                    secrets,
                } if name == "QSEoW" => {
                    imported += 1;
                    assert_eq!(context.auth, AuthKind::Bearer);
                    assert!(context.insecure);
                    assert_eq!(secrets.api_key.as_deref(), Some("eyJhbGciOi.payload.sig"));
                    assert_eq!(
                        secrets.headers.get("X-Extra").map(String::as_str),
                        Some("yes")
                    );
                    assert_eq!(context.comment.as_deref(), Some("tutorial"));
                }
                Imported::Context {
                    name,
                    context,
                    secrets,
                } if name == "formsy" => {
                    imported += 1;
                    assert_eq!(context.auth, AuthKind::Cookie);
                    assert_eq!(secrets.cookie.as_deref(), Some("X-Qlik-Session=0f1e"));
                }
                Imported::Skipped { name, .. } => {
                    assert!(name == "tenant" || name == "engine-only")
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(imported, 2);
    }

    #[test]
    fn malformed_yaml_is_an_input_error_with_position() {
        let err = parse("contexts: [unclosed").unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::Input);
        assert!(err.message().contains("line"), "{}", err.message());
    }
}
