//! The sandbox under careless and hostile clients (issue 12, items 3 and 15): silent and slow
//! connections are cut, the connection cap holds while a normal client is still served, request
//! bodies in memory stay within their budget, and a write the sandbox answered survives
//! `kill -9`. Limits are set low with the `qtool sandbox` flags so that the tests run fast.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Sandbox, TestEnv, definition, first_server, json, write};

const XRF: &str = "abcdefghijklmnop";

// ---- raw connections -------------------------------------------------------------------------

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// `host:port` of a discovery URL.
fn addr(url: &str) -> String {
    url.trim_start_matches("https://")
        .split('/')
        .next()
        .expect("host")
        .to_string()
}

fn tls_config(sb: &Sandbox, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(sb.get("/ca_cert")).expect("ca");
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.expect("pem")).expect("trust");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection with its handshake done (HTTP/1.1 unless `config` offers h2).
fn connect_tls(addr: &str, config: &Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let conn =
        rustls::ClientConnection::new(config.clone(), name).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// Whether the server closed the connection within `limit` (read end of stream or an error
/// other than a timeout).
fn closed_within(stream: &mut impl Read, set_timeout: impl Fn(Duration), limit: Duration) -> bool {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        set_timeout(Duration::from_millis(250));
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

fn tls_closed_within(tls: &mut Tls, limit: Duration) -> bool {
    let sock = tls.sock.try_clone().expect("clone");
    closed_within(
        tls,
        |t| {
            let _ = sock.set_read_timeout(Some(t));
        },
        limit,
    )
}

/// The status and headers (lowercase names) of the next response on `stream`, and its body
/// (when it has a Content-Length).
fn read_response(stream: &mut impl Read) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).expect("response");
        assert!(n > 0, "connection closed before a response: {data:?}");
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).expect("body");
        assert!(n > 0, "connection closed mid-body");
        body.extend_from_slice(&buf[..n]);
    }
    (status, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn bearer(sb: &Sandbox) -> String {
    std::fs::read_to_string(sb.get("/qseow/jwt/token_file"))
        .expect("token")
        .trim()
        .to_string()
}

/// The head of a QRS request through the JWT virtual proxy, over HTTP/1.1.
fn qrs_head(sb: &Sandbox, method: &str, path: &str, content_length: Option<usize>) -> String {
    let mut head = format!(
        "{method} /jwt{path}?xrfkey={XRF} HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {}\r\nX-Qlik-Xrfkey: {XRF}\r\n",
        bearer(sb)
    );
    if let Some(n) = content_length {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {n}\r\n"
        ));
    }
    head.push_str("\r\n");
    head
}

/// Sockets the process `pid` holds (Linux), to check the connection cap from outside.
fn open_sockets(pid: u32) -> Option<usize> {
    let entries = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(
        entries
            .flatten()
            .filter(|e| {
                std::fs::read_link(e.path())
                    .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
            })
            .count(),
    )
}

// ---- item 3: idle and slow connections, the cap, the body budget ---------------------------

/// Hundreds of silent connections (some in the TLS handshake, some after it) against a cap of
/// 40: the sandbox never holds more sockets than the cap, closes the silent ones, and a normal
/// client still gets its answers meanwhile.
#[test]
fn silent_connections_beyond_the_cap_never_starve_a_normal_client() {
    let sb = Sandbox::start(&[
        "--max-connections",
        "40",
        "--handshake-timeout",
        "3s",
        "--header-read-timeout",
        "3s",
        "--idle-timeout",
        "4s",
    ]);
    let env = sb.qrs_env();
    let proxy = addr(&sb.get("/qseow/proxy_url"));
    let config = tls_config(&sb, &[b"h2", b"http/1.1"]);

    // 300 TCP connections that never start TLS, and 60 that complete it and say nothing.
    let silent_tcp: Vec<TcpStream> = (0..300)
        .filter_map(|_| TcpStream::connect(&proxy).ok())
        .collect();
    let silent_tls: Vec<Tls> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..60)
            .map(|_| scope.spawn(|| connect_tls(&proxy, &config).ok()))
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    });
    assert!(
        silent_tls.len() >= 30,
        "only {} silent TLS connections got through the handshake",
        silent_tls.len()
    );

    // A normal client is answered while they are all open.
    for _ in 0..3 {
        let out = env.run(&["qrs", "app", "ls", "--json", "--timeout", "15s"]);
        assert!(
            out.status.success(),
            "qrs app ls under attack: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(json(&String::from_utf8_lossy(&out.stdout)).is_array());
        // The cap holds: 40 connections, 4 listeners and a few for the sandbox's own use.
        if let Some(sockets) = open_sockets(sb.pid()) {
            assert!(sockets <= 40 + 8, "the sandbox holds {sockets} sockets");
        }
    }

    // Every silent TLS connection is closed by the sandbox (evicted, or after 3 s).
    for (i, mut tls) in silent_tls.into_iter().enumerate() {
        assert!(
            tls_closed_within(&mut tls, Duration::from_secs(15)),
            "silent TLS connection {i} is still open"
        );
    }
    drop(silent_tcp);
}

