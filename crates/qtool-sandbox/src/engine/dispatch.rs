//! From a request frame to its answer: resolve the handle, find the method in the table, bind
//! the arguments, run the handler (at once, or later for reloads and saves), tell other sessions
//! what changed, and build the result (`qReturn` first, then the table's out-parameters; as
//! JSON patches when the request asked for `delta`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::methods::{self, Method, Returns};
use super::rpc::{self, HandleNews, Request};
use super::session::{Session, SocketLink, Target, lock};
use super::spec::{ErrorCode, GLOBAL_HANDLE, QixError};
use super::{Engine, LoadedApp};

pub type Handler = fn(&mut Call<'_>) -> Outcome;

/// An answer ready later (a reload, a save), with what it changed.
pub type Deferred = Pin<Box<dyn Future<Output = (Result<Reply, QixError>, News)> + Send>>;

/// What a handler returns: the answer now, or a future that gives it later.
pub enum Outcome {
    Now(Result<Reply, QixError>),
    Later(Deferred),
}

impl From<Result<Reply, QixError>> for Outcome {
    fn from(r: Result<Reply, QixError>) -> Outcome {
        Outcome::Now(r)
    }
}

/// A handler's values: `qReturn` (when the method has one) and the out-parameters in table order.
#[derive(Debug, Default)]
pub struct Reply {
    pub ret: Option<Value>,
    pub outs: Vec<Value>,
}

impl Reply {
    pub fn empty() -> Reply {
        Reply::default()
    }
    pub fn ret(v: Value) -> Reply {
        Reply {
            ret: Some(v),
            outs: Vec::new(),
        }
    }
    pub fn out(v: Value) -> Reply {
        Reply {
            ret: None,
            outs: vec![v],
        }
    }
    pub fn outs(v: Vec<Value>) -> Reply {
        Reply { ret: None, outs: v }
    }
    pub fn ret_and(ret: Value, outs: Vec<Value>) -> Reply {
        Reply {
            ret: Some(ret),
            outs,
        }
    }
}

/// What a request changed, for the `change`/`close` handle arrays of every socket concerned.
#[derive(Debug, Default, Clone)]
pub struct News {
    /// The app concerned (`None`: nothing to tell).
    pub app: Option<String>,
    /// Only the calling session (its session objects).
    pub session_only: Option<u64>,
    pub changed: Vec<Target>,
    pub closed: Vec<Target>,
    /// Every handle of the app changed (after a reload).
    pub everything: bool,
}

impl News {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.closed.is_empty() && !self.everything
    }
}

/// One request being handled.
pub struct Call<'a> {
    pub engine: &'a Arc<Engine>,
    pub session: &'a Arc<Session>,
    pub socket: &'a Arc<SocketLink>,
    /// The JSON-RPC id, when numeric (reload progress is looked up by it).
    pub request_id: Option<i64>,
    pub target: Target,
    pub args: Vec<Value>,
    pub news: News,
}

fn bad_param(name: &str, expected: &str) -> QixError {
    QixError::new(
        ErrorCode::InvalidParams,
        format!("{name} must be {expected}"),
    )
}

impl Call<'_> {
    fn arg(&self, i: usize) -> &Value {
        self.args.get(i).unwrap_or(&Value::Null)
    }

    pub fn string(&self, i: usize, name: &str) -> Result<String, QixError> {
        match self.arg(i) {
            Value::String(s) => Ok(s.clone()),
            Value::Null => Ok(String::new()),
            _ => Err(bad_param(name, "a string")),
        }
    }

    pub fn boolean(&self, i: usize, name: &str) -> Result<bool, QixError> {
        match self.arg(i) {
            Value::Bool(b) => Ok(*b),
            Value::Null => Ok(false),
            _ => Err(bad_param(name, "a boolean")),
        }
    }

    pub fn integer(&self, i: usize, name: &str) -> Result<i64, QixError> {
        match self.arg(i) {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .ok_or_else(|| bad_param(name, "an integer")),
            Value::Null => Ok(0),
            _ => Err(bad_param(name, "an integer")),
        }
    }

    pub fn number(&self, i: usize, name: &str) -> Result<f64, QixError> {
        match self.arg(i) {
            Value::Number(n) => n.as_f64().ok_or_else(|| bad_param(name, "a number")),
            Value::Null => Ok(0.0),
            _ => Err(bad_param(name, "a number")),
        }
    }

    /// An object argument (`null` only where the parameter is optional).
    pub fn object(&self, i: usize, name: &str) -> Result<Map<String, Value>, QixError> {
        match self.arg(i) {
            Value::Object(m) => Ok(m.clone()),
            _ => Err(bad_param(name, "an object")),
        }
    }

    pub fn optional_object(
        &self,
        i: usize,
        name: &str,
    ) -> Result<Option<Map<String, Value>>, QixError> {
        match self.arg(i) {
            Value::Null => Ok(None),
            Value::Object(m) => Ok(Some(m.clone())),
            _ => Err(bad_param(name, "an object")),
        }
    }

    pub fn value(&self, i: usize) -> Value {
        self.arg(i).clone()
    }

    /// The session's open app (the target of a Doc method).
    pub fn app(&self) -> Result<Arc<LoadedApp>, QixError> {
        lock(&self.session.state)
            .doc
            .clone()
            .ok_or_else(|| QixError::new(ErrorCode::AppInvalid, "No active document"))
    }

    /// `qReturn` for `target` in this session: `{qType, qHandle, qGenericType, qGenericId}`.
    pub fn handle_reply(&self, target: Target, generic_type: &str) -> Value {
        let handle = lock(&self.session.state).handle_for(target.clone());
        let mut v = json!({"qType": target.class().name(), "qHandle": handle});
        if !generic_type.is_empty() {
            v["qGenericType"] = json!(generic_type);
        }
        v["qGenericId"] = json!(target.id());
        v
    }

    /// Note that `targets` of the open app changed.
    pub fn changed(&mut self, app: &str, targets: impl IntoIterator<Item = Target>) {
        self.news.app = Some(app.to_string());
        self.news.changed.extend(targets);
    }

    /// Note that `targets` were destroyed (their handles close everywhere).
    pub fn closed(&mut self, app: &str, targets: impl IntoIterator<Item = Target>) {
        self.news.app = Some(app.to_string());
        self.news.closed.extend(targets);
    }
}

