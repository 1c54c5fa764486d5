//! Generic objects and the library: create, get (a handle), destroy; and the methods of their
//! handles: properties, patches, layouts, full property trees and children (qlik.dev
//! "qix/doc", "qix/genericobject", "qix/genericdimension", "qix/genericmeasure",
//! "qix/genericvariable", "qix/genericbookmark").
//!
//! Engine rules kept here: a missing object answers `{"qType": null, "qHandle": null}`, not an
//! error; an empty `qInfo.qId` gets a generated id; a handle is reused for the same object in a
//! session; destroying an object closes its handles (and its children's) in every session;
//! variable names are required and unique (LOCERR_VARIABLE_NO_NAME / _DUPLICATE_NAME).

use serde_json::{Map, Value, json};

use super::app::{AppModel, Entity, Library, Tree, variable_name};
use super::dispatch::{Call, Outcome, Reply, no_object};
use super::layout::{self, Context};
use super::session::{SessionState, Target, lock};
use super::spec::{ErrorCode, QixError};
use crate::qrs::store;

/// A library kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dimension,
    Measure,
    Variable,
    Bookmark,
}

impl Kind {
    fn of(target: &Target) -> Option<Kind> {
        Some(match target {
            Target::Dimension(_) => Kind::Dimension,
            Target::Measure(_) => Kind::Measure,
            Target::Variable(_) => Kind::Variable,
            Target::Bookmark(_) => Kind::Bookmark,
            _ => return None,
        })
    }

    fn qtype(self) -> &'static str {
        match self {
            Kind::Dimension => "dimension",
            Kind::Measure => "measure",
            Kind::Variable => "variable",
            Kind::Bookmark => "bookmark",
        }
    }

    fn target(self, id: &str) -> Target {
        let id = id.to_string();
        match self {
            Kind::Dimension => Target::Dimension(id),
            Kind::Measure => Target::Measure(id),
            Kind::Variable => Target::Variable(id),
            Kind::Bookmark => Target::Bookmark(id),
        }
    }

    /// The list definition whose layouts list this kind.
    fn list_def(self) -> &'static str {
        match self {
            Kind::Dimension => "qDimensionListDef",
            Kind::Measure => "qMeasureListDef",
            Kind::Variable => "qVariableListDef",
            Kind::Bookmark => "qBookmarkListDef",
        }
    }

    fn library(self, m: &mut AppModel) -> &mut Library {
        match self {
            Kind::Dimension => &mut m.dimensions,
            Kind::Measure => &mut m.measures,
            Kind::Variable => &mut m.variables,
            Kind::Bookmark => &mut m.bookmarks,
        }
    }
}

/// What a handler did, for the answer and the news.
#[derive(Default)]
struct Effect {
    reply: Reply,
    changed: Vec<Target>,
    closed: Vec<Target>,
    /// The change concerns this session's session objects only.
    session_only: bool,
}

impl Effect {
    fn reply(reply: Reply) -> Effect {
        Effect {
            reply,
            ..Effect::default()
        }
    }
}

/// Run `f` with the session state and the open app locked (in that order), then record the
/// news on the call.
fn with(
    call: &mut Call<'_>,
    f: impl FnOnce(&mut SessionState, &mut AppModel) -> Result<Effect, QixError>,
) -> Outcome {
    let result = (|| {
        let app = call.app()?;
        let mut st = lock(&call.session.state);
        let mut m = lock(&app.model);
        let effect = f(&mut st, &mut m)?;
        Ok((app.id.clone(), effect))
    })();
    Outcome::Now(result.map(|(app_id, effect)| {
        if effect.session_only && (!effect.changed.is_empty() || !effect.closed.is_empty()) {
            call.news.session_only = Some(call.session.id);
        }
        if !effect.changed.is_empty() {
            call.changed(&app_id, effect.changed);
        }
        if !effect.closed.is_empty() {
            call.closed(&app_id, effect.closed);
        }
        effect.reply
    }))
}

fn now() -> String {
    store::format_ms(store::now_ms())
}

