//! App verbs beyond the generic ones: export (two-step, streamed to disk, several at a time),
//! import (streamed upload, or replace), copy, publish (stream by name or id), reload.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};

use super::generic::{self, connect};
use super::output::{id_or_name, print_one};
use super::{AppCommand, IdArg};
use crate::app::App;
use crate::error::{Error, Result};
use crate::output::{col, status};
use crate::qrs::client::{Body, QrsClient};
use crate::qrs::endpoints;
use crate::qrs::filter;
use crate::qrs::resources::{Op, ResourceKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportScope {
    /// Approved content only (the QRS default).
    Approved,
    /// Include private and community content.
    All,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["id", "filter", "name"]))]
pub struct ExportArgs {
    /// Id of the app to export.
    pub id: Option<String>,
    /// Export every app matching this QRS filter.
    #[arg(long, short = 'f', value_name = "FILTER")]
    pub filter: Option<String>,
    /// Export the app(s) with this exact name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Output file (one app only).
    #[arg(long, value_name = "FILE", conflicts_with = "dir")]
    pub out: Option<PathBuf>,
    /// Output directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// File name template: {name}, {id}, {stream}, {date} (names are sanitised).
    #[arg(long, value_name = "TEMPLATE", default_value = "{name}-{id}.qvf")]
    pub name_template: String,
    /// Export without data (structure and script only).
    #[arg(long)]
    pub skip_data: bool,
    /// Which content to include.
    #[arg(long, value_enum, default_value_t = ExportScope::Approved)]
    pub scope: ExportScope,
    /// Exports running at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
    /// Replace existing files.
    #[arg(long)]
    pub overwrite: bool,
    /// Show which apps would be exported to which files, and stop.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// QVF file to upload.
    pub file: PathBuf,
    /// Name of the new app (default: the file name without .qvf).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Replace the app with this id instead of creating a new one.
    #[arg(long, value_name = "ID")]
    pub replace: Option<String>,
    /// Do not import the data of the app.
    #[arg(long)]
    pub no_data: bool,
    /// Do not import the app's data connections.
    #[arg(long, conflicts_with = "replace")]
    pub exclude_connections: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Id of the app to copy.
    pub id: String,
    /// Name of the copy (default: as QRS names it).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Id of the app to publish.
    pub id: String,
    /// Stream name or id.
    #[arg(long, value_name = "NAME|ID")]
    pub stream: String,
    /// Publish under a new name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

pub fn run(cmd: AppCommand, app: &App) -> Result<u8> {
    let res = ResourceKind::App;
    match cmd {
        AppCommand::Common(v) => generic::run(res, v, app),
        AppCommand::Export(a) => export(a, app, res),
        AppCommand::Import(a) => import(a, app, res),
        AppCommand::Copy(a) => copy(a, app, res),
        AppCommand::Publish(a) => publish(a, app, res),
        AppCommand::Reload(a) => reload(a, app),
    }
}

// ---- export ----------------------------------------------------------------------------------

struct Planned {
    app: Value,
    path: PathBuf,
}

fn export(a: ExportArgs, app: &App, res: ResourceKind) -> Result<u8> {
    let client = connect(app)?;
    let progress = progress_target(app);
    app.block_on(async {
        let apps = if let Some(id) = &a.id {
            vec![generic::get(&client, res, id).await?]
        } else {
            let flt = filter::with_name(a.filter.as_deref(), "name", a.name.as_deref())
                .unwrap_or_default();
            client
                .get_list(&res.op_path(Op::List, None)?, &[("filter", &flt)])
                .await?
        };
        if apps.is_empty() {
            return Err(Error::not_found("no app matches the filter")
                .with_hint("check it with `qtool qrs app ls --filter ...`"));
        }
        let plan = plan_files(&a, apps)?;
        if a.dry_run {
            let rows: Vec<Value> = plan
                .iter()
                .map(|p| {
                    json!({"id": p.app["id"], "name": p.app["name"], "file": p.path.display().to_string()})
                })
                .collect();
            return app.printer.list(
                &rows,
                &[col("ID", "id"), col("NAME", "name"), col("FILE", "file")],
                "id",
            );
        }
        for p in &plan {
            if let Some(parent) = p.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
            }
            if !a.overwrite && p.path.exists() {
                return Err(Error::conflict(format!("{} exists already", p.path.display()))
                    .with_hint("pass --overwrite to replace it, or another --name-template"));
            }
        }
        let total = plan.len();
        let opts = ExportOptions {
            skip_data: a.skip_data,
            scope: match a.scope {
                ExportScope::Approved => "approved",
                ExportScope::All => "all",
            },
        };
        let progress = &progress;
        let opts = &opts;
        let client = &client;
        let results: Vec<(Planned, Result<u64>)> = futures_util::stream::iter(plan)
            .map(|p| async move {
                let r = export_one(client, &p, opts, progress).await;
                (p, r)
            })
            .buffer_unordered(usize::from(a.concurrency))
            .collect()
            .await;
        let mut rows = Vec::new();
        let mut first_err: Option<Error> = None;
        let mut failed = 0;
        for (p, r) in results {
            match r {
                Ok(bytes) => rows.push(json!({
                    "id": p.app["id"],
                    "name": p.app["name"],
                    "file": p.path.display().to_string(),
                    "bytes": bytes,
                })),
                Err(e) => {
                    failed += 1;
                    if total > 1 {
                        crate::output::warn(&format!(
                            "app {} ({}): {e}",
                            crate::output::cell(&p.app, "id"),
                            crate::output::cell(&p.app, "name")
                        ));
                    }
                    first_err.get_or_insert(e);
                }
            }
        }
        if !rows.is_empty() {
            app.printer.list(
                &rows,
                &[
                    col("ID", "id"),
                    col("NAME", "name"),
                    col("FILE", "file"),
                    col("BYTES", "bytes"),
                ],
                "file",
            )?;
        }
        match first_err {
            None => Ok(()),
            Some(e) if total == 1 => Err(e),
            Some(e) => Err(Error::new(
                e.class(),
                format!("{failed} of {total} exports failed; first: {e}"),
            )),
        }
    })?;
    Ok(0)
}

