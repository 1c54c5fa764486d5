//! The route table (every method + path the emulator serves, checked against the QRS spec by a
//! test), the Xrfkey check, request context, and the generic entity endpoints.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use super::filter::{self, Expr, SortKey};
use super::render::Renderer;
use super::store::{self, Row, Store, parse_row};
use super::types::{self, TypeDef, type_def};
use super::{QrsState, about, apps, audit, license, objects, scriptlog, table, tasks};
use crate::identity::Identity;
use crate::qrs::spec;

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Full,
    Count,
    Get,
    Create,
    CreateMany,
    Update,
    Delete,
    About,
    Enums,
    /// `GET /qrs/about/api/default/{type}`: a new entity's defaults (a create template).
    Default,
    AppUpload,
    AppUploadReplace,
    AppExport,
    AppExportCancel,
    AppCopy,
    AppPublish,
    AppReplace,
    AppReload,
    TempContent,
    TaskCreate,
    TaskUpdate,
    TaskStart,
    TaskStartSync,
    TaskStartByName,
    TaskStartByNameSync,
    TaskStartMany,
    TaskStop,
    TaskStopMany,
    /// `POST /qrs/{type}/table`.
    Table,
    /// `GET /qrs/about/api/description`.
    Description,
    /// `GET /qrs/app/{id}/export`: the older export flow's ticket.
    AppExportTicket,
    /// `GET /qrs/download/app/{id}/{ticket}/{file}`: its download.
    DownloadApp,
    AppObjectApprove,
    AppObjectUnapprove,
    AppObjectPublish,
    AppObjectUnpublish,
    /// `GET /qrs/license/accesstypeinfo`.
    AccessTypeInfo,
    /// `POST /qrs/systemrule/security/audit/accessibleobjects`.
    AccessibleObjects,
    /// `GET /qrs/reloadtask/{id}/scriptlog?filereferenceid=`.
    ScriptLog,
    /// `GET /qrs/reloadtask/{id}/scriptlogfile?executionresultid=`.
    ScriptLogFile,
    /// `GET /qrs/download/reloadtask/{ticket}/{file}`.
    DownloadScriptLog,
    /// `GET /qrs/ssl/ping` and `/ssl/ping`.
    SslPing,
}

/// How a route's types are named in `GET /qrs/about/api/description?extended=true` (and checked
/// against the spec by a test): a spec definition, `List<T>`, or a scalar.
const VOID: &str = "Void";

impl Op {
    /// Query parameters the route takes, as the spec names them.
    pub fn query_params(self) -> &'static [&'static str] {
        match self {
            Op::List | Op::Full => &["filter", "orderby", "privileges"],
            Op::Count => &["filter"],
            Op::Get | Op::Create | Op::CreateMany | Op::Update => &["privileges"],
            Op::Default => &["listentries"],
            Op::Table => &["filter", "skip", "take", "sortcolumn", "orderascending"],
            Op::Description => &["extended", "method", "format"],
            Op::AppUpload => &["name", "keepdata", "privileges", "excludeconnections"],
            Op::AppUploadReplace => &["targetappid", "keepdata", "privileges"],
            Op::AppExport => &["skipdata", "exportscope"],
            Op::AppCopy => &["name", "includecustomproperties"],
            Op::AppPublish => &["stream", "name"],
            Op::AppReplace => &["app"],
            Op::TaskStartByName | Op::TaskStartByNameSync => &["name"],
            Op::ScriptLog => &["filereferenceid"],
            Op::ScriptLogFile => &["executionresultid"],
            _ => &[],
        }
    }

    /// Whether QRS generates the endpoint from the entity model (`resource=generated`) rather
    /// than writing it by hand.
    pub fn generated(self) -> bool {
        matches!(
            self,
            Op::List
                | Op::Full
                | Op::Count
                | Op::Get
                | Op::Create
                | Op::CreateMany
                | Op::Update
                | Op::Delete
                | Op::Table
                | Op::Default
        )
    }
}

impl Route {
    /// The spec definition of the route's entity type (`App`, `AppObject`).
    fn entity(&self) -> String {
        self.ty
            .and_then(type_def)
            .map(types::spec_definition)
            .unwrap_or_default()
    }

    /// Type of the request body (`Void` without one).
    pub fn body_type(&self) -> String {
        let entity = self.entity();
        match self.op {
            Op::Create | Op::Update => entity,
            Op::CreateMany => format!("List<{entity}>"),
            Op::Table => "TableDefinition".into(),
            Op::AppUpload | Op::AppUploadReplace => "Stream".into(),
            Op::TaskCreate => "ReloadTaskBundle".into(),
            Op::TaskUpdate => "ReloadTaskChange".into(),
            Op::TaskStartMany | Op::TaskStopMany => "List<Guid>".into(),
            Op::AccessibleObjects => "AccessibleObjectParameters".into(),
            _ => VOID.into(),
        }
    }