/// `qReturn` of an object interface in this session.
fn interface(st: &mut SessionState, target: Target, generic_type: &str) -> Value {
    let handle = st.handle_for(target.clone());
    json!({"qType": target.class().name(), "qHandle": handle,
           "qGenericType": generic_type, "qGenericId": target.id()})
}

/// Give `props` a complete `qInfo` (generated id, default type); returns (id, type).
fn normalize_info(
    props: &mut Map<String, Value>,
    default_type: &str,
) -> Result<(String, String), QixError> {
    let info = props.get("qInfo").cloned().unwrap_or(Value::Null);
    if !(info.is_object() || info.is_null()) {
        return Err(QixError::new(
            ErrorCode::InvalidParameters,
            "qInfo must be an object",
        ));
    }
    let id = info
        .get("qId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let id = if id.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        id
    };
    let ty = info
        .get("qType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let ty = if ty.is_empty() {
        default_type.to_string()
    } else {
        ty
    };
    if ty.is_empty() {
        return Err(QixError::new(
            ErrorCode::InvalidParameters,
            "qInfo.qType must be set",
        ));
    }
    let mut info = match info {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    info.insert("qId".into(), json!(id));
    info.insert("qType".into(), json!(ty));
    props.insert("qInfo".into(), Value::Object(info));
    Ok((id, ty))
}

/// Generic objects whose layout lists `def` (e.g. every object with a `qVariableListDef`).
fn list_holders(st: &SessionState, m: &AppModel, def: &str) -> Vec<Target> {
    m.objects
        .iter()
        .chain(st.session_objects.iter())
        .filter(|n| n.entity.props.contains_key(def))
        .map(|n| Target::Object(n.entity.id().to_string()))
        .collect()
}

/// The tree holding generic object `id`: this session's objects first, then the app's.
fn tree_of<'a>(
    st: &'a mut SessionState,
    m: &'a mut AppModel,
    id: &str,
) -> Option<(&'a mut Tree, bool)> {
    if st.session_objects.contains(id) {
        Some((&mut st.session_objects, true))
    } else if m.objects.contains(id) {
        Some((&mut m.objects, false))
    } else {
        None
    }
}

fn object_exists(st: &SessionState, m: &AppModel, id: &str) -> bool {
    st.session_objects.contains(id) || m.objects.contains(id)
}

/// The properties of a generic object to create, with its id (generated if empty), type and
/// `qInfo`; an id in use is LOCERR_GENERIC_ALREADY_EXISTS.
struct NewObject {
    props: Map<String, Value>,
    id: String,
    ty: String,
    info: Value,
}

fn new_object(
    st: &SessionState,
    m: &AppModel,
    mut props: Map<String, Value>,
) -> Result<NewObject, QixError> {
    let (id, ty) = normalize_info(&mut props, "")?;
    if object_exists(st, m, &id) {
        return Err(QixError::new(ErrorCode::AlreadyExists, id));
    }
    let info = props.get("qInfo").cloned().unwrap_or(Value::Null);
    Ok(NewObject {
        props,
        id,
        ty,
        info,
    })
}

fn gone(target: &Target) -> QixError {
    QixError::new(
        ErrorCode::NotFound,
        format!("the object {} no longer exists", target.id()),
    )
}

pub fn get_all_infos(call: &mut Call<'_>) -> Outcome {
    with(call, |_, m| {
        Ok(Effect::reply(Reply::out(Value::Array(m.infos()))))
    })
}

// ---------------------------------------------------------------------------------------------
// generic objects

pub fn create_object(call: &mut Call<'_>) -> Outcome {
    let prop = call.object(0, "qProp");
    with(call, |st, m| {
        let NewObject {
            props,
            id,
            ty,
            info,
        } = new_object(st, m, prop?)?;
        m.objects.insert(Entity::new(props, &now()), None);
        m.modified = true;
        let ret = interface(st, Target::Object(id), &ty);
        let changed = list_holders(st, m, "qAppObjectListDef");
        Ok(Effect {
            reply: Reply::ret_and(ret, vec![info]),
            changed,
            ..Effect::default()
        })
    })
}

