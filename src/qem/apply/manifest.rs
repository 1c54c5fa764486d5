//! The `qem apply` manifest (TOML or YAML): desired servers, tasks, endpoints and ACLs, with
//! `${VAR}` substitution so one manifest and one set of definitions promote through stages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::input::{InputKind, InputSource};
use crate::qem::model::ServerKind;
use crate::settings::Environment;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    #[default]
    Present,
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Started,
    Stopped,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Default values for `${NAME}` (overridden by `--var NAME=VALUE`).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(default, rename = "servers", alias = "server")]
    pub servers: Vec<ServerSpec>,
    #[serde(default, rename = "tasks", alias = "task")]
    pub tasks: Vec<TaskSpec>,
    #[serde(default, rename = "endpoints", alias = "endpoint")]
    pub endpoints: Vec<EndpointSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    pub name: String,
    #[serde(default)]
    pub state: Presence,
    /// `replicate` (default) or `compose`.
    #[serde(default, rename = "type")]
    pub kind: Option<ServerKind>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// Administrator account on the Replicate/Compose machine.
    #[serde(alias = "username")]
    pub user: Option<String>,
    /// Its password (use `${env:NAME}` rather than the literal).
    pub password: Option<String>,
    pub description: Option<String>,
    pub verify_server_certificate: Option<bool>,
    pub monitored: Option<bool>,
    /// The explicit ACL, managed exactly when given (an empty table removes it).
    pub acl: Option<AclSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclSpec {
    #[serde(default)]
    pub disable_inheritance: bool,
    pub admin: Option<RoleSpec>,
    pub designer: Option<RoleSpec>,
    pub operator: Option<RoleSpec>,
    pub viewer: Option<RoleSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    pub server: String,
    /// Task name; overrides `tasks[0].task.name` of the definition. Defaults to that name.
    pub name: Option<String>,
    #[serde(default)]
    pub state: Presence,
    /// Definition file (as `qtool qem task export` writes it), relative to the manifest.
    pub definition: Option<PathBuf>,
    /// The definition inline (a table/mapping), instead of a file.
    pub inline: Option<Value>,
    /// Desired run state; omitted = leave it as it is (restored after an update).
    pub run: Option<RunState>,
    /// Run option when starting: resume-processing (default), reload-target, ...
    pub run_option: Option<String>,
    /// Stop a running task before deleting it (`state = "absent"`).
    #[serde(default)]
    pub force_stop: bool,
    /// How long to wait for a stop, e.g. `60s` (default).
    pub timeout: Option<String>,
    /// Delete the task's logs with the task (default true).
    pub delete_logs: Option<bool>,
    /// Variables for this task's definition only.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    pub server: String,
    pub name: String,
    #[serde(default)]
    pub state: Presence,
}

impl TaskSpec {
    pub fn timeout(&self) -> Result<Duration> {
        match &self.timeout {
            None => Ok(Duration::from_secs(60)),
            Some(t) => {
                crate::duration::parse(t).map_err(|e| Error::input(format!("task timeout: {e}")))
            }
        }
    }
}

/// A parsed manifest with its directory (definition paths are relative to it).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub manifest: Manifest,
    pub dir: PathBuf,
    pub vars: Vars,
}

/// What `${NAME}` and `${env:NAME}` stand for. Sources, last wins: the manifest's `[vars]`, the
/// task's `vars` (for its definition), `--var`. A value may use other variables (expanded to a
/// fixed point; a cycle is an error naming it). The environment is the one given to [`load`],
/// so a test can give any environment.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    manifest: BTreeMap<String, String>,
    task: BTreeMap<String, String>,
    cli: BTreeMap<String, String>,
    env: Environment,
}

/// The longest string variables may expand to: values that use each other many times over
/// could otherwise grow without bound.
const MAX_EXPANDED_LEN: usize = 64 << 20;

impl Vars {
    pub fn new(
        manifest: BTreeMap<String, String>,
        cli: BTreeMap<String, String>,
        env: Environment,
    ) -> Vars {
        Vars {
            manifest,
            task: BTreeMap::new(),
            cli,
            env,
        }
    }

    /// These variables with a task's own `vars` added (`--var` still wins).
    pub fn with_task(&self, task: &BTreeMap<String, String>) -> Vars {
        Vars {
            task: task.clone(),
            ..self.clone()
        }
    }

