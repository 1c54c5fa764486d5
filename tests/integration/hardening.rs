//! Issue 12, client side: answers and inputs with a bound on memory, exact manifest variables,
//! validation at the door, credentials kept out of URLs and clear text, text from servers that
//! cannot drive the terminal, one-line (or JSON) errors, and messages that name the real problem.

#![cfg(unix)]

use std::io::{Read, Write};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::support::{
    Sandbox, TestEnv, assert_exit, canned_server, definition, first_server, http_server, json,
    write,
};

// ---- helpers ---------------------------------------------------------------------------------

/// A plain-HTTP server on 127.0.0.1 that answers every request with `head` (status line and
/// headers, without the blank line) and then a chunked JSON list that never ends. The
/// connection thread ends when the client goes away.
fn endless_server(head: &'static str) -> String {
    http_server(move |mut stream| {
        let item = r#"{"id":"00000000-0000-0000-0000-000000000001","name":"again"},"#;
        let framed = |data: &str| format!("{:x}\r\n{data}\r\n", data.len());
        let start = format!(
            "{head}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{}",
            framed(&format!("[{}", item.repeat(1000)))
        );
        if stream.write_all(start.as_bytes()).is_err() {
            return;
        }
        let more = framed(&item.repeat(1000));
        while stream.write_all(more.as_bytes()).is_ok() {}
    })
}

/// Exit `code` within the time limit, stderr one `error:` line (warnings may precede it)
/// holding every needle; the error line.
fn error_line(out: &Output, code: i32, needles: &[&str], what: &str) -> String {
    let stderr = assert_exit(out, code, what);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{what}: not one error line:\n{stderr}");
    for n in needles {
        assert!(
            errors[0].contains(n),
            "{what}: `{n}` missing from: {stderr}"
        );
    }
    errors[0].to_string()
}

/// `qtool args` with a time limit (a run that never ends fails the test instead of hanging it);
/// stdout and stderr are drained while it runs.
fn run_limited(env: &TestEnv, args: &[&str], vars: &[(&str, &str)], stdin: Stdio) -> Output {
    let mut cmd = env.std_cmd();
    cmd.args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn qtool");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("qtool {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
    }
}

/// An environment variable and its value.
type EnvVar<'a> = (&'a str, &'a str);

fn dev_zero() -> Stdio {
    Stdio::from(std::fs::File::open("/dev/zero").expect("/dev/zero"))
}

// ---- 1. answers read into memory are bounded ----------------------------------------------

#[test]
fn endless_answers_stop_at_the_response_limit() {
    let env = TestEnv::new();
    let qrs = format!("{}/jwt", endless_server("HTTP/1.1 200 OK"));
    // QEM: the login answers with a session; every answer is endless.
    let qem = endless_server("HTTP/1.1 200 OK\r\nEnterpriseManager.APISessionID: s1");
    // A declared length over the limit is refused before the body is read.
    let declared = canned_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n["
            .into(),
    );
    let declared = format!("{declared}/jwt");
    env.ok(&[
        "context",
        "create",
        "endless",
        "--server",
        &qrs,
        "--api-key",
        "token",
        "--max-response-size",
        "1536KiB",
    ]);
    let get = json(&env.ok(&["context", "get", "endless", "--json"]));
    assert_eq!(get["max-response-size"], "1536KiB", "{get}");
    let size = |value: &'static str| ("QTOOL_MAX_RESPONSE_SIZE", value);
    let cases: [(Vec<&str>, Option<EnvVar>, &str); 6] = [
        // A table streams within the limit, and stops at it.
        (
            vec![
                "--server",
                &qrs,
                "--max-response-size",
                "1MiB",
                "qrs",
                "app",
                "ls",
            ],
            None,
            "the answer to GET /jwt/qrs/app is larger than 1MiB",
        ),
        // A document read whole, with the default limit.
        (
            vec!["--server", &qrs, "qrs", "app", "get", "x"],
            None,
            "larger than 256MiB, the limit for answers read into memory",
        ),
        (
            vec!["--server", &qrs, "qrs", "stream", "ls", "-o", "yaml"],
            Some(size("2MiB")),
            "larger than 2MiB",
        ),
        (
            vec![
                "--server",
                &qem,
                "--server-type",
                "qem",
                "--max-response-size",
                "3MiB",
                "qem",
                "server",
                "ls",
            ],
            None,
            "GET servers is larger than 3MiB",
        ),
        // The context's own limit.
        (
            vec!["--context", "endless", "qrs", "app", "get", "x"],
            None,
            "larger than 1536KiB",
        ),
        (
            vec![
                "--server",
                &declared,
                "--max-response-size",
                "1MiB",
                "qrs",
                "about",
            ],
            None,
            "larger than 1MiB",
        ),
    ];
    for (args, limit, needle) in cases {
        let mut vars = vec![("QTOOL_API_KEY", "token")];
        vars.extend(limit);
        let out = run_limited(&env, &args, &vars, Stdio::null());
        error_line(
            &out,
            10,
            &[needle, "--max-response-size"],
            &format!("{args:?}"),
        );
    }
    let out = env.run(&["--max-response-size", "0", "context", "ls"]);
    error_line(&out, 2, &["byte count above zero"], "zero limit");
}