pub fn create_session_object(call: &mut Call<'_>) -> Outcome {
    let prop = call.object(0, "qProp");
    with(call, |st, m| {
        let NewObject { props, id, ty, .. } = new_object(st, m, prop?)?;
        st.session_objects.insert(Entity::new(props, &now()), None);
        Ok(Effect::reply(Reply::ret(interface(
            st,
            Target::Object(id),
            &ty,
        ))))
    })
}

pub fn get_object(call: &mut Call<'_>) -> Outcome {
    let id = call.string(0, "qId");
    with(call, |st, m| {
        let id = id?;
        let ty = st
            .session_objects
            .get(&id)
            .or_else(|| m.objects.get(&id))
            .map(|n| n.entity.kind().to_string());
        Ok(Effect::reply(Reply::ret(match ty {
            Some(ty) => interface(st, Target::Object(id), &ty),
            None => no_object(),
        })))
    })
}

/// Remove object `id` (and its children) from `tree`: closed targets, the parent to tell.
fn remove_object(tree: &mut Tree, id: &str) -> (Vec<Target>, Option<Target>) {
    let parent = tree
        .get(id)
        .and_then(|n| n.parent.clone())
        .map(Target::Object);
    let closed = tree.remove(id).into_iter().map(Target::Object).collect();
    (closed, parent)
}

pub fn destroy_object(call: &mut Call<'_>) -> Outcome {
    let id = call.string(0, "qId");
    with(call, |st, m| {
        let id = id?;
        if !m.objects.contains(&id) {
            return Ok(Effect::reply(Reply::out(json!(false))));
        }
        let (closed, parent) = remove_object(&mut m.objects, &id);
        m.modified = true;
        let mut changed = list_holders(st, m, "qAppObjectListDef");
        changed.extend(parent);
        Ok(Effect {
            reply: Reply::out(json!(true)),
            changed,
            closed,
            ..Effect::default()
        })
    })
}

pub fn destroy_session_object(call: &mut Call<'_>) -> Outcome {
    let id = call.string(0, "qId");
    with(call, |st, _| {
        let id = id?;
        if !st.session_objects.contains(&id) {
            return Ok(Effect::reply(Reply::out(json!(false))));
        }
        let (closed, _) = remove_object(&mut st.session_objects, &id);
        Ok(Effect {
            reply: Reply::out(json!(true)),
            closed,
            session_only: true,
            ..Effect::default()
        })
    })
}

// ---------------------------------------------------------------------------------------------
// library

fn create_library(call: &mut Call<'_>, kind: Kind) -> Outcome {
    let prop = call.object(0, "qProp");
    with(call, |st, m| {
        let mut props = prop?;
        let (id, ty) = normalize_info(&mut props, kind.qtype())?;
        if kind == Kind::Variable {
            let name = variable_name(&props).to_string();
            if name.trim().is_empty() {
                return Err(QixError::new(ErrorCode::VariableNoName, ""));
            }
            if m.variable_by_name(&name).is_some() {
                return Err(QixError::new(ErrorCode::VariableDuplicateName, name));
            }
        }
        let lib = kind.library(m);
        if lib.contains(&id) {
            return Err(QixError::new(ErrorCode::AlreadyExists, id));
        }
        let info = props.get("qInfo").cloned().unwrap_or(Value::Null);
        lib.insert(Entity::new(props, &now()));
        m.modified = true;
        let ret = interface(st, kind.target(&id), &ty);
        let changed = list_holders(st, m, kind.list_def());
        Ok(Effect {
            reply: Reply::ret_and(ret, vec![info]),
            changed,
            ..Effect::default()
        })
    })
}

fn get_library(call: &mut Call<'_>, kind: Kind, by_name: bool) -> Outcome {
    let key = call.string(0, if by_name { "qName" } else { "qId" });
    with(call, |st, m| {
        let key = key?;
        let found = if by_name {
            m.variable_by_name(&key)
                .map(|e| (e.id().to_string(), e.kind().to_string()))
        } else {
            kind.library(m)
                .get(&key)
                .map(|e| (e.id().to_string(), e.kind().to_string()))
        };
        Ok(Effect::reply(Reply::ret(match found {
            Some((id, ty)) => interface(st, kind.target(&id), &ty),
            None => no_object(),
        })))
    })
}