/// `{"qType": null, "qHandle": null}`: what the engine answers for an object that does not exist.
pub fn no_object() -> Value {
    json!({"qType": null, "qHandle": null})
}

/// Handle one request frame on `socket`.
pub fn handle(
    engine: &Arc<Engine>,
    session: &Arc<Session>,
    socket: &Arc<SocketLink>,
    req: Request,
) {
    let request_id = req.id.as_ref().and_then(Value::as_i64);
    let target = if req.handle == GLOBAL_HANDLE {
        Some(Target::Global)
    } else {
        lock(&session.state).target(req.handle).cloned()
    };
    let Some(target) = target else {
        let e = QixError::new(
            ErrorCode::InvalidParams,
            format!("Invalid handle: {}", req.handle),
        );
        return answer(engine, socket, &req, None, Err(e), News::default());
    };
    let Some(method) = methods::find(target.class(), &req.method) else {
        let e = QixError::new(ErrorCode::MethodNotFound, req.method.clone());
        return answer(engine, socket, &req, None, Err(e), News::default());
    };
    let args = match rpc::arguments(&req.params, method.params) {
        Ok(a) => a,
        Err(e) => return answer(engine, socket, &req, Some(method), Err(e), News::default()),
    };
    let mut call = Call {
        engine,
        session,
        socket,
        request_id,
        target,
        args,
        news: News::default(),
    };
    match (method.handler)(&mut call) {
        Outcome::Now(result) => {
            let news = std::mem::take(&mut call.news);
            answer(engine, socket, &req, Some(method), result, news);
        }
        Outcome::Later(future) => {
            let (engine, socket) = (engine.clone(), socket.clone());
            tokio::spawn(async move {
                let (result, news) = future.await;
                answer(&engine, &socket, &req, Some(method), result, news);
            });
        }
    }
}

fn answer(
    engine: &Arc<Engine>,
    socket: &Arc<SocketLink>,
    req: &Request,
    method: Option<&'static Method>,
    result: Result<Reply, QixError>,
    news: News,
) {
    let own = engine.publish(&news, socket.id);
    let Some(id) = &req.id else {
        // A notification gets no answer; what it changed still reaches this socket.
        if !own.is_empty() {
            socket.send(rpc::news_frame(&own));
        }
        return;
    };
    let text = match (result, method) {
        (Ok(reply), Some(method)) => {
            let result = result_members(method, reply);
            if req.delta {
                rpc::result_frame(id, delta_result(socket, req, result), true, &own)
            } else {
                rpc::result_frame(id, result, false, &own)
            }
        }
        (Err(e), _) => rpc::error_frame(Some(id), &e, &own),
        (Ok(_), None) => rpc::error_frame(
            Some(id),
            &QixError::new(ErrorCode::MethodNotFound, req.method.clone()),
            &own,
        ),
    };
    socket.send(text);
}

/// `qReturn` (if the method has one) then each out-parameter by name.
fn result_members(method: &Method, reply: Reply) -> Map<String, Value> {
    let mut out = Map::new();
    if method.returns != Returns::Nothing {
        out.insert("qReturn".into(), reply.ret.unwrap_or(Value::Null));
    }
    for (name, value) in method.outs.iter().zip(reply.outs) {
        out.insert((*name).into(), value);
    }
    out
}

/// Each member as patches against what this socket was last sent for the same handle and key.
fn delta_result(
    socket: &SocketLink,
    req: &Request,
    result: Map<String, Value>,
) -> Map<String, Value> {
    let mut cache = lock(&socket.delta);
    result
        .into_iter()
        .map(|(key, value)| {
            let cache_key = (req.handle, format!("{}-{key}", req.method));
            let patches = rpc::delta_patches(cache.get(&cache_key), &value);
            cache.insert(cache_key, value);
            (key, Value::Array(patches))
        })
        .collect()
}

/// The news for one socket, built by the engine for each session concerned.
pub fn own_news(change: Vec<i64>, close: Vec<i64>) -> HandleNews {
    HandleNews { change, close }
}