/// A body trickled at 1 byte/s is answered 408; a request head trickled byte by byte, an idle
/// keep-alive connection and a silent HTTP/2 connection are closed.
#[test]
fn slow_bodies_slow_heads_and_idle_connections_are_cut() {
    let sb = Sandbox::start(&[
        "--header-read-timeout",
        "2s",
        "--idle-timeout",
        "2s",
        "--min-body-rate",
        "1000",
    ]);
    let proxy = addr(&sb.get("/qseow/proxy_url"));
    let h1 = tls_config(&sb, &[b"http/1.1"]);

    // A body at 1 byte/s: 408 after the 2 s grace.
    let mut slow_body = connect_tls(&proxy, &h1).expect("connect");
    let head = qrs_head(&sb, "POST", "/qrs/stream", Some(100));
    slow_body.write_all(head.as_bytes()).expect("head");
    slow_body.flush().expect("flush");
    let started = Instant::now();
    let sock = slow_body.sock.try_clone().expect("clone");
    sock.set_read_timeout(Some(Duration::from_millis(900)))
        .expect("timeout");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while started.elapsed() < Duration::from_secs(20) && !answer.ends_with(b"\r\n\r\n") {
        let _ = slow_body.write_all(b" ");
        let _ = slow_body.flush();
        match slow_body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a body at 1 byte/s: {answer:?} after {:?}",
        started.elapsed()
    );

    // A request head trickled byte by byte: closed within the header-read timeout.
    let mut slow_head = connect_tls(&proxy, &h1).expect("connect");
    slow_head
        .write_all(b"GET /jwt/qrs/about HTTP/1.1\r\n")
        .expect("line");
    slow_head.flush().expect("flush");
    let sock = slow_head.sock.try_clone().expect("clone");
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(15) && !closed {
        if slow_head
            .write_all(b"X")
            .and_then(|()| slow_head.flush())
            .is_err()
        {
            closed = true;
            break;
        }
        closed = closed_within(
            &mut slow_head,
            |t| {
                let _ = sock.set_read_timeout(Some(t));
            },
            Duration::from_millis(500),
        );
    }
    assert!(closed, "a request head trickled byte by byte is still open");

    // An idle keep-alive connection: answered, then closed after the idle timeout.
    let mut idle = connect_tls(&proxy, &h1).expect("connect");
    idle.write_all(qrs_head(&sb, "GET", "/qrs/about", None).as_bytes())
        .expect("request");
    idle.flush().expect("flush");
    let (status, _, _) = read_response(&mut idle);
    assert_eq!(status, 200);
    assert!(
        tls_closed_within(&mut idle, Duration::from_secs(15)),
        "an idle keep-alive connection is still open"
    );

    // HTTP/2 negotiated, then nothing sent.
    let h2 = tls_config(&sb, &[b"h2"]);
    let mut silent = connect_tls(&proxy, &h2).expect("connect");
    assert_eq!(silent.conn.alpn_protocol(), Some(b"h2".as_slice()));
    assert!(
        tls_closed_within(&mut silent, Duration::from_secs(15)),
        "a silent HTTP/2 connection is still open"
    );
}