fn destroy_library(call: &mut Call<'_>, kind: Kind, by_name: bool) -> Outcome {
    let key = call.string(0, if by_name { "qName" } else { "qId" });
    with(call, |st, m| {
        let key = key?;
        let id = if by_name {
            m.variable_by_name(&key).map(|e| e.id().to_string())
        } else {
            Some(key)
        };
        let removed = id.as_ref().and_then(|id| kind.library(m).remove(id));
        let Some(removed) = removed else {
            return Ok(Effect::reply(Reply::out(json!(false))));
        };
        m.modified = true;
        let changed = list_holders(st, m, kind.list_def());
        Ok(Effect {
            reply: Reply::out(json!(true)),
            changed,
            closed: vec![kind.target(removed.id())],
            ..Effect::default()
        })
    })
}

/// The Doc methods on the library: one handler each (the method table holds plain functions).
macro_rules! library_methods {
    ($($name:ident => $f:ident($kind:ident $(, $by_name:literal)?);)*) => {
        $(pub fn $name(call: &mut Call<'_>) -> Outcome {
            $f(call, Kind::$kind $(, $by_name)?)
        })*
    };
}

library_methods! {
    create_dimension => create_library(Dimension);
    get_dimension => get_library(Dimension, false);
    destroy_dimension => destroy_library(Dimension, false);
    create_measure => create_library(Measure);
    get_measure => get_library(Measure, false);
    destroy_measure => destroy_library(Measure, false);
    create_variable_ex => create_library(Variable);
    get_variable_by_id => get_library(Variable, false);
    get_variable_by_name => get_library(Variable, true);
    destroy_variable_by_id => destroy_library(Variable, false);
    destroy_variable_by_name => destroy_library(Variable, true);
    create_bookmark => create_library(Bookmark);
    get_bookmark => get_library(Bookmark, false);
    destroy_bookmark => destroy_library(Bookmark, false);
}

// ---------------------------------------------------------------------------------------------
// methods of object and library handles

/// The properties of the call's target.
fn properties_of(
    st: &mut SessionState,
    m: &mut AppModel,
    target: &Target,
) -> Result<Map<String, Value>, QixError> {
    let props = match Kind::of(target) {
        Some(kind) => kind.library(m).get(target.id()).map(|e| e.props.clone()),
        None => tree_of(st, m, target.id())
            .and_then(|(t, _)| t.get(target.id()).map(|n| n.entity.props.clone())),
    };
    props.ok_or_else(|| gone(target))
}

pub fn get_info(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    with(call, |st, m| {
        let props = properties_of(st, m, &target)?;
        Ok(Effect::reply(Reply::out(
            props.get("qInfo").cloned().unwrap_or(Value::Null),
        )))
    })
}

pub fn get_properties(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    with(call, |st, m| {
        Ok(Effect::reply(Reply::out(Value::Object(properties_of(
            st, m, &target,
        )?))))
    })
}