fn plan_files(a: &ExportArgs, apps: Vec<Value>) -> Result<Vec<Planned>> {
    if let Some(out) = &a.out {
        if apps.len() != 1 {
            return Err(Error::usage(format!(
                "--out names one file but {} apps match",
                apps.len()
            ))
            .with_hint("use --dir with --name-template for several apps"));
        }
        return Ok(apps
            .into_iter()
            .map(|app| Planned {
                app,
                path: out.clone(),
            })
            .collect());
    }
    let dir = a.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let date = time::OffsetDateTime::now_utc().date().to_string();
    let mut seen = HashSet::new();
    let mut plan = Vec::new();
    for app in apps {
        let id = crate::output::cell(&app, "id");
        let mut name = sanitize(&render_template(&a.name_template, &app, &date)?, &id);
        if !seen.insert(name.to_lowercase()) {
            name = sanitize(&with_suffix(&name, &id), &id);
            seen.insert(name.to_lowercase());
        }
        plan.push(Planned {
            path: dir.join(name),
            app,
        });
    }
    Ok(plan)
}

fn render_template(template: &str, app: &Value, date: &str) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('}').ok_or_else(|| {
            Error::usage(format!("--name-template `{template}` has an unclosed `{{`"))
        })?;
        let key = &after[..end];
        let value = match key {
            "name" => crate::output::cell(app, "name"),
            "id" => crate::output::cell(app, "id"),
            "stream" => crate::output::cell(app, "stream.name"),
            "date" => date.to_string(),
            other => {
                return Err(Error::usage(format!(
                    "--name-template: unknown placeholder {{{other}}}"
                ))
                .with_hint("use {name}, {id}, {stream} or {date}"));
            }
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A file name safe on Windows, macOS and Linux: no separators, reserved or control characters,
/// no trailing dots/spaces, not empty, at most 200 bytes (the extension kept).
pub fn sanitize(name: &str, fallback_id: &str) -> String {
    let mut s = crate::storage::replace_unsafe_file_chars(name);
    s = s.trim().trim_end_matches(['.', ' ']).to_string();
    // No hidden files: a leading dot (".qvf" from an empty name) gets the id in front.
    let mut s = if s.is_empty() {
        format!("{fallback_id}.qvf")
    } else if s.starts_with('.') {
        format!("{fallback_id}{s}")
    } else {
        s
    };
    let reserved = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "LPT1", "LPT2",
    ];
    if let Some(stem) = Path::new(&s)
        .file_stem()
        .map(|x| x.to_string_lossy().to_uppercase())
        && reserved.contains(&stem.as_str())
    {
        s = format!("_{s}");
    }
    if s.len() > 200 {
        let ext = Path::new(&s)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .filter(|e| e.len() < 16)
            .unwrap_or_default();
        let mut cut = 200 - ext.len();
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s = format!("{}{ext}", &s[..cut]);
    }
    s
}