/// With a 1 MiB in-flight budget: a declared 2 MiB body is 413 before it is sent; while 800 KB
/// are being received, a 400 KB body is 503 with Retry-After (nothing buffered), and is
/// accepted once the first is done.
#[test]
fn request_bodies_in_memory_stay_within_the_budget() {
    let sb = Sandbox::start(&["--max-inflight-body-bytes", "1MiB"]);
    let proxy = addr(&sb.get("/qseow/proxy_url"));
    let h1 = tls_config(&sb, &[b"http/1.1"]);
    let body_of = |name: &str, len: usize| {
        let mut body = format!("{{\"name\":\"{name}\",\"description\":\"");
        let pad = len - body.len() - 2;
        body.push_str(&"x".repeat(pad));
        body.push_str("\"}");
        assert_eq!(body.len(), len);
        body
    };

    // Declared beyond the whole budget: 413 at once, without sending the body.
    let mut huge = connect_tls(&proxy, &h1).expect("connect");
    huge.write_all(qrs_head(&sb, "POST", "/qrs/stream", Some(2 << 20)).as_bytes())
        .expect("head");
    huge.flush().expect("flush");
    let (status, _, body) = read_response(&mut huge);
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert!(
        String::from_utf8_lossy(&body).contains("--max-inflight-body-bytes"),
        "{}",
        String::from_utf8_lossy(&body)
    );

    // 800 KB in flight (half sent), then 400 KB more does not fit.
    let first_body = body_of("first", 800_000);
    let mut first = connect_tls(&proxy, &h1).expect("connect");
    first
        .write_all(qrs_head(&sb, "POST", "/qrs/stream", Some(first_body.len())).as_bytes())
        .expect("head");
    first
        .write_all(&first_body.as_bytes()[..400_000])
        .expect("half");
    first.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(500));
    let second_body = body_of("second", 400_000);
    let mut second = connect_tls(&proxy, &h1).expect("connect");
    second
        .write_all(qrs_head(&sb, "POST", "/qrs/stream", Some(second_body.len())).as_bytes())
        .expect("head");
    second.flush().expect("flush");
    let (status, headers, body) = read_response(&mut second);
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "retry-after"), Some("1"));

    // The first completes; then the second fits.
    first
        .write_all(&first_body.as_bytes()[400_000..])
        .expect("rest");
    first.flush().expect("flush");
    let (status, _, body) = read_response(&mut first);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let mut again = connect_tls(&proxy, &h1).expect("connect");
    again
        .write_all(qrs_head(&sb, "POST", "/qrs/stream", Some(second_body.len())).as_bytes())
        .expect("head");
    again.write_all(second_body.as_bytes()).expect("body");
    again.flush().expect("flush");
    let (status, _, body) = read_response(&mut again);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
}

// ---- item 15: answered writes survive kill -9 -----------------------------------------------

fn ids(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect()
}

/// 20 streams created, an app deleted, an app uploaded, a QEM task imported, then `kill -9` at
/// once: after a restart on the same state directory all of it is there, and an app file no app
/// refers to is gone.
#[test]
fn answered_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let sb = Sandbox::start_in(&state, &[]);
    let env = sb.qrs_env();
    let qem = sb.qem_env();
    let work = env.path().to_path_buf();
    let server = first_server(&qem);

    let apps = json(&env.ok(&["qrs", "app", "ls", "--json"]));
    let deleted = ids(&apps)[0].clone();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(work.join("upload.qvf"), &content).expect("write");
    write(
        &work,
        "task.json",
        &definition("durable task", "src", "tgt", "s").to_string(),
    );

    let mut streams = Vec::new();
    for i in 0..20 {
        let name = format!("durable stream {i}");
        let out = env.ok_stdin(
            &["qrs", "stream", "create", "-f", "-", "--json"],
            &json!({ "name": name }).to_string(),
        );
        streams.push(json(&out)["id"].as_str().expect("id").to_string());
    }
    env.ok(&["qrs", "app", "rm", &deleted]);
    let uploaded = json(&env.ok(&[
        "qrs",
        "app",
        "import",
        work.join("upload.qvf").to_str().expect("utf-8"),
        "--name",
        "durable upload",
        "--json",
    ]));
    let uploaded = uploaded["id"].as_str().expect("id").to_string();
    qem.ok(&[
        "qem",
        "task",
        "import",
        &server,
        work.join("task.json").to_str().expect("utf-8"),
    ]);
    // Answered: kill -9 at once (within the 500 ms between two snapshots).
    sb.kill();

    // An app file no app refers to (an upload whose change never got recorded).
    let orphan = state
        .join("apps")
        .join("apps")
        .join(format!("{}.qvf", "0b7f61a2-6c8e-4d7c-9a45-3f1e2d0c9b8a"));
    std::fs::write(&orphan, b"orphan").expect("orphan");

    let sb = Sandbox::start_in(&state, &[]);
    let env = sb.qrs_env();
    let qem = sb.qem_env();
    let listed = ids(&json(&env.ok(&["qrs", "stream", "ls", "--json"])));
    for id in &streams {
        assert!(listed.contains(id), "stream {id} was lost");
    }
    let apps = ids(&json(&env.ok(&["qrs", "app", "ls", "--json"])));
    assert!(!apps.contains(&deleted), "the deleted app is back");
    assert!(apps.contains(&uploaded), "the uploaded app was lost");
    let export = work.join("exported.qvf");
    env.ok(&[
        "qrs",
        "app",
        "export",
        &uploaded,
        "--out",
        export.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        std::fs::read(&export).expect("exported"),
        content,
        "the uploaded app's content"
    );
    assert!(!orphan.exists(), "the orphaned app file is still there");
    let tasks = qem.ok(&["qem", "task", "ls", &server, "--json"]);
    assert!(
        tasks.contains("durable task"),
        "the imported QEM task was lost: {tasks}"
    );
    assert_app_files_match(&state, &apps);
}

