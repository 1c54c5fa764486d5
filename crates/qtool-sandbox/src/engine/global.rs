//! Global methods (handle -1): opening apps, the app list, versions, reload progress and
//! cancellation, session and server apps (qlik.dev "qix/global"; help.qlik.com EngineJSONAPI).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Map, Value, json};

use super::dispatch::{Call, News, Outcome, Reply, no_object};
use super::qvf::{self, AppDocument};
use super::session::{ProgressState, Target, lock};
use super::spec::{self, ErrorCode, QixError};
use super::{Engine, LoadedApp, script};
use crate::identity::Identity;
use crate::qrs::{apps, routes, store};

/// `{qType: "Doc", qHandle: 1, qGenericId: <app id>}`
fn doc_reply(call_session: &super::session::Session, app: &LoadedApp) -> Value {
    let handle = lock(&call_session.state).handle_for(Target::Doc);
    json!({"qType": "Doc", "qHandle": handle, "qGenericId": app.id})
}

pub fn open_doc(call: &mut Call<'_>) -> Outcome {
    let parsed = (|| -> Result<(String, bool), QixError> {
        Ok((call.string(0, "qDocName")?, call.boolean(4, "qNoData")?))
    })();
    let (name, no_data) = match parsed {
        Ok(x) => x,
        Err(e) => return Outcome::Now(Err(e)),
    };
    if lock(&call.session.state).doc.is_some() {
        return Outcome::Now(Err(QixError::new(ErrorCode::AppAlreadyOpen, name)));
    }
    if name.trim().is_empty() {
        return Outcome::Now(Err(QixError::new(ErrorCode::AppNotFound, name)));
    }
    let (engine, session) = (call.engine.clone(), call.session.clone());
    Outcome::Later(Box::pin(async move {
        let result = async {
            let app = engine.open_app(&name, no_data).await?;
            {
                let mut st = lock(&session.state);
                if st.doc.is_some() {
                    return Err(QixError::new(ErrorCode::AppAlreadyOpen, name.clone()));
                }
                st.doc = Some(app.clone());
            }
            Ok(Reply::ret(doc_reply(&session, &app)))
        }
        .await;
        (result, News::default())
    }))
}

pub fn get_active_doc(call: &mut Call<'_>) -> Outcome {
    let doc = lock(&call.session.state).doc.clone();
    Outcome::Now(match doc {
        Some(app) => Ok(Reply::ret(doc_reply(call.session, &app))),
        None => Err(QixError::new(ErrorCode::AppInvalid, "No active document")),
    })
}

pub fn get_doc_list(call: &mut Call<'_>) -> Outcome {
    let s = call.engine.qrs.read();
    let list: Vec<Value> = s
        .all("app")
        .iter()
        .map(|a| {
            let text = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let stream = a.get("stream").and_then(|st| st.get("id")).and_then(Value::as_str).map(|id| {
                let name = s.get("stream", id).and_then(|st| st.get("name").and_then(Value::as_str).map(str::to_string));
                json!({"id": id, "name": name.unwrap_or_default()})
            });
            let mut meta = json!({
                "createdDate": text("createdDate"), "modifiedDate": text("modifiedDate"),
                "published": a.get("published").cloned().unwrap_or(json!(false)),
                "publishTime": text("publishTime"), "description": text("description"),
                "qFileSize": a.get("fileSize").cloned().unwrap_or(json!(0)),
                "dynamicColor": text("dynamicColor"),
                "privileges": ["read", "update", "delete", "reload", "export", "exportdata", "publish", "duplicate", "change_owner"],
            });
            if let Some(st) = stream {
                meta["stream"] = st;
            }
            let reloaded = text("lastReloadTime");
            json!({
                "qDocName": text("id"), "qConnectedUsers": 0, "qFileTime": 0, "qFileSize": 0,
                "qDocId": text("id"), "qMeta": meta,
                "qLastReloadTime": if reloaded == crate::qrs::spec::NEVER_DATE { String::new() } else { reloaded },
                "qReadOnly": false, "qTitle": text("name"), "qThumbnail": {"qUrl": text("thumbnail")},
            })
        })
        .collect();
    Outcome::Now(Ok(Reply::out(Value::Array(list))))
}

