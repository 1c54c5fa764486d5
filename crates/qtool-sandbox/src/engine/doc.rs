//! Doc methods on the app itself: the load script and its syntax check, reloads with their
//! progress, saving, expression evaluation, app properties and layout (qlik.dev "qix/doc";
//! help.qlik.com EngineJSONAPI service-doc-*).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::dispatch::{Call, News, Outcome, Reply};
use super::layout::{self, AppScope};
use super::qvf::DataModel;
use super::script::expr::{self, EvalError};
use super::script::{self, parse, run};
use super::session::{ReloadProgress, RunningReload, Session, SocketLink, Target, lock};
use super::spec::{self, ErrorCode, QixError};
use super::{Engine, LoadedApp};
use crate::qrs::store;

type R = Result<Reply, QixError>;

fn now(f: impl FnOnce() -> R) -> Outcome {
    Outcome::Now(f())
}

pub fn get_script(call: &mut Call<'_>) -> Outcome {
    now(|| {
        let app = call.app()?;
        let script = lock(&app.model).script.clone();
        Ok(Reply::out(json!(script)))
    })
}

pub fn set_script(call: &mut Call<'_>) -> Outcome {
    let r = (|| {
        let script = call.string(0, "qScript")?;
        let app = call.app()?;
        let mut m = lock(&app.model);
        m.script = script;
        m.modified = true;
        Ok((app.id.clone(), Reply::empty()))
    })();
    Outcome::Now(r.map(|(id, reply)| {
        call.changed(&id, [Target::Doc]);
        reply
    }))
}

pub fn get_empty_script(call: &mut Call<'_>) -> Outcome {
    now(|| {
        Ok(Reply::ret(json!(script::main_section_named(
            &call.string(0, "qLocalizedMainSection")?
        ))))
    })
}

pub fn check_script_syntax(call: &mut Call<'_>) -> Outcome {
    now(|| {
        let app = call.app()?;
        let text = lock(&app.model).script.clone();
        Ok(Reply::out(Value::Array(syntax_errors(&text))))
    })
}

