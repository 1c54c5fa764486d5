//! Test fixtures: an isolated environment for running `qtool`, and a running sandbox.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
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

    /// Run and return the output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run qtool")
    }

    /// Run, assert success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "qtool {args:?} failed ({:?})\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run with stdin, assert success, return stdout.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self
            .cmd()
            .args(args)
            .write_stdin(stdin)
            .output()
            .expect("run qtool");
        assert!(
            out.status.success(),
            "qtool {args:?} failed ({:?})\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run, assert the exit code, return stderr (which must be exactly one line).
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "qtool {args:?}: expected exit {code}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_one_error_line(&stderr);
        stderr
    }
}

/// Every failure prints one `error:` line (warnings may precede it), and never a panic.
pub fn assert_one_error_line(stderr: &str) {
    assert!(!stderr.contains("panicked"), "panic in stderr: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "expected one error line, got: {stderr}");
}

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
