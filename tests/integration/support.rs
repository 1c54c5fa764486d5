//! Test fixtures: an isolated environment for running `qtool`, and a running sandbox.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::{Value, json};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_qtool");

/// A private world for one test: config dir, HOME and cache live in a temp dir, and no QTOOL_*
/// variable of the developer's shell leaks in. Tests never touch the real $HOME.
pub struct TestEnv {
    pub dir: TempDir,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `qtool` with the isolated environment applied.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// The same environment for a std Command (spawning in parallel, killing mid-run).
    pub fn std_cmd(&self) -> StdCommand {
        let mut cmd = StdCommand::new(BIN);
        self.apply(&mut cmd);
        cmd
    }

    fn apply(&self, cmd: &mut StdCommand) {
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("QTOOL_")
                || key_text.starts_with("QLIK_")
                || key_text == "RUST_LOG"
            {
                cmd.env_remove(&key);
            }
        }
        cmd.env("QTOOL_CONFIG_DIR", self.config_dir())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_CACHE_HOME", self.home().join(".cache"))
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path());
    }

    /// `qtool` started by `sh -c SCRIPT` with the isolated environment: the script runs with
    /// qtool's path as `$0` and the arguments added to the command as `"$@"`, and ends with
    /// `exec "$0" "$@"` (shell limits such as `ulimit -f` apply to qtool then).
    pub fn sh_cmd(&self, script: &str) -> StdCommand {
        let mut cmd = StdCommand::new("sh");
        cmd.arg("-c").arg(script).arg(BIN);
        self.apply(&mut cmd);
        cmd
    }

    /// Run and return the output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run qtool")
    }

    /// Run with `stdin`, and return the output whatever the exit status.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.cmd()
            .args(args)
            .write_stdin(stdin)
            .output()
            .expect("run qtool")
    }

    /// Run with extra environment variables, and return the output whatever the exit status.
    pub fn run_with_env<V: AsRef<OsStr>>(&self, args: &[&str], vars: &[(&str, V)]) -> Output {
        let mut cmd = self.cmd();
        cmd.args(args);
        for (key, value) in vars {
            cmd.env(key, value);
        }
        cmd.output().expect("run qtool")
    }

    /// Run, assert success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        assert_success(args, &self.run(args))
    }

    /// Run with stdin, assert success, return stdout.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        assert_success(args, &self.run_stdin(args, stdin))
    }

    /// Run, assert the exit code, return stderr (which must be exactly one line).
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let stderr = assert_exit(&self.run(args), code, &format!("qtool {args:?}"));
        assert_one_error_line(&stderr);
        stderr
    }
}

/// `qtool args` exited 0 (else fail showing its exit code, stdout and stderr); its stdout.
fn assert_success(args: &[&str], out: &Output) -> String {
    assert_ran(&format!("qtool {args:?}"), out)
}