// ---- 2. inputs are bounded, special files refused ------------------------------------------

#[test]
fn inputs_are_bounded_and_special_files_refused() {
    let env = TestEnv::new();
    let dir = env.path().to_str().unwrap().to_string();
    let qlik_home = env.path().join("qlik");
    std::fs::create_dir_all(&qlik_home).unwrap();
    // qlik-cli's contexts.yml as a link to /dev/zero, found by default.
    std::os::unix::fs::symlink("/dev/zero", qlik_home.join("contexts.yml")).unwrap();
    let qlik_home = qlik_home.to_str().unwrap();
    let sign = [
        "jwt",
        "sign",
        "--userid",
        "u",
        "--userdirectory",
        "d",
        "--key",
    ];
    let zero_stdin = "stdin is larger than 1MiB, the limit for a key, certificate or token";
    let device = "/dev/zero is a character device, not a regular file";
    let cases: [(Vec<&str>, &[EnvVar], bool, &str); 8] = [
        ([&sign[..], &["/dev/zero"]].concat(), &[], false, device),
        (
            [&sign[..], &[dir.as_str()]].concat(),
            &[],
            false,
            "is a directory, not a regular file",
        ),
        (
            vec!["jwt", "verify", "a.b.c", "--cert", "/dev/zero"],
            &[],
            false,
            device,
        ),
        (vec!["jwt", "decode", "-"], &[], true, zero_stdin),
        (
            vec![
                "context",
                "create",
                "z",
                "--server",
                "https://h/jwt",
                "--api-key-stdin",
            ],
            &[],
            true,
            zero_stdin,
        ),
        (vec!["qem", "apply", "-f", "/dev/zero"], &[], false, device),
        (
            vec!["context", "import", "--file", "/dev/zero"],
            &[],
            false,
            device,
        ),
        (
            vec!["context", "import"],
            &[("QLIK_CLI_USER_HOME_DIR", qlik_home)],
            false,
            "contexts.yml is a character device",
        ),
    ];
    for (args, vars, zero_on_stdin, needle) in cases {
        let stdin = if zero_on_stdin {
            dev_zero()
        } else {
            Stdio::null()
        };
        let out = run_limited(&env, &args, vars, stdin);
        error_line(&out, 3, &[needle], &format!("{args:?}"));
    }
    // A manifest whose definition is /dev/zero: refused while reading the manifest's tasks.
    let m = write(
        env.path(),
        "zero.toml",
        "[[tasks]]\nserver = \"s\"\nname = \"t\"\ndefinition = \"/dev/zero\"\n",
    );
    let sb = Sandbox::start(&[]);
    let qem = sb.qem_env();
    let out = run_limited(
        &qem,
        &["qem", "apply", "-f", m.to_str().unwrap(), "--plan"],
        &[],
        Stdio::null(),
    );
    error_line(
        &out,
        3,
        &["/dev/zero is a character device"],
        "definition = /dev/zero",
    );
    // Our own files: a 5 MiB contexts.toml is a configuration error, read no further.
    std::fs::create_dir_all(env.config_dir()).unwrap();
    let big = format!("# {}\n", "x".repeat(5 << 20));
    std::fs::write(env.config_dir().join("contexts.toml"), big).unwrap();
    let out = run_limited(&env, &["context", "ls"], &[], Stdio::null());
    error_line(
        &out,
        4,
        &["contexts.toml is larger than 4MiB, the limit for a configuration file"],
        "5 MiB contexts.toml",
    );
}

// ---- 4, 5. manifest variables and empty names ---------------------------------------------