    /// Type of the answer (`Void` for `204`).
    pub fn return_type(&self) -> String {
        let entity = self.entity();
        let condensed = self
            .ty
            .and_then(type_def)
            .map(|t| t.condensed_schema)
            .unwrap_or_default();
        match self.op {
            Op::List => format!("List<{condensed}>"),
            Op::Full | Op::CreateMany => format!("List<{entity}>"),
            Op::Count => "Int32".into(),
            Op::Get | Op::Create | Op::Update | Op::Default => entity,
            Op::Table => "Table".into(),
            Op::About => "About".into(),
            Op::Enums => "Dictionary<String, EnumDescription>".into(),
            Op::Description => "List<String>".into(),
            Op::AppUpload
            | Op::AppUploadReplace
            | Op::AppCopy
            | Op::AppPublish
            | Op::AppReplace => "App".into(),
            Op::AppExport | Op::AppExportCancel => "AppExportResponse".into(),
            Op::AppExportTicket
            | Op::TaskStartSync
            | Op::TaskStartByNameSync
            | Op::ScriptLog
            | Op::ScriptLogFile => "Guid".into(),
            Op::DownloadApp | Op::DownloadScriptLog | Op::TempContent => "Stream".into(),
            Op::TaskCreate | Op::TaskUpdate => "ReloadTask".into(),
            Op::AppObjectApprove
            | Op::AppObjectUnapprove
            | Op::AppObjectPublish
            | Op::AppObjectUnpublish => "AppObject".into(),
            Op::AccessTypeInfo => "AccessTypesInfo".into(),
            Op::AccessibleObjects => "List<RepositoryObject>".into(),
            Op::SslPing => "String".into(),
            Op::Delete
            | Op::AppReload
            | Op::TaskStart
            | Op::TaskStartByName
            | Op::TaskStartMany
            | Op::TaskStop
            | Op::TaskStopMany => VOID.into(),
        }
    }

    /// Whether the route is outside the QRS specification (with the source that documents it).
    pub fn outside_spec(&self) -> Option<&'static str> {
        match self.op {
            Op::TempContent => Some("the export download path QRS hands out in `downloadPath`"),
            Op::SslPing => Some(
                "Qlik's \"Ping: Ping\" page documents /ssl/ping; qsAPI 2.2.0 calls /qrs/ssl/ping",
            ),
            _ => None,
        }
    }
}

/// One served route.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub path: String,
    /// Entity type of generic routes.
    pub ty: Option<&'static str>,
    pub op: Op,
}

/// Every route the emulator serves.
pub fn route_table() -> Vec<Route> {
    let mut r = Vec::new();
    let mut add = |method: Method, path: String, ty: Option<&'static str>, op: Op| {
        r.push(Route {
            method,
            path,
            ty,
            op,
        });
    };
    for td in types::TYPES {
        let base = format!("/qrs/{}", td.name);
        let t = Some(td.name);
        let c = td.caps;
        if c.list {
            add(Method::GET, base.clone(), t, Op::List);
        }
        if c.full {
            add(Method::GET, format!("{base}/full"), t, Op::Full);
        }
        if c.count {
            add(Method::GET, format!("{base}/count"), t, Op::Count);
        }
        if c.get {
            add(Method::GET, format!("{base}/{{id}}"), t, Op::Get);
        }
        if c.create {
            add(Method::POST, base.clone(), t, Op::Create);
        }
        if c.many {
            add(Method::POST, format!("{base}/many"), t, Op::CreateMany);
        }
        if c.update {
            add(Method::PUT, format!("{base}/{{id}}"), t, Op::Update);
        }
        if c.delete {
            add(Method::DELETE, format!("{base}/{{id}}"), t, Op::Delete);
        }
        if c.table {
            add(Method::POST, format!("{base}/table"), t, Op::Table);
        }
        if td.view_of.is_none() {
            add(
                Method::GET,
                format!("/qrs/about/api/default/{}", td.name),
                t,
                Op::Default,
            );
        }
    }
    let fixed: &[(Method, &str, Op)] = &[
        (Method::GET, "/qrs/about", Op::About),
        (Method::GET, "/qrs/about/api/enums", Op::Enums),
        (Method::POST, "/qrs/app/upload", Op::AppUpload),
        (
            Method::POST,
            "/qrs/app/upload/replace",
            Op::AppUploadReplace,
        ),
        (Method::POST, "/qrs/app/{id}/export/{token}", Op::AppExport),
        (
            Method::DELETE,
            "/qrs/app/{id}/export/{token}",
            Op::AppExportCancel,
        ),
        (Method::POST, "/qrs/app/{id}/copy", Op::AppCopy),
        (Method::PUT, "/qrs/app/{id}/publish", Op::AppPublish),
        (Method::PUT, "/qrs/app/{id}/replace", Op::AppReplace),
        (Method::POST, "/qrs/app/{id}/reload", Op::AppReload),
        (
            Method::GET,
            "/tempcontent/{tempid}/{filename}",
            Op::TempContent,
        ),
        (Method::POST, "/qrs/reloadtask/create", Op::TaskCreate),
        (Method::POST, "/qrs/reloadtask/update", Op::TaskUpdate),
        (Method::POST, "/qrs/task/{id}/start", Op::TaskStart),
        (
            Method::POST,
            "/qrs/task/{id}/start/synchronous",
            Op::TaskStartSync,
        ),
        (Method::POST, "/qrs/task/start", Op::TaskStartByName),
        (
            Method::POST,
            "/qrs/task/start/synchronous",
            Op::TaskStartByNameSync,
        ),
        (Method::POST, "/qrs/task/start/many", Op::TaskStartMany),
        (Method::POST, "/qrs/task/{id}/stop", Op::TaskStop),
        (Method::POST, "/qrs/task/stop/many", Op::TaskStopMany),
        (Method::GET, "/qrs/about/api/description", Op::Description),
        (Method::GET, "/qrs/app/{id}/export", Op::AppExportTicket),
        (
            Method::GET,
            "/qrs/download/app/{id}/{ticket}/{filename}",
            Op::DownloadApp,
        ),
        (
            Method::POST,
            "/qrs/app/object/{id}/approve",
            Op::AppObjectApprove,
        ),
        (
            Method::POST,
            "/qrs/app/object/{id}/unapprove",
            Op::AppObjectUnapprove,
        ),
        (
            Method::PUT,
            "/qrs/app/object/{id}/publish",
            Op::AppObjectPublish,
        ),
        (
            Method::PUT,
            "/qrs/app/object/{id}/unpublish",
            Op::AppObjectUnpublish,
        ),
        (
            Method::GET,
            "/qrs/license/accesstypeinfo",
            Op::AccessTypeInfo,
        ),
        (
            Method::POST,
            "/qrs/systemrule/security/audit/accessibleobjects",
            Op::AccessibleObjects,
        ),
        (Method::GET, "/qrs/reloadtask/{id}/scriptlog", Op::ScriptLog),
        (
            Method::GET,
            "/qrs/reloadtask/{id}/scriptlogfile",
            Op::ScriptLogFile,
        ),
        (
            Method::GET,
            "/qrs/download/reloadtask/{ticket}/{filename}",
            Op::DownloadScriptLog,
        ),
        (Method::GET, "/qrs/ssl/ping", Op::SslPing),
        (Method::GET, "/ssl/ping", Op::SslPing),
    ];
    for (m, p, op) in fixed {
        add(m.clone(), (*p).to_string(), None, *op);
    }
    r
}

