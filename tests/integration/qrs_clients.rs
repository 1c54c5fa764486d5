//! Conformance with QRS clients qtool did not write: qsAPI 2.2.0 and qrs-api-client 2.7.0 from
//! PyPI (pinned, with their dependencies, installed on first use into `target/interop/`) run
//! every admin operation they offer against the sandbox, over the certificate port and over the
//! JWT virtual proxy (`tests/conformance/qrs_clients.py`). Cases where a client is wrong on any
//! server are skipped by the script, each with its reason.

use std::path::PathBuf;
use std::process::Command as StdCommand;
use std::sync::OnceLock;

use crate::support::{Sandbox, ensure_installed, interop_dir, python_imports_from, repo};

/// The two clients and everything they import, at exact versions (installed without resolving,
/// so nothing unpinned comes along). Neither client's `ntlm` extra: with `requests_ntlm`
/// importable, qsAPI switches to NTLM on its own.
const PACKAGES: &[&str] = &[
    "qsAPI==2.2.0",
    "qrs-api-client==2.7.0",
    "requests==2.34.2",
    "urllib3==2.8.0",
    "idna==3.20",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
];

/// The clients under target/interop/py-qrs-clients-<versions> (PYTHONPATH).
fn python_path() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dest = interop_dir().join(format!("py-qrs-clients-{}", PACKAGES.join("-")));
        ensure_installed(
            "qsAPI and qrs-api-client (pip)",
            &dest,
            |dir| python_imports_from(dir, "qsAPI") && python_imports_from(dir, "qrs_api_client"),
            |tmp| {
                StdCommand::new("python3")
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .args(["--no-deps", "--target"])
                    .arg(tmp)
                    .args(PACKAGES)
                    .output()
                    .expect("python3 with pip must be installed")
            },
        );
        dest
    })
}

#[test]
fn qsapi_and_qrs_api_client_run_every_admin_operation() {
    let path = python_path();
    let sb = Sandbox::start(&["--seed", "apps=4,tasks=3"]);
    let work = tempfile::tempdir().expect("work dir");
    let out = StdCommand::new("python3")
        .arg(repo().join("tests/conformance/qrs_clients.py"))
        .arg(sb.state_dir.join("sandbox.json"))
        .arg(work.path())
        .env("PYTHONPATH", path)
        // Set on some machines to the system bundle; requests would let it override the
        // sandbox CA the clients are given.
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "third-party QRS clients failed against the sandbox:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Both clients, both ways in, and a summary: the script did run its operations.
    for prefix in [
        "qsAPI cert",
        "qsAPI jwt",
        "qrs-api-client cert",
        "qrs-api-client jwt",
    ] {
        let n = stdout
            .lines()
            .filter(|l| l.starts_with(&format!("ok   {prefix} ")))
            .count();
        assert!(n >= 20, "only {n} operations of {prefix} ran:\n{stdout}");
    }
    assert!(stdout.contains(", 0 failing,"), "{stdout}");
}
