//! `qtool context ...`: the seed tutorial's commands, the store's guarantees (0600 secrets,
//! atomic writes under a lock, malformed files never overwritten), and qlik-cli import.

use std::process::Stdio;
use std::time::Duration;

use crate::support::{TestEnv, assert_exit, assert_one_error_line, json};

const SEED_JWT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyaWQiOiJoYXJyeSIsInVzZXJkaXJlY3RvcnkiOiJxc2VmdyIsIm5hbWUiOiJIYXJkY29yZSBIYXJyeSIsImVtYWlsIjoiaGFycnlAZXhhbXBsZS5jb20iLCJncm91cHMiOlsiQWRtaW5zdHJhdG9ycyIsIlNhbGVzIiwiTWFya2V0aW5nIl0sImlhdCI6MTYwMzgxOTYyOSwiZXhwIjoxNjM1MzU1NjI5LCJhdWQiOiIxMTJhZGFtcyJ9.gDWFqJ8fZbo9QpF52CnlhKCMsHal2AcobIVwhVCpnbLfpmc-Z_k4uUWGh2TxaSucjQ5-k5I9s9sNgIPskqaVQN2JanFXxIJKRFow9LbuSbImZs74RsQ6TqsoJTu7_5eKLv2VRAqoh6Tqabl5vma1JdhHbsTKGixt8yGZI7Q2QNjObQq8hAh6VveNWcUVkB60LEMOPiipij7VTKQ7IQg-rG4XA8xgYxbOb6i3Q6miY4kGSGujbsjtYLevEJQlEZtij2JMMDeH_nwH2MWhWhOBL1TpAAUKkCOxPFDjGacxGvkObAOFjL-Ztx0LdVwF2BXxVerQ1xKyl0YpLErS4d576Q";

/// `qtool context create NAME --server SERVER --comment COMMENT` for each name; each must succeed.
fn create_with_comment<N: AsRef<str>>(
    env: &TestEnv,
    names: impl IntoIterator<Item = N>,
    server: &str,
    comment: &str,
) {
    for name in names {
        env.ok(&[
            "context",
            "create",
            name.as_ref(),
            "--server",
            server,
            "--comment",
            comment,
        ]);
    }
}

