//! `qtool qem apply`: load the manifest, plan against the live state, print the plan, apply the
//! changes, print the outcome ([`crate::qem::apply`] does the work).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::{Value, json};

use crate::app::App;
use crate::error::{Error, Result};
use crate::output::{Paint, status};
use crate::qem::apply::execute::{self, Outcome};
use crate::qem::apply::manifest;
use crate::qem::apply::plan::{self, Action, Item};
use crate::qem::client::QemClient;

/// Exit code of `--detailed-exitcode` when something changed (or, with `--plan`, would change).
pub(super) const EXIT_CHANGED: u8 = 100;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Manifest (TOML or YAML) with the desired servers, tasks, endpoints and ACLs.
    #[arg(short = 'f', long = "file", value_name = "MANIFEST")]
    pub file: PathBuf,
    /// Only print the plan; change nothing.
    #[arg(long, visible_alias = "dry-run")]
    pub plan: bool,
    /// Set `${NAME}` in the manifest and definitions (repeatable; wins over [vars]).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = manifest::parse_var)]
    pub vars: Vec<(String, String)>,
    /// Requests in flight at once, reading and applying.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Exit 0 when nothing changed, 100 when something changed (or would, with --plan), 1 on failure.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// `client` is called once the manifest is known to be valid (a bad manifest is reported first).
pub(super) fn run(
    args: &ApplyArgs,
    app: &App,
    client: impl FnOnce() -> Result<QemClient>,
) -> Result<u8> {
    let started = Instant::now();
    let loaded = manifest::load(&args.file, &args.vars, &app.settings.env)?;
    let client = client()?;
    let concurrency = usize::from(args.concurrency);
    let items = app.block_on(async { plan::compute(&client, &loaded, concurrency).await })?;
    let structured = app.printer.is_structured();
    // `-q`: nothing but errors (and the exit code).
    let quiet = app.printer.quiet() && !structured;
    if !structured && !quiet {
        print_plan(app, &items)?;
    }
    if items.is_empty() || args.plan {
        if structured {
            let outcomes = vec![None; items.len()];
            app.printer.document(&summary(
                &items,
                &outcomes,
                !items.is_empty() && !args.plan,
                args.plan,
                started,
                client.login_count(),
            ))?;
        }
        let code = if args.detailed_exitcode && !items.is_empty() {
            EXIT_CHANGED
        } else {
            0
        };
        return Ok(code);
    }

    let printer = app.printer.clone();
    let on_done = |item: &Item, outcome: &Outcome| {
        if structured || quiet {
            return;
        }
        match outcome {
            Outcome::Applied => status(&format!(
                "{} {}",
                printer.paint("done", Paint::Green),
                item.label()
            )),
            Outcome::Failed(e) => status(&format!(
                "{} {}: {e}",
                printer.paint("FAILED", Paint::Red),
                item.label()
            )),
            Outcome::Skipped => {}
        }
    };
    let outcomes =
        app.block_on(async { Ok(execute::run(&client, &items, concurrency, &on_done).await) })?;
    let applied = outcomes.iter().filter(|o| **o == Outcome::Applied).count();
    let failed: Vec<(&Item, &str)> = items
        .iter()
        .zip(&outcomes)
        .filter_map(|(i, o)| match o {
            Outcome::Failed(e) => Some((i, e.as_str())),
            _ => None,
        })
        .collect();
    let skipped = outcomes.iter().filter(|o| **o == Outcome::Skipped).count();
    if quiet {
    } else if structured {
        let wrapped: Vec<Option<&Outcome>> = outcomes.iter().map(Some).collect();
        app.printer.document(&summary(
            &items,
            &wrapped,
            applied > 0,
            false,
            started,
            client.login_count(),
        ))?;
    } else {
        status(&format!(
            "applied {applied} of {} change(s) in {:.1} s{}",
            items.len(),
            started.elapsed().as_secs_f64(),
            if client.login_count() > 1 {
                format!(
                    " ({} logins: the session expired on the way)",
                    client.login_count()
                )
            } else {
                String::new()
            }
        ));
    }
    if !structured && !quiet && !failed.is_empty() {
        for (item, outcome) in items.iter().zip(&outcomes) {
            if *outcome == Outcome::Skipped {
                status(&format!("not attempted: {}", item.label()));
            }
        }
    }
    if let Some((item, first)) = failed.first() {
        let not_done = if skipped > 0 {
            format!(", {skipped} not attempted")
        } else {
            String::new()
        };
        return Err(Error::failed(format!(
            "apply failed: {} of {} change(s) failed ({applied} applied{not_done}); first: {}: {first}",
            failed.len(),
            items.len(),
            item.label()
        ))
        .with_hint("fix the cause and run `qtool qem apply` again: it only does what is still missing"));
    }
    Ok(if args.detailed_exitcode {
        EXIT_CHANGED
    } else {
        0
    })
}

fn print_plan(app: &App, items: &[Item]) -> Result<()> {
    let p = &app.printer;
    if items.is_empty() {
        return p.line("No changes: QEM matches the manifest.");
    }
    let (mut c, mut u, mut d) = (0, 0, 0);
    let mut text = String::new();
    for item in items {
        let paint = match item.action {
            Action::Create => {
                c += 1;
                Paint::Green
            }
            Action::Delete => {
                d += 1;
                Paint::Red
            }
            Action::Update => {
                u += 1;
                Paint::Yellow
            }
        };
        text.push_str(&format!(
            "{} ({})\n",
            p.paint(&item.label(), paint),
            item.summary
        ));
        for line in &item.changes {
            let paint = match line.chars().next() {
                Some('+') => Paint::Green,
                Some('-') => Paint::Red,
                _ => Paint::Yellow,
            };
            text.push_str(&format!("    {}\n", p.paint(line, paint)));
        }
    }
    text.push_str(&format!(
        "Plan: {c} to create, {u} to change, {d} to delete.\n"
    ));
    p.text(&text)
}

fn summary(
    items: &[Item],
    outcomes: &[Option<&Outcome>],
    changed: bool,
    planned: bool,
    started: Instant,
    logins: u32,
) -> Value {
    let list: Vec<Value> = items
        .iter()
        .zip(outcomes.iter().chain(std::iter::repeat(&None)))
        .map(|(item, outcome)| {
            let mut v = serde_json::to_value(item).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                let (status, error) = match outcome {
                    None => ("planned", None),
                    Some(Outcome::Applied) => ("applied", None),
                    Some(Outcome::Failed(e)) => ("failed", Some(e.clone())),
                    Some(Outcome::Skipped) => ("skipped", None),
                };
                map.insert("status".into(), status.into());
                if let Some(e) = error {
                    map.insert("error".into(), e.into());
                }
            }
            v
        })
        .collect();
    let count = |s: &str| list.iter().filter(|v| v["status"] == s).count();
    json!({
        "changed": changed,
        "plan_only": planned,
        "planned": items.len(),
        "applied": count("applied"),
        "failed": count("failed"),
        "skipped": count("skipped"),
        "duration_ms": started.elapsed().as_millis() as u64,
        "logins": logins,
        "items": list,
    })
}
