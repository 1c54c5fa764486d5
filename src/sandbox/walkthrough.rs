//! `qtool sandbox --walkthrough`: the seed tutorial end to end, for real, against a fresh sandbox.
//! Each step runs this same binary as a user would type it (shown as `$ qtool ...`), in a private
//! work and config directory, so the user's own contexts are never touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::output::{Paint, Printer};

/// A fresh sandbox child process, stopped (Ctrl-C semantics) on drop.
struct SandboxProcess {
    child: Child,
    doc: Value,
}

impl SandboxProcess {
    fn start(exe: &Path, state_dir: &Path) -> Result<SandboxProcess> {
        let discovery = state_dir.join("sandbox.json");
        let log_path = state_dir.with_extension("log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| Error::io(format!("creating {}", log_path.display()), e))?;
        let mut child = Command::new(exe)
            .args([
                "sandbox",
                "--listen",
                "127.0.0.1:0",
                "--seed",
                "apps=12,tasks=3",
                "--state-dir",
            ])
            .arg(state_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| Error::io("starting the sandbox", e))?;
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&discovery)
                && let Ok(doc) = serde_json::from_str::<Value>(&text)
            {
                return Ok(SandboxProcess { child, doc });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(Error::failed(format!(
                    "the sandbox exited early ({status}): {}",
                    log.trim()
                )));
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                return Err(Error::failed("the sandbox did not start within 60 s"));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn get(&self, pointer: &str) -> Result<String> {
        match self.doc.pointer(pointer) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Ok(other.to_string()),
            None => Err(Error::server(format!(
                "the sandbox discovery document lacks {pointer}"
            ))),
        }
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let _ = Command::new("kill")
                .args(["-INT", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs numbered steps, echoing each command and its output.
struct Steps<'a> {
    exe: PathBuf,
    work: PathBuf,
    config: PathBuf,
    printer: &'a Printer,
    number: usize,
}

impl Steps<'_> {
    fn section(&self, title: &str) -> Result<()> {
        self.printer.line("")?;
        self.printer
            .line(&self.printer.paint(&format!("## {title}"), Paint::Bold))
    }

    /// Run `qtool --context qem qem task <args>` and return its stdout.
    fn qem_task(&mut self, what: &str, args: &[&str]) -> Result<String> {
        let full: Vec<&str> = ["--context", "qem", "qem", "task"]
            .iter()
            .chain(args)
            .copied()
            .collect();
        self.run(what, &full, None)
    }

    /// Run `qtool <args>` (stdin from `stdin_file` when given) and return its stdout.
    fn run(&mut self, what: &str, args: &[&str], stdin_file: Option<&Path>) -> Result<String> {
        self.number += 1;
        let shown: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        let redirect = stdin_file
            .map(|f| format!(" < {}", f.display()))
            .unwrap_or_default();
        self.printer.line(&format!("{}. {what}", self.number))?;
        self.printer.line(&self.printer.paint(
            &format!("$ qtool {}{redirect}", shown.join(" ")),
            Paint::Green,
        ))?;
        let mut cmd = Command::new(&self.exe);
        cmd.args(args)
            .current_dir(&self.work)
            .env("QTOOL_CONFIG_DIR", &self.config)
            .env_remove("QTOOL_CONTEXT")
            .env_remove("QTOOL_SERVER")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match stdin_file {
            Some(f) => {
                let file = std::fs::File::open(f)
                    .map_err(|e| Error::io(format!("opening {}", f.display()), e))?;
                cmd.stdin(file);
            }
            None => {
                cmd.stdin(Stdio::null());
            }
        }
        let out = cmd.output().map_err(|e| Error::io("running qtool", e))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let shown_out = indent(&truncate_lines(&stdout, 14));
        if !shown_out.trim().is_empty() {
            self.printer.line(&shown_out)?;
        }
        let shown_err = indent(&stderr);
        if !shown_err.trim().is_empty() {
            self.printer
                .line(&self.printer.paint(&shown_err, Paint::Dim))?;
        }
        if !out.status.success() {
            return Err(Error::failed(format!(
                "walkthrough step {} failed (exit {}): qtool {}",
                self.number,
                out.status.code().unwrap_or(-1),
                shown.join(" ")
            )));
        }
        Ok(stdout)
    }
}

pub(super) fn run(printer: &Printer) -> Result<()> {
    let exe = std::env::current_exe().map_err(|e| Error::io("locating the qtool binary", e))?;
    let root = std::env::temp_dir().join(format!("qtool-walkthrough-{}", std::process::id()));
    std::fs::create_dir_all(&root)
        .map_err(|e| Error::io(format!("creating {}", root.display()), e))?;
    let result = run_in(&exe, &root, printer);
    let _ = std::fs::remove_dir_all(&root);
    result
}

fn run_in(exe: &Path, root: &Path, printer: &Printer) -> Result<()> {
    let work = root.join("work");
    let config = root.join("config");
    for d in [&work, &config] {
        crate::storage::ensure_private_dir(d)?;
    }
    printer.line(&printer.paint("qtool walkthrough: the QSEoW JWT tutorial and a QEM task round trip, against a fresh sandbox", Paint::Bold))?;
    let started = Instant::now();
    let sandbox = SandboxProcess::start(exe, &root.join("state"))?;
    let ca = sandbox.get("/ca_cert")?;
    let proxy = sandbox.get("/qseow/proxy_url")?;
    let cert_url = sandbox.get("/qseow/cert_url")?;
    let client_cert = sandbox.get("/qseow/client_cert/cert")?;
    let client_key = sandbox.get("/qseow/client_cert/key")?;
    let qem_url = sandbox.get("/qem/url")?;
    let qem_user = sandbox.get("/qem/user")?;
    let qem_password_file = PathBuf::from(sandbox.get("/qem/password_file")?);
    let windows_user = sandbox.get("/qseow/windows_auth/users/1/user")?;
    let windows_password_file =
        PathBuf::from(sandbox.get("/qseow/windows_auth/users/1/password_file")?);
    printer.line(&format!(
        "Sandbox up: proxy {proxy}, certificate port {cert_url}, QEM {qem_url}"
    ))?;

    let mut steps = Steps {
        exe: exe.to_path_buf(),
        work: work.clone(),
        config,
        printer,
        number: 0,
    };

    steps.section("QSEoW: a JWT virtual proxy without openssl, the QMC or Node")?;
    steps.run(
        "Key pair and the certificate the virtual proxy needs (replaces two openssl commands)",
        &[
            "jwt",
            "keygen",
            "--bits",
            "4096",
            "--out",
            "privatekey.pem",
            "--cert",
            "publickey.cer",
        ],
        None,
    )?;
    steps.run(
        "An admin context on the certificate port (like the QMC's exported client.pem)",
        &[
            "context",
            "create",
            "admin",
            "--server",
            &cert_url,
            "--server-type",
            "windows",
            "--ca-cert",
            &ca,
            "--client-cert",
            &client_cert,
            "--client-key",
            &client_key,
            "--user",
            "INTERNAL\\sa_api",
        ],
        None,
    )?;
    let proxy_json = steps.run(
        "The virtual proxy settings the QMC asks for, as a QRS body",
        &[
            "jwt",
            "proxy-config",
            "--cert",
            "publickey.cer",
            "--audience",
            "112adams",
            "--prefix",
            "tutorial",
            "--json",
        ],
        None,
    )?;
    std::fs::write(work.join("proxy.json"), proxy_json)
        .map_err(|e| Error::io("writing proxy.json", e))?;
    steps.run(
        "Create the JWT virtual proxy through QRS (replaces the QMC clicks)",
        &[
            "--context",
            "admin",
            "qrs",
            "virtualproxyconfig",
            "create",
            "-f",
            "proxy.json",
            "-q",
        ],
        None,
    )?;
    let token = steps.run(
        "Sign the tutorial's token (replaces token.js)",
        &[
            "jwt",
            "sign",
            "--key",
            "privatekey.pem",
            "--userid",
            "harry",
            "--userdirectory",
            "qsefw",
            "--name",
            "Hardcore Harry",
            "--email",
            "harry@example.com",
            "--group",
            "Adminstrators",
            "--group",
            "Sales",
            "--group",
            "Marketing",
            "--audience",
            "112adams",
            "--expires-in",
            "1h",
        ],
        None,
    )?;
    std::fs::write(work.join("token.jwt"), token.trim())
        .map_err(|e| Error::io("writing token.jwt", e))?;
    let tutorial_url = format!("{proxy}/tutorial");
    steps.run(
        "The tutorial's context (token from stdin, CA instead of --insecure)",
        &[
            "context",
            "create",
            "QSEoW",
            "--server",
            &tutorial_url,
            "--server-type",
            "windows",
            "--ca-cert",
            &ca,
            "--api-key-stdin",
        ],
        Some(&work.join("token.jwt")),
    )?;
    steps.run("Use it", &["context", "use", "QSEoW"], None)?;
    steps.run(
        "List the apps (the tutorial's `qlik qrs app ls`)",
        &["qrs", "app", "ls"],
        None,
    )?;
    steps.run("Reload tasks", &["qrs", "reloadtask", "ls"], None)?;
    let ids = steps.run(
        "The same, ids only (for scripts)",
        &["qrs", "reloadtask", "ls", "-q"],
        None,
    )?;
    let task_id = ids
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .ok_or_else(|| Error::server("the sandbox has no reload task to start"))?;
    steps.run(
        "Start a reload task and wait for its result",
        &["qrs", "task", "start", &task_id, "--wait"],
        None,
    )?;
    let app_ids = steps.run("App ids", &["qrs", "app", "ls", "-q"], None)?;
    let app_id = app_ids
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .ok_or_else(|| Error::server("the sandbox has no app"))?;
    steps.run(
        "The app's load script, through the engine behind the same virtual proxy (qlik-cli's `qlik app script get`)",
        &["app", "script", "get", &app_id],
        None,
    )?;
    steps.run(
        "Reload it through the engine, the log streamed (not saved)",
        &["app", "reload", &app_id, "--no-save"],
        None,
    )?;

    steps.section("QSEoW: Windows authentication (NTLM) on the default virtual proxy")?;
    steps.run(
        "A service account's context (password from stdin; NTLM through the proxy's authentication module)",
        &[
            "context",
            "create",
            "windows",
            "--server",
            &proxy,
            "--server-type",
            "windows",
            "--ca-cert",
            &ca,
            "--auth",
            "ntlm",
            "--user",
            &windows_user,
            "--password-stdin",
        ],
        Some(&windows_password_file),
    )?;
    steps.run(
        "One NTLM handshake, then the proxy's session cookie (cached, 0600)",
        &["--context", "windows", "-v", "qrs", "app", "ls"],
        None,
    )?;
    steps.run(
        "The next run reuses the cookie: no handshake",
        &["--context", "windows", "-v", "qrs", "stream", "ls"],
        None,
    )?;

    steps.section("QEM: log in, import a Replicate task, run it, stop it, export it")?;
    steps.run(
        "A QEM context (password from stdin, never argv)",
        &[
            "context",
            "create",
            "qem",
            "--server",
            &qem_url,
            "--server-type",
            "qem",
            "--ca-cert",
            &ca,
            "--user",
            &qem_user,
            "--password-stdin",
        ],
        Some(&qem_password_file),
    )?;
    steps.run(
        "Log in (the session id is cached, 0600)",
        &["--context", "qem", "qem", "login"],
        None,
    )?;
    let listed = steps.qem_task("Tasks on every server", &["ls", "--json"])?;
    let (server, task) = first_qem_task(&listed)?;
    steps.qem_task(
        "Export a task definition with its endpoints (the versioning step)",
        &[
            "export",
            &server,
            &task,
            "--with-endpoints",
            "--out",
            "task.json",
        ],
    )?;
    steps.qem_task(
        "Import it as a new task",
        &["import", &server, "task.json", "--name", "Walkthrough Task"],
    )?;
    steps.qem_task(
        "Start it and wait until it runs",
        &["start", &server, "Walkthrough Task", "--timeout", "30s"],
    )?;
    steps.qem_task("Stop it", &["stop", &server, "Walkthrough Task"])?;
    steps.qem_task(
        "Export it again",
        &[
            "export",
            &server,
            "Walkthrough Task",
            "--out",
            "walkthrough-task.json",
        ],
    )?;
    steps.run("Log out", &["--context", "qem", "qem", "logout"], None)?;

    drop(sandbox);
    printer.line("")?;
    printer.line(&printer.paint(
        &format!(
            "Walkthrough complete: {} steps in {:.1} s.",
            steps.number,
            started.elapsed().as_secs_f64()
        ),
        Paint::Bold,
    ))?;
    Ok(())
}

/// The first (server, task) pair of `qem task ls --json` output.
fn first_qem_task(listed: &str) -> Result<(String, String)> {
    let value: Value = serde_json::from_str(listed)
        .map_err(|e| Error::server(format!("unexpected `qem task ls` output: {e}")))?;
    let first = value
        .get(0)
        .ok_or_else(|| Error::server("the sandbox QEM has no task"))?;
    let server = first.get("server").and_then(Value::as_str);
    let name = first.get("name").and_then(Value::as_str);
    match (server, name) {
        (Some(s), Some(n)) => Ok((s.to_string(), n.to_string())),
        _ => Err(Error::server("`qem task ls --json` items lack server/name")),
    }
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Indent output under its command; very long lines (certificates) are cut at 150 characters.
fn indent(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| {
            if l.chars().count() > 150 {
                format!("    {}…", l.chars().take(150).collect::<String>())
            } else {
                format!("    {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn truncate_lines(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= max {
        return text.to_string();
    }
    let mut out = lines[..max].join("\n");
    out.push_str(&format!("\n... ({} more lines)", lines.len() - max));
    out
}
