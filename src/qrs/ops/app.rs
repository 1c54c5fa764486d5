//! App operations beyond the generic ones: export (two-step, streamed to disk, several at a
//! time, retried as a whole), import (streamed upload, or replace), copy, publish, reload.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::Value;

use super::generic::{self, id_or_name};
use crate::error::{Error, Result};
use crate::qrs::client::{Body, QrsClient};
use crate::qrs::endpoints;
use crate::qrs::resources::{Op, ResourceKind};

/// Which content an export includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportScope {
    /// Approved content only (the QRS default).
    Approved,
    /// Include private and community content.
    All,
}

impl ExportScope {
    fn wire_name(self) -> &'static str {
        match self {
            ExportScope::Approved => "approved",
            ExportScope::All => "all",
        }
    }
}

// ---- export ----------------------------------------------------------------------------------

/// The apps to export: the one with `id`, else those matching `flt` (every app without one).
/// None is a not-found error.
pub async fn select(client: &QrsClient, id: Option<&str>, flt: Option<&str>) -> Result<Vec<Value>> {
    let res = ResourceKind::App;
    let apps = match id {
        Some(id) => vec![generic::get(client, res, id).await?],
        None => {
            client
                .get_list(
                    &res.op_path(Op::List, None)?,
                    &[("filter", flt.unwrap_or_default())],
                )
                .await?
        }
    };
    if apps.is_empty() {
        return Err(Error::not_found("no app matches the filter")
            .with_hint("check it with `qtool qrs app ls --filter ...`"));
    }
    Ok(apps)
}

/// Where exported files go.
#[derive(Debug, Clone)]
pub struct FileNaming {
    /// One file for a single app.
    pub out: Option<PathBuf>,
    /// Directory for the files (default: the current directory).
    pub dir: Option<PathBuf>,
    /// `{name}`, `{id}`, `{stream}`, `{date}` placeholders.
    pub name_template: String,
}

/// One app and the file it is exported to.
#[derive(Debug)]
pub struct Planned {
    pub app: Value,
    pub path: PathBuf,
}

/// The file each app goes to: `files.out` for a single app, else `files.dir` joined with the
/// rendered name template (sanitised; a name used twice gets the app id appended).
pub fn plan_files(files: &FileNaming, apps: Vec<Value>) -> Result<Vec<Planned>> {
    if let Some(out) = &files.out {
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
    let dir = files.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let date = time::OffsetDateTime::now_utc().date().to_string();
    let mut seen = HashSet::new();
    let mut plan = Vec::new();
    for app in apps {
        let id = crate::output::cell(&app, "id");
        let mut name = sanitize(&render_template(&files.name_template, &app, &date)?, &id);
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

/// Create the target directories, and refuse to replace an existing file unless `overwrite`.
pub fn prepare_targets(plan: &[Planned], overwrite: bool) -> Result<()> {
    for p in plan {
        if let Some(parent) = p.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        if !overwrite && p.path.exists() {
            return Err(
                Error::conflict(format!("{} exists already", p.path.display()))
                    .with_hint("pass --overwrite to replace it, or another --name-template"),
            );
        }
    }
    Ok(())
}

/// Export every planned app, `opts.concurrency` at a time; one result (bytes written) per app.
pub async fn export(
    client: &QrsClient,
    plan: Vec<Planned>,
    opts: ExportOptions,
    progress: &MultiProgress,
) -> Vec<(Planned, Result<u64>)> {
    let opts = &opts;
    futures_util::stream::iter(plan)
        .map(|p| async move {
            let r = export_one(client, &p, opts, progress).await;
            (p, r)
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await
}

/// Total limit of one upload or download (the idle limit between chunks is --timeout).
const LONG_TRANSFER: Duration = Duration::from_secs(24 * 3600);

/// How apps are exported.
#[derive(Debug, Clone, Copy)]
pub struct ExportOptions {
    pub skip_data: bool,
    pub scope: ExportScope,
    /// Exports running at the same time.
    pub concurrency: usize,
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
            ("exportscope", opts.scope.wire_name()),
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

/// A QVF to upload.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file: PathBuf,
    /// Name of the new app (default: the file name without .qvf).
    pub name: Option<String>,
    /// Replace the app with this id instead of creating one.
    pub replace: Option<String>,
    pub keep_data: bool,
    pub exclude_connections: bool,
}

/// Upload the file (streamed, reopened for each retry); the created or replaced app.
pub async fn import(
    client: &QrsClient,
    upload: &Upload,
    progress: &MultiProgress,
) -> Result<Value> {
    let meta = std::fs::metadata(&upload.file)
        .map_err(|e| Error::io(format!("reading {}", upload.file.display()), e))?;
    if !meta.is_file() {
        return Err(Error::input(format!(
            "{} is not a file",
            upload.file.display()
        )));
    }
    let size = meta.len();
    let name = match &upload.name {
        Some(n) => n.clone(),
        None => upload
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::usage("give the app a --name"))?,
    };
    let bar = progress.add(new_bar(Some(size), &name));
    let keep = if upload.keep_data { "true" } else { "false" };
    let url = match &upload.replace {
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
                    if upload.exclude_connections {
                        "true"
                    } else {
                        "false"
                    },
                ),
            ],
        )?,
    };
    let path = upload.file.clone();
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
    // The upload plus the repository's processing: --timeout plus 1 s per MiB.
    let total = client.timeout() + Duration::from_secs(size >> 20);
    let created = async {
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
        client.read_json(resp, "app upload").await
    }
    .await;
    bar.finish_and_clear();
    created
}

// ---- copy, publish, reload ----------------------------------------------------------------------

/// Copy an app; `name` names the copy (default: as QRS names it).
pub async fn copy(client: &QrsClient, id: &str, name: Option<&str>) -> Result<Value> {
    let query: Vec<(&str, &str)> = name.iter().map(|n| ("name", *n)).collect();
    let url = client.url(&endpoints::APP_COPY.path(&[id])?, &query)?;
    client.json(Method::POST, url, Body::None).await
}

/// Publish an app to a stream given by name or id, optionally under a new name.
pub async fn publish(
    client: &QrsClient,
    id: &str,
    stream: &str,
    name: Option<&str>,
) -> Result<Value> {
    let stream_id = id_or_name(client, ResourceKind::Stream, stream).await?;
    let mut query = vec![("stream", stream_id.as_str())];
    if let Some(n) = name {
        query.push(("name", n));
    }
    let url = client.url(&endpoints::APP_PUBLISH.path(&[id])?, &query)?;
    client.json(Method::PUT, url, Body::None).await
}

/// Start a reload of the app now (without a task).
pub async fn reload(client: &QrsClient, id: &str) -> Result<()> {
    let url = client.url(&endpoints::APP_RELOAD.path(&[id])?, &[])?;
    client.send(Method::POST, url, Body::None).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
