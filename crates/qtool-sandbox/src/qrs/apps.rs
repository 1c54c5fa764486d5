//! App operations with file contents: upload (streamed to disk), upload/replace, two-step export
//! and its one-time download, copy, publish, replace, reload, delete.
//!
//! App contents live in `<data_dir>/apps/<id>.qvf`. Seeded apps get a file lazily (deterministic
//! bytes of their `fileSize`) the first time something needs it.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;

use super::routes::{
    Ctx, bad_request, body_error, caller_user_id, json_response, no_content, not_found,
    respond_entity, text,
};
use super::store;
use super::types::type_def;
use super::{Export, QrsState, tasks};
use crate::identity::Identity;
use crate::qrs::spec;

/// Characters escaped in a path segment (unreserved ones stay as they are).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

fn server_error(what: &str, e: &std::io::Error) -> Response {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("Could not {what}: {e}"),
    )
}

/// Deterministic stand-in content for an app that has no file yet.
pub fn fake_content_block(app_id: &str, block: u64, out: &mut Vec<u8>, len: usize) {
    // FNV-1a of the id, then xorshift64*.
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for b in app_id.bytes() {
        x ^= u64::from(b);
        x = x.wrapping_mul(0x0100_0000_01b3);
    }
    x ^= block.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    if x == 0 {
        x = 1;
    }
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.truncate(len);
}

/// Make sure the app's file exists: a seeded app gets its content (a sandbox engine app, see
/// `engine::qvf`) the first time something needs it; the entity's `fileSize` follows the file.
pub async fn ensure_file(st: &QrsState, app_id: &str) -> Result<PathBuf, std::io::Error> {
    let path = st.app_file(app_id);
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Ok(path);
    }
    let Some(app) = st.read().get("app", app_id) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such app",
        ));
    };
    let text = |k: &str| {
        app.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (name, description, reloaded) = (text("name"), text("description"), text("lastReloadTime"));
    let size = app
        .get("fileSize")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .unwrap_or(64 * 1024);
    let objects = st.config().seed_objects;
    let (target, id) = (path.clone(), app_id.to_string());
    let written = tokio::task::spawn_blocking(move || {
        crate::engine::qvf::write_seeded(
            &target,
            &crate::engine::qvf::SeedApp {
                id: &id,
                name: &name,
                description: &description,
                file_size: size,
                objects,
                last_reload_time: &reloaded,
            },
        )
    })
    .await
    .map_err(std::io::Error::other)??;
    if written != size {
        st.mutate(|s| {
            if let Some(mut a) = s.get("app", app_id) {
                a.insert("fileSize".into(), json!(written));
                s.put("app", &a);
            }
        });
    }
    Ok(path)
}

/// Remove a deleted app's file, once the delete is durable: a kill in between must not leave an
/// app without its content. If the journal cannot be written, the file stays (an orphan is
/// removed at the next start when the delete did reach the journal).
pub async fn remove_file(st: &QrsState, app_id: &str) {
    if crate::journal::flush_recorded().await.is_ok() {
        let _ = tokio::fs::remove_file(st.app_file(app_id)).await;
    }
}

/// Copy `src` over `dest` durably: a synced temp file renamed into place, the rename synced.
async fn copy_durably(src: &Path, dest: &Path) -> std::io::Result<()> {
    let tmp = dest.with_extension(format!("{}.tmp", store::new_id()));
    let copied = async {
        tokio::fs::copy(src, &tmp).await?;
        tokio::fs::File::open(&tmp).await?.sync_all().await?;
        tokio::fs::rename(&tmp, dest).await?;
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        tokio::task::spawn_blocking(move || qtool_common::fs::sync_dir(&dir))
            .await
            .map_err(std::io::Error::other)
    }
    .await;
    if copied.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    copied
}

fn check_content_type(ctx: &Ctx) -> Result<(), Response> {
    let ct = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or_default().trim();
    if essence == spec::APP_CONTENT_TYPE || essence == "application/octet-stream" {
        Ok(())
    } else {
        Err(text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Unsupported content type '{ct}': send the QVF as {}",
                spec::APP_CONTENT_TYPE
            ),
        ))
    }
}