/// Replace the target's properties with `props` (its id stays; an empty type keeps the old).
fn replace_properties(
    st: &mut SessionState,
    m: &mut AppModel,
    target: &Target,
    mut props: Map<String, Value>,
) -> Result<Effect, QixError> {
    let old = properties_of(st, m, target)?;
    let old_type = super::app::info_field(&old, "qType").to_string();
    let new_type = super::app::info_field(&props, "qType").to_string();
    let ty = if new_type.is_empty() {
        old_type
    } else {
        new_type
    };
    let mut info = match props.get("qInfo") {
        Some(Value::Object(i)) => i.clone(),
        _ => Map::new(),
    };
    info.insert("qId".into(), json!(target.id()));
    info.insert("qType".into(), json!(ty));
    props.insert("qInfo".into(), Value::Object(info));
    let when = now();
    let mut changed = vec![target.clone()];
    let mut session_only = false;
    match Kind::of(target) {
        Some(Kind::Variable) => {
            let name = variable_name(&props).to_string();
            if name.trim().is_empty() {
                return Err(QixError::new(ErrorCode::VariableNoName, target.id()));
            }
            if m.variable_by_name(&name)
                .is_some_and(|e| e.id() != target.id())
            {
                return Err(QixError::new(ErrorCode::VariableDuplicateName, name));
            }
            set_entity(Kind::Variable.library(m), target.id(), props, &when);
            changed.extend(list_holders(st, m, Kind::Variable.list_def()));
        }
        Some(kind) => {
            set_entity(kind.library(m), target.id(), props, &when);
            changed.extend(list_holders(st, m, kind.list_def()));
        }
        None => {
            let (tree, in_session) = tree_of(st, m, target.id()).ok_or_else(|| gone(target))?;
            session_only = in_session;
            if let Some(node) = tree.get_mut(target.id()) {
                node.entity.props = props;
                node.entity.modified = when;
                changed.extend(node.parent.clone().map(Target::Object));
            }
        }
    }
    if !session_only {
        m.modified = true;
    }
    Ok(Effect {
        changed,
        session_only,
        ..Effect::default()
    })
}

fn set_entity(lib: &mut Library, id: &str, props: Map<String, Value>, when: &str) {
    if let Some(e) = lib.get_mut(id) {
        e.props = props;
        e.modified = when.to_string();
    }
}

pub fn set_properties(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    let prop = call.object(0, "qProp");
    with(call, |st, m| replace_properties(st, m, &target, prop?))
}

pub fn apply_patches(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    let patches = call.value(0);
    with(call, |st, m| {
        let Value::Array(patches) = patches else {
            return Err(QixError::new(
                ErrorCode::InvalidParams,
                "qPatches must be an array",
            ));
        };
        let mut root = Value::Object(properties_of(st, m, &target)?);
        for p in &patches {
            apply_patch(&mut root, p)?;
        }
        let Value::Object(props) = root else {
            return Err(QixError::new(
                ErrorCode::InvalidParameters,
                "the patches replace the properties",
            ));
        };
        replace_properties(st, m, &target, props)
    })
}

/// One `NxPatch`: `qOp` (Add/Remove/Replace, by name or number), `qPath` (a JSON pointer),
/// `qValue` (JSON text).
fn apply_patch(root: &mut Value, patch: &Value) -> Result<(), QixError> {
    let bad = |what: &str| QixError::new(ErrorCode::InvalidParameters, what.to_string());
    let op = match patch.get("qOp") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(-1),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "add" => 0,
            "remove" => 1,
            "replace" => 2,
            _ => -1,
        },
        _ => -1,
    };
    let path = patch
        .get("qPath")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("qPath missing"))?;
    let (parent_path, key) = path
        .rsplit_once('/')
        .ok_or_else(|| bad("qPath must start with /"))?;
    let key = key.replace("~1", "/").replace("~0", "~");
    let parent = if parent_path.is_empty() {
        Some(root)
    } else {
        root.pointer_mut(parent_path)
    }
    .ok_or_else(|| bad(&format!("no {parent_path} in the properties")))?;
    match op {
        1 => {
            if let Value::Object(m) = parent {
                m.remove(&key);
            } else if let (Value::Array(a), Ok(i)) = (parent, key.parse::<usize>())
                && i < a.len()
            {
                a.remove(i);
            }
        }
        0 | 2 => {
            let text = patch
                .get("qValue")
                .and_then(Value::as_str)
                .unwrap_or("null");
            let value: Value =
                serde_json::from_str(text).map_err(|e| bad(&format!("qValue is not JSON: {e}")))?;
            match parent {
                Value::Object(m) => {
                    m.insert(key, value);
                }
                Value::Array(a) => match key.parse::<usize>() {
                    Ok(i) if op == 0 && i <= a.len() => a.insert(i, value),
                    Ok(i) if i < a.len() => a[i] = value,
                    _ if key == "-" => a.push(value),
                    _ => return Err(bad(&format!("no index {key} in {parent_path}"))),
                },
                _ => return Err(bad(&format!("{parent_path} is not an object or array"))),
            }
        }
        _ => return Err(bad("qOp must be Add, Remove or Replace")),
    }
    Ok(())
}