pub fn engine_version(_: &mut Call<'_>) -> Outcome {
    Outcome::Now(Ok(Reply::out(
        json!({"qComponentVersion": spec::ENGINE_VERSION}),
    )))
}

pub fn product_version(_: &mut Call<'_>) -> Outcome {
    Outcome::Now(Ok(Reply::ret(json!(spec::ENGINE_VERSION))))
}

pub fn qt_product(_: &mut Call<'_>) -> Outcome {
    Outcome::Now(Ok(Reply::ret(json!(spec::PRODUCT_NAME))))
}

pub fn os_name(_: &mut Call<'_>) -> Outcome {
    Outcome::Now(Ok(Reply::ret(json!(spec::OS_NAME))))
}

pub fn is_desktop_mode(_: &mut Call<'_>) -> Outcome {
    Outcome::Now(Ok(Reply::ret(json!(false))))
}

pub fn is_personal_mode(_: &mut Call<'_>) -> Outcome {
    Outcome::Now(Ok(Reply::ret(json!(false))))
}

pub fn allow_create_app(_: &mut Call<'_>) -> Outcome {
    Outcome::Now(Ok(Reply::ret(json!(true))))
}

pub fn get_authenticated_user(call: &mut Call<'_>) -> Outcome {
    let u = &call.session.user;
    Outcome::Now(Ok(Reply::ret(json!(format!(
        "UserDirectory={}; UserId={}",
        u.user_directory, u.user_id
    )))))
}

pub fn get_unique_id(_: &mut Call<'_>) -> Outcome {
    Outcome::Now(Ok(Reply::out(json!(uuid::Uuid::new_v4().to_string()))))
}

pub fn get_progress(call: &mut Call<'_>) -> Outcome {
    let id = match call.integer(0, "qRequestId") {
        Ok(i) => i,
        Err(e) => return Outcome::Now(Err(e)),
    };
    let progress = {
        let table = lock(&call.socket.progress);
        if id == 0 {
            table.latest.clone()
        } else {
            table.by_request.get(&id).cloned()
        }
    };
    let data = match progress {
        Some(p) => progress_data(&mut lock(&p.state)),
        None => progress_data(&mut ProgressState::default()),
    };
    Outcome::Now(Ok(Reply::out(data)))
}

/// `ProgressData`: what is new since the last call (persistent lines, errors) and the state now.
fn progress_data(p: &mut ProgressState) -> Value {
    let new = p.lines[p.delivered.min(p.lines.len())..].to_vec();
    p.delivered = p.lines.len();
    let errors = std::mem::take(&mut p.errors);
    let text: Vec<String> = new.iter().map(|(code, arg)| code.text(arg)).collect();
    let messages: Vec<Value> = new
        .iter()
        .map(|(code, arg)| json!({"qMessageCode": code.number(), "qMessageParameters": if arg.is_empty() { vec![] } else { vec![arg.clone()] }}))
        .collect();
    let mut data = json!({
        "qStarted": p.started.is_some(),
        "qFinished": p.finished,
        "qCompleted": p.completed,
        "qTotal": p.total,
        "qKB": 0,
        "qMillisecs": p.started.map_or(0, |s| s.elapsed().as_millis() as u64),
        "qUserInteractionWanted": false,
        "qPersistentProgress": if text.is_empty() { String::new() } else { text.join("\n") + "\n" },
        "qTransientProgress": p.transient.as_ref().map(|(c, a)| c.text(a)).unwrap_or_default(),
        "qErrorData": errors,
        "qPersistentProgressMessages": messages,
    });
    if let Some((code, arg)) = &p.transient {
        data["qTransientProgressMessage"] =
            json!({"qMessageCode": code.number(), "qMessageParameters": [arg]});
    }
    data
}