fn with_suffix(name: &str, id: &str) -> String {
    let p = Path::new(name);
    match (p.file_stem(), p.extension()) {
        (Some(stem), Some(ext)) => {
            format!("{}-{id}.{}", stem.to_string_lossy(), ext.to_string_lossy())
        }
        _ => format!("{name}-{id}"),
    }
}

/// Total limit of one upload or download (the idle limit between chunks is --timeout).
const LONG_TRANSFER: Duration = Duration::from_secs(24 * 3600);

struct ExportOptions {
    skip_data: bool,
    scope: &'static str,
}

/// A partial download: removed when dropped unless it was renamed into place.
struct PartFile {
    path: PathBuf,
    done: bool,
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// One app, retried from step 1 with a fresh export token when the server dropped the connection
/// or answered 5xx (the export POST itself is never re-sent, and a killed attempt's temp file is
/// removed): `--retries` covers the whole two-step export, not only its GET.
async fn export_one(
    client: &QrsClient,
    p: &Planned,
    opts: &ExportOptions,
    progress: &MultiProgress,
) -> Result<u64> {
    let mut attempt = 0u32;
    loop {
        match export_attempt(client, p, opts, progress).await {
            Err(e)
                if attempt < client.retries()
                    && matches!(
                        e.class(),
                        crate::error::ErrorClass::Network | crate::error::ErrorClass::Server
                    ) =>
            {
                tracing::info!("export failed ({e}); retrying (attempt {})", attempt + 2);
                tokio::time::sleep(Duration::from_millis(200 * (1u64 << attempt.min(4)))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn export_attempt(
    client: &QrsClient,
    p: &Planned,
    opts: &ExportOptions,
    progress: &MultiProgress,
) -> Result<u64> {
    let id = crate::output::cell(&p.app, "id");
    let name = crate::output::cell(&p.app, "name");
    let token = uuid::Uuid::new_v4().to_string();
    // Step 1: ask the repository to prepare the file.
    let url = client.url(
        &endpoints::APP_EXPORT.path(&[&id, &token])?,
        &[
            ("skipdata", if opts.skip_data { "true" } else { "false" }),
            ("exportscope", opts.scope),
        ],
    )?;
    let answer = client.json(Method::POST, url, Body::None).await?;
    let download = answer
        .get("downloadPath")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::server(format!("the export of app {id} returned no downloadPath")))?;
    // Step 2: download it through the same proxy, into a temp file next to the target.
    // No total limit for the transfer itself; --timeout limits the wait for each chunk.
    let url = client.url_for_server_path(download)?;
    let resp = client
        .send_with_timeout(Method::GET, url, Body::None, Some(LONG_TRANSFER))
        .await?;
    let dir = p
        .path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = p
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("{id}.qvf"));
    let mut part = PartFile {
        path: dir.join(format!(".{file_name}.{}.part", &token[..8])),
        done: false,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&part.path)
        .map_err(|e| Error::io(format!("creating {}", part.path.display()), e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let bar = progress.add(new_bar(resp.content_length(), &name));
    let mut written = 0u64;
    let mut body = resp.bytes_stream();
    let idle = client.timeout();
    loop {
        let next = tokio::time::timeout(idle, body.next()).await.map_err(|_| {
            Error::network(format!(
                "the download of app {id} stalled (nothing for {}s)",
                idle.as_secs()
            ))
            .with_hint("run the export again, or raise --timeout")
        })?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            Error::network(format!(
                "the download of app {id} was cut off: {}",
                crate::http::root_cause(&e)
            ))
            .with_hint("run the export again")
        })?;
        out.write_all(&chunk)
            .map_err(|e| Error::io(format!("writing {}", part.path.display()), e))?;
        written += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
    }
    let file = out
        .into_inner()
        .map_err(|e| Error::io(format!("writing {}", part.path.display()), e.into_error()))?;
    file.sync_all()
        .map_err(|e| Error::io(format!("writing {}", part.path.display()), e))?;
    drop(file);
    std::fs::rename(&part.path, &p.path)
        .map_err(|e| Error::io(format!("renaming to {}", p.path.display()), e))?;
    part.done = true;
    bar.finish_and_clear();
    Ok(written)
}

fn progress_target(app: &App) -> MultiProgress {
    let show = std::io::stderr().is_terminal() && !app.global.quiet && app.global.verbose == 0;
    if show {
        MultiProgress::new()
    } else {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    }
}

fn new_bar(len: Option<u64>, label: &str) -> ProgressBar {
    let short: String = label.chars().take(30).collect();
    match len {
        Some(n) => {
            let bar = ProgressBar::new(n);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:30} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            ) {
                bar.set_style(style);
            }
            bar.set_message(short);
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {msg:30} {bytes} {bytes_per_sec}")
            {
                bar.set_style(style);
            }
            bar.set_message(short);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        }
    }
}

// ---- import ----------------------------------------------------------------------------------

fn import(a: ImportArgs, app: &App, res: ResourceKind) -> Result<u8> {
    let meta = std::fs::metadata(&a.file)
        .map_err(|e| Error::io(format!("reading {}", a.file.display()), e))?;
    if !meta.is_file() {
        return Err(Error::input(format!("{} is not a file", a.file.display())));
    }
    let size = meta.len();
    let name = match (&a.name, &a.replace) {
        (Some(n), _) => n.clone(),
        (None, _) => a
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::usage("give the app a --name"))?,
    };
    let client = connect(app)?;
    let progress = progress_target(app);
    let bar = progress.add(new_bar(Some(size), &name));
    let keep = if a.no_data { "false" } else { "true" };
    let url = match &a.replace {
        Some(target) => client.url(
            &endpoints::APP_UPLOAD_REPLACE.path(&[])?,
            &[("targetappid", target), ("keepdata", keep)],
        )?,
        None => client.url(
            &endpoints::APP_UPLOAD.path(&[])?,
            &[
                ("name", &name),
                ("keepdata", keep),
                (
                    "excludeconnections",
                    if a.exclude_connections {
                        "true"
                    } else {
                        "false"
                    },
                ),
            ],
        )?,
    };
    let path = a.file.clone();
    let bar_for_body = bar.clone();
    // Rebuilt for each attempt: the file is reopened and streamed from the start.
    let make_body = move || -> (reqwest::Body, Option<u64>) {
        bar_for_body.set_position(0);
        let bar = bar_for_body.clone();
        let stream = match std::fs::File::open(&path) {
            Ok(f) => {
                tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(f), 1 << 18)
                    .map(move |chunk| {
                        if let Ok(c) = &chunk {
                            bar.inc(c.len() as u64);
                        }
                        chunk
                    })
                    .boxed()
            }
            Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
        };
        (reqwest::Body::wrap_stream(stream), Some(size))
    };
    let created = app.block_on(async {
        // The upload plus the repository's processing: --timeout plus 1 s per MiB.
        let total = client.timeout() + Duration::from_secs(size >> 20);
        let resp = client
            .send_with_timeout(
                Method::POST,
                url,
                Body::Stream {
                    make: &make_body,
                    content_type: crate::qrs::wire::APP_CONTENT_TYPE,
                },
                Some(total),
            )
            .await?;
        crate::qrs::client::read_json(resp, "app upload").await
    });
    bar.finish_and_clear();
    let created = created?;
    print_one(&app.printer, res, created)?;
    Ok(0)
}