/// The run (`what`) exited 0 (else fail showing its exit code, stdout and stderr); its stdout.
pub fn assert_ran(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The run (`what`) exited with `code` (else fail showing stdout and stderr); its stderr.
pub fn assert_exit(out: &Output, code: i32, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit {code}\nstdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Every failure prints one `error:` line (warnings may precede it), and never a panic.
pub fn assert_one_error_line(stderr: &str) {
    assert!(!stderr.contains("panicked"), "panic in stderr: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "expected one error line, got: {stderr}");
}

/// How a context signs in to the sandbox (see `Sandbox::context_create_args`).
#[derive(Clone, Copy, Debug)]
pub enum Login {
    /// QSEoW JWT virtual proxy with the sandbox's fixed admin token, from stdin.
    QseowToken,
    /// QSEoW JWT virtual proxy with tokens signed per run by the sandbox's key.
    QseowJwt,
    /// QSEoW certificate port with the sandbox's client certificate.
    QseowCert,
    /// QSEoW forms proxy as the sandbox's forms user (log in with `context login`).
    QseowForms,
    /// QSEoW default virtual proxy with Windows authentication (NTLM) as the sandbox's service
    /// account, the password from stdin.
    QseowNtlm,
    /// QEM with the AD user, the password from stdin.
    QemPassword,
    /// QEM with the API token, from stdin.
    QemApiToken,
    /// QEM with JWTs signed by the sandbox's QEM key.
    QemJwt,
}

/// The QSEoW contexts a test environment can hold, one per auth method.
pub const QSEOW_CONTEXTS: [(&str, Login); 5] = [
    ("bearer", Login::QseowToken),
    ("jwt", Login::QseowJwt),
    ("cert", Login::QseowCert),
    ("cookie", Login::QseowForms),
    ("ntlm", Login::QseowNtlm),
];

/// A running `qtool sandbox`, stopped on drop. Its discovery document is in `doc`.
pub struct Sandbox {
    child: Option<Child>,
    pub state_dir: PathBuf,
    pub doc: Value,
    _dir: Option<TempDir>,
}

impl Sandbox {
    /// Start a fresh sandbox on random loopback ports with `extra` arguments.
    pub fn start(extra: &[&str]) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let state_dir = dir.path().join("state");
        let mut sandbox = Sandbox::start_in(&state_dir, extra);
        sandbox._dir = Some(dir);
        sandbox
    }

    /// Start (or restart) a sandbox on an existing state dir.
    pub fn start_in(state_dir: &Path, extra: &[&str]) -> Sandbox {
        let discovery = state_dir.join("sandbox.json");
        let _ = std::fs::remove_file(&discovery);
        std::fs::create_dir_all(state_dir).expect("state dir");
        let log = std::fs::File::create(state_dir.with_extension("log")).expect("log file");
        let mut cmd = StdCommand::new(BIN);
        cmd.args(["sandbox", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(state_dir)
            .args(extra)
            .env("QTOOL_CONFIG_DIR", state_dir.join("unused-config"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let mut child = cmd.spawn().expect("spawn sandbox");
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&discovery)
                && let Ok(doc) = serde_json::from_str::<Value>(&text)
            {
                return Sandbox {
                    child: Some(child),
                    state_dir: state_dir.to_path_buf(),
                    doc,
                    _dir: None,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log =
                    std::fs::read_to_string(state_dir.with_extension("log")).unwrap_or_default();
                panic!("sandbox exited early ({status}): {log}");
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("sandbox did not start within 60 s");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// A string field of the discovery document by JSON pointer (`/qseow/jwt_url`).
    pub fn get(&self, pointer: &str) -> String {
        match self.doc.pointer(pointer) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => panic!("discovery document has no {pointer}: {}", self.doc),
        }
    }

    /// The arguments of `qtool [flags] context create NAME ...` that sign in to this sandbox
    /// the `login` way.
    pub fn context_create_args(&self, flags: &[&str], name: &str, login: Login) -> Vec<String> {
        let (server, server_type, auth): (&str, &str, Vec<String>) = match login {
            Login::QseowToken => ("/qseow/jwt_url", "windows", vec!["--api-key-stdin".into()]),
            Login::QseowJwt => (
                "/qseow/jwt_url",
                "windows",
                vec![
                    "--jwt-key".into(),
                    self.get("/qseow/jwt/private_key"),
                    "--jwt-userid".into(),
                    self.get("/qseow/jwt/userid"),
                    "--jwt-userdirectory".into(),
                    self.get("/qseow/jwt/userdirectory"),
                    "--jwt-audience".into(),
                    self.get("/qseow/jwt/audience"),
                ],
            ),
            Login::QseowCert => (
                "/qseow/cert_url",
                "windows",
                vec![
                    "--client-cert".into(),
                    self.get("/qseow/client_cert/cert"),
                    "--client-key".into(),
                    self.get("/qseow/client_cert/key"),
                    "--user".into(),
                    self.get("/qseow/client_cert/user"),
                ],
            ),
            Login::QseowForms => (
                "/qseow/forms_url",
                "windows",
                vec!["--user".into(), self.get("/qseow/forms/user")],
            ),
            Login::QseowNtlm => (
                "/qseow/proxy_url",
                "windows",
                vec![
                    "--auth".into(),
                    "ntlm".into(),
                    "--user".into(),
                    self.get("/qseow/windows_auth/users/1/user"),
                    "--password-stdin".into(),
                ],
            ),
            Login::QemPassword => (
                "/qem/url",
                "qem",
                vec![
                    "--user".into(),
                    self.get("/qem/user"),
                    "--password-stdin".into(),
                ],
            ),
            Login::QemApiToken => (
                "/qem/url",
                "qem",
                vec![
                    "--auth".into(),
                    "api-token".into(),
                    "--api-key-stdin".into(),
                ],
            ),
            Login::QemJwt => (
                "/qem/url",
                "qem",
                vec![
                    "--jwt-key".into(),
                    self.get("/qem/jwt/private_key"),
                    "--jwt-userid".into(),
                    "qemadmin".into(),
                    "--jwt-userdirectory".into(),
                    "SANDBOX".into(),
                ],
            ),
        };
        let mut args: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        args.extend(["context", "create", name, "--server"].map(String::from));
        args.push(self.get(server));
        args.extend(["--server-type".into(), server_type.into()]);
        args.extend(["--ca-cert".into(), self.get("/ca_cert")]);
        args.extend(auth);
        args
    }

    /// What `context create` reads on stdin for `login`: the sandbox's token, password or API
    /// token file as it is (trailing newline included), or nothing.
    pub fn context_secret(&self, login: Login) -> Option<String> {
        let file = match login {
            Login::QseowToken => "/qseow/jwt/token_file",
            Login::QemPassword => "/qem/password_file",
            Login::QemApiToken => "/qem/api_token_file",
            Login::QseowNtlm => "/qseow/windows_auth/users/1/password_file",
            Login::QseowJwt | Login::QseowCert | Login::QseowForms | Login::QemJwt => {
                return None;
            }
        };
        Some(std::fs::read_to_string(self.get(file)).expect("the sandbox's secret file"))
    }

    /// `qtool context create NAME` in `env`, signing in the `login` way.
    pub fn create_context(&self, env: &TestEnv, name: &str, login: Login) {
        self.create_context_with_flags(env, &[], name, login);
    }

    /// `qtool FLAGS context create NAME` in `env`, signing in the `login` way.
    pub fn create_context_with_flags(
        &self,
        env: &TestEnv,
        flags: &[&str],
        name: &str,
        login: Login,
    ) {
        let args = self.context_create_args(flags, name, login);
        let args = as_strs(&args);
        match self.context_secret(login) {
            Some(secret) => env.ok_stdin(&args, &secret),
            None => env.ok(&args),
        };
    }

    /// A new environment whose current context `bearer` uses the sandbox's QSEoW admin token on
    /// the JWT virtual proxy.
    pub fn qrs_env(&self) -> TestEnv {
        let env = TestEnv::new();
        self.create_context(&env, "bearer", Login::QseowToken);
        env.ok(&["context", "use", "bearer"]);
        env
    }

    /// A new environment whose current context `qem` logs in to the sandbox's QEM with the AD
    /// user and password.
    pub fn qem_env(&self) -> TestEnv {
        let env = TestEnv::new();
        self.create_context(&env, "qem", Login::QemPassword);
        env.ok(&["context", "use", "qem"]);
        env
    }

    /// A counter of `stats.json` (by JSON pointer, `/windows/logins`) once it equals `expected`
    /// (the sandbox writes the file within half a second of a change); the last value seen
    /// after 10 s otherwise.
    pub fn stat_reaching(&self, pointer: &str, expected: u64) -> u64 {
        let started = Instant::now();
        loop {
            let value = std::fs::read_to_string(self.state_dir.join("stats.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v.pointer(pointer).and_then(Value::as_u64))
                .unwrap_or(0);
            if value == expected || started.elapsed() > Duration::from_secs(10) {
                return value;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The sandbox's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// `kill -9` and wait: no final snapshot, no cleanup.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("kill -9");
        let _ = child.wait();
    }

    /// Stop with Ctrl-C (SIGINT) and wait, as a user would.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = StdCommand::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                return child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Parse stdout as JSON.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Borrow owned arguments as the `&[&str]` that `TestEnv` runs.
pub fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

// ---- QEM task definitions and `qem apply` manifests ------------------------------------------

/// A Replicate task definition in the export format (sparse settings, two endpoints).
pub fn definition(task: &str, source: &str, target: &str, schema: &str) -> Value {
    json!({
        "name": format!("{task}__2026-01-01--10-00-00-000000"),
        "cmd.replication_definition": {
            "tasks": [{
                "task": {"name": task, "source_name": source, "target_names": [target]},
                "source": {
                    "rep_source": {"source_name": source, "database_name": source},
                    "source_tables": {"name": source, "explicit_included_tables": [
                        {"owner": "SALES", "name": "ORDERS", "validation_sampling_percentage": 0}
                    ]}
                },
                "targets": [{"rep_target": {"target_name": target, "target_state": "DISABLED", "database_name": target}}],
                "task_settings": {
                    "source_settings": {},
                    "target_settings": {"default_schema": schema, "queue_settings": {"message_shape": {}, "key_shape": {}}},
                    "common_settings": {"save_changes_enabled": true}
                }
            }],
            "databases": [
                {"name": source, "role": "SOURCE", "is_licensed": true, "type_id": "ORACLE_COMPONENT_TYPE",
                 "db_settings": {"$type": "OracleSettings", "username": "repl", "password": "${DB_PASSWORD}", "server": "//db:1521/ORCL"},
                 "override_properties": {}},
                {"name": target, "role": "TARGET", "is_licensed": true, "type_id": "NULL_TARGET_COMPONENT_TYPE",
                 "db_settings": {"$type": "NulltargetSettings"}, "override_properties": {}}
            ]
        },
        "_version": {"version": "2023.11.0.159", "version_major": 2023, "version_minor": 11, "version_revision": 159},
        "description": "Host name: dev, Time: 2026-01-01 10:00:00"
    })
}

/// Write `text` to `dir/name`; the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// Write `count` definitions `t{i}.json` into `dir`: task `{prefix} {i}` from endpoint
/// `{source}{i}` to `{target}{i}`, schema `dbo`. The (task, file) pairs, for `manifest`.
pub fn write_definitions(
    dir: &Path,
    count: usize,
    prefix: &str,
    source: &str,
    target: &str,
) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let name = format!("{prefix} {i}");
            let file = format!("t{i}.json");
            let def = definition(
                &name,
                &format!("{source}{i}"),
                &format!("{target}{i}"),
                "dbo",
            );
            write(dir, &file, &def.to_string());
            (name, file)
        })
        .collect()
}

/// A manifest `qem.toml` for the (task, definition file) pairs on one registered server; task 0
/// is started.
pub fn manifest<N: AsRef<str>, F: AsRef<str>>(
    dir: &Path,
    server: &str,
    tasks: &[(N, F)],
    extra: &str,
) -> PathBuf {
    let mut text = format!(
        "[vars]\nenv = \"qa\"\nDB_PASSWORD = \"secret\"\n\n[[servers]]\nname = \"{server}\"\nhost = \"rep.${{env}}.example.com\"\nport = 3552\nuser = 'REP\\admin'\npassword = \"rep-pass\"\n\n[servers.acl.admin]\nusers = ['D\\alice']\n\n"
    );
    for (i, (name, file)) in tasks.iter().enumerate() {
        let (name, file) = (name.as_ref(), file.as_ref());
        text.push_str(&format!(
            "[[tasks]]\nserver = \"{server}\"\nname = \"{name}\"\ndefinition = \"{file}\"\n{}\n",
            if i == 0 { "run = \"started\"\n" } else { "" }
        ));
    }
    text.push_str(extra);
    write(dir, "qem.toml", &text)
}

/// `manifest` without its `run = "started"`: no task is started (starting one is not repeatable
/// after a dropped connection).
pub fn manifest_without_start<N: AsRef<str>, F: AsRef<str>>(
    dir: &Path,
    server: &str,
    tasks: &[(N, F)],
) -> PathBuf {
    let m = manifest(dir, server, tasks, "");
    let text = std::fs::read_to_string(&m).expect("manifest");
    std::fs::write(&m, text.replace("run = \"started\"\n", "")).expect("manifest");
    m
}

/// `qtool qem apply -f MANIFEST --json EXTRA...`, which must succeed; its summary.
pub fn apply(env: &TestEnv, manifest: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "qem",
        "apply",
        "-f",
        manifest.to_str().expect("utf-8 path"),
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&env.ok(&args))
}

/// The name of the first server `qem server ls` lists (the sandbox seeds one).
pub fn first_server(env: &TestEnv) -> String {
    let servers = json(&env.ok(&["qem", "server", "ls", "--json"]));
    servers[0]["name"]
        .as_str()
        .expect("the sandbox seeds a server")
        .to_string()
}

// ---- third-party tools installed at test time -------------------------------------------------

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where interop tests install pinned third-party packages (`target/interop/<name-versions>`).
pub fn interop_dir() -> PathBuf {
    repo().join("target").join("interop")
}

/// Install `what` into `dest` with `install(tmp)` unless `check(dest)` passes already.
pub fn ensure_installed(
    what: &str,
    dest: &Path,
    check: impl Fn(&Path) -> bool,
    install: impl Fn(&Path) -> std::process::Output,
) {
    if check(dest) {
        return;
    }
    let tmp = dest.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let out = install(&tmp);
    assert!(
        out.status.success(),
        "installing {what} into {} failed (the interop test needs network access to the package \
         registry):\n{}\n{}",
        tmp.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dest);
    std::fs::rename(&tmp, dest).unwrap();
    assert!(
        check(dest),
        "{what} installed but not importable from {}",
        dest.display()
    );
}

/// Node packages at exact versions under `target/interop/node-<packages>`, installed with npm on
/// first use; the folder for `NODE_PATH`. `probe` is JavaScript that must run with them.
pub fn node_packages(packages: &[&str], probe: &str) -> PathBuf {
    let dest = interop_dir().join(format!("node-{}", packages.join("-")));
    ensure_installed(
        &format!("{} (npm)", packages.join(", ")),
        &dest,
        |dir| {
            StdCommand::new("node")
                .args(["-e", probe])
                .env("NODE_PATH", dir.join("node_modules"))
                .output()
                .is_ok_and(|o| o.status.success())
        },
        |tmp| {
            StdCommand::new("npm")
                .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                .arg(tmp)
                .args(packages)
                .output()
                .expect("node and npm must be installed")
        },
    );
    dest.join("node_modules")
}

/// Whether `python3` with PYTHONPATH=`dir` imports `module` from `dir` (not from a copy the
/// machine happens to have).
pub fn python_imports_from(dir: &Path, module: &str) -> bool {
    StdCommand::new("python3")
        .args(["-c", &format!("import {module}; print({module}.__file__)")])
        .env("PYTHONPATH", dir)
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && Path::new(String::from_utf8_lossy(&o.stdout).trim()).starts_with(dir)
        })
}

/// Python `packages` (exact pins, their dependencies included) under target/interop/py-<pins>,
/// for PYTHONPATH; each of `modules` must then import from there.
pub fn pip_target(what: &str, packages: &[&str], modules: &[&str]) -> PathBuf {
    let dest = interop_dir().join(format!("py-{}", packages.join("-")));
    ensure_installed(
        what,
        &dest,
        |dir| modules.iter().all(|m| python_imports_from(dir, m)),
        |tmp| {
            StdCommand::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg("--target")
                .arg(tmp)
                .args(packages)
                .output()
                .expect("python3 with pip must be installed")
        },
    );
    dest
}

// ---- network -----------------------------------------------------------------------------------

/// A TCP forwarder listening on `ip` (another loopback address, such as 127.0.0.2) to `target`
/// (`host:port`); `https://<ip>:<port>`, or `None` when the address cannot be bound. The
/// sandbox's certificates name 127.0.0.1 and localhost, so going through it is a host-name
/// mismatch.
pub fn forwarder(target: &str, ip: &str) -> Option<String> {
    let listener = std::net::TcpListener::bind(format!("{ip}:0")).ok()?;
    let port = listener.local_addr().ok()?.port();
    let target = target.to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = std::net::TcpStream::connect(&target) else {
                continue;
            };
            for (mut from, mut to) in [
                (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                ),
                (server, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    Some(format!("https://{ip}:{port}"))
}

// ---- one-shot HTTP servers for answers the sandbox never gives ---------------------------------

/// Read an HTTP request's head (up to the blank line) from `stream`; `false` when the client
/// went away first.
pub fn read_request_head(stream: &mut std::net::TcpStream) -> bool {
    use std::io::Read;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// A plain-HTTP server on 127.0.0.1 that serves every connection with `serve` (on its own
/// thread, after the request head was read). Lives until the test process ends; its base URL.
pub fn http_server(serve: impl Fn(std::net::TcpStream) + Clone + Send + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let serve = serve.clone();
            std::thread::spawn(move || {
                if read_request_head(&mut stream) {
                    serve(stream);
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A plain-HTTP server that answers every request with `response` (a whole HTTP response).
pub fn canned_server(response: String) -> String {
    http_server(move |mut stream| {
        use std::io::Write;
        let _ = stream.write_all(response.as_bytes());
    })
}