pub fn get_layout(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    with(call, |st, m| {
        let ctx = Context {
            app: m,
            session_objects: &st.session_objects,
        };
        let out = match Kind::of(&target) {
            Some(kind) => {
                let lib = match kind {
                    Kind::Dimension => &m.dimensions,
                    Kind::Measure => &m.measures,
                    Kind::Variable => &m.variables,
                    Kind::Bookmark => &m.bookmarks,
                };
                let e = lib.get(target.id()).ok_or_else(|| gone(&target))?;
                layout::library_layout(&ctx, kind.qtype(), e)
            }
            None => {
                let tree = if st.session_objects.contains(target.id()) {
                    &st.session_objects
                } else {
                    &m.objects
                };
                if !tree.contains(target.id()) {
                    return Err(gone(&target));
                }
                layout::object_layout(&ctx, tree, target.id())
            }
        };
        Ok(Effect::reply(Reply::out(out)))
    })
}

pub fn get_full_property_tree(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    with(call, |st, m| {
        let (tree, _) = tree_of(st, m, target.id()).ok_or_else(|| gone(&target))?;
        let entry = tree
            .property_tree(target.id())
            .ok_or_else(|| gone(&target))?;
        Ok(Effect::reply(Reply::out(entry)))
    })
}

pub fn set_full_property_tree(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    let entry = call.object(0, "qPropEntry");
    with(call, |st, m| {
        let entry = entry?;
        let when = now();
        let (tree, session_only) = tree_of(st, m, target.id()).ok_or_else(|| gone(&target))?;
        let mut effect = Effect {
            session_only,
            ..Effect::default()
        };
        set_tree(tree, target.id(), &entry, &when, &mut effect)?;
        effect.changed.push(target.clone());
        if !session_only {
            m.modified = true;
        }
        Ok(effect)
    })
}

/// Make `id` and its children what `entry` (`{qProperty, qChildren}`) says: children in the
/// entry are created or updated (in its order), children not in it are destroyed.
fn set_tree(
    tree: &mut Tree,
    id: &str,
    entry: &Map<String, Value>,
    when: &str,
    effect: &mut Effect,
) -> Result<(), QixError> {
    let mut props = match entry.get("qProperty") {
        Some(Value::Object(p)) => p.clone(),
        _ => {
            return Err(QixError::new(
                ErrorCode::InvalidParameters,
                "qPropEntry.qProperty must be an object",
            ));
        }
    };
    let old_type = tree
        .get(id)
        .map(|n| n.entity.kind().to_string())
        .unwrap_or_default();
    let (_, _) = normalize_info(&mut props, &old_type)?;
    if let Some(Value::Object(info)) = props.get_mut("qInfo") {
        info.insert("qId".into(), json!(id));
    }
    if let Some(node) = tree.get_mut(id) {
        node.entity.props = props;
        node.entity.modified = when.to_string();
    }
    let children = match entry.get("qChildren") {
        Some(Value::Array(c)) => c.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err(QixError::new(
                ErrorCode::InvalidParameters,
                "qChildren must be an array",
            ));
        }
    };
    let mut wanted = Vec::new();
    for child in &children {
        let Value::Object(child) = child else {
            return Err(QixError::new(
                ErrorCode::InvalidParameters,
                "a qChildren entry must be an object",
            ));
        };
        let mut child_props = match child.get("qProperty") {
            Some(Value::Object(p)) => p.clone(),
            _ => {
                return Err(QixError::new(
                    ErrorCode::InvalidParameters,
                    "qChildren[].qProperty must be an object",
                ));
            }
        };
        let (cid, _) = normalize_info(&mut child_props, "")?;
        if tree.contains(&cid) {
            tree.reparent(&cid, Some(id));
        } else {
            tree.insert(Entity::new(child_props.clone(), when), Some(id));
        }
        let mut child_entry = child.clone();
        child_entry.insert("qProperty".into(), Value::Object(child_props));
        set_tree(tree, &cid, &child_entry, when, effect)?;
        wanted.push(cid);
    }
    let current = tree.get(id).map(|n| n.children.clone()).unwrap_or_default();
    for c in current.iter().filter(|c| !wanted.contains(c)) {
        let (closed, _) = remove_object(tree, c);
        effect.closed.extend(closed);
    }
    tree.order_children(id, &wanted);
    Ok(())
}