    /// The raw (unexpanded) value of `${name}`.
    fn get(&self, name: &str) -> Option<&str> {
        self.cli
            .get(name)
            .or_else(|| self.task.get(name))
            .or_else(|| self.manifest.get(name))
            .map(String::as_str)
    }

    /// A variable of the environment, also when empty.
    fn env(&self, name: &str) -> Option<&str> {
        self.env.get_raw(name)
    }

    fn names(&self) -> impl Iterator<Item = &String> {
        self.manifest
            .keys()
            .chain(self.task.keys())
            .chain(self.cli.keys())
    }

    /// Fail when variables use each other in a cycle (also ones nothing uses yet), or a name is
    /// empty. Undefined variables are reported where they are used.
    pub fn check(&self) -> Result<()> {
        for name in self.names() {
            if name.trim().is_empty() {
                return Err(Error::input("a variable has an empty name")
                    .with_hint("name every variable in [vars], `vars` and --var"));
            }
            let mut expander = Expander::new(self);
            if let Err(e @ VarError::Cycle(_)) = expander.resolve(name) {
                return Err(e.into_error(name));
            }
        }
        Ok(())
    }
}

/// Why a `${...}` could not be expanded.
#[derive(Debug)]
enum VarError {
    Unclosed,
    EmptyName,
    Undefined(String),
    EnvUnset(String),
    /// The names of the cycle, its first name repeated at the end.
    Cycle(Vec<String>),
    TooLong,
}

impl VarError {
    fn into_error(self, text: &str) -> Error {
        match self {
            VarError::Unclosed => Error::input(format!("unclosed `${{` in `{text}`"))
                .with_hint("write `$${` for a literal `${`"),
            VarError::EmptyName => Error::input(format!("`${{}}` in `{text}` names no variable"))
                .with_hint("write `${NAME}`, or `$${` for a literal `${`"),
            VarError::Undefined(name) => Error::input(format!("variable `{name}` is not defined"))
                .with_hint(format!("pass --var {name}=VALUE or add it to [vars]")),
            VarError::EnvUnset(name) => Error::input(format!(
                "environment variable {name} is not set (used as ${{env:{name}}})"
            ))
            .with_hint(format!("export {name}=...")),
            VarError::Cycle(names) => Error::input(format!(
                "variables use each other in a cycle: {}",
                names.join(" → ")
            ))
            .with_hint("make one of them a plain value (in [vars], the task's `vars` or --var)"),
            VarError::TooLong => Error::input(format!(
                "the variables in `{text}` expand to more than {}",
                qtool_common::bytes::format(MAX_EXPANDED_LEN as u64)
            ))
            .with_hint("check for variables that use each other many times"),
        }
    }
}

/// One expansion: variable values resolved once each (so values that use each other many
/// times cost linear time), the names being resolved on a stack to find cycles.
struct Expander<'a> {
    vars: &'a Vars,
    resolved: std::collections::HashMap<String, String>,
    stack: Vec<String>,
}

