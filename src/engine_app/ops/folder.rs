//! The app-as-files folder qlik-cli's `app unbuild` writes and `app build` reads, so a folder
//! made by either tool builds with the other:
//!
//! ```text
//! config.yml            script, connections, dimensions, measures, objects, variables,
//!                       app-properties (the 7 keys, in that order; `bookmarks` is also read)
//! script.qvs            the load script, as is
//! app-properties.json   GetAppProperties
//! connections.yml       connections: {<name>: {type, connectionstring, username[, password]}}
//! dimensions.json       ONE array of dimension properties (measures.json, variables.json alike)
//! objects/<type>-<visualization>-<title>-<id>.json
//!                       one per top-level object: its full property tree when it has children
//! ```
//!
//! Reading accepts what qlik-cli accepts: each entity key a path or a list of paths with `*`,
//! `?` and `[…]` wildcards (relative to config.yml; a pattern matching nothing is no files, a
//! plain path must exist); each file one JSON object or an array; objects as plain properties
//! or full trees; connections in a file or inline in config.yml, any value `${NAME}` taken from
//! the environment (the way to pass passwords). Keys of qlik-cli's flags (`app`, `engine`,
//! `ttl`, `no-reload`, …) are ignored with a warning; any other key is an error naming the
//! file, as qlik-cli refuses unknown keys. Errors name the file and, for JSON and YAML, the
//! line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::connections::ConnectionSpec;
use super::entities::Kind;
use crate::error::{Error, ErrorClass, Result};
use crate::input::{InputKind, InputSource, read_file};
use crate::settings::Environment;

pub(crate) const CONFIG: &str = "config.yml";
pub(crate) const SCRIPT: &str = "script.qvs";
pub(crate) const APP_PROPERTIES: &str = "app-properties.json";
pub(crate) const CONNECTIONS: &str = "connections.yml";
pub(crate) const OBJECTS_DIR: &str = "objects";

/// config.yml as `unbuild` writes it: qlik-cli's seven lines, nothing of qtool's own.
pub(crate) const CONFIG_TEXT: &str = "script: script.qvs\nconnections: connections.yml\n\
dimensions: dimensions.json\nmeasures: measures.json\nobjects: objects/*.json\n\
variables: variables.json\napp-properties: app-properties.json\n";

/// The library files of the layout, per kind (bookmarks are not written: see docs/app.md).
pub(crate) fn library_file(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Dimension => Some("dimensions.json"),
        Kind::Measure => Some("measures.json"),
        Kind::Variable => Some("variables.json"),
        Kind::Bookmark | Kind::Object => None,
    }
}

/// Keys of config.yml that name a qlik-cli flag rather than app content.
const FLAG_KEYS: &[&str] = &[
    "app",
    "engine",
    "server",
    "headers",
    "ttl",
    "no-data",
    "no-reload",
    "no-save",
    "limit",
    "silent",
    "certificates",
    "context",
    "insecure",
    "json",
    "verbose",
    "config",
];
const ENTITY_KEYS: &[&str] = &[
    "script",
    "connections",
    "dimensions",
    "measures",
    "objects",
    "variables",
    "bookmarks",
    "app-properties",
];

/// What config.yml binds, with paths resolved.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    pub dir: PathBuf,
    pub script: Option<PathBuf>,
    pub app_properties: Option<PathBuf>,
    pub connections: Option<Connections>,
    /// The files of each kind, in order (patterns expanded, sorted within a pattern).
    pub files: BTreeMap<Kind, Vec<PathBuf>>,
    /// Warnings to show (ignored keys).
    pub warnings: Vec<String>,
}

#[derive(Debug)]
pub(crate) enum Connections {
    File(PathBuf),
    Inline(Value),
}