#[test]
fn seed_tutorial_commands_work_verbatim() {
    let env = TestEnv::new();
    env.ok(&[
        "context",
        "create",
        "QSEoW",
        "--server",
        "https://192.168.254.243/jwt",
        "--server-type",
        "windows",
        "--api-key",
        SEED_JWT,
    ]);
    env.ok(&["context", "use", "QSEoW"]);
    let ls = env.ok(&["context", "ls"]);
    let line = ls.lines().find(|l| l.contains("QSEoW")).expect("listed");
    assert!(line.starts_with('*'), "current context marked: {ls}");
    assert!(
        line.contains("https://192.168.254.243/jwt") && line.contains("bearer"),
        "{ls}"
    );

    // `get` masks the token; the token only lives in the 0600 credentials file.
    let get = env.ok(&["context", "get"]);
    assert!(
        !get.contains(SEED_JWT) && !get.contains(&SEED_JWT[40..80]),
        "{get}"
    );
    assert!(get.contains("eyJh****"), "{get}");
    let contexts = std::fs::read_to_string(env.config_dir().join("contexts.toml")).unwrap();
    assert!(
        !contexts.contains(&SEED_JWT[40..80]),
        "no secret in contexts.toml"
    );
    let creds = std::fs::read_to_string(env.config_dir().join("credentials.toml")).unwrap();
    assert!(creds.contains(SEED_JWT));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.config_dir().join("credentials.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn qem_context_reads_password_from_stdin() {
    let env = TestEnv::new();
    env.ok_stdin(
        &[
            "context",
            "create",
            "prod-qem",
            "--server",
            "https://qem.example.com",
            "--server-type",
            "qem",
            "--user",
            "CONTOSO\\john",
            "--password-stdin",
        ],
        "s3cret-pass\n",
    );
    let get = json(&env.ok(&["context", "get", "prod-qem", "--json"]));
    assert_eq!(get["auth"], "password");
    assert_eq!(get["user"], "CONTOSO\\john");
    assert_eq!(get["password"], "****");
    let creds = std::fs::read_to_string(env.config_dir().join("credentials.toml")).unwrap();
    assert!(
        creds.contains("password = \"s3cret-pass\""),
        "newline stripped: {creds}"
    );

    // Personal access token and JWT variants.
    env.ok_stdin(
        &[
            "context",
            "create",
            "pat",
            "--server",
            "https://qem.example.com",
            "--server-type",
            "qem",
            "--api-key-stdin",
        ],
        "pat-token-123456\n",
    );
    assert_eq!(
        json(&env.ok(&["context", "get", "pat", "--json"]))["auth"],
        "api-token"
    );
    env.ok_stdin(
        &[
            "context",
            "create",
            "qjwt",
            "--server",
            "https://qem.example.com",
            "--server-type",
            "qem",
            "--auth",
            "bearer",
            "--api-key-stdin",
        ],
        "eyJ.a.b\n",
    );
    assert_eq!(
        json(&env.ok(&["context", "get", "qjwt", "--json"]))["auth"],
        "bearer"
    );
}

#[test]
fn password_from_environment() {
    let env = TestEnv::new();
    env.cmd()
        .args([
            "context",
            "create",
            "q",
            "--server",
            "https://qem",
            "--server-type",
            "qem",
            "--user",
            "D\\u",
        ])
        .env("QTOOL_PASSWORD", "from-env")
        .assert()
        .success();
    let creds = std::fs::read_to_string(env.config_dir().join("credentials.toml")).unwrap();
    assert!(creds.contains("from-env"));
}

#[test]
fn lifecycle_update_rename_rm_clear() {
    let env = TestEnv::new();
    env.ok(&[
        "context",
        "create",
        "a",
        "--server",
        "https://a.example.com/jwt",
        "--comment",
        "first",
        "--insecure",
        "--header",
        "X-Team=bi",
    ]);
    env.ok(&["context", "use", "a"]);
    env.ok(&[
        "context",
        "update",
        "a",
        "--comment",
        "changed",
        "--secure",
        "--server",
        "https://b.example.com/jwt",
    ]);
    let get = json(&env.ok(&["context", "get", "a", "-o", "json"]));
    assert_eq!(get["comment"], "changed");
    assert_eq!(get["server"], "https://b.example.com/jwt");
    assert!(get.get("insecure").is_none(), "{get}");
    assert_eq!(get["headers"]["X-Team"], "bi");

    env.ok(&["context", "rename", "a", "b"]);
    let ls = json(&env.ok(&["context", "ls", "--json"]));
    assert_eq!(ls[0]["name"], "b");
    assert_eq!(ls[0]["current"], true, "current follows the rename");
    assert_eq!(env.ok(&["context", "ls", "-q"]), "b\n");

    env.ok(&["context", "clear"]);
    assert_eq!(
        json(&env.ok(&["context", "ls", "--json"]))[0]["current"],
        false
    );
    env.ok(&["context", "use", "b"]);
    let out = env.cmd().args(["context", "rm", "b"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("Context: <NONE>"));
    assert_eq!(env.ok(&["context", "ls", "-q"]), "");
    assert!(
        !std::fs::read_to_string(env.config_dir().join("credentials.toml"))
            .unwrap_or_default()
            .contains("[b]")
    );
}

#[test]
fn errors_have_classes_and_one_line() {
    let env = TestEnv::new();
    env.ok(&["context", "create", "x", "--server", "https://x/jwt"]);
    let dup = env.fails(&["context", "create", "x", "--server", "https://x/jwt"], 7);
    assert!(dup.contains("already exists"), "{dup}");
    let missing = env.fails(&["context", "use", "nope"], 6);
    assert!(
        missing.contains("no context named `nope`") && missing.contains("known contexts: x"),
        "{missing}"
    );
    env.fails(
        &["context", "create", "bad name", "--server", "https://x"],
        2,
    );
    env.fails(&["context", "create", "y", "--server", "not a url"], 2);
    env.fails(&["context", "create", "y"], 2);
    env.fails(
        &[
            "context",
            "create",
            "y",
            "--server",
            "https://q",
            "--server-type",
            "qem",
            "--client-cert",
            "c.pem",
            "--client-key",
            "k.pem",
        ],
        2,
    );
    env.fails(
        &[
            "context",
            "create",
            "y",
            "--server",
            "https://q",
            "--jwt-key",
            "missing.pem",
            "--jwt-userid",
            "u",
            "--jwt-userdirectory",
            "d",
        ],
        6,
    );
    env.fails(
        &[
            "context",
            "create",
            "y",
            "--server",
            "https://q",
            "--jwt-key",
            "k.pem",
            "--jwt-expires-in",
            "soon",
        ],
        2,
    );
    // clap's own usage errors keep exit code 2.
    let out = env.run(&["context", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn jwt_recipe_is_stored_with_absolute_key_path() {
    let env = TestEnv::new();
    std::fs::write(env.path().join("key.pem"), "placeholder").unwrap();
    env.ok(&[
        "context",
        "create",
        "minted",
        "--server",
        "https://h/jwt",
        "--jwt-key",
        "key.pem",
        "--jwt-userid",
        "harry",
        "--jwt-userdirectory",
        "qsefw",
        "--jwt-audience",
        "112adams",
        "--jwt-group",
        "Sales",
        "--jwt-group",
        "Marketing",
        "--jwt-expires-in",
        "5m",
        "--jwt-claim",
        "level=3",
    ]);
    let get = json(&env.ok(&["context", "get", "minted", "--json"]));
    assert_eq!(get["auth"], "jwt-sign");
    let key = get["jwt"]["key"].as_str().unwrap();
    assert!(std::path::Path::new(key).is_absolute(), "{key}");
    assert_eq!(
        get["jwt"]["groups"],
        serde_json::json!(["Sales", "Marketing"])
    );
    assert_eq!(get["jwt"]["claims"]["level"], "3");
}

#[test]
fn malformed_file_is_reported_with_position_and_never_overwritten() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.config_dir()).unwrap();
    let broken = "current-context = \"a\"\n[contexts.a]\nserver = \n";
    let path = env.config_dir().join("contexts.toml");
    std::fs::write(&path, broken).unwrap();
    let err = env.fails(&["context", "ls"], 4);
    assert!(
        err.contains("contexts.toml") && err.contains("line 3, column"),
        "{err}"
    );
    env.fails(&["context", "create", "b", "--server", "https://b"], 4);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        broken,
        "the broken file is left alone"
    );

    std::fs::write(&path, "").unwrap();
    std::fs::write(
        env.config_dir().join("credentials.toml"),
        "[a]\napi-key = 5\n",
    )
    .unwrap();
    let err = env.fails(&["context", "create", "b", "--server", "https://b"], 4);
    assert!(
        err.contains("credentials.toml") && err.contains("line 2"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn loose_credentials_permissions_are_warned() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    env.ok_stdin(
        &[
            "context",
            "create",
            "a",
            "--server",
            "https://a/jwt",
            "--api-key-stdin",
        ],
        "tok-123456789",
    );
    let creds = env.config_dir().join("credentials.toml");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["context", "get", "a"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning:") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}

#[test]
fn fifty_concurrent_creates_leave_fifty_contexts() {
    let env = TestEnv::new();
    let children: Vec<_> = (0..50)
        .map(|i| {
            let mut cmd = env.std_cmd();
            cmd.args([
                "context",
                "create",
                &format!("ctx-{i:02}"),
                "--server",
                &format!("https://h{i}/jwt"),
                "--api-key-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("token-{i}-abcdefgh").as_bytes())
                .unwrap();
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ls = json(&env.ok(&["context", "ls", "--json"]));
    assert_eq!(ls.as_array().unwrap().len(), 50);
    let creds: toml::Table = toml::from_str(
        &std::fs::read_to_string(env.config_dir().join("credentials.toml")).unwrap(),
    )
    .unwrap();
    assert_eq!(creds.len(), 50);
}

#[test]
fn killed_writers_never_leave_a_corrupt_file() {
    let env = TestEnv::new();
    // A large store, so that each write is a long full rewrite of both files and the kills
    // land anywhere in it, between the two files too.
    std::fs::create_dir_all(env.config_dir()).unwrap();
    let base: String = (0..3000)
        .map(|i| {
            format!(
                "[contexts.base-{i}]\nserver = \"https://base/jwt\"\nserver-type = \"windows\"\nauth = \"none\"\ncomment = \"{}\"\n\n",
                "x".repeat(60)
            )
        })
        .collect();
    std::fs::write(env.config_dir().join("contexts.toml"), base).unwrap();
    let create = |name: &str| {
        env.std_cmd()
            .args([
                "context",
                "create",
                name,
                "--server",
                "https://k/jwt",
                "--api-key",
                "tok-abcdefghijk",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long one write takes here, to spread the kills over all of it.
    let started = std::time::Instant::now();
    assert!(create("timing").wait().unwrap().success());
    let whole = started.elapsed().as_micros() as u64;
    let mut killed = 0;
    for round in 0..40u64 {
        let mut child = create(&format!("k-{round}"));
        // 5% to 125% of a whole write, in a scattered order.
        let at = whole * (5 + (round * 37) % 120) / 100;
        std::thread::sleep(Duration::from_micros(at));
        if child.kill().is_ok() {
            killed += 1;
        }
        let _ = child.wait();
        // Whatever happened, both files parse, the base contexts are intact, and no secret
        // outlives its context.
        let ls = json(&env.ok(&["context", "ls", "--json"]));
        assert!(ls.as_array().unwrap().len() >= 3000);
        let creds =
            std::fs::read_to_string(env.config_dir().join("credentials.toml")).unwrap_or_default();
        let creds = toml::from_str::<toml::Table>(&creds).expect("credentials.toml parses");
        let contexts: std::collections::HashSet<&str> = ls
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        for name in creds.keys() {
            assert!(
                contexts.contains(name.as_str()),
                "round {round}: the secret of `{name}` outlives its context"
            );
        }
    }
    assert!(killed > 0);
    // The next write removes what killed runs left behind (temp files, some full copies of
    // the credentials).
    env.ok(&["context", "create", "after", "--server", "https://k/jwt"]);
    let names: Vec<String> = std::fs::read_dir(env.config_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"contexts.toml".to_string()), "{names:?}");
    let leftovers: Vec<&String> = names.iter().filter(|n| n.contains(".tmp-")).collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

/// A write that fails between the two files (a full disk, emulated with a file size limit that
/// the small `credentials.toml` fits under and the large `contexts.toml` does not) leaves both
/// files as they were.
#[test]
fn a_write_failing_between_the_two_files_leaves_both_as_they_were() {
    let env = TestEnv::new();
    create_with_comment(
        &env,
        (0..20).map(|i| format!("base-{i}")),
        "https://base/jwt",
        &"x".repeat(200),
    );
    env.ok(&[
        "context",
        "create",
        "k",
        "--server",
        "https://k/jwt",
        "--api-key",
        "old-token",
    ]);
    let contexts_path = env.config_dir().join("contexts.toml");
    let credentials_path = env.config_dir().join("credentials.toml");
    let contexts = std::fs::read(&contexts_path).unwrap();
    let credentials = std::fs::read(&credentials_path).unwrap();
    assert!(contexts.len() > 4096 && credentials.len() < 512);
    // `ulimit -f 2`: 1 KiB in dash's 512-byte blocks (2 KiB in bash's); SIGXFSZ ignored, so
    // the write fails with EFBIG as it would with ENOSPC.
    let change = [
        "context",
        "update",
        "k",
        "--api-key",
        "new-token",
        "--comment",
        "changed",
    ];
    let out = env
        .sh_cmd(r#"trap "" XFSZ; ulimit -f 2 && exec "$0" "$@""#)
        .args(change)
        .output()
        .unwrap();
    let stderr = crate::support::assert_exit(&out, 11, "file size limit");
    assert!(stderr.contains("contexts.toml"), "{stderr}");
    assert_eq!(
        std::fs::read(&credentials_path).unwrap(),
        credentials,
        "credentials changed"
    );
    assert_eq!(
        std::fs::read(&contexts_path).unwrap(),
        contexts,
        "contexts changed"
    );
    let leftovers: Vec<String> = std::fs::read_dir(env.config_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Without the limit the same change goes through.
    env.ok(&change);
}

/// Dotfile managers keep `contexts.toml` and `credentials.toml` as symlinks: writes go through
/// to the targets (atomically, in the targets' folder), the links stay links, secrets stay 0600.
#[cfg(unix)]
#[test]
fn symlinked_files_are_written_through_and_stay_links() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let dotfiles = env.path().join("dotfiles");
    std::fs::create_dir_all(&dotfiles).unwrap();
    std::fs::create_dir_all(env.config_dir()).unwrap();
    std::fs::write(dotfiles.join("contexts.toml"), "").unwrap();
    std::fs::write(dotfiles.join("credentials.toml"), "").unwrap();
    std::fs::set_permissions(
        dotfiles.join("credentials.toml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    for name in ["contexts.toml", "credentials.toml"] {
        std::os::unix::fs::symlink(format!("../dotfiles/{name}"), env.config_dir().join(name))
            .unwrap();
    }
    env.ok(&[
        "context",
        "create",
        "linked",
        "--server",
        "https://l/jwt",
        "--api-key",
        "tok-linked",
    ]);
    env.ok(&["context", "use", "linked"]);
    for name in ["contexts.toml", "credentials.toml"] {
        let meta = std::fs::symlink_metadata(env.config_dir().join(name)).unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "{name} was replaced by a regular file"
        );
    }
    let contexts = std::fs::read_to_string(dotfiles.join("contexts.toml")).unwrap();
    assert!(contexts.contains("[contexts.linked]") && contexts.contains("current-context"));
    let credentials = std::fs::read_to_string(dotfiles.join("credentials.toml")).unwrap();
    assert!(credentials.contains("tok-linked"));
    let mode = std::fs::metadata(dotfiles.join("credentials.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let stray: Vec<String> = std::fs::read_dir(env.config_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "contexts.toml" && n != "credentials.toml" && n != ".lock")
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    assert_eq!(
        json(&env.ok(&["context", "ls", "--json"]))[0]["name"],
        "linked"
    );
}

#[test]
fn imports_qlik_cli_contexts() {
    let env = TestEnv::new();
    let qlik_home = env.path().join("qlikhome");
    std::fs::create_dir_all(&qlik_home).unwrap();
    std::fs::write(
        qlik_home.join("contexts.yml"),
        format!(
            "current-context: QSEoW\ncontexts:\n  QSEoW:\n    server: https://192.168.254.243/jwt\n    server-type: windows\n    headers:\n      Authorization: Bearer {SEED_JWT}\n    insecure: true\n  cloud:\n    server: https://t.eu.qlikcloud.com\n    server-type: cloud\n    api-key: zzz\n"
        ),
    )
    .unwrap();
    let out = env.run_with_env(
        &["context", "import"],
        &[("QLIK_CLI_USER_HOME_DIR", &qlik_home)],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipped `cloud`"), "{stderr}");
    let ls = json(&env.ok(&["context", "ls", "--json"]));
    assert_eq!(ls.as_array().unwrap().len(), 1);
    assert_eq!(ls[0]["name"], "QSEoW");
    assert_eq!(ls[0]["current"], true);
    assert_eq!(ls[0]["auth"], "bearer");
    // A second import does not clobber without --overwrite.
    let out = env
        .cmd()
        .args(["context", "import", "--file"])
        .arg(qlik_home.join("contexts.yml"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("use --overwrite"));
    // A broken file is an input error naming the position.
    std::fs::write(qlik_home.join("contexts.yml"), "contexts: [oops").unwrap();
    let err = env.fails(
        &[
            "context",
            "import",
            "--file",
            qlik_home.join("contexts.yml").to_str().unwrap(),
        ],
        3,
    );
    assert!(err.contains("line"), "{err}");
}

#[test]
fn context_flag_and_env_select_the_context() {
    let env = TestEnv::new();
    env.ok(&["context", "create", "one", "--server", "https://one/jwt"]);
    env.ok(&["context", "create", "two", "--server", "https://two/jwt"]);
    env.ok(&["context", "use", "one"]);
    assert_eq!(json(&env.ok(&["context", "get", "--json"]))["name"], "one");
    let via_env = env.run_with_env(&["context", "get", "--json"], &[("QTOOL_CONTEXT", "two")]);
    assert_eq!(
        json(&String::from_utf8_lossy(&via_env.stdout))["name"],
        "two"
    );
    let flag_wins = env.run_with_env(
        &["context", "get", "--json", "--context", "one"],
        &[("QTOOL_CONTEXT", "two")],
    );
    assert_eq!(
        json(&String::from_utf8_lossy(&flag_wins.stdout))["name"],
        "one"
    );
}

#[test]
fn broken_pipe_exits_quietly() {
    let env = TestEnv::new();
    // c000 to c006, each with a long comment.
    create_with_comment(
        &env,
        (0..=6).map(|i| format!("c{i:03}")),
        "https://h/jwt",
        &"long ".repeat(30),
    );
    // Close stdout's reader immediately: no panic, exit 0.
    let mut child = env
        .std_cmd()
        .args(["context", "ls"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert!(
        out.status.success(),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn json_errors_are_machine_readable() {
    let env = TestEnv::new();
    let out = env.run(&["context", "use", "ghost", "--json"]);
    assert_eq!(out.status.code(), Some(6));
    let err = json(String::from_utf8_lossy(&out.stderr).trim());
    assert_eq!(err["error"]["class"], "not-found");
    assert_eq!(err["error"]["exit_code"], 6);
    assert!(err["error"]["message"].as_str().unwrap().contains("ghost"));
}

#[test]
fn yaml_output() {
    let env = TestEnv::new();
    create_with_comment(&env, ["y"], "https://y/jwt", "yaml me");
    let out = env.ok(&["context", "ls", "-o", "yaml"]);
    assert!(
        out.contains("- name: y") && out.contains("comment: yaml me"),
        "{out}"
    );
}

/// The environment is read in one place, with the same checks as the flags.
#[test]
fn malformed_environment_values_are_usage_errors_and_empty_ones_unset() {
    let env = TestEnv::new();
    let out = env.run_with_env(&["context", "ls"], &[("QTOOL_TIMEOUT", "soon")]);
    let stderr = assert_exit(&out, 2, "QTOOL_TIMEOUT=soon");
    assert_one_error_line(&stderr);
    assert!(
        stderr.contains("QTOOL_TIMEOUT=`soon` is invalid"),
        "{stderr}"
    );
    let out = env.run_with_env(
        &["context", "ls"],
        &[
            ("QTOOL_TIMEOUT", ""),
            ("QTOOL_RETRIES", ""),
            ("QTOOL_SERVER", ""),
        ],
    );
    assert_exit(&out, 0, "empty QTOOL_* variables");
}