/// Stream the request body into `dest` (via a temp file, synced and renamed on success, so the
/// file is durable before the change that refers to it is recorded). Returns its size.
async fn receive(st: &QrsState, body: Body, dest: &Path) -> Result<u64, Response> {
    let tmp = st
        .config()
        .data_dir
        .join("apps")
        .join(format!(".upload-{}.tmp", store::new_id()));
    let r: Result<u64, Response> = async {
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| server_error("store the upload", &e))?;
        let mut stream = body.into_data_stream();
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| match crate::body::BodyError::from_stream(&e) {
                slow @ crate::body::BodyError::TooSlow(_) => body_error(&slow),
                _ => bad_request("The upload was interrupted"),
            })?;
            f.write_all(&chunk)
                .await
                .map_err(|e| server_error("store the upload", &e))?;
            n += chunk.len() as u64;
        }
        if n == 0 {
            return Err(bad_request("The uploaded app file is empty"));
        }
        f.sync_all()
            .await
            .map_err(|e| server_error("store the upload", &e))?;
        drop(f);
        tokio::fs::rename(&tmp, dest)
            .await
            .map_err(|e| server_error("store the upload", &e))?;
        let dir = st.config().data_dir.join("apps");
        tokio::task::spawn_blocking(move || qtool_common::fs::sync_dir(&dir))
            .await
            .map_err(|e| server_error("store the upload", &std::io::Error::other(e)))?;
        Ok(n)
    }
    .await;
    if r.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    r
}

pub async fn upload(mut ctx: Ctx) -> Response {
    let Some(name) = ctx.q("name").map(str::trim).filter(|n| !n.is_empty()) else {
        return bad_request("Missing parameter value(s): name");
    };
    let name = name.to_string();
    for p in ["keepdata", "excludeconnections", "privileges"] {
        if let Err(r) = ctx.q_bool(p, false) {
            return r;
        }
    }
    if let Err(r) = check_content_type(&ctx) {
        return r;
    }
    let id = store::new_id();
    let body = std::mem::take(&mut ctx.body);
    let size = match receive(&ctx.st, body, &ctx.st.app_file(&id)).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    if !add_app(&ctx.st, &id, &name, &ctx.identity, size) {
        return not_found("type", "app");
    }
    respond_entity(&ctx, StatusCode::CREATED, "app", &id)
}

/// A new app entity `id` named `name`, owned by `identity`, whose file (already written) has
/// `size` bytes. `false` when the app type is unknown.
pub(crate) fn add_app(st: &QrsState, id: &str, name: &str, identity: &Identity, size: u64) -> bool {
    let Some(td) = type_def("app") else {
        return false;
    };
    st.mutate(|s| {
        let owner = caller_user_id(s, identity);
        let mut body = Map::new();
        body.insert("id".into(), json!(id));
        body.insert("name".into(), json!(name));
        body.insert("owner".into(), json!(owner.map(|o| json!({"id": o}))));
        let mut e = s.new_entity(td, &body, &identity.display_name());
        e.insert("fileSize".into(), json!(size));
        s.put("app", &e);
    });
    true
}

pub async fn upload_replace(mut ctx: Ctx) -> Response {
    let Some(target) = ctx.q("targetappid").map(str::to_string) else {
        return bad_request("Missing parameter value(s): targetappid");
    };
    for p in ["keepdata", "privileges"] {
        if let Err(r) = ctx.q_bool(p, false) {
            return r;
        }
    }
    if !ctx.st.read().contains("app", &target) {
        return not_found("App", &target);
    }
    if let Err(r) = check_content_type(&ctx) {
        return r;
    }
    let body = std::mem::take(&mut ctx.body);
    let size = match receive(&ctx.st, body, &ctx.st.app_file(&target)).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let by = ctx.by();
    touch_app(&ctx.st, &target, &by, |a| {
        a.insert("fileSize".into(), json!(size));
    });
    respond_entity(&ctx, StatusCode::CREATED, "app", &target)
}

/// Change an app (bumping its modifiedDate).
pub(crate) fn touch_app(
    st: &QrsState,
    id: &str,
    by: &str,
    f: impl FnOnce(&mut Map<String, Value>),
) {
    st.mutate(|s| {
        if let Some(mut a) = s.get("app", id) {
            f(&mut a);
            let now = s.now();
            a.insert("modifiedDate".into(), json!(now));
            a.insert("modifiedByUserName".into(), json!(by));
            s.put("app", &a);
        }
    });
}

fn app_name(st: &QrsState, id: &str) -> Option<String> {
    st.read().get("app", id).map(|a| {
        a.get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    })
}

