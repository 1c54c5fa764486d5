//! `context ls` and `context get`. `ls` reads only the public file: no secret is touched, and it
//! stays fast with hundreds of contexts.

use serde_json::{Map, Value, json};

use crate::app::App;
use crate::context::model::{Context, Secrets, is_sensitive_header, mask};
use crate::context::store::unknown_context;
use crate::error::{Error, Result};
use crate::output::{Column, Paint, col};
use crate::settings::mask_url_userinfo;

const COLUMNS: &[Column] = &[
    col("CURRENT", "current"),
    col("NAME", "name"),
    col("TYPE", "server-type"),
    col("SERVER", "server"),
    col("AUTH", "auth"),
    col("COMMENT", "comment"),
];

pub(super) fn run_ls(app: &App) -> Result<()> {
    let file = app.store()?.load_contexts()?;
    let current = file.current_context.as_deref();
    let p = &app.printer;
    if p.is_structured() || p.quiet() {
        let items: Vec<Value> = file
            .contexts
            .iter()
            .map(|(name, c)| {
                json!({
                    "name": name,
                    "server": mask_url_userinfo(&c.server),
                    "server-type": c.server_type.as_str(),
                    "auth": c.auth.as_str(),
                    "current": Some(name.as_str()) == current,
                    "comment": c.comment,
                })
            })
            .collect();
        return p.list(&items, COLUMNS, "name");
    }
    let headers: Vec<&str> = COLUMNS.iter().map(|c| c.header).collect();
    let rows: Vec<Vec<String>> = file
        .contexts
        .iter()
        .map(|(name, c)| {
            let is_current = Some(name.as_str()) == current;
            vec![
                if is_current {
                    p.paint("*", Paint::Green)
                } else {
                    String::new()
                },
                if is_current {
                    p.paint(name, Paint::Bold)
                } else {
                    name.clone()
                },
                c.server_type.as_str().to_string(),
                mask_url_userinfo(&c.server).into_owned(),
                c.auth.as_str().to_string(),
                c.comment.clone().unwrap_or_default(),
            ]
        })
        .collect();
    p.table(&headers, &rows)
}

pub(super) fn run_get(name: Option<String>, app: &App) -> Result<()> {
    let store = app.store()?;
    let all = store.load()?;
    let name = match name
        .or_else(|| app.settings.connection.context.clone().map(|c| c.value))
        .or(all.file.current_context.clone())
    {
        Some(n) => n,
        None => {
            return Err(Error::config("no context selected").with_hint(
                "name one: `qtool context get NAME`, or select one with `qtool context use NAME`",
            ));
        }
    };
    let context = all
        .file
        .contexts
        .get(&name)
        .ok_or_else(|| unknown_context(&name, &all.file))?;
    let secrets = all.secrets_of(&name);
    let current = all.file.current_context.as_deref() == Some(name.as_str());
    app.printer
        .object(&masked_view(&name, context, &secrets, current), "name")
}

/// The context as shown to people: every secret masked.
fn masked_view(name: &str, context: &Context, secrets: &Secrets, current: bool) -> Value {
    let mut map = Map::new();
    map.insert("name".into(), json!(name));
    map.insert("current".into(), json!(current));
    if let Value::Object(fields) = serde_json::to_value(context).unwrap_or(Value::Null) {
        map.extend(fields);
    }
    // A password in a URL stored before such URLs were refused is never shown.
    map.insert("server".into(), json!(mask_url_userinfo(&context.server)));
    if let Some(k) = &secrets.api_key {
        map.insert("api-key".into(), json!(mask(k)));
    }
    if secrets.password.is_some() {
        map.insert("password".into(), json!("****"));
    }
    if secrets.cert_password.is_some() {
        map.insert("cert-password".into(), json!("****"));
    }
    if let Some(c) = &secrets.cookie {
        let cookie_name = c.split('=').next().unwrap_or("cookie");
        map.insert("cookie".into(), json!(format!("{cookie_name}=****")));
    }
    if !secrets.headers.is_empty() {
        let headers: Map<String, Value> = secrets
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    json!(if is_sensitive_header(k) {
                        mask(v)
                    } else {
                        v.clone()
                    }),
                )
            })
            .collect();
        map.insert("headers".into(), Value::Object(headers));
    }
    Value::Object(map)
}