pub fn router(state: Arc<QrsState>) -> Router {
    let mut by_path: BTreeMap<String, MethodRouter<Arc<QrsState>>> = BTreeMap::new();
    for route in route_table() {
        let filter = match route.method {
            Method::GET => MethodFilter::GET,
            Method::POST => MethodFilter::POST,
            Method::PUT => MethodFilter::PUT,
            _ => MethodFilter::DELETE,
        };
        let (ty, op) = (route.ty, route.op);
        let handler = move |axum::extract::State(st): axum::extract::State<Arc<QrsState>>,
                            req: Request| async move {
            dispatch(st, ty, op, req).await
        };
        let mr = by_path.remove(&route.path).unwrap_or_default();
        by_path.insert(route.path, mr.on(filter, handler));
    }
    let mut router = Router::new();
    for (path, mr) in by_path {
        router = router.route(&path, mr);
    }
    let inner = router
        .fallback(|| async { text(StatusCode::NOT_FOUND, "Not Found") })
        .layer(axum::middleware::from_fn(check_xrfkey))
        .with_state(state);
    // QRS paths are case-insensitive (`/qrs/App/Full`, `/QRS/APP/COUNT`): route on the
    // lowercased path. Nothing the emulator looks up in a path depends on case (ids are GUIDs,
    // download file names are for the client only).
    Router::new().fallback(move |req: Request| {
        let inner = inner.clone();
        async move {
            match inner.oneshot(lowercase_path(req)).await {
                Ok(resp) => resp,
                Err(e) => match e {},
            }
        }
    })
}

/// The request with its path in lowercase (query untouched).
fn lowercase_path(mut req: Request) -> Request {
    let path = req.uri().path();
    if !path.bytes().any(|b| b.is_ascii_uppercase()) {
        return req;
    }
    let lowered = match req.uri().query() {
        Some(q) => format!("{}?{q}", path.to_ascii_lowercase()),
        None => path.to_ascii_lowercase(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = lowered.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

// ---------------------------------------------------------------------------------------------
// responses

pub fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.into(),
    )
        .into_response()
}

pub fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

pub fn bad_request(msg: impl Into<String>) -> Response {
    text(StatusCode::BAD_REQUEST, msg)
}

pub fn not_found(what: &str, id: &str) -> Response {
    text(
        StatusCode::NOT_FOUND,
        format!("Cannot find {what} with id '{id}'"),
    )
}

pub fn parse_error(detail: &str) -> Response {
    bad_request(format!("Cannot parse the expression: {detail}"))
}

// ---------------------------------------------------------------------------------------------
// Xrfkey and query parsing

/// Decode `application/x-www-form-urlencoded` text (`+` is a space).
fn form_decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Query pairs with lowercased names; `None` when a pair has no `=` (an unencoded `&` in a value).
pub fn parse_query(q: Option<&str>) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for part in q.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=')?;
        out.push((form_decode(k).to_ascii_lowercase(), form_decode(v)));
    }
    Some(out)
}

fn valid_xrfkey(k: &str) -> bool {
    k.len() == 16 && k.bytes().all(|b| b.is_ascii_alphanumeric())
}

async fn check_xrfkey(req: Request, next: Next) -> Response {
    let query = req.uri().query().unwrap_or_default();
    // The key is looked up before anything else: a `#` in an unencoded filter cuts the query
    // short and QRS answers with this 403 (not a parse error).
    let from_query = query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.eq_ignore_ascii_case(spec::XRFKEY_QUERY)
            .then(|| form_decode(v))
    });
    let from_header = req
        .headers()
        .get(spec::XRFKEY_HEADER)
        .and_then(|v| v.to_str().ok());
    match (from_query, from_header) {
        (Some(q), Some(h)) if q == h && valid_xrfkey(&q) => {}
        _ => return text(StatusCode::FORBIDDEN, spec::XSRF_FAILED),
    }
    if parse_query(Some(query)).is_none() {
        return bad_request("Missing parameter value(s)");
    }
    next.run(req).await
}