#[test]
fn manifest_variables_expand_to_a_fixed_point_with_one_escape() {
    let sb = Sandbox::start(&[]);
    let env = sb.qem_env();
    let server = first_server(&env);
    let dir = env.path();
    let mut def = definition("from-file", "nest-src", "nest-tgt", "${schema}");
    def["cmd.replication_definition"]["tasks"][0]["task"]["description"] =
        json!("${lit} and $${raw} for ${who}");
    write(dir, "nested.json", &def.to_string());
    let m = write(
        dir,
        "nested.toml",
        &format!(
            "[vars]\na = \"${{b}}\"\nb = \"${{c}}-x\"\nc = \"deep\"\nlit = \"$${{literal}}\"\nschema = \"S_${{a}}\"\nwho = \"manifest\"\nDB_PASSWORD = \"pw\"\n\n\
             [[tasks]]\nserver = \"{server}\"\nname = \"t-${{a}}\"\ndefinition = \"nested.json\"\nvars = {{ who = \"task ${{c}}\" }}\n"
        ),
    );
    let args = ["qem", "apply", "-f", m.to_str().unwrap(), "--json"];
    let summary = json(&env.ok(&args));
    assert_eq!(
        (summary["applied"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(0)),
        "{summary}"
    );
    let tasks = json(&env.ok(&["qem", "task", "ls", &server, "--json"]));
    let names: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"t-deep-x"),
        "nested variables not expanded: {names:?}"
    );
    let exported = json(&env.ok(&["qem", "task", "export", &server, "t-deep-x"]));
    let task = &exported["cmd.replication_definition"]["tasks"][0];
    assert_eq!(
        task["task"]["description"], "${literal} and ${raw} for task deep",
        "{task}"
    );
    assert_eq!(
        task["task_settings"]["target_settings"]["default_schema"],
        "S_deep-x"
    );
    // --var wins over the task's own vars, and reaches values that use it.
    let summary = json(&env.ok(&[&args[..], &["--var", "who=cli", "--var", "c=top"]].concat()));
    assert_eq!(
        (summary["applied"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(0)),
        "{summary}"
    );
    let exported = json(&env.ok(&["qem", "task", "export", &server, "t-top-x"]));
    assert_eq!(
        exported["cmd.replication_definition"]["tasks"][0]["task"]["description"],
        "${literal} and ${raw} for cli"
    );

    // A cycle names itself; checked before any context is read.
    let bare = TestEnv::new();
    let m = write(
        bare.path(),
        "cycle.toml",
        "[vars]\na = \"x${b}\"\nb = \"${c}\"\nc = \"${a}\"\n",
    );
    let out = bare.run(&["qem", "apply", "-f", m.to_str().unwrap(), "--plan"]);
    error_line(
        &out,
        3,
        &["variables use each other in a cycle: a → b → c → a"],
        "cycle",
    );
    let m = write(
        bare.path(),
        "self.toml",
        "[[tasks]]\nserver = \"s\"\nname = \"t\"\ninline = {}\nvars = { x = \"${x}\" }\n",
    );
    let out = bare.run(&["qem", "apply", "-f", m.to_str().unwrap(), "--plan"]);
    error_line(&out, 3, &["cycle: x → x"], "task var cycle");
    let m = write(
        bare.path(),
        "nameless.toml",
        "[[servers]]\nname = \"${}\"\n",
    );
    let out = bare.run(&["qem", "apply", "-f", m.to_str().unwrap(), "--plan"]);
    error_line(
        &out,
        3,
        &["`${}` in `${}` names no variable"],
        "empty variable name",
    );
}

#[test]
fn empty_names_in_a_manifest_are_refused_when_it_is_read() {
    let env = TestEnv::new();
    for (text, needle) in [
        (
            "[[tasks]]\nserver = \"\"\nname = \"t\"\ninline = {}\n",
            "the `server` of task `t` is empty",
        ),
        (
            "[[tasks]]\nserver = \"s\"\nname = \"\"\ninline = {}\n",
            "the `name` of a task on `s` is empty",
        ),
        (
            "[vars]\nn = \"\"\n[[tasks]]\nserver = \"s\"\nname = \"${n}\"\ninline = {}\n",
            "the `name` of a task on `s` is empty",
        ),
        (
            "[[servers]]\nname = \" \"\n",
            "the `name` of a server is empty",
        ),
        (
            "[[endpoints]]\nserver = \"s\"\nname = \"\"\n",
            "the `name` of an endpoint on `s` is empty",
        ),
        (
            "[[servers]]\nname = \"s\"\n[servers.acl.admin]\nusers = [\"\"]\n",
            "a user or group in the ACL of server `s` is empty",
        ),
    ] {
        let m = write(env.path(), "empty.toml", text);
        let out = env.run(&["qem", "apply", "-f", m.to_str().unwrap(), "--plan"]);
        error_line(&out, 3, &[needle], text);
    }
}