/// A file name for the download path (no path separators or reserved characters).
fn file_name(app_name: &str) -> String {
    let cleaned: String = app_name
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim();
    format!("{}.qvf", if cleaned.is_empty() { "app" } else { cleaned })
}

/// Freeze the app's current content as a one-time download under a new id (the temp-content
/// id, or the old flow's ticket). `Err` is the 404/500 to answer.
async fn prepare_export(
    st: &QrsState,
    owner: Identity,
    app_id: &str,
    token: String,
    via_ticket: bool,
) -> Result<String, Response> {
    let Some(name) = app_name(st, app_id) else {
        return Err(not_found("App", app_id));
    };
    let src = ensure_file(st, app_id)
        .await
        .map_err(|e| server_error("read the app file", &e))?;
    let id = store::new_id();
    let file = st.export_dir().join(format!("{id}.qvf"));
    // A hard link freezes the content as of now (a later replace renames a new file in place);
    // copy when the file system cannot link.
    if std::fs::hard_link(&src, &file).is_err()
        && let Err(e) = tokio::fs::copy(&src, &file).await
    {
        return Err(server_error("prepare the export", &e));
    }
    st.exports().insert(
        id.clone(),
        Export {
            token,
            app_id: app_id.to_string(),
            file,
            file_name: file_name(&name),
            via_ticket,
            owner,
        },
    );
    Ok(id)
}

/// `POST /qrs/app/{id}/export/{token}`: `201 AppExportResponse` whose `downloadPath`
/// (`/tempcontent/<id>/<name>.qvf?serverNodeId=<node>`) serves the file once.
pub async fn export(ctx: Ctx) -> Response {
    let app_id = ctx.param("id").to_ascii_lowercase();
    let token = ctx.param("token");
    if uuid::Uuid::parse_str(&token).is_err() {
        return bad_request(format!("The export token '{token}' is not a GUID"));
    }
    if let Err(r) = ctx.q_bool("skipdata", false) {
        return r;
    }
    let temp_id = match prepare_export(
        &ctx.st,
        ctx.identity.clone(),
        &app_id,
        token.to_ascii_lowercase(),
        false,
    )
    .await
    {
        Ok(id) => id,
        Err(r) => return r,
    };
    let fname = ctx
        .st
        .exports()
        .get(&temp_id)
        .map(|e| e.file_name.clone())
        .unwrap_or_default();
    let download = format!(
        "/tempcontent/{temp_id}/{}?serverNodeId={}",
        utf8_percent_encode(&fname, SEGMENT),
        ctx.st.node_id()
    );
    json_response(
        StatusCode::CREATED,
        &json!({
            "schemaPath": "AppExportResponse", "exportToken": token.to_ascii_lowercase(),
            "appId": app_id, "downloadPath": download, "cancelled": false,
        }),
    )
}

/// `GET /qrs/app/{id}/export` (the flow before the token one, deprecated in the spec):
/// `200 {"value": "<ticket>"}`, then `GET /qrs/download/app/{id}/{ticket}/{any name}` serves
/// the file once. The spec says the answer is a bare GUID; clients read `.value` (qsAPI's
/// legacy `AppExport`), like `/count`.
pub async fn export_ticket(ctx: Ctx) -> Response {
    let app_id = ctx.param("id").to_ascii_lowercase();
    match prepare_export(&ctx.st, ctx.identity.clone(), &app_id, String::new(), true).await {
        Ok(ticket) => json_response(StatusCode::OK, &json!({ spec::VALUE_FIELD: ticket })),
        Err(r) => r,
    }
}

pub fn export_cancel(ctx: &Ctx) -> Response {
    let app_id = ctx.param("id").to_ascii_lowercase();
    let token = ctx.param("token").to_ascii_lowercase();
    let found = {
        let mut ex = ctx.st.exports();
        let key = ex
            .iter()
            .find(|(_, e)| !e.via_ticket && e.token == token && e.app_id == app_id)
            .map(|(k, _)| k.clone());
        key.and_then(|k| ex.remove(&k))
    };
    let Some(e) = found else {
        return text(
            StatusCode::NOT_FOUND,
            format!("Cannot find an export of app '{app_id}' with token '{token}'"),
        );
    };
    let _ = std::fs::remove_file(&e.file);
    json_response(
        StatusCode::OK,
        &json!({
            "schemaPath": "AppExportResponse", "exportToken": token, "appId": app_id,
            "downloadPath": "", "cancelled": true,
        }),
    )
}