/// Read `<dir>/config.yml` and check that every file it names exists.
pub(crate) fn read_layout(dir: &Path) -> Result<Layout> {
    let config_path = dir.join(CONFIG);
    let text = InputSource::File(config_path.clone())
        .read_to_string(InputKind::Document)
        .map_err(|e| {
            if e.class() == ErrorClass::NotFound {
                e.with_hint(
                    "the folder needs the config.yml `qtool app unbuild` (or qlik-cli) writes",
                )
            } else {
                e
            }
        })?;
    let config: Value = yaml_serde::from_str(&text).map_err(|e| {
        Error::input(format!("{}: not valid YAML: {e}", config_path.display()))
            .with_hint("fix the file (`qtool app unbuild` writes a valid one)")
    })?;
    let Value::Object(map) = config else {
        return Err(Error::input(format!(
            "{}: expected `key: value` lines",
            config_path.display()
        )));
    };
    let mut layout = Layout {
        dir: dir.to_path_buf(),
        ..Layout::default()
    };
    for (key, value) in map {
        let one_path = |value: &Value| -> Result<PathBuf> {
            let text = value.as_str().ok_or_else(|| {
                Error::input(format!(
                    "{}: `{key}` must be a file name",
                    config_path.display()
                ))
            })?;
            let path = dir.join(text);
            if !path.is_file() {
                return Err(missing_file(&config_path, &key, &path));
            }
            Ok(path)
        };
        match key.as_str() {
            "script" => layout.script = Some(one_path(&value)?),
            "app-properties" => layout.app_properties = Some(one_path(&value)?),
            "connections" => {
                layout.connections = Some(match &value {
                    Value::String(_) => Connections::File(one_path(&value)?),
                    Value::Object(_) => Connections::Inline(value.clone()),
                    Value::Null => continue,
                    _ => {
                        return Err(Error::input(format!(
                            "{}: `connections` must be a file name or a map of connections",
                            config_path.display()
                        )));
                    }
                });
            }
            "dimensions" | "measures" | "objects" | "variables" | "bookmarks" => {
                let kind = match key.as_str() {
                    "dimensions" => Kind::Dimension,
                    "measures" => Kind::Measure,
                    "variables" => Kind::Variable,
                    "bookmarks" => Kind::Bookmark,
                    _ => Kind::Object,
                };
                let patterns: Vec<String> = match &value {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .ok_or_else(|| {
                            Error::input(format!(
                                "{}: `{key}` must be a path or a list of paths",
                                config_path.display()
                            ))
                        })?,
                    Value::Null => vec![],
                    _ => {
                        return Err(Error::input(format!(
                            "{}: `{key}` must be a path or a list of paths",
                            config_path.display()
                        )));
                    }
                };
                let mut files = Vec::new();
                for pattern in patterns {
                    files.extend(expand(dir, &pattern, &config_path, &key)?);
                }
                layout.files.insert(kind, files);
            }
            other if FLAG_KEYS.contains(&other) => layout.warnings.push(format!(
                "{}: `{other}` is a qlik-cli flag; qtool ignores it here (use the command-line flag)",
                config_path.display()
            )),
            other => {
                let suggestion = ENTITY_KEYS
                    .iter()
                    .find(|k| similar(k, other))
                    .map(|k| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                return Err(Error::input(format!(
                    "{}: unknown key `{other}`{suggestion}",
                    config_path.display()
                ))
                .with_hint(format!("config.yml binds {}", ENTITY_KEYS.join(", "))));
            }
        }
    }
    Ok(layout)
}

fn missing_file(config: &Path, key: &str, path: &Path) -> Error {
    Error::input(format!(
        "{}: `{key}` names {}, which does not exist",
        config.display(),
        path.display()
    ))
    .with_hint("restore the file, or remove the line from config.yml")
}

/// Two keys one typo apart (a letter changed, missing, added, or `_` for `-`).
fn similar(a: &str, b: &str) -> bool {
    let a = a.replace('_', "-");
    let b = b.to_ascii_lowercase().replace('_', "-");
    if a == b || a.trim_end_matches('s') == b.trim_end_matches('s') {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (a.len() - prefix - suffix) <= 1 && (b.len() - prefix - suffix) <= 1
}

/// The files a config.yml pattern names, sorted. A path without wildcards must exist.
fn expand(dir: &Path, pattern: &str, config: &Path, key: &str) -> Result<Vec<PathBuf>> {
    let has_wildcard = |s: &str| s.contains(['*', '?', '[']);
    if !has_wildcard(pattern) {
        let path = dir.join(pattern);
        if !path.is_file() {
            return Err(missing_file(config, key, &path));
        }
        return Ok(vec![path]);
    }
    let mut found = vec![dir.to_path_buf()];
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let mut next = Vec::new();
        for base in &found {
            if !has_wildcard(part) {
                next.push(base.join(part));
                continue;
            }
            let Ok(entries) = std::fs::read_dir(base) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| wildcard_match(part, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        found = next
            .into_iter()
            .filter(|p| if last { p.is_file() } else { p.is_dir() })
            .collect();
    }
    Ok(found)
}

/// `*`, `?` and `[...]` (ranges, `^`/`!` negation) against one path component, as Go's
/// `filepath.Match` (what qlik-cli uses). A leading dot is matched like any character.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // Returns (matched, length of the class in p) for p starting after '['.
        let mut i = 0;
        let negate = matches!(p.first(), Some('^' | '!'));
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        while i < p.len() && (first || p[i] != ']') {
            first = false;
            let lo = p[i];
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                matched |= lo <= c && c <= p[i + 2];
                i += 3;
            } else {
                matched |= lo == c;
                i += 1;
            }
        }
        (i < p.len()).then_some((matched != negate, i + 1))
    }
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|k| go(&p[1..], &n[k..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => match (n.first(), class(&p[1..], *n.first().unwrap_or(&'\0'))) {
                (Some(_), Some((true, len))) => go(&p[1 + len..], &n[1..]),
                _ => false,
            },
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

/// The entities in a JSON file: one object, or an array of them.
pub(crate) fn read_entities(path: &Path) -> Result<Vec<Value>> {
    let bytes = read_file(path, InputKind::Document)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Error::input(format!("{}: not valid JSON: {e}", path.display()))
            .with_hint("fix the file; nothing was sent to the engine")
    })?;
    match value {
        Value::Array(items) => Ok(items),
        other => Ok(vec![other]),
    }
}

/// A JSON document read whole (app properties).
pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let bytes = read_file(path, InputKind::Document)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::input(format!("{}: not valid JSON: {e}", path.display()))
            .with_hint("fix the file; nothing was sent to the engine")
    })
}