/// Every app file belongs to an app.
fn assert_app_files_match(state: &Path, apps: &[String]) {
    for entry in std::fs::read_dir(state.join("apps").join("apps")).expect("apps dir") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        if let Some(id) = name.strip_suffix(".qvf") {
            assert!(apps.iter().any(|a| a == id), "orphan app file {name}");
        }
    }
}

/// 16 writes at once share the journal's fsyncs (group commit); every one that was answered
/// survives `kill -9`. (What the journal costs: bench/sandbox_abuse.sh.)
#[test]
fn concurrent_writes_are_all_durable() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let sb = Sandbox::start_in(&state, &[]);
    let env = sb.qrs_env();
    let names: Vec<String> = (0..16).map(|i| format!("parallel tag {i}")).collect();
    let children: Vec<_> = names
        .iter()
        .map(|name| {
            let mut cmd = env.std_cmd();
            cmd.args(["qrs", "tag", "create", "-f", "-", "--json"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().expect("spawn");
            let body = json!({ "name": name }).to_string();
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(body.as_bytes())
                .expect("stdin");
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    sb.kill();
    let sb = Sandbox::start_in(&state, &[]);
    let tags = sb.qrs_env().ok(&["qrs", "tag", "ls", "--json"]);
    for name in &names {
        assert!(tags.contains(name.as_str()), "{name} was lost");
    }
}

/// Limits that make no sense are usage errors naming the rule; a journal with a line that is
/// not a record (not a torn last line) stops the start with one line naming it, exit 3.
#[test]
fn bad_limits_and_a_corrupt_journal_are_one_line_errors() {
    let env = TestEnv::new();
    for (flag, value, needle) in [
        ("--idle-timeout", "0s", "a timeout must be longer than 0s"),
        (
            "--max-inflight-body-bytes",
            "12parsecs",
            "is not a byte count",
        ),
        ("--max-connections", "0", "is not in 1.."),
        ("--min-body-rate", "0", "above zero"),
    ] {
        let err = env.fails(&["sandbox", flag, value], 2);
        assert!(err.contains(needle), "{flag} {value}: {err}");
    }

    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    Sandbox::start_in(&state, &[]).stop();
    std::fs::write(
        state.join("journal.jsonl"),
        "not a record\n{\"seq\":99,\"qrs\":[]}\n",
    )
    .expect("journal");
    let mut child = env
        .std_cmd()
        .args(["sandbox", "--state-dir"])
        .arg(&state)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the sandbox started on a corrupt journal");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    assert_eq!(status.code(), Some(3), "{stderr}");
    crate::support::assert_one_error_line(&stderr);
    assert!(
        stderr.contains("journal.jsonl line 1 is not a journal record")
            && stderr.contains("delete the journal to start from the last snapshot"),
        "{stderr}"
    );
}