/// `GET /tempcontent/<id>/<name>.qvf`: the export, streamed from disk, once.
pub async fn download(ctx: Ctx) -> Response {
    let temp_id = ctx.param("tempid").to_ascii_lowercase();
    match take_export(&ctx, &temp_id, |e| !e.via_ticket) {
        Ok(Some(e)) => stream_export(e, "application/octet-stream").await,
        Ok(None) => text(StatusCode::NOT_FOUND, "Not Found"),
        Err(r) => r,
    }
}

/// `GET /qrs/download/app/{id}/{ticket}/{name}`: the old flow's download, once.
pub async fn download_ticket(ctx: Ctx) -> Response {
    let app_id = ctx.param("id").to_ascii_lowercase();
    let ticket = ctx.param("ticket").to_ascii_lowercase();
    match take_export(&ctx, &ticket, |e| e.via_ticket && e.app_id == app_id) {
        // The spec's `produces` for this deprecated download.
        Ok(Some(e)) => stream_export(e, "application/unknown").await,
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            format!("Cannot find an export of app '{app_id}' with ticket '{ticket}'"),
        ),
        Err(r) => r,
    }
}

/// Remove and return the pending export `id` when it `matches`; `Err(403)` when another user
/// started it (the export stays for its owner).
fn take_export(
    ctx: &Ctx,
    id: &str,
    matches: impl Fn(&Export) -> bool,
) -> Result<Option<Export>, Response> {
    let mut exports = ctx.st.exports();
    let Some(pending) = exports.get(id).filter(|e| matches(e)) else {
        return Ok(None);
    };
    if !pending.owner.same_user(&ctx.identity) {
        return Err(text(
            StatusCode::FORBIDDEN,
            format!(
                "Access denied: the export was started by {}; only that user may download it",
                pending.owner.display_name()
            ),
        ));
    }
    Ok(exports.remove(id))
}

async fn stream_export(e: Export, content_type: &'static str) -> Response {
    let f = match tokio::fs::File::open(&e.file).await {
        Ok(f) => f,
        Err(_) => return text(StatusCode::NOT_FOUND, "Not Found"),
    };
    let len = match f.metadata().await {
        Ok(m) => m.len(),
        Err(err) => return server_error("read the export", &err),
    };
    // The open handle keeps the content readable (on Unix) after the name is gone; elsewhere
    // the file is removed with the export directory.
    let _ = tokio::fs::remove_file(&e.file).await;
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024));
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let disp = format!(
        "attachment; filename*=UTF-8''{}",
        utf8_percent_encode(&e.file_name, NON_ALPHANUMERIC)
    );
    if let Ok(v) = HeaderValue::from_str(&disp) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

pub async fn copy(ctx: Ctx) -> Response {
    let src_id = ctx.param("id").to_ascii_lowercase();
    let include_cp = match ctx.q_bool("includecustomproperties", false) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(src) = ctx.st.read().get("app", &src_id) else {
        return not_found("App", &src_id);
    };
    let src_file = match ensure_file(&ctx.st, &src_id).await {
        Ok(p) => p,
        Err(e) => return server_error("read the app file", &e),
    };
    let new_id = store::new_id();
    if let Err(e) = copy_durably(&src_file, &ctx.st.app_file(&new_id)).await {
        return server_error("copy the app file", &e);
    }
    let name = ctx
        .q("name")
        .filter(|n| !n.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| {
            src.get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        });
    let identity = ctx.identity.clone();
    let Some(td) = type_def("app") else {
        return not_found("type", "app");
    };
    ctx.st.mutate(|s| {
        let mut body = Map::new();
        for k in [
            "description",
            "tags",
            "thumbnail",
            "savedInProductVersion",
            "dynamicColor",
        ] {
            if let Some(v) = src.get(k) {
                body.insert(k.into(), v.clone());
            }
        }
        if include_cp && let Some(Value::Array(cps)) = src.get("customProperties") {
            let fresh: Vec<Value> = cps
                .iter()
                .map(|cp| json!({"value": cp["value"], "definition": cp["definition"]}))
                .collect();
            body.insert("customProperties".into(), Value::Array(fresh));
        }
        body.insert("id".into(), json!(new_id));
        body.insert("name".into(), json!(name));
        let owner = caller_user_id(s, &identity);
        body.insert(
            "owner".into(),
            json!(owner.as_ref().map(|o| json!({"id": o}))),
        );
        body.insert("sourceAppId".into(), json!(src_id));
        let by = identity.display_name();
        let mut e = s.new_entity(td, &body, &by);
        e.insert(
            "fileSize".into(),
            src.get("fileSize").cloned().unwrap_or(json!(0)),
        );
        s.put("app", &e);
        super::objects::copy_for_app(s, &src_id, &new_id, owner.as_deref(), &by);
    });
    respond_entity(&ctx, StatusCode::CREATED, "app", &new_id)
}