/// The connections a layout binds, `${NAME}` values taken from `env`.
pub(crate) fn read_connections(layout: &Layout, env: &Environment) -> Result<Vec<ConnectionSpec>> {
    let (source, map) = match &layout.connections {
        None => return Ok(vec![]),
        Some(Connections::Inline(map)) => (layout.dir.join(CONFIG), map.clone()),
        Some(Connections::File(path)) => {
            let text = InputSource::File(path.clone()).read_to_string(InputKind::Document)?;
            let doc: Value = yaml_serde::from_str(&text).map_err(|e| {
                Error::input(format!("{}: not valid YAML: {e}", path.display()))
                    .with_hint("fix the file; nothing was sent to the engine")
            })?;
            (
                path.clone(),
                doc.get("connections").cloned().unwrap_or(Value::Null),
            )
        }
    };
    let Value::Object(entries) = map else {
        if map.is_null() {
            return Ok(vec![]);
        }
        return Err(Error::input(format!(
            "{}: `connections` must map names to connections",
            source.display()
        )));
    };
    let mut specs = Vec::new();
    for (name, entry) in entries {
        let field = |key: &str| -> Result<Option<String>> {
            let raw = match entry.get(key) {
                None | Some(Value::Null) => return Ok(None),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(_) => {
                    return Err(Error::input(format!(
                        "{}: connection `{name}`: `{key}` must be text",
                        source.display()
                    )));
                }
            };
            from_env(&raw, env, &source, &name).map(Some)
        };
        let kind = field("type")?.ok_or_else(|| {
            Error::input(format!(
                "{}: connection `{name}` has no `type`",
                source.display()
            ))
        })?;
        let mut connection_string = field("connectionstring")?.unwrap_or_default();
        if connection_string.is_empty()
            && let Some(Value::Object(settings)) = entry.get("settings")
        {
            let mut parts = vec![format!("provider={kind}")];
            for (k, v) in settings {
                let v = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                parts.push(format!("{k}={}", from_env(&v, env, &source, &name)?));
            }
            connection_string = format!("CUSTOM CONNECT TO \"{};\"", parts.join(";"));
        }
        let user = field("username")?.filter(|u| !u.is_empty());
        let password = field("password")?.filter(|p| !p.is_empty());
        specs.push(ConnectionSpec {
            name,
            kind,
            connection_string,
            user,
            password,
        });
    }
    Ok(specs)
}

/// `${NAME}` (the whole value) is the environment variable NAME.
fn from_env(value: &str, env: &Environment, source: &Path, connection: &str) -> Result<String> {
    let Some(name) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else {
        return Ok(value.to_string());
    };
    env.get_raw(name).map(str::to_string).ok_or_else(|| {
        Error::input(format!(
            "{}: connection `{connection}` needs the environment variable {name}, which is not set",
            source.display()
        ))
        .with_hint(format!("export {name}=... before the build"))
    })
}

/// connections.yml as `unbuild` writes it: qlik-cli's layout with every value quoted (a
/// connection string with `: ` or ` #` stays one value), no passwords.
pub(crate) fn connections_yaml(connections: &[Value]) -> String {
    let quote = |s: &str| Value::String(s.to_string()).to_string();
    let mut text = String::from(
        "# Passwords are never exported. To set one when building, add `password: ${ENV_VAR}`\n# under the connection and export ENV_VAR.\nconnections:\n",
    );
    for c in connections {
        let get = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
        text.push_str(&format!("  {}:\n", quote(get("qName"))));
        text.push_str(&format!("    type: {}\n", quote(get("qType"))));
        text.push_str(&format!(
            "    connectionstring: {}\n",
            quote(get("qConnectionString"))
        ));
        if !get("qType").eq_ignore_ascii_case("folder") && !get("qUserName").is_empty() {
            text.push_str(&format!("    username: {}\n", quote(get("qUserName"))));
        }
    }
    text
}