// ---- copy, publish, reload ----------------------------------------------------------------------

fn copy(a: CopyArgs, app: &App, res: ResourceKind) -> Result<u8> {
    let client = connect(app)?;
    let mut query = Vec::new();
    if let Some(n) = &a.name {
        query.push(("name", n.as_str()));
    }
    let url = client.url(&endpoints::APP_COPY.path(&[&a.id])?, &query)?;
    let created = app.block_on(client.json(Method::POST, url, Body::None))?;
    print_one(&app.printer, res, created)?;
    Ok(0)
}

fn publish(a: PublishArgs, app: &App, res: ResourceKind) -> Result<u8> {
    let client = connect(app)?;
    let streams = ResourceKind::Stream;
    let published = app.block_on(async {
        let stream_id = id_or_name(&client, streams, &a.stream).await?;
        let mut query = vec![("stream", stream_id.as_str())];
        if let Some(n) = &a.name {
            query.push(("name", n.as_str()));
        }
        let url = client.url(&endpoints::APP_PUBLISH.path(&[&a.id])?, &query)?;
        client.json(Method::PUT, url, Body::None).await
    })?;
    print_one(&app.printer, res, published)?;
    Ok(0)
}

fn reload(a: IdArg, app: &App) -> Result<u8> {
    let client = connect(app)?;
    let url = client.url(&endpoints::APP_RELOAD.path(&[&a.id])?, &[])?;
    app.block_on(async { client.send(Method::POST, url, Body::None).await.map(drop) })?;
    if !app.printer.quiet() {
        status(&format!("Reload of app {} started", a.id));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_sanitised() {
        assert_eq!(
            sanitize("Sales: Q1/Q2 <draft>?.qvf", "x"),
            "Sales_ Q1_Q2 _draft__.qvf"
        );
        assert_eq!(sanitize("...", "abc"), "abc.qvf");
        assert_eq!(sanitize(".qvf", "abc"), "abc.qvf");
        assert_eq!(sanitize("CON.qvf", "abc"), "_CON.qvf");
        let long = format!("{}.qvf", "é".repeat(300));
        let s = sanitize(&long, "x");
        assert!(s.len() <= 200 && s.ends_with(".qvf"), "{s}");
    }

    #[test]
    fn templates_render() {
        let app = json!({"id": "1", "name": "A/B", "stream": {"name": "S"}});
        assert_eq!(
            render_template("{stream}-{name}-{id}.qvf", &app, "2026-01-01").unwrap(),
            "S-A/B-1.qvf"
        );
        assert!(render_template("{nope}", &app, "d").is_err());
        assert!(render_template("{name", &app, "d").is_err());
        assert_eq!(with_suffix("a.qvf", "1"), "a-1.qvf");
    }

    #[test]
    fn part_file_is_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.part");
        std::fs::write(&path, b"partial").unwrap();
        drop(PartFile {
            path: path.clone(),
            done: false,
        });
        assert!(!path.exists());
    }
}
