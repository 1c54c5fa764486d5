//! completions/ and man/ are generated from the CLI definition; these tests fail when the
//! committed copies are stale, and check dynamic completion of context names.

use std::path::Path;

use crate::support::TestEnv;

fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["completions", "man"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            out.push((
                format!("{sub}/{}", entry.file_name().to_string_lossy()),
                std::fs::read(entry.path()).unwrap(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn committed_completions_and_man_pages_are_current() {
    let env = TestEnv::new();
    env.ok(&["__generate", "--out-dir", env.path().to_str().unwrap()]);
    let fresh = files_under(env.path());
    let committed = files_under(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        fresh
            .iter()
            .any(|(n, _)| n.starts_with("man/qtool-context-create")),
        "man pages per subcommand"
    );
    let fresh_names: Vec<&String> = fresh.iter().map(|(n, _)| n).collect();
    let committed_names: Vec<&String> = committed.iter().map(|(n, _)| n).collect();
    assert_eq!(
        fresh_names, committed_names,
        "run `cargo run -- __generate --out-dir .` and commit"
    );
    for ((name, a), (_, b)) in fresh.iter().zip(committed.iter()) {
        assert!(
            a == b,
            "{name} is stale: run `cargo run -- __generate --out-dir .` and commit"
        );
    }
}

/// `qtool-qrs-app-ls` for every command a person can run: hidden commands and clap's `help`
/// pseudo-subcommands excluded.
fn real_commands(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
    let name = if prefix.is_empty() {
        cmd.get_name().to_string()
    } else {
        format!("{prefix}-{}", cmd.get_name())
    };
    for sub in cmd.get_subcommands() {
        if !sub.is_hide_set() && sub.get_name() != "help" {
            real_commands(sub, &name, out);
        }
    }
    out.push(name);
}

#[test]
fn one_man_page_per_real_command() {
    let mut cmd = qtool::command();
    cmd.build();
    let mut commands = Vec::new();
    real_commands(&cmd, "", &mut commands);
    commands.sort();
    assert!(commands.contains(&"qtool-qrs-app-ls".to_string()));
    let mut pages: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("man"))
            .unwrap()
            .map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.strip_suffix(".1")
                    .unwrap_or_else(|| panic!("man/{name} is not a section 1 page"))
                    .to_string()
            })
            .collect();
    pages.sort();
    assert_eq!(pages, commands, "man/ against the command tree");
}

#[test]
fn global_flags_come_after_a_commands_own_under_their_heading() {
    let cmd = qtool::command();
    for arg in cmd.get_arguments().filter(|a| a.is_global_set()) {
        assert_eq!(
            arg.get_help_heading(),
            Some("Global options"),
            "--{}",
            arg.get_id()
        );
    }
    let help = TestEnv::new().ok(&["qrs", "app", "ls", "--help"]);
    let own = help.find("\nOptions:").expect("own options");
    let global = help.find("\nGlobal options:").expect("global options");
    assert!(own < help.find("--orderby").unwrap() && help.find("--orderby").unwrap() < global);
    assert!(global < help.find("--context").unwrap(), "{help}");
}

#[test]
fn completion_scripts_print_for_every_shell() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = env.ok(&["completion", shell]);
        assert!(out.contains("QTOOL_COMPLETE"), "{shell}: {out}");
    }
}

#[test]
fn context_names_complete_dynamically() {
    let env = TestEnv::new();
    env.ok(&[
        "context",
        "create",
        "prod-qseow",
        "--server",
        "https://p/jwt",
    ]);
    env.ok(&[
        "context",
        "create",
        "prod-qem",
        "--server",
        "https://q",
        "--server-type",
        "qem",
        "--user",
        "D\\u",
        "--auth",
        "password",
        "--password",
        "pw",
    ]);
    env.ok(&["context", "create", "test", "--server", "https://t/jwt"]);
    let out = env
        .cmd()
        .env("QTOOL_COMPLETE", "fish")
        .args(["--", "qtool", "context", "use", "pro"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("prod-qseow") && text.contains("prod-qem"),
        "{text}"
    );
    assert!(!text.contains("test"), "{text}");
    let out = env
        .cmd()
        .env("QTOOL_COMPLETE", "fish")
        .args(["--", "qtool", "--context", "t"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("test"));
}