/// `<qType>-<visualization>-<title>-<qId>.json`, lowercased, each run of characters other than
/// letters, digits, `_` and `-` made one `-` (qlik-cli's rule); the title is shortened so the
/// name stays well under file-system limits.
pub(crate) fn object_file_name(props: &Value) -> String {
    let props = props.get("qProperty").unwrap_or(props);
    let text = |pointer: &str| {
        props
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .replace('/', "-")
    };
    let title: String = text("/qMetaDef/title").chars().take(80).collect();
    let raw = format!(
        "{}-{}-{}-{}",
        text("/qInfo/qType"),
        text("/visualization"),
        title,
        text("/qInfo/qId")
    )
    .to_lowercase();
    let mut name = String::with_capacity(raw.len());
    let mut in_run = false;
    for c in raw.chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            name.push(c);
            in_run = false;
        } else if !in_run {
            name.push('-');
            in_run = true;
        }
    }
    format!("{name}.json")
}

/// JSON as files of the layout hold it: 2-space indented, the engine's key order, a final
/// newline.
pub(crate) fn json_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_like_go() {
        assert!(wildcard_match("*.json", "sheet-a.json"));
        assert!(!wildcard_match("*.json", "sheet.yml"));
        assert!(wildcard_match("s?eet-[a-c].json", "sheet-b.json"));
        assert!(!wildcard_match("sheet-[^a-c].json", "sheet-b.json"));
        assert!(wildcard_match("[!x]*", "y"));
    }

    #[test]
    fn file_names_follow_qlik_cli() {
        // Runs of characters other than letters, digits, `_` and `-` become one `-`; the `-`
        // that replaced `/` stays, as in qlik-cli.
        let sheet = json!({"qInfo": {"qId": "AbC", "qType": "sheet"}, "qMetaDef": {"title": "My Sheet / Q1: sales"}});
        assert_eq!(
            object_file_name(&sheet),
            "sheet--my-sheet---q1-sales-abc.json"
        );
        let chart = json!({"qProperty": {"qInfo": {"qId": "x1", "qType": "barchart"}, "visualization": "barchart"}});
        assert_eq!(object_file_name(&chart), "barchart-barchart--x1.json");
    }

    #[test]
    fn layouts_are_read_with_globs_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join(CONFIG), CONFIG_TEXT).unwrap();
        let err = read_layout(d).unwrap_err();
        assert!(
            err.message().contains("script.qvs, which does not exist"),
            "{err}"
        );
        for f in [
            "script.qvs",
            "connections.yml",
            "dimensions.json",
            "measures.json",
            "variables.json",
            "app-properties.json",
        ] {
            std::fs::write(d.join(f), "[]").unwrap();
        }
        std::fs::create_dir(d.join("objects")).unwrap();
        std::fs::write(d.join("objects/b.json"), "{}").unwrap();
        std::fs::write(d.join("objects/a.json"), "{}").unwrap();
        std::fs::write(d.join("objects/notes.txt"), "").unwrap();
        let layout = read_layout(d).unwrap();
        let objects: Vec<_> = layout.files[&Kind::Object]
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(objects, ["a.json", "b.json"]);

        std::fs::write(
            d.join(CONFIG),
            format!("{CONFIG_TEXT}app: Sales\nmeasure: x.json\n"),
        )
        .unwrap();
        let err = read_layout(d).unwrap_err();
        assert!(
            err.message()
                .ends_with("unknown key `measure` (did you mean `measures`?)"),
            "{err}"
        );
        std::fs::write(d.join(CONFIG), "script: [unclosed\n").unwrap();
        let err = read_layout(d).unwrap_err();
        assert!(err.message().contains("line 1"), "{err}");
        assert_eq!(err.class().exit_code(), 3);
    }

    #[test]
    fn connections_take_env_values_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connections.yml");
        let written = connections_yaml(&[
            json!({"qName": "Sales: DB #1", "qType": "ODBC", "qConnectionString": "ODBC CONNECT TO x", "qUserName": "u"}),
            json!({"qName": "Files", "qType": "folder", "qConnectionString": "C:\\data", "qUserName": ""}),
        ]);
        std::fs::write(&path, format!("{written}  Secret:\n    type: ODBC\n    connectionstring: y\n    password: ${{DB_PW}}\n")).unwrap();
        let layout = Layout {
            dir: dir.path().to_path_buf(),
            connections: Some(Connections::File(path)),
            ..Layout::default()
        };
        let err = read_connections(&layout, &Environment::default()).unwrap_err();
        assert!(err.message().contains("DB_PW"), "{err}");
        let specs = read_connections(&layout, &Environment::from_pairs([("DB_PW", "pw")])).unwrap();
        assert_eq!(specs[0].name, "Sales: DB #1");
        assert_eq!(specs[0].user.as_deref(), Some("u"));
        assert_eq!(specs[1].connection_string, "C:\\data");
        assert_eq!(specs[2].password.as_deref(), Some("pw"));
    }
}