// ---- 6. JWT edge cases -----------------------------------------------------------------------

#[test]
fn jwt_dates_that_are_not_numbers_are_malformed_and_leeway_never_wraps() {
    let env = TestEnv::new();
    env.ok(&["jwt", "keygen", "--out", "k.pem"]);
    let sign = |extra: &[&str]| {
        let mut args = vec![
            "jwt",
            "sign",
            "--key",
            "k.pem",
            "--userid",
            "u",
            "--userdirectory",
            "d",
        ];
        args.extend_from_slice(extra);
        env.ok(&args).trim().to_string()
    };
    let token = sign(&["--claim", "exp=\"tomorrow\""]);
    let out = env.run(&["jwt", "verify", &token, "--cert", "k.pem"]);
    error_line(
        &out,
        1,
        &["malformed token: the `exp` claim is a string, not a number of seconds"],
        "exp string",
    );
    let token = sign(&["--claim", "nbf={\"a\":1}"]);
    let out = env.run(&["jwt", "verify", &token, "--cert", "k.pem"]);
    error_line(&out, 1, &["`nbf` claim is an object"], "nbf object");
    // Expired an hour ago: a leeway of a century (beyond the Unix time) accepts it.
    let token = sign(&["--claim", &format!("exp={}", now() - 3600)]);
    let out = env.run(&["jwt", "verify", &token, "--cert", "k.pem"]);
    error_line(&out, 1, &["token expired"], "expired");
    env.ok(&[
        "jwt", "verify", &token, "--cert", "k.pem", "--leeway", "100y",
    ]);
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ---- 7, 8, 9. validation at the door, credentials out of URLs and clear text --------------

#[test]
fn bad_values_are_refused_when_given_with_the_rule() {
    let env = TestEnv::new();
    for name in ["\"quoted\"", "[a]", "🚀", "a b", "tab\tname"] {
        let out = env.run(&["context", "create", name, "--server", "https://h/jwt"]);
        error_line(&out, 2, &["use ASCII letters, digits and -_.@:"], name);
    }
    for key in ["", "  ", "abc\r\nX-Injected: 1"] {
        let out = env.run(&[
            "context",
            "create",
            "k",
            "--server",
            "https://h/jwt",
            "--api-key",
            key,
        ]);
        error_line(&out, 2, &["the API key"], &format!("api key {key:?}"));
    }
    env.ok(&[
        "context",
        "create",
        "k",
        "--server",
        "https://h/jwt",
        "--api-key",
        "good",
    ]);
    let out = env.run(&["context", "update", "k", "--api-key", "line\nbreak"]);
    error_line(
        &out,
        2,
        &["the API key contains a line break"],
        "update with a line break",
    );
    for san in ["", "a b", "bad_name.example.com"] {
        let out = env.run(&[
            "jwt", "cert", "--key", "k.pem", "--out", "c.pem", "--san", san,
        ]);
        error_line(
            &out,
            2,
            &[
                "is not a DNS name or IP address",
                "see `qtool jwt cert --help`",
            ],
            san,
        );
    }
    let out = env.run(&["--timeout", "0s", "context", "ls"]);
    error_line(&out, 2, &["would fail every request"], "--timeout 0s");
    let out = env.run_with_env(&["context", "ls"], &[("QTOOL_TIMEOUT", "0")]);
    error_line(
        &out,
        2,
        &["QTOOL_TIMEOUT=`0` is invalid", "above zero"],
        "QTOOL_TIMEOUT=0",
    );
}

#[test]
fn passwords_in_server_urls_are_refused_and_never_shown() {
    let env = TestEnv::new();
    let out = env.run(&[
        "context",
        "create",
        "p",
        "--server",
        "https://alice:hunter2@qlik.example.com/jwt",
        "--api-key",
        "t",
    ]);
    let line = error_line(
        &out,
        2,
        &[
            "https://****@qlik.example.com/jwt",
            "holds a user name or password",
        ],
        "create",
    );
    assert!(
        !line.contains("hunter2") && !line.contains("alice"),
        "{line}"
    );
    assert!(!env.config_dir().join("contexts.toml").exists());
    let out = env.run(&["--server", "https://alice:hunter2@h/jwt", "qrs", "about"]);
    let line = error_line(&out, 2, &["holds a user name or password"], "--server");
    assert!(!line.contains("hunter2"), "{line}");

    // A file written before the rule: listed and shown masked, refused when used.
    std::fs::create_dir_all(env.config_dir()).unwrap();
    std::fs::write(
        env.config_dir().join("contexts.toml"),
        "[contexts.old]\nserver = \"https://alice:hunter2@qlik.example.com/jwt\"\nserver-type = \"windows\"\nauth = \"none\"\n",
    )
    .unwrap();
    for args in [
        &["context", "ls"][..],
        &["context", "ls", "--json"],
        &["context", "get", "old"],
        &["context", "get", "old", "-o", "yaml"],
    ] {
        let shown = env.ok(args);
        assert!(
            shown.contains("https://****@qlik.example.com/jwt"),
            "{args:?}: {shown}"
        );
        assert!(!shown.contains("hunter2"), "{args:?}: {shown}");
    }
    let out = env.run(&["--context", "old", "qrs", "about"]);
    let line = error_line(&out, 2, &["holds a user name or password"], "use");
    assert!(!line.contains("hunter2"), "{line}");
}

#[test]
fn credentials_for_plain_http_beyond_this_machine_are_warned_about() {
    let env = TestEnv::new();
    // `.invalid` never resolves: the warning comes before the connection is tried (exit 8);
    // loopback never leaves the machine and says nothing.
    for (server, qem, warning) in [
        (
            "http://qem.invalid",
            true,
            Some(
                "the QEM login (HTTP Basic: user and password, or token) will be sent in clear text to qem.invalid (http://)",
            ),
        ),
        (
            "http://qlik.invalid/jwt",
            false,
            Some("the token or session cookie will be sent in clear text to qlik.invalid"),
        ),
        ("http://127.0.0.1:9/jwt", false, None),
    ] {
        let command: &[&str] = if qem {
            &["--server-type", "qem", "qem", "server", "ls"]
        } else {
            &["qrs", "about"]
        };
        let args = [&["--server", server, "--retries", "0"][..], command].concat();
        let out = env.run_with_env(&args, &[("QTOOL_API_KEY", "token")]);
        let stderr = assert_exit(&out, 8, server);
        match warning {
            Some(w) => assert!(stderr.starts_with(&format!("warning: {w}")), "{stderr}"),
            None => assert!(!stderr.contains("warning"), "{stderr}"),
        }
    }
}

// ---- 10. text from servers cannot drive the terminal ----------------------------------------

#[test]
fn control_characters_from_servers_are_shown_escaped_and_json_stays_exact() {
    let sb = Sandbox::start(&[]);
    let env = sb.qrs_env();
    let evil = "\u{1b}]0;pwned\u{7}Sales\u{1b}[2J\u{202e}gpj.exe\u{9b}";
    let shown = "\\u{1b}]0;pwned\\u{7}Sales\\u{1b}[2J\\u{202e}gpj.exe\\u{9b}";
    let body = write(
        env.path(),
        "stream.json",
        &json!({ "name": evil }).to_string(),
    );
    let created = json(&env.ok(&[
        "qrs",
        "stream",
        "create",
        "-f",
        body.to_str().unwrap(),
        "--json",
    ]));
    let id = created["id"].as_str().expect("id").to_string();
    for args in [
        &["qrs", "stream", "ls"][..],
        &["qrs", "stream", "ls", "--full"],
        &["qrs", "stream", "get", &id],
        &["qrs", "stream", "ls", "-q", "--filter", "name eq 'nothing'"],
    ] {
        let out = env.ok(args);
        assert!(
            !out.contains(['\u{1b}', '\u{7}', '\u{202e}', '\u{9b}']),
            "{args:?}: raw control characters: {out:?}"
        );
        if !args.contains(&"-q") {
            assert!(out.contains(shown), "{args:?}: {out}");
        }
    }
    // JSON and YAML keep the server's text exactly.
    let listed = json(&env.ok(&["qrs", "stream", "ls", "--json"]));
    assert!(
        listed.as_array().unwrap().iter().any(|s| s["name"] == evil),
        "{listed}"
    );
    let got = json(&env.ok(&["qrs", "stream", "get", &id, "--json"]));
    assert_eq!(got["name"], evil);

    // Claims of a token, which anyone can write.
    env.ok(&["jwt", "keygen", "--out", "k.pem"]);
    let token = env.ok(&[
        "jwt",
        "sign",
        "--key",
        "k.pem",
        "--userid",
        evil,
        "--userdirectory",
        "d",
    ]);
    let decoded = env.ok(&["jwt", "decode", token.trim()]);
    assert!(!decoded.contains('\u{1b}'), "{decoded:?}");
    assert!(decoded.contains(shown), "{decoded}");
    let decoded = json(&env.ok(&["jwt", "decode", token.trim(), "--json"]));
    assert_eq!(decoded["claims"]["userid"], evil);
}

// ---- 11. errors: JSON with --json, one line without, no colour in piped logs ----------------

#[test]
fn usage_errors_are_one_line_or_json_and_piped_logs_have_no_colour() {
    let env = TestEnv::new();
    let out = env.run(&["--json", "context", "create"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let doc = json(&stderr);
    assert_eq!(doc["error"]["class"], "usage");
    assert_eq!(doc["error"]["exit_code"], 2);
    assert_eq!(
        doc["error"]["message"],
        "the following required arguments were not provided: <NAME>"
    );
    assert_eq!(doc["error"]["hint"], "see `qtool context create --help`");
    for args in [
        &["context", "create"][..],
        &["--frobnicate"],
        &["qrs"],
        &["context", "ls", "-o", "xml"],
        &["jwt", "sign", "--alg", "HS256"],
    ] {
        let out = env.run(args);
        let stderr = assert_exit(&out, 2, &format!("{args:?}"));
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains("; "),
            "{args:?}: {stderr}"
        );
        let out = env.run(&[&["-o", "json"], args].concat());
        assert_eq!(
            json(&String::from_utf8_lossy(&out.stderr))["error"]["class"],
            "usage",
            "{args:?}"
        );
    }
    // --help still prints help, to stdout, exit 0.
    let out = env.run(&["context", "create", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: qtool context create"));

    // -vv through a pipe: no ANSI colour codes, even without NO_COLOR.
    let out = env
        .cmd()
        .env_remove("NO_COLOR")
        .args([
            "-vv",
            "--server",
            "https://127.0.0.1:9/jwt",
            "--retries",
            "0",
            "qrs",
            "about",
        ])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DEBUG"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in piped logs: {stderr:?}"
    );
}

// ---- 12. messages that name the real problem ------------------------------------------------

#[test]
fn misleading_messages_now_name_the_problem() {
    let env = TestEnv::new();
    // QTOOL_CONFIG_DIR pointing at a file.
    let file = write(env.path(), "not-a-dir", "");
    let out = env.run_with_env(&["context", "ls"], &[("QTOOL_CONFIG_DIR", &file)]);
    error_line(
        &out,
        4,
        &[
            "(from QTOOL_CONFIG_DIR) is a file, not a directory",
            "point QTOOL_CONFIG_DIR at a directory",
        ],
        "config dir file",
    );
    // The lock cannot be taken: say what to check.
    std::fs::create_dir_all(env.config_dir().join(".lock")).unwrap();
    let out = env.run(&["context", "create", "x", "--server", "https://h/jwt"]);
    error_line(
        &out,
        11,
        &["opening lock", "qtool creates and locks", "ls -ld"],
        "lock",
    );
    std::fs::remove_dir(env.config_dir().join(".lock")).unwrap();
    // A path longer than HTTP allows is a usage error, not a network one.
    let long = format!("/qrs/{}", "a".repeat(100_000));
    let out = env.run_with_env(
        &[
            "--server",
            "https://127.0.0.1:9/jwt",
            "qrs",
            "raw",
            "GET",
            &long,
        ],
        &[("QTOOL_API_KEY", "t")],
    );
    let line = error_line(
        &out,
        2,
        &["the request URL would be 100", "characters long"],
        "long path",
    );
    assert!(line.len() < 400, "the path is not repeated: {line}");
    // `--key DIR` is a bad input (3), not I/O (11).
    let out = env.run(&[
        "jwt",
        "sign",
        "--key",
        env.path().to_str().unwrap(),
        "--userid",
        "u",
        "--userdirectory",
        "d",
    ]);
    error_line(
        &out,
        3,
        &["is a directory, not a regular file"],
        "--key DIR",
    );
    // An empty 200 answer to `qrs about` is the server's failure, not a blank success.
    let empty = canned_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n".into(),
    );
    let out = env.run_with_env(
        &["--server", &format!("{empty}/jwt"), "qrs", "about"],
        &[("QTOOL_API_KEY", "t")],
    );
    error_line(
        &out,
        10,
        &["GET /jwt/qrs/about returned an empty answer"],
        "empty about",
    );
}