// ---------------------------------------------------------------------------------------------
// request context

pub struct Ctx {
    pub st: Arc<QrsState>,
    pub params: HashMap<String, String>,
    pub query: Vec<(String, String)>,
    pub identity: Identity,
    pub headers: axum::http::HeaderMap,
    /// The request's extensions (the listener's in-flight body budget travels there).
    pub extensions: axum::http::Extensions,
    pub body: Body,
}

/// Largest JSON body a request may send (bodies are small; uploads stream to disk instead).
const MAX_JSON_BODY: usize = 64 * 1024 * 1024;

/// The answer to a body that could not be read: 413, 503 with `Retry-After`, 408 or 400.
pub(crate) fn body_error(e: &crate::body::BodyError) -> Response {
    e.decorate(text(e.status(), e.to_string()))
}

impl Ctx {
    /// `DIR\id` of the caller.
    pub fn by(&self) -> String {
        self.identity.display_name()
    }

    pub fn param(&self, name: &str) -> String {
        self.params.get(name).cloned().unwrap_or_default()
    }

    /// Query parameter (name case-insensitive).
    pub fn q(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.query
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn q_bool(&self, name: &str, default: bool) -> Result<bool, Response> {
        match self.q(name).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(bad_request(format!(
                "The value '{other}' of parameter '{name}' is not a boolean (true or false)"
            ))),
        }
    }

    /// The request body as JSON, read within the sandbox's body limits (its bytes stay
    /// reserved from the in-flight budget while they are parsed).
    pub async fn json(&mut self) -> Result<Value, Response> {
        let body = std::mem::take(&mut self.body);
        let buffered =
            crate::body::read_bounded(body, &self.headers, &self.extensions, MAX_JSON_BODY)
                .await
                .map_err(|e| body_error(&e))?;
        let bytes = &buffered.bytes;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(bad_request("The request body is empty"));
        }
        serde_json::from_slice(bytes)
            .map_err(|e| bad_request(format!("The request body is not valid JSON: {e}")))
    }

    pub async fn json_object(&mut self) -> Result<Map<String, Value>, Response> {
        match self.json().await? {
            Value::Object(m) => Ok(m),
            _ => Err(bad_request("The request body must be a JSON object")),
        }
    }
}