pub fn get_child_infos(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    with(call, |st, m| {
        let (tree, _) = tree_of(st, m, target.id()).ok_or_else(|| gone(&target))?;
        let node = tree.get(target.id()).ok_or_else(|| gone(&target))?;
        let infos: Vec<Value> = node
            .children
            .iter()
            .filter_map(|c| tree.get(c))
            .map(|n| json!({"qId": n.entity.id(), "qType": n.entity.kind()}))
            .collect();
        Ok(Effect::reply(Reply::out(Value::Array(infos))))
    })
}

/// Apply `qPropForThis` (optional new properties of the parent) after a child operation.
fn set_parent_properties(
    st: &mut SessionState,
    m: &mut AppModel,
    target: &Target,
    prop: Option<Map<String, Value>>,
    effect: &mut Effect,
) -> Result<(), QixError> {
    if let Some(p) = prop {
        let e = replace_properties(st, m, target, p)?;
        effect.changed.extend(e.changed);
    }
    Ok(())
}

pub fn create_child(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    let prop = call.object(0, "qProp");
    let for_this = call.optional_object(1, "qPropForThis");
    with(call, |st, m| {
        let NewObject {
            props,
            id,
            ty,
            info,
        } = new_object(st, m, prop?)?;
        let (tree, session_only) = tree_of(st, m, target.id()).ok_or_else(|| gone(&target))?;
        tree.insert(Entity::new(props, &now()), Some(target.id()));
        if !session_only {
            m.modified = true;
        }
        let mut effect = Effect {
            session_only,
            changed: vec![target.clone()],
            ..Effect::default()
        };
        set_parent_properties(st, m, &target, for_this?, &mut effect)?;
        effect.reply = Reply::ret_and(interface(st, Target::Object(id), &ty), vec![info]);
        Ok(effect)
    })
}

pub fn destroy_child(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    let id = call.string(0, "qId");
    let for_this = call.optional_object(1, "qPropForThis");
    with(call, |st, m| {
        let id = id?;
        let (tree, session_only) = tree_of(st, m, target.id()).ok_or_else(|| gone(&target))?;
        let is_child = tree
            .get(target.id())
            .is_some_and(|n| n.children.contains(&id));
        if !is_child {
            return Ok(Effect::reply(Reply::out(json!(false))));
        }
        let (closed, _) = remove_object(tree, &id);
        if !session_only {
            m.modified = true;
        }
        let mut effect = Effect {
            session_only,
            closed,
            changed: vec![target.clone()],
            ..Effect::default()
        };
        set_parent_properties(st, m, &target, for_this?, &mut effect)?;
        effect.reply = Reply::out(json!(true));
        Ok(effect)
    })
}

pub fn destroy_all_children(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    let for_this = call.optional_object(0, "qPropForThis");
    with(call, |st, m| {
        let (tree, session_only) = tree_of(st, m, target.id()).ok_or_else(|| gone(&target))?;
        let children = tree
            .get(target.id())
            .map(|n| n.children.clone())
            .unwrap_or_default();
        let mut effect = Effect {
            session_only,
            changed: vec![target.clone()],
            ..Effect::default()
        };
        for c in children {
            effect.closed.extend(remove_object(tree, &c).0);
        }
        if !session_only {
            m.modified = true;
        }
        set_parent_properties(st, m, &target, for_this?, &mut effect)?;
        Ok(effect)
    })
}