impl<'a> Expander<'a> {
    fn new(vars: &'a Vars) -> Expander<'a> {
        Expander {
            vars,
            resolved: std::collections::HashMap::new(),
            stack: Vec::new(),
        }
    }

    /// The value of `${name}`, its own variables expanded and `$${` turned into `${`.
    fn resolve(&mut self, name: &str) -> std::result::Result<String, VarError> {
        if let Some(value) = self.resolved.get(name) {
            return Ok(value.clone());
        }
        if let Some(start) = self.stack.iter().position(|n| n == name) {
            let mut cycle = self.stack[start..].to_vec();
            cycle.push(name.to_string());
            return Err(VarError::Cycle(cycle));
        }
        let raw = self
            .vars
            .get(name)
            .ok_or_else(|| VarError::Undefined(name.to_string()))?
            .to_string();
        self.stack.push(name.to_string());
        let value = self.expand(&raw);
        self.stack.pop();
        let value = value?;
        self.resolved.insert(name.to_string(), value.clone());
        Ok(value)
    }

    /// `text` with every `${NAME}` and `${env:NAME}` replaced by its value and every `$${` by
    /// `${`. Each text is read once: a value put in is never read again, so a `${` it holds
    /// (from an escape, or the environment) stays literal.
    fn expand(&mut self, text: &str) -> std::result::Result<String, VarError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i..];
            if let Some(tail) = after.strip_prefix("$${") {
                out.push_str("${");
                rest = tail;
                continue;
            }
            let Some(body) = after.strip_prefix("${") else {
                out.push('$');
                rest = &after[1..];
                continue;
            };
            let end = body.find('}').ok_or(VarError::Unclosed)?;
            let name = body[..end].trim();
            let value = if let Some(env) = name.strip_prefix("env:") {
                self.vars
                    .env(env)
                    .ok_or_else(|| VarError::EnvUnset(env.to_string()))?
                    .to_string()
            } else if name.is_empty() {
                return Err(VarError::EmptyName);
            } else {
                self.resolve(name)?
            };
            if out.len() + value.len() > MAX_EXPANDED_LEN {
                return Err(VarError::TooLong);
            }
            out.push_str(&value);
            rest = &body[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Parse a manifest file: TOML or YAML by extension (content sniffed otherwise), substitute
/// variables in every string (`${env:NAME}` from `env`), check it.
pub fn load(path: &Path, cli_vars: &[(String, String)], env: &Environment) -> Result<Loaded> {
    let text = InputSource::File(path.to_path_buf()).read_to_string(InputKind::Document)?;
    let mut raw = parse_text(path, &text)?;
    // Variables: manifest defaults, then --var (wins). Their values are expanded where they are
    // used, not here: `[vars]` is left out of the substitution below.
    let manifest_vars: BTreeMap<String, String> = match raw.get("vars") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect(),
        Some(_) => {
            return Err(Error::input(format!(
                "{}: `vars` must be a table",
                path.display()
            )));
        }
        None => BTreeMap::new(),
    };
    let vars = Vars::new(
        manifest_vars,
        cli_vars.iter().cloned().collect(),
        env.clone(),
    );
    vars.check().map_err(|e| e.context(path.display()))?;
    let kept_vars = match &mut raw {
        Value::Object(map) => map.remove("vars"),
        _ => None,
    };
    let mut value = raw;
    if let Value::Object(map) = &mut value {
        // Task-level vars and inline definitions are substituted later, per task.
        let keep_tasks = map.remove("tasks").or_else(|| map.remove("task"));
        substitute_value(&mut value, &vars).map_err(|e| e.context(path.display()))?;
        if let (Value::Object(map), Some(v)) = (&mut value, kept_vars) {
            map.insert("vars".into(), v);
        }
        if let (Value::Object(map), Some(mut tasks)) = (&mut value, keep_tasks) {
            if let Value::Array(items) = &mut tasks {
                for item in items.iter_mut() {
                    if let Value::Object(task) = item {
                        let inline = task.remove("inline");
                        let task_vars = task.remove("vars");
                        substitute_value(item, &vars).map_err(|e| e.context(path.display()))?;
                        if let Value::Object(task) = item {
                            if let Some(i) = inline {
                                task.insert("inline".into(), i);
                            }
                            if let Some(v) = task_vars {
                                task.insert("vars".into(), v);
                            }
                        }
                    }
                }
            }
            map.insert("tasks".into(), tasks);
        }
    }
    let manifest: Manifest = serde_json::from_value(value).map_err(|e| {
        Error::input(format!("{}: {e}", path.display()))
            .with_hint("see docs/qem-apply.md for the manifest format")
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let loaded = Loaded {
        manifest,
        dir,
        vars,
    };
    check(&loaded, path)?;
    Ok(loaded)
}

fn parse_text(path: &Path, text: &str) -> Result<Value> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let yaml = match ext.as_str() {
        "toml" => false,
        "yaml" | "yml" | "json" => true,
        // Sniff: TOML tables start with `[`, YAML documents rarely do.
        _ => !text.trim_start().starts_with('['),
    };
    if yaml {
        yaml_serde::from_str::<Value>(text).map_err(|e| {
            Error::input(format!("{} is not valid YAML: {e}", path.display()))
                .with_hint("see docs/qem-apply.md for the manifest format")
        })
    } else {
        toml::from_str::<Value>(text).map_err(|e| {
            Error::input(format!(
                "{} is not valid TOML: {}",
                path.display(),
                e.to_string()
                    .replace('\n', " ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
            .with_hint("see docs/qem-apply.md for the manifest format")
        })
    }
    .map(|v| {
        if v.is_null() {
            Value::Object(Default::default())
        } else {
            v
        }
    })
}

/// Reject what QEM would refuse in the middle of an apply: empty names (also after
/// substitution), unknown run options, bad timeouts, missing definitions.
fn check(loaded: &Loaded, path: &Path) -> Result<()> {
    let m = &loaded.manifest;
    let bad = |msg: String| Error::input(format!("{}: {msg}", path.display()));
    let empty = |what: &str| {
        bad(format!("{what} is empty")).with_hint(
            "give every server, task and endpoint a name (a variable may have expanded to nothing)",
        )
    };
    let mut names = std::collections::HashSet::new();
    for s in &m.servers {
        if s.name.trim().is_empty() {
            return Err(empty("the `name` of a server"));
        }
        if !names.insert(s.name.to_lowercase()) {
            return Err(bad(format!("server `{}` is listed twice", s.name)));
        }
        if let Some(acl) = &s.acl {
            let roles = [&acl.admin, &acl.designer, &acl.operator, &acl.viewer];
            let principals = roles
                .into_iter()
                .flatten()
                .flat_map(|r| r.users.iter().chain(&r.groups));
            for principal in principals {
                if principal.trim().is_empty() {
                    return Err(empty(&format!(
                        "a user or group in the ACL of server `{}`",
                        s.name
                    )));
                }
            }
        }
    }
    for e in &m.endpoints {
        if e.server.trim().is_empty() {
            return Err(empty(&format!("the `server` of endpoint `{}`", e.name)));
        }
        if e.name.trim().is_empty() {
            return Err(empty(&format!(
                "the `name` of an endpoint on `{}`",
                e.server
            )));
        }
    }
    for t in &m.tasks {
        if t.server.trim().is_empty() {
            return Err(empty(&format!(
                "the `server` of task `{}`",
                t.name.as_deref().unwrap_or("?")
            )));
        }
        if t.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(empty(&format!("the `name` of a task on `{}`", t.server)));
        }
        loaded
            .vars
            .with_task(&t.vars)
            .check()
            .map_err(|e| e.context(path.display()))?;
        if t.state == Presence::Present && t.definition.is_none() && t.inline.is_none() {
            return Err(bad(format!(
                "task `{}` on `{}` needs `definition = \"FILE\"` or `inline`",
                t.name.as_deref().unwrap_or("?"),
                t.server
            )));
        }
        if t.definition.is_some() && t.inline.is_some() {
            return Err(bad(
                "a task has both `definition` and `inline`; keep one".into()
            ));
        }
        if t.state == Presence::Absent && t.name.is_none() && t.definition.is_none() {
            return Err(bad(format!(
                "an absent task on `{}` needs a `name`",
                t.server
            )));
        }
        if let Some(o) = &t.run_option {
            crate::qem::model::run_option(o).map_err(|e| bad(e.to_string()))?;
        }
        t.timeout().map_err(|e| bad(e.to_string()))?;
    }
    Ok(())
}

/// Substitute `${NAME}` (from `vars`) and `${env:NAME}` (environment) in every string of `v`,
/// keys included. `$${` stays a literal `${`.
pub fn substitute_value(v: &mut Value, vars: &Vars) -> Result<()> {
    match v {
        Value::String(s) if s.contains('$') => {
            *s = substitute(s, vars)?;
        }
        Value::Array(items) => {
            for item in items {
                substitute_value(item, vars)?;
            }
        }
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('$')) {
                let old = std::mem::take(map);
                for (k, mut val) in old {
                    substitute_value(&mut val, vars)?;
                    let key = if k.contains("${") {
                        substitute(&k, vars)?
                    } else {
                        k
                    };
                    map.insert(key, val);
                }
            } else {
                for val in map.values_mut() {
                    substitute_value(val, vars)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `text` with its variables expanded (see [`Vars`]); `$${` is a literal `${`.
pub fn substitute(text: &str, vars: &Vars) -> Result<String> {
    Expander::new(vars)
        .expand(text)
        .map_err(|e| e.into_error(text))
}

/// `--var K=V`.
pub fn parse_var(text: &str) -> std::result::Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not K=V"))?;
    let k = k.trim();
    if k.is_empty() || k.contains(['{', '}', '$']) {
        return Err(format!("`{k}` is not a variable name"));
    }
    Ok((k.to_string(), v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        let defined = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Vars::new(
            defined,
            BTreeMap::new(),
            Environment::from_pairs([("DB_PASSWORD", "s3cret"), ("EMPTY", "")]),
        )
    }

    #[test]
    fn substitution() {
        let v = vars(&[("ENV", "qa"), ("HOST", "db.qa")]);
        assert_eq!(substitute("orders_${ENV}", &v).unwrap(), "orders_qa");
        assert_eq!(
            substitute("${HOST}:1521/${ENV}", &v).unwrap(),
            "db.qa:1521/qa"
        );
        assert_eq!(substitute("cost $5 $${ENV}", &v).unwrap(), "cost $5 ${ENV}");
        assert!(substitute("${MISSING}", &v).is_err());
        assert!(substitute("${ENV", &v).is_err());
        assert_eq!(
            substitute("pw=${env:DB_PASSWORD}", &v).unwrap(),
            "pw=s3cret"
        );
        assert_eq!(substitute("[${env:EMPTY}]", &v).unwrap(), "[]");
        let err = substitute("${env:UNSET}", &v).unwrap_err();
        assert!(err.message().contains("UNSET is not set"), "{err}");
        let mut doc = json!({"a": ["${ENV}", {"k_${ENV}": "${HOST}"}], "n": 1});
        substitute_value(&mut doc, &v).unwrap();
        assert_eq!(doc, json!({"a": ["qa", {"k_qa": "db.qa"}], "n": 1}));
    }

    #[test]
    fn var_flags() {
        assert_eq!(parse_var("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(parse_var("nope").is_err());
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn toml_and_yaml_manifests_parse_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = write(
            dir.path(),
            "m.toml",
            r#"
[vars]
env = "qa"

[[servers]]
name = "rep-${env}"
host = "rep.${env}.example.com"
port = 3552
user = 'DOM\svc'
password = "pw"
[servers.acl.admin]
users = ['DOM\admin']

[[tasks]]
server = "rep-${env}"
name = "orders ${env}"
definition = "orders.json"
run = "started"
run_option = "reload-target"

[[endpoints]]
server = "rep-${env}"
name = "old"
state = "absent"
"#,
        );
        let yaml_path = write(
            dir.path(),
            "m.yaml",
            r#"
vars: {env: qa}
servers:
  - name: rep-${env}
    host: rep.${env}.example.com
    port: 3552
    user: 'DOM\svc'
    password: pw
    acl: {admin: {users: ['DOM\admin']}}
tasks:
  - server: rep-${env}
    name: orders ${env}
    definition: orders.json
    run: started
    run_option: reload-target
endpoints:
  - server: rep-${env}
    name: old
    state: absent
"#,
        );
        for p in [toml_path, yaml_path] {
            let l = load(
                &p,
                &[("env".into(), "prod".into())],
                &Environment::default(),
            )
            .unwrap();
            let m = &l.manifest;
            assert_eq!(m.servers[0].name, "rep-prod");
            assert_eq!(m.servers[0].host.as_deref(), Some("rep.prod.example.com"));
            assert_eq!(m.tasks[0].name.as_deref(), Some("orders prod"));
            assert_eq!(m.tasks[0].run, Some(RunState::Started));
            assert_eq!(m.endpoints[0].state, Presence::Absent);
            assert_eq!(
                m.servers[0]
                    .acl
                    .as_ref()
                    .unwrap()
                    .admin
                    .as_ref()
                    .unwrap()
                    .users,
                vec!["DOM\\admin".to_string()]
            );
        }
    }

    #[test]
    fn manifest_errors_are_input_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "bad.toml",
            "[[tasks]]\nserver = \"s\"\nname = \"t\"\n",
        );
        let none = Environment::default();
        let e = load(&p, &[], &none).unwrap_err();
        assert_eq!(e.class().exit_code(), 3);
        assert!(e.to_string().contains("definition"));
        let p = write(
            dir.path(),
            "typo.toml",
            "[[servers]]\nname = \"s\"\nhots = \"x\"\n",
        );
        let e = load(&p, &[], &none).unwrap_err();
        assert!(e.to_string().contains("hots"), "{e}");
        let p = write(dir.path(), "var.toml", "[[servers]]\nname = \"${nope}\"\n");
        assert!(
            load(&p, &[], &none)
                .unwrap_err()
                .to_string()
                .contains("--var nope")
        );
    }
}