/// Stop this session's reload if `which` accepts it.
fn cancel(call: &Call<'_>, which: impl Fn(u64, Option<i64>) -> bool) {
    if let Some(r) = &lock(&call.session.state).reload
        && which(r.socket, r.request)
    {
        r.cancel.store(true, Ordering::SeqCst);
    }
}

pub fn cancel_reload(call: &mut Call<'_>) -> Outcome {
    cancel(call, |_, _| true);
    Outcome::Now(Ok(Reply::empty()))
}

pub fn abort_request(call: &mut Call<'_>) -> Outcome {
    let id = match call.integer(0, "qRequestId") {
        Ok(i) => i,
        Err(e) => return Outcome::Now(Err(e)),
    };
    let socket = call.socket.id;
    cancel(call, |s, r| s == socket && r == Some(id));
    Outcome::Now(Ok(Reply::empty()))
}

pub fn abort_all(call: &mut Call<'_>) -> Outcome {
    cancel(call, |_, _| true);
    Outcome::Now(Ok(Reply::empty()))
}

pub fn create_session_app(call: &mut Call<'_>) -> Outcome {
    let mut st = lock(&call.session.state);
    if st.doc.is_some() {
        return Outcome::Now(Err(QixError::new(
            ErrorCode::AppAlreadyOpen,
            "CreateSessionApp",
        )));
    }
    let app = call.engine.session_app();
    st.doc = Some(app.clone());
    let handle = st.handle_for(Target::Doc);
    drop(st);
    let ret = json!({"qType": "Doc", "qHandle": handle, "qGenericId": app.id});
    Outcome::Now(Ok(Reply::ret_and(ret, vec![json!(app.id)])))
}

/// Characters an app name must not contain (LOCERR_APP_INVALID_NAME).
const BAD_NAME_CHARS: &[char] = &['\\', '/', ':', '<', '>', '|', '"', '?', '*'];

pub fn create_app(call: &mut Call<'_>) -> Outcome {
    let parsed = (|| -> Result<(String, String), QixError> {
        Ok((
            call.string(0, "qAppName")?,
            call.string(1, "qLocalizedScriptMainSection")?,
        ))
    })();
    let (name, section) = match parsed {
        Ok(x) => x,
        Err(e) => return Outcome::Now(Err(e)),
    };
    if name.trim().is_empty() || name.contains(BAD_NAME_CHARS) {
        return Outcome::Now(Err(QixError::new(ErrorCode::AppInvalidName, name)));
    }
    let (engine, user) = (call.engine.clone(), call.session.user.clone());
    Outcome::Later(Box::pin(async move {
        let r = create_server_app(&engine, &user, name.trim(), &section).await;
        (
            r.map(|id| Reply::outs(vec![json!(true), json!(id)])),
            News::default(),
        )
    }))
}

/// A new app in the repository, owned by `user`, with a main script section.
async fn create_server_app(
    engine: &Arc<Engine>,
    user: &Identity,
    name: &str,
    section: &str,
) -> Result<String, QixError> {
    let id = store::new_id();
    let mut properties = Map::new();
    properties.insert("qTitle".into(), json!(name));
    properties.insert("qThumbnail".into(), json!({"qUrl": ""}));
    properties.insert("description".into(), json!(""));
    let doc = AppDocument {
        properties,
        script: script::main_section_named(section),
        ..AppDocument::default()
    };
    let path = engine.qrs.app_file(&id);
    let seed = id.clone();
    let size = tokio::task::spawn_blocking(move || qvf::write_file(&path, &doc, &seed, 0))
        .await
        .map_err(|e| QixError::new(ErrorCode::AppCreateFailed, e.to_string()))?
        .map_err(|e| QixError::new(ErrorCode::AppCreateFailed, e.to_string()))?;
    routes::ensure_user(&engine.qrs, user);
    if !apps::add_app(&engine.qrs, &id, name, user, size) {
        return Err(QixError::new(ErrorCode::AppCreateFailed, "no app type"));
    }
    Ok(id)
}

/// `{"qType": null, "qHandle": null}` for a Global method that finds nothing.
pub fn nothing() -> Value {
    no_object()
}