pub fn publish(ctx: &Ctx) -> Response {
    let id = ctx.param("id").to_ascii_lowercase();
    let Some(stream) = ctx
        .q("stream")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
    else {
        return bad_request("Missing parameter value(s): stream");
    };
    let name = ctx
        .q("name")
        .filter(|n| !n.trim().is_empty())
        .map(str::to_string);
    let by = ctx.by();
    let r = ctx.st.mutate(|s| {
        let Some(mut app) = s.get("app", &id) else {
            return Err(not_found("App", &id));
        };
        if !s.contains("stream", &stream) {
            return Err(not_found("Stream", &stream));
        }
        if app.get("published").and_then(Value::as_bool) == Some(true) {
            return Err(bad_request("The app is already published"));
        }
        let now = s.now();
        app.insert("published".into(), json!(true));
        app.insert("publishTime".into(), json!(now));
        app.insert("stream".into(), json!({"id": stream.to_ascii_lowercase()}));
        if let Some(n) = &name {
            app.insert("name".into(), json!(n));
        }
        app.insert("modifiedDate".into(), json!(now));
        app.insert("modifiedByUserName".into(), json!(by));
        s.put("app", &app);
        Ok(())
    });
    match r {
        Ok(()) => respond_entity(ctx, StatusCode::OK, "app", &id),
        Err(r) => r,
    }
}

pub async fn replace(ctx: Ctx) -> Response {
    let src_id = ctx.param("id").to_ascii_lowercase();
    let Some(target) = ctx
        .q("app")
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
    else {
        return bad_request("Missing parameter value(s): app");
    };
    let (src_size, target_ok) = {
        let s = ctx.st.read();
        let src = s.get("app", &src_id);
        (
            src.map(|a| a.get("fileSize").cloned().unwrap_or(json!(0))),
            s.contains("app", &target),
        )
    };
    let Some(size) = src_size else {
        return not_found("App", &src_id);
    };
    if !target_ok {
        return not_found("App", &target);
    }
    let src_file = match ensure_file(&ctx.st, &src_id).await {
        Ok(p) => p,
        Err(e) => return server_error("read the app file", &e),
    };
    if let Err(e) = copy_durably(&src_file, &ctx.st.app_file(&target)).await {
        return server_error("replace the app file", &e);
    }
    let by = ctx.by();
    touch_app(&ctx.st, &target, &by, |a| {
        a.insert("fileSize".into(), size);
        a.insert("targetAppId".into(), json!(target));
        a.insert("sourceAppId".into(), json!(src_id));
    });
    respond_entity(&ctx, StatusCode::OK, "app", &target)
}

/// `POST /qrs/app/{id}/reload`: like QRS, runs the app's `Manually triggered reload of <name>`
/// task (created on first use, `isManuallyTriggered: true`).
pub fn reload(ctx: &Ctx) -> Response {
    let id = ctx.param("id").to_ascii_lowercase();
    let identity = ctx.identity.clone();
    let task_id = ctx.st.mutate(|s| {
        let app = s.get("app", &id)?;
        let existing = s.all("reloadtask").into_iter().find(|t| {
            t.get("isManuallyTriggered").and_then(Value::as_bool) == Some(true)
                && store::ref_ids(t, "app").contains(&id)
        });
        if let Some(t) = existing {
            return t.get("id").and_then(Value::as_str).map(str::to_string);
        }
        let name = app.get("name").and_then(Value::as_str).unwrap_or_default();
        let body = json!({
            "name": format!("Manually triggered reload of {name}"),
            "app": {"id": id}, "isManuallyTriggered": true,
        });
        let Value::Object(body) = body else {
            return None;
        };
        let td = type_def("reloadtask")?;
        super::routes::create_in(s, td, &body, &identity).ok()
    });
    let Some(task_id) = task_id else {
        return not_found("App", &id);
    };
    match tasks::start_task(&ctx.st, &task_id, &ctx.by()) {
        Ok(_) => no_content(),
        Err(r) => r,
    }
}