async fn dispatch(st: Arc<QrsState>, ty: Option<&'static str>, op: Op, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let params = match Path::<HashMap<String, String>>::from_request_parts(&mut parts, &()).await {
        Ok(Path(p)) => p,
        Err(e) => return bad_request(e.body_text()),
    };
    let Some(query) = parse_query(parts.uri.query()) else {
        return bad_request("Missing parameter value(s)");
    };
    let Some(identity) = parts.extensions.get::<Identity>().cloned() else {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    ensure_user(&st, &identity);
    tasks::ensure_scheduler(&st);
    let ctx = Ctx {
        st,
        params,
        query,
        identity,
        headers: parts.headers,
        extensions: parts.extensions,
        body,
    };
    let td = ty.and_then(type_def);
    match (op, td) {
        (Op::List, Some(td)) => list(ctx, td, false),
        (Op::Full, Some(td)) => list(ctx, td, true),
        (Op::Count, Some(td)) => count(&ctx, td),
        (Op::Get, Some(td)) => get(&ctx, td),
        (Op::Create, Some(td)) => create(ctx, td).await,
        (Op::CreateMany, Some(td)) => create_many(ctx, td).await,
        (Op::Update, Some(td)) => update(ctx, td).await,
        (Op::Delete, Some(td)) => delete(ctx, td).await,
        (Op::About, _) => about::about(&ctx),
        (Op::Enums, _) => about::enums(),
        (Op::Default, Some(td)) => about::default_entity(td),
        (Op::AppUpload, _) => apps::upload(ctx).await,
        (Op::AppUploadReplace, _) => apps::upload_replace(ctx).await,
        (Op::AppExport, _) => apps::export(ctx).await,
        (Op::AppExportCancel, _) => apps::export_cancel(&ctx),
        (Op::AppCopy, _) => apps::copy(ctx).await,
        (Op::AppPublish, _) => apps::publish(&ctx),
        (Op::AppReplace, _) => apps::replace(ctx).await,
        (Op::AppReload, _) => apps::reload(&ctx),
        (Op::TempContent, _) => apps::download(ctx).await,
        (Op::TaskCreate, _) => tasks::create_bundle(ctx).await,
        (Op::TaskUpdate, _) => tasks::update_bundle(ctx).await,
        (Op::TaskStart, _) => tasks::start_by_id(&ctx, false),
        (Op::TaskStartSync, _) => tasks::start_by_id(&ctx, true),
        (Op::TaskStartByName, _) => tasks::start_by_name(&ctx, false),
        (Op::TaskStartByNameSync, _) => tasks::start_by_name(&ctx, true),
        (Op::TaskStartMany, _) => tasks::start_many(ctx).await,
        (Op::TaskStop, _) => tasks::stop_by_id(&ctx),
        (Op::TaskStopMany, _) => tasks::stop_many(ctx).await,
        (Op::Table, Some(td)) => table::table(ctx, td).await,
        (Op::Description, _) => about::description(&ctx),
        (Op::AppExportTicket, _) => apps::export_ticket(ctx).await,
        (Op::DownloadApp, _) => apps::download_ticket(ctx).await,
        (Op::AppObjectApprove, _) => objects::set_flag(&ctx, "approved", true, StatusCode::CREATED),
        (Op::AppObjectUnapprove, _) => {
            objects::set_flag(&ctx, "approved", false, StatusCode::CREATED)
        }
        (Op::AppObjectPublish, _) => objects::set_flag(&ctx, "published", true, StatusCode::OK),
        (Op::AppObjectUnpublish, _) => objects::set_flag(&ctx, "published", false, StatusCode::OK),
        (Op::AccessTypeInfo, _) => license::access_type_info(&ctx),
        (Op::AccessibleObjects, _) => audit::accessible_objects(ctx).await,
        (Op::ScriptLog, _) => scriptlog::ticket_by_file_reference(&ctx),
        (Op::ScriptLogFile, _) => scriptlog::ticket_by_result(&ctx),
        (Op::DownloadScriptLog, _) => scriptlog::download(&ctx),
        (Op::SslPing, _) => text(StatusCode::OK, "Ping successful"),
        _ => text(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// QRS creates a user entity the first time someone logs in.
pub(crate) fn ensure_user(st: &QrsState, id: &Identity) {
    if st.read().user_id(&id.user_directory, &id.user_id).is_some() {
        return;
    }
    st.mutate(|s| {
        if s.user_id(&id.user_directory, &id.user_id).is_some() {
            return;
        }
        let Some(td) = type_def("user") else { return };
        let body = json!({
            "userId": id.user_id, "userDirectory": id.user_directory, "name": id.user_id,
        });
        if let Value::Object(body) = body {
            let e = s.new_entity(td, &body, &id.display_name());
            s.put("user", &e);
        }
    });
}

/// The caller's user entity id.
pub fn caller_user_id(s: &Store, id: &Identity) -> Option<String> {
    s.user_id(&id.user_directory, &id.user_id)
}

// ---------------------------------------------------------------------------------------------
// generic endpoints

struct ListQuery {
    filter: Option<Expr>,
    orderby: Vec<SortKey>,
    privileges: bool,
}

fn list_query(ctx: &Ctx, td: &TypeDef) -> Result<ListQuery, Response> {
    let fields = types::full_fields(td);
    let filter = match ctx.q("filter").filter(|f| !f.trim().is_empty()) {
        None => None,
        Some(f) => {
            let e = filter::parse(f).map_err(|d| parse_error(&d))?;
            filter::check_properties(&e, fields).map_err(|d| parse_error(&d))?;
            Some(e)
        }
    };
    let orderby = match ctx.q("orderby").filter(|f| !f.trim().is_empty()) {
        None => Vec::new(),
        Some(o) => {
            let keys = filter::parse_orderby(o).map_err(|d| parse_error(&d))?;
            for k in &keys {
                let first = k.path.first().map(String::as_str).unwrap_or_default();
                if !fields.iter().any(|f| f.eq_ignore_ascii_case(first)) {
                    return Err(parse_error(&format!(
                        "'{first}' is not a property of this type"
                    )));
                }
            }
            keys
        }
    };
    Ok(ListQuery {
        filter,
        orderby,
        privileges: ctx.q_bool("privileges", false)?,
    })
}

/// Rows of `td` matching the filter, in orderby order, with their sequence numbers.
fn select(st: &QrsState, td: &TypeDef, lq: &ListQuery) -> Vec<(u64, Row)> {
    let source = td.view_of.unwrap_or(td.name);
    let s = st.read();
    if lq.filter.is_none() && lq.orderby.is_empty() {
        return s.seq_rows(source).map(|(k, r)| (k, r.clone())).collect();
    }
    let mut r = Renderer::new(&s);
    let mut picked: Vec<(Vec<filter::SortVal>, (u64, Row))> = Vec::new();
    for (seq, row) in s.seq_rows(source) {
        let Some(e) = parse_row(row) else { continue };
        let full = r.render(td, e, false, lq.privileges);
        if lq.filter.as_ref().is_some_and(|f| !filter::eval(f, &full)) {
            continue;
        }
        let keys = lq
            .orderby
            .iter()
            .map(|k| filter::sort_val(&full, &k.path))
            .collect();
        picked.push((keys, (seq, row.clone())));
    }
    if !lq.orderby.is_empty() {
        picked.sort_by(|a, b| filter::cmp_sort_vals(&a.0, &b.0, &lq.orderby));
    }
    picked.into_iter().map(|(_, r)| r).collect()
}

/// Lists up to this many entities are answered in one piece; larger ones are streamed in chunks
/// of this many (about 150 KB of apps each), so memory stays bounded whatever the list size.
const STREAM_CHUNK: usize = 128;

/// The wire text of each of `rows`, from the render cache where it is fresh; the store lock is
/// held only to look up (and render what is missing), never while the text is copied or sent.
fn rendered_texts(
    st: &QrsState,
    td: &'static TypeDef,
    rows: &[(u64, Row)],
    full: bool,
    privileges: bool,
) -> Vec<Row> {
    let variant = u8::from(full) | (u8::from(privileges) << 1);
    let mut s = st.read();
    let mut out: Vec<Option<Row>> = rows
        .iter()
        .map(|(seq, row)| s.cached_render(td.name, *seq, variant, row))
        .collect();
    if out.iter().any(Option::is_none) {
        let mut fresh = Vec::new();
        {
            let mut r = Renderer::new(&s);
            for (i, (_, row)) in rows.iter().enumerate() {
                if out[i].is_some() {
                    continue;
                }
                let Some(e) = parse_row(row) else { continue };
                let text: Row = Arc::from(r.render(td, e, !full, privileges).to_string());
                fresh.push((i, text));
            }
        }
        for (i, text) in fresh {
            let (seq, row) = &rows[i];
            s.cache_render(td.name, *seq, variant, row.clone(), text.clone());
            out[i] = Some(text);
        }
    }
    drop(s);
    out.into_iter().flatten().collect()
}

/// `rows` rendered as the comma-separated items of a JSON array (`first`: no leading comma).
fn render_chunk(
    st: &QrsState,
    td: &'static TypeDef,
    rows: &[(u64, Row)],
    full: bool,
    privileges: bool,
    first: bool,
) -> Vec<u8> {
    let texts = rendered_texts(st, td, rows, full, privileges);
    let len = texts.iter().map(|t| t.len() + 1).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    for (i, t) in texts.iter().enumerate() {
        if !(first && i == 0) {
            out.push(b',');
        }
        out.extend_from_slice(t.as_bytes());
    }
    out
}

fn list(ctx: Ctx, td: &'static TypeDef, full: bool) -> Response {
    let lq = match list_query(&ctx, td) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let rows = select(&ctx.st, td, &lq);
    let privileges = lq.privileges;
    let mut resp = if rows.len() <= STREAM_CHUNK {
        let mut body = vec![b'['];
        body.extend(render_chunk(&ctx.st, td, &rows, full, privileges, true));
        body.push(b']');
        Response::new(Body::from(body))
    } else {
        let st = ctx.st.clone();
        let rows = Arc::new(rows);
        let starts = (0..rows.len()).step_by(STREAM_CHUNK);
        let items = futures_util::stream::iter(starts).map(move |start| {
            let end = (start + STREAM_CHUNK).min(rows.len());
            let chunk = render_chunk(&st, td, &rows[start..end], full, privileges, start == 0);
            Ok::<Bytes, std::io::Error>(Bytes::from(chunk))
        });
        let open = futures_util::stream::iter([Ok(Bytes::from_static(b"["))]);
        let close = futures_util::stream::iter([Ok(Bytes::from_static(b"]"))]);
        Response::new(Body::from_stream(open.chain(items).chain(close)))
    };
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

fn count(ctx: &Ctx, td: &'static TypeDef) -> Response {
    let lq = match list_query(ctx, td) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let n = if lq.filter.is_none() {
        ctx.st.read().count(td.view_of.unwrap_or(td.name))
    } else {
        select(&ctx.st, td, &lq).len()
    };
    // GAP in the reference: the spec says the body is a bare int, but clients (qlik-repo-api's
    // `.data.value`) read this object shape, which is what real QRS returns.
    json_response(StatusCode::OK, &json!({ spec::VALUE_FIELD: n }))
}

/// The full wire form of one entity.
pub fn render_one(st: &QrsState, ty: &str, id: &str, privileges: bool) -> Option<Value> {
    let td = type_def(ty)?;
    let s = st.read();
    let e = s.get(ty, id)?;
    Some(Renderer::new(&s).render(td, e, false, privileges))
}

/// 200/201 with the full entity, or 404.
pub fn respond_entity(ctx: &Ctx, status: StatusCode, ty: &str, id: &str) -> Response {
    let privileges = ctx.q_bool("privileges", false).unwrap_or(false);
    match render_one(&ctx.st, ty, id, privileges) {
        Some(v) => json_response(status, &v),
        None => not_found(schema_name(ty), id),
    }
}

pub fn schema_name(ty: &str) -> &'static str {
    type_def(ty).map_or("entity", |t| t.schema)
}

fn get(ctx: &Ctx, td: &'static TypeDef) -> Response {
    if let Err(r) = ctx.q_bool("privileges", false) {
        return r;
    }
    respond_entity(ctx, StatusCode::OK, td.name, &ctx.param("id"))
}

/// Checks and defaults before an entity is stored. `Err` is the 400/404 to answer.
pub fn prepare(
    s: &Store,
    td: &TypeDef,
    e: &mut Map<String, Value>,
    caller: Option<&str>,
) -> Result<(), Response> {
    // Owner defaults to the caller.
    if e.get("owner").is_some_and(Value::is_null)
        && let Some(uid) = caller
    {
        e.insert("owner".into(), json!({ "id": uid }));
    }
    let s_field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
    match td.name {
        "user" => {
            if s_field("userId").is_empty() || s_field("userDirectory").is_empty() {
                return Err(bad_request("userId and userDirectory are required"));
            }
            // One user per directory and user id (compared without case, as Windows does).
            let id = s_field("id");
            if let Some(other) = s.user_id(s_field("userDirectory"), s_field("userId"))
                && !other.eq_ignore_ascii_case(id)
            {
                return Err(text(
                    StatusCode::CONFLICT,
                    format!(
                        "A user with userDirectory '{}' and userId '{}' already exists (id {other})",
                        s_field("userDirectory"),
                        s_field("userId")
                    ),
                ));
            }
        }
        "app/object" => {
            if s_field("objectType").trim().is_empty() {
                return Err(bad_request("App.Object objectType is required"));
            }
            match store::ref_ids(e, "app").first() {
                None => return Err(bad_request("App.Object app is required")),
                Some(a) if !s.contains("app", a) => return Err(not_found("App", a)),
                Some(_) => {}
            }
        }
        ty if license::is_allocation(ty) => {
            let Some(user) = store::ref_ids(e, "user").into_iter().next() else {
                return Err(bad_request(format!("{} user is required", td.schema)));
            };
            if !s.contains("user", &user) {
                return Err(not_found("User", &user));
            }
            let id = s_field("id");
            let taken = s.all(ty).iter().any(|a| {
                a.get("id").and_then(Value::as_str) != Some(id)
                    && store::ref_ids(a, "user").contains(&user)
            });
            if taken {
                return Err(text(
                    StatusCode::CONFLICT,
                    format!("The user {user} already has a {} allocation", td.schema),
                ));
            }
        }
        "virtualproxyconfig" => {
            if s_field("sessionCookieHeaderName").is_empty() {
                return Err(bad_request("sessionCookieHeaderName is required"));
            }
        }
        "servicestatus" | "executionsession" | "executionresult" | "servernodeconfiguration" => {}
        _ => {
            if e.contains_key("name") && s_field("name").trim().is_empty() {
                return Err(bad_request(format!("{} name is required", td.schema)));
            }
        }
    }
    if td.name == "virtualproxyconfig" {
        let prefix = s_field("prefix").trim_matches('/').to_ascii_lowercase();
        let id = s_field("id").to_string();
        let taken = s.all("virtualproxyconfig").iter().any(|v| {
            v.get("id").and_then(Value::as_str) != Some(id.as_str())
                && v.get("prefix")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.trim_matches('/').eq_ignore_ascii_case(&prefix))
        });
        if taken {
            return Err(bad_request(format!(
                "A virtual proxy with the prefix '{prefix}' already exists"
            )));
        }
    }
    if matches!(td.name, "schemaevent" | "compositeevent") {
        let tasks = store::ref_ids(e, "reloadTask");
        match tasks.first() {
            None => {
                return Err(bad_request(format!("{} reloadTask is required", td.schema)));
            }
            Some(t) if !s.contains("reloadtask", t) => return Err(not_found("ReloadTask", t)),
            Some(_) => {}
        }
        for t in store::ref_ids(e, "compositeRules.reloadTask") {
            if !s.contains("reloadtask", &t) {
                return Err(not_found("ReloadTask", &t));
            }
        }
    }
    if td.name == "reloadtask" {
        let app = store::ref_ids(e, "app");
        match app.first() {
            None => return Err(bad_request("ReloadTask app is required")),
            Some(a) if !s.contains("app", a) => return Err(not_found("App", a)),
            Some(_) => {}
        }
    }
    // Referenced tags and custom property definitions must exist.
    for (path, target) in td.refs {
        if matches!(*target, "tag" | "custompropertydefinition" | "stream") {
            for id in store::ref_ids(e, path) {
                if !s.contains(target, &id) {
                    return Err(not_found(schema_name(target), &id));
                }
            }
        }
    }
    Ok(())
}

/// Create one entity from a JSON body (within the store lock).
pub fn create_in(
    s: &mut Store,
    td: &'static TypeDef,
    body: &Map<String, Value>,
    identity: &Identity,
) -> Result<String, Response> {
    let caller = caller_user_id(s, identity);
    let mut e = s.new_entity(td, body, &identity.display_name());
    prepare(s, td, &mut e, caller.as_deref())?;
    tasks::on_create(s, td, &mut e);
    let id = e
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if s.contains(td.name, &id) {
        return Err(text(
            StatusCode::CONFLICT,
            format!("{} with id '{id}' already exists", td.schema),
        ));
    }
    s.put(td.name, &e);
    Ok(id)
}

async fn create(mut ctx: Ctx, td: &'static TypeDef) -> Response {
    let body = match ctx.json_object().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let identity = ctx.identity.clone();
    match ctx.st.mutate(|s| create_in(s, td, &body, &identity)) {
        Ok(id) => respond_entity(&ctx, StatusCode::CREATED, td.name, &id),
        Err(r) => r,
    }
}

async fn create_many(mut ctx: Ctx, td: &'static TypeDef) -> Response {
    let items = match ctx.json().await {
        Ok(Value::Array(a)) => a,
        Ok(_) => return bad_request("The request body must be a JSON array"),
        Err(r) => return r,
    };
    let mut bodies = Vec::with_capacity(items.len());
    for i in items {
        match i {
            Value::Object(m) => bodies.push(m),
            _ => return bad_request("Every item of the request body must be a JSON object"),
        }
    }
    let identity = ctx.identity.clone();
    // All or nothing: validate everything first.
    let r = ctx.st.mutate(|s| {
        let mut ids = Vec::new();
        for b in &bodies {
            match create_in(s, td, b, &identity) {
                Ok(id) => ids.push(id),
                Err(r) => {
                    for id in &ids {
                        s.remove(td.name, id);
                    }
                    return Err(r);
                }
            }
        }
        Ok(ids)
    });
    let ids = match r {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    let privileges = ctx.q_bool("privileges", false).unwrap_or(false);
    let out: Vec<Value> = ids
        .iter()
        .filter_map(|id| render_one(&ctx.st, td.name, id, privileges))
        .collect();
    json_response(StatusCode::CREATED, &Value::Array(out))
}

/// Fields an update never takes from the body.
const KEEP_ON_UPDATE: &[&str] = &["operational", "fileSize", "appId"];

/// Apply an update body to entity `id` (optimistic concurrency on `modifiedDate`).
pub fn update_in(
    s: &mut Store,
    td: &'static TypeDef,
    id: &str,
    body: &Map<String, Value>,
    identity: &Identity,
) -> Result<(), Response> {
    let Some(stored) = s.get(td.name, id) else {
        return Err(not_found(td.schema, id));
    };
    if let Some(bid) = body.get("id").and_then(Value::as_str)
        && !bid.eq_ignore_ascii_case(id)
    {
        return Err(bad_request(format!(
            "The id in the body ('{bid}') does not match the id in the URL ('{id}')"
        )));
    }
    let Some(sent) = body.get("modifiedDate").and_then(Value::as_str) else {
        return Err(text(
            StatusCode::CONFLICT,
            "Conflict: modifiedDate is required to update an entity",
        ));
    };
    let Some(sent_ms) = store::parse_date_ms(sent) else {
        return Err(bad_request(format!("modifiedDate '{sent}' is not a date")));
    };
    let stored_date = stored
        .get("modifiedDate")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if store::parse_date_ms(stored_date) != Some(sent_ms) {
        return Err(text(
            StatusCode::CONFLICT,
            format!(
                "Conflict: the entity was modified at {stored_date}, after the modifiedDate sent ({sent})"
            ),
        ));
    }
    let mut body = body.clone();
    for k in KEEP_ON_UPDATE {
        body.remove(*k);
    }
    let caller = caller_user_id(s, identity);
    let mut e = s.updated_entity(td, &stored, &body, &identity.display_name());
    prepare(s, td, &mut e, caller.as_deref())?;
    tasks::on_update(td, &mut e);
    s.put(td.name, &e);
    Ok(())
}

async fn update(mut ctx: Ctx, td: &'static TypeDef) -> Response {
    let id = ctx.param("id");
    if let Err(r) = ctx.q_bool("privileges", false) {
        return r;
    }
    let body = match ctx.json_object().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let identity = ctx.identity.clone();
    match ctx.st.mutate(|s| update_in(s, td, &id, &body, &identity)) {
        Ok(()) => respond_entity(&ctx, StatusCode::OK, td.name, &id),
        Err(r) => r,
    }
}

async fn delete(ctx: Ctx, td: &'static TypeDef) -> Response {
    let id = ctx.param("id");
    if !ctx.st.read().contains(td.name, &id) {
        return not_found(td.schema, &id);
    }
    let removed_apps = ctx.st.mutate(|s| cascade_delete(s, td.name, &id));
    for app in removed_apps {
        apps::remove_file(&ctx.st, &app).await;
    }
    if td.name == "reloadtask" {
        tasks::stop_task(&ctx.st, &id);
    }
    no_content()
}

/// Delete an entity and what depends on it (an app's reload tasks, a task's triggers). Returns
/// the ids of deleted apps (their files are removed by the caller, outside the lock).
pub fn cascade_delete(s: &mut Store, ty: &str, id: &str) -> Vec<String> {
    let mut apps = Vec::new();
    let Some(removed) = s.remove(ty, id) else {
        return apps;
    };
    let id = id.to_ascii_lowercase();
    match ty {
        "app" => {
            apps.push(id.clone());
            for object in objects::of_app(s, &id) {
                s.remove(objects::TYPE, &object);
            }
            for t in s.all("reloadtask") {
                if store::ref_ids(&t, "app").contains(&id)
                    && let Some(tid) = t.get("id").and_then(Value::as_str)
                {
                    cascade_delete(s, "reloadtask", tid);
                }
            }
        }
        "reloadtask" => {
            for ev in ["schemaevent", "compositeevent"] {
                for e in s.all(ev) {
                    if store::ref_ids(&e, "reloadTask").contains(&id)
                        && let Some(eid) = e.get("id").and_then(Value::as_str)
                    {
                        s.remove(ev, eid);
                    }
                }
            }
        }
        "user" => {
            // A licence allocation outlives its user, naming who it was (as QRS keeps it in
            // quarantine).
            for ty in [license::PROFESSIONAL, license::ANALYZER] {
                for mut a in s.all(ty) {
                    if !store::ref_ids(&a, "user").contains(&id) {
                        continue;
                    }
                    a.insert("user".into(), Value::Null);
                    for (field, from) in [
                        ("deletedUserId", "userId"),
                        ("deletedUserDirectory", "userDirectory"),
                    ] {
                        let value = removed.get(from).cloned().unwrap_or(json!(""));
                        a.insert(field.into(), value);
                    }
                    s.put(ty, &a);
                }
            }
        }
        "tag" | "custompropertydefinition" => {
            // Entities stop carrying a deleted tag / custom property.
            for td in types::TYPES.iter().filter(|t| t.view_of.is_none()) {
                let Some((path, _)) = td.refs.iter().find(|(_, target)| *target == ty) else {
                    continue;
                };
                let field = path.split('.').next().unwrap_or_default();
                let dangling = |v: &Value| {
                    let r = if ty == "tag" { v } else { &v["definition"] };
                    r["id"].as_str() == Some(id.as_str())
                };
                for mut e in s.all(td.name) {
                    let Some(Value::Array(items)) = e.get_mut(field) else {
                        continue;
                    };
                    let before = items.len();
                    items.retain(|v| !dangling(v));
                    if items.len() != before {
                        s.put(td.name, &e);
                    }
                }
            }
        }
        _ => {}
    }
    apps
}