pub fn get_child(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    let id = call.string(0, "qId");
    with(call, |st, m| {
        let id = id?;
        let (tree, _) = tree_of(st, m, target.id()).ok_or_else(|| gone(&target))?;
        let child_type = tree
            .get(target.id())
            .filter(|n| n.children.contains(&id))
            .and_then(|_| tree.get(&id))
            .map(|c| c.entity.kind().to_string());
        Ok(Effect::reply(Reply::ret(match child_type {
            Some(ty) => interface(st, Target::Object(id), &ty),
            None => no_object(),
        })))
    })
}

pub fn get_parent(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    with(call, |st, m| {
        let (tree, _) = tree_of(st, m, target.id()).ok_or_else(|| gone(&target))?;
        let parent = tree
            .get(target.id())
            .and_then(|n| n.parent.clone())
            .and_then(|p| {
                tree.get(&p)
                    .map(|n| (p.clone(), n.entity.kind().to_string()))
            });
        Ok(Effect::reply(Reply::ret(match parent {
            Some((id, ty)) => interface(st, Target::Object(id), &ty),
            None => no_object(),
        })))
    })
}

fn library_member(call: &mut Call<'_>, member: &'static str) -> Outcome {
    let target = call.target.clone();
    with(call, |st, m| {
        let props = properties_of(st, m, &target)?;
        Ok(Effect::reply(Reply::out(
            props.get(member).cloned().unwrap_or_else(|| json!({})),
        )))
    })
}

pub fn get_dimension_def(call: &mut Call<'_>) -> Outcome {
    library_member(call, "qDim")
}

pub fn get_measure_def(call: &mut Call<'_>) -> Outcome {
    library_member(call, "qMeasure")
}

pub fn get_raw_content(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    with(call, |st, m| {
        let props = properties_of(st, m, &target)?;
        let def = props
            .get("qDefinition")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Ok(Effect::reply(Reply::ret(json!(def))))
    })
}

/// Set a variable's definition.
fn set_definition(call: &mut Call<'_>, definition: Result<String, QixError>) -> Outcome {
    let target = call.target.clone();
    with(call, |st, m| {
        let mut props = properties_of(st, m, &target)?;
        props.insert("qDefinition".into(), json!(definition?));
        replace_properties(st, m, &target, props)
    })
}

pub fn set_string_value(call: &mut Call<'_>) -> Outcome {
    let v = call.string(0, "qVal");
    set_definition(call, v)
}

pub fn set_num_value(call: &mut Call<'_>) -> Outcome {
    let v = call
        .number(0, "qVal")
        .map(super::script::expr::format_number);
    set_definition(call, v)
}

pub fn set_dual_value(call: &mut Call<'_>) -> Outcome {
    let v = call.string(0, "qText");
    set_definition(call, v)
}

pub fn apply_bookmark(call: &mut Call<'_>) -> Outcome {
    let target = call.target.clone();
    with(call, |st, m| {
        properties_of(st, m, &target)?;
        Ok(Effect::reply(Reply::out(json!(true))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_add_replace_remove() {
        let mut v = json!({"title": "a", "list": [1, 2], "deep": {"x": 1}});
        apply_patch(
            &mut v,
            &json!({"qOp": "replace", "qPath": "/title", "qValue": "\"b\""}),
        )
        .unwrap();
        apply_patch(
            &mut v,
            &json!({"qOp": 0, "qPath": "/list/1", "qValue": "9"}),
        )
        .unwrap();
        apply_patch(&mut v, &json!({"qOp": "Remove", "qPath": "/deep/x"})).unwrap();
        apply_patch(
            &mut v,
            &json!({"qOp": "add", "qPath": "/new", "qValue": "{\"k\":true}"}),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"title": "b", "list": [1, 9, 2], "deep": {}, "new": {"k": true}})
        );
        assert!(
            apply_patch(
                &mut v,
                &json!({"qOp": "replace", "qPath": "/nope/x", "qValue": "1"})
            )
            .is_err()
        );
        assert!(
            apply_patch(
                &mut v,
                &json!({"qOp": "replace", "qPath": "/title", "qValue": "not json"})
            )
            .is_err()
        );
    }
}