/// `ScriptSyntaxError` entries: a primary area per error, then its secondary area if any.
pub fn syntax_errors(text: &str) -> Vec<Value> {
    let area = |span: &std::ops::Range<usize>, secondary: bool| {
        let p = parse::position(text, span.start);
        let len = text.get(span.clone()).map_or(0, |s| s.chars().count());
        let mut v = json!({"qErrLen": len, "qTabIx": p.tab, "qLineInTab": p.line_in_tab,
                           "qColInLine": p.column, "qTextPos": p.text_pos});
        if secondary {
            v["qSecondaryFailure"] = json!(true);
        }
        v
    };
    let mut out = Vec::new();
    for e in parse::parse_script(text).errors {
        out.push(area(&e.span, false));
        if let Some(s) = &e.secondary {
            out.push(area(s, true));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// reload

pub fn do_reload(call: &mut Call<'_>) -> Outcome {
    let partial = match (
        call.integer(0, "qMode"),
        call.boolean(1, "qPartial"),
        call.boolean(2, "qDebug"),
    ) {
        (Ok(_), Ok(p), Ok(_)) => p,
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Outcome::Now(Err(e)),
    };
    match start_reload(call, partial) {
        Err(e) => Outcome::Now(Err(e)),
        Ok(run) => Outcome::Later(Box::pin(async move {
            let (result, news) = run.await;
            (result.map(|r| Reply::ret(json!(r.success))), news)
        })),
    }
}

pub fn do_reload_ex(call: &mut Call<'_>) -> Outcome {
    let params = match call.optional_object(0, "qParams") {
        Ok(p) => p.unwrap_or_default(),
        Err(e) => return Outcome::Now(Err(e)),
    };
    let partial = params
        .get("qPartial")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match start_reload(call, partial) {
        Err(e) => Outcome::Now(Err(e)),
        Ok(run) => Outcome::Later(Box::pin(async move {
            let (result, news) = run.await;
            let reply = result.map(|r| {
                Reply::out(json!({
                    "qSuccess": r.success, "qScriptLogFile": r.log_file,
                    "qEndedWithMemoryConstraint": false,
                    "qNbrOfLoadedRows": r.loaded_rows, "qNbrOfStoredRows": r.stored_rows,
                }))
            });
            (reply, news)
        })),
    }
}

struct ReloadResult {
    success: bool,
    log_file: String,
    loaded_rows: u64,
    stored_rows: u64,
}

type ReloadRun =
    std::pin::Pin<Box<dyn Future<Output = (Result<ReloadResult, QixError>, News)> + Send>>;

/// Work out the reload now (so what it reads is the state at the request), then play it back.
fn start_reload(call: &mut Call<'_>, partial: bool) -> Result<ReloadRun, QixError> {
    let app = call.app()?;
    let (script_text, variables, previous) = {
        let mut m = lock(&app.model);
        if m.reloading {
            return Err(QixError::new(ErrorCode::ReloadInProgress, "DoReload"));
        }
        m.reloading = true;
        let vars = m
            .variables
            .iter()
            .map(|e| {
                let name = super::app::variable_name(&e.props).to_string();
                let def = e
                    .props
                    .get("qDefinition")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                (name, def)
            })
            .collect::<Vec<_>>();
        (m.script.clone(), vars, m.data.clone())
    };
    let connections = connection_names(call.engine);
    let exists = |name: &str| connections.iter().any(|c| c.eq_ignore_ascii_case(name));
    let env = run::Environment {
        connection_exists: &exists,
        variables,
        previous,
        partial,
    };
    let plan = run::run(&script_text, &env);
    let progress = Arc::new(ReloadProgress::default());
    {
        let mut p = lock(&progress.state);
        p.started = Some(Instant::now());
        p.total = plan.steps.len() as u64;
    }
    {
        let mut table = lock(&call.socket.progress);
        if let Some(id) = call.request_id {
            table.by_request.insert(id, progress.clone());
        }
        table.latest = Some(progress.clone());
    }
    let cancel = Arc::new(AtomicBool::new(false));
    lock(&call.session.state).reload = Some(RunningReload {
        socket: call.socket.id,
        request: call.request_id,
        cancel: cancel.clone(),
    });
    let (engine, session, socket) = (
        call.engine.clone(),
        call.session.clone(),
        call.socket.clone(),
    );
    Ok(Box::pin(play(
        engine, session, socket, app, plan, progress, cancel,
    )))
}

fn connection_names(engine: &Engine) -> Vec<String> {
    engine
        .qrs
        .read()
        .all("dataconnection")
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

async fn play(
    engine: Arc<Engine>,
    session: Arc<Session>,
    _socket: Arc<SocketLink>,
    app: Arc<LoadedApp>,
    plan: run::Plan,
    progress: Arc<ReloadProgress>,
    cancel: Arc<AtomicBool>,
) -> (Result<ReloadResult, QixError>, News) {
    let pace = engine.reload_pace();
    let mut log = Vec::new();
    let mut aborted = false;
    for step in &plan.steps {
        if cancel.load(Ordering::SeqCst) {
            aborted = true;
            break;
        }
        if let Some(t) = &step.transient {
            lock(&progress.state).transient = Some(t.clone());
        }
        let wait = Duration::from_millis((step.millis as f64 * pace) as u64);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let mut p = lock(&progress.state);
        if let Some(line) = &step.line {
            log.push(line.0.text(&line.1));
            p.lines.push(line.clone());
        }
        p.transient = None;
        p.completed += 1;
    }
    let outcome = &plan.outcome;
    let success = outcome.success && !aborted;
    let when = store::format_ms(store::now_ms());
    {
        let mut m = lock(&app.model);
        if success {
            m.data = DataModel {
                last_reload_time: Some(when.clone()),
                tables: outcome.tables.clone(),
            };
            m.properties.insert("qLastReloadTime".into(), json!(when));
            apply_script_variables(&mut m, &outcome.variables, &when);
            m.modified = true;
        }
        m.reloading = false;
    }
    {
        let mut p = lock(&progress.state);
        if aborted {
            p.lines
                .push((spec::Progress::Text, "The reload was aborted".into()));
            log.push("The reload was aborted".into());
        }
        let failures = outcome
            .skipped_errors
            .iter()
            .chain(outcome.failure.iter().filter(|_| !aborted));
        for f in failures {
            p.errors.push(json!({
                "qErrorString": f.message, "qLineEnd": "", "qLine": f.statement,
                "qErrorDataCode": spec::EDC_ERROR,
                "qMessage": {"qMessageCode": spec::Progress::Error.number(), "qMessageParameters": [f.message]},
            }));
        }
        p.transient = None;
        p.finished = true;
    }
    {
        let mut st = lock(&session.state);
        if st
            .reload
            .as_ref()
            .is_some_and(|r| Arc::ptr_eq(&r.cancel, &cancel))
        {
            st.reload = None;
        }
    }
    if aborted {
        return (
            Err(QixError::new(ErrorCode::Aborted, "DoReload")),
            News::default(),
        );
    }
    let log_file = write_script_log(&engine, &app.id, &when, &log).await;
    let news = if success {
        News {
            app: Some(app.id.clone()),
            everything: true,
            ..News::default()
        }
    } else {
        News::default()
    };
    let result = ReloadResult {
        success,
        log_file,
        loaded_rows: outcome.loaded_rows,
        stored_rows: outcome.stored_rows,
    };
    (Ok(result), news)
}

/// Variables the script set become (or update) app variables marked script-created.
fn apply_script_variables(m: &mut super::app::AppModel, vars: &[(String, String)], when: &str) {
    for (name, value) in vars {
        let existing = m
            .variables
            .iter()
            .find(|e| super::app::variable_name(&e.props) == name)
            .map(|e| e.id().to_string());
        match existing.and_then(|id| m.variables.get_mut(&id)) {
            Some(e) => {
                e.props.insert("qDefinition".into(), json!(value));
                e.modified = when.to_string();
            }
            None => {
                let props = json!({"qInfo": {"qId": uuid::Uuid::new_v4().to_string(), "qType": "variable"},
                                   "qName": name, "qDefinition": value, "qComment": "", "qMetaDef": {},
                                   "qIncludeInBookmark": false});
                if let Value::Object(p) = props {
                    let mut e = super::app::Entity::new(p, when);
                    e.script_created = true;
                    m.variables.insert(e);
                }
            }
        }
    }
}

/// The reload's log, as the engine writes it per reload (path goes into `qScriptLogFile`).
async fn write_script_log(engine: &Engine, app_id: &str, when: &str, lines: &[String]) -> String {
    let dir = engine.qrs.config().data_dir.join("script-logs");
    let stamp: String = when.chars().filter(char::is_ascii_digit).collect();
    let path = dir.join(format!("{app_id}.{stamp}.log"));
    let body: String = lines.iter().map(|l| format!("{when} {l}\r\n")).collect();
    let target = path.clone();
    let written = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(&target, body)
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::debug!("engine: cannot write the script log {}", path.display());
    }
    path.display().to_string()
}

// ---------------------------------------------------------------------------------------------
// save

pub fn do_save(call: &mut Call<'_>) -> Outcome {
    if let Err(e) = call.string(0, "qFileName") {
        return Outcome::Now(Err(e));
    }
    save(call)
}

pub fn save_objects(call: &mut Call<'_>) -> Outcome {
    save(call)
}

fn save(call: &mut Call<'_>) -> Outcome {
    let app = match call.app() {
        Ok(a) => a,
        Err(e) => return Outcome::Now(Err(e)),
    };
    let (engine, user) = (call.engine.clone(), call.session.user.clone());
    Outcome::Later(Box::pin(async move {
        let r = engine.save_app(&app, &user).await;
        let news = match r {
            Ok(()) => News {
                app: Some(app.id.clone()),
                changed: vec![Target::Doc],
                ..News::default()
            },
            Err(_) => News::default(),
        };
        (r.map(|()| Reply::empty()), news)
    }))
}

// ---------------------------------------------------------------------------------------------
// evaluation

fn evaluate_value(call: &Call<'_>) -> Result<expr::Val, QixError> {
    let text = call.string(0, "qExpression")?;
    let app = call.app()?;
    let m = lock(&app.model);
    expr::evaluate(&text, &AppScope(&m)).map_err(|e| match e {
        EvalError::Invalid(msg) => QixError::new(ErrorCode::InvalidParameters, msg),
        EvalError::NeedsData(msg) => QixError::new(ErrorCode::NotImplemented, msg),
    })
}

pub fn evaluate(call: &mut Call<'_>) -> Outcome {
    now(|| Ok(Reply::ret(json!(evaluate_value(call)?.text()))))
}

pub fn evaluate_ex(call: &mut Call<'_>) -> Outcome {
    now(|| {
        let v = evaluate_value(call)?;
        let number = v.number().filter(|_| v.is_numeric());
        Ok(Reply::out(json!({
            "qText": v.text(),
            "qIsNumeric": number.is_some(),
            "qNumber": number.map_or(json!("NaN"), |n| json!(n)),
        })))
    })
}

// ---------------------------------------------------------------------------------------------
// app properties and layout

pub fn get_app_properties(call: &mut Call<'_>) -> Outcome {
    now(|| {
        let app = call.app()?;
        let m = lock(&app.model);
        let mut p = m.properties.clone();
        p.entry("qTitle").or_insert(json!(""));
        p.entry("qThumbnail").or_insert(json!({"qUrl": ""}));
        p.entry("qMigrationHash").or_insert(json!(""));
        p.entry("qSavedInProductVersion")
            .or_insert(json!(spec::ENGINE_VERSION));
        p.entry("qHasSectionAccess").or_insert(json!(false));
        Ok(Reply::out(Value::Object(p)))
    })
}

pub fn set_app_properties(call: &mut Call<'_>) -> Outcome {
    let r = (|| {
        let mut prop = call.object(0, "qProp")?;
        let app = call.app()?;
        let mut m = lock(&app.model);
        // What the engine owns stays the engine's.
        for owned in [
            "qLastReloadTime",
            "qHasSectionAccess",
            "qMigrationHash",
            "qSavedInProductVersion",
        ] {
            match m.properties.get(owned) {
                Some(v) => {
                    prop.insert(owned.into(), v.clone());
                }
                None => {
                    prop.remove(owned);
                }
            }
        }
        m.properties = prop;
        m.modified = true;
        Ok(app.id.clone())
    })();
    Outcome::Now(r.map(|id| {
        call.changed(&id, [Target::Doc]);
        Reply::empty()
    }))
}

pub fn get_app_layout(call: &mut Call<'_>) -> Outcome {
    now(|| {
        let app = call.app()?;
        let m = lock(&app.model);
        Ok(Reply::out(layout::app_layout(&m)))
    })
}

/// Properties as a map (an empty one for anything else).
pub fn as_object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
