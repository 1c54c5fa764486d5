//! Generic objects (sheets, charts, …) and the master items of the library (dimensions,
//! measures, variables, bookmarks): list, read, create or update from properties, delete.
//!
//! The five kinds differ only in method names and in their key: objects, dimensions, measures
//! and bookmarks are keyed by `qInfo.qId`; variables by `qName` (as qlik-cli and the data load
//! editor address them; `qId` is also accepted to read or delete one). An object's properties
//! may be a full property tree (`{"qProperty": …, "qChildren": […]}`, what `unbuild` writes for
//! an object with children) or plain properties.

use serde_json::{Value, json};

use super::pipelined;
use crate::error::{Error, Result};
use crate::qix::Doc;
use crate::qix::doc::{Handle, member};

/// What kind of engine entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Object,
    Dimension,
    Measure,
    Variable,
    Bookmark,
}

impl Kind {
    pub(crate) const LIBRARY: [Kind; 4] = [
        Kind::Dimension,
        Kind::Measure,
        Kind::Variable,
        Kind::Bookmark,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Dimension => "dimension",
            Kind::Measure => "measure",
            Kind::Variable => "variable",
            Kind::Bookmark => "bookmark",
        }
    }

    /// The `qInfo.qType` of a library item (objects have their own types: sheet, barchart, …).
    pub(crate) fn library_type(self) -> Option<&'static str> {
        match self {
            Kind::Object => None,
            other => Some(other.label()),
        }
    }

    fn get_method(self) -> &'static str {
        match self {
            Kind::Object => "GetObject",
            Kind::Dimension => "GetDimension",
            Kind::Measure => "GetMeasure",
            Kind::Variable => "GetVariableById",
            Kind::Bookmark => "GetBookmark",
        }
    }

    fn create_method(self) -> &'static str {
        match self {
            Kind::Object => "CreateObject",
            Kind::Dimension => "CreateDimension",
            Kind::Measure => "CreateMeasure",
            Kind::Variable => "CreateVariableEx",
            Kind::Bookmark => "CreateBookmark",
        }
    }

    fn destroy_method(self) -> &'static str {
        match self {
            Kind::Object => "DestroyObject",
            Kind::Dimension => "DestroyDimension",
            Kind::Measure => "DestroyMeasure",
            Kind::Variable => "DestroyVariableById",
            Kind::Bookmark => "DestroyBookmark",
        }
    }
}

/// What a set did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    Created,
    Updated,
}

/// `{qId, qType}` of every entity of `kind` in the app, in the engine's order. Variables come
/// from a variable list (script-created ones included).
pub(crate) async fn ids(doc: &Doc, kind: Kind) -> Result<Vec<(String, String)>> {
    if kind == Kind::Variable {
        return Ok(variable_list(doc)
            .await?
            .into_iter()
            .map(|v| (text(&v, "/qInfo/qId"), "variable".to_string()))
            .collect());
    }
    let infos = all_infos(doc).await?;
    Ok(infos
        .into_iter()
        .filter(|(_, t)| match kind.library_type() {
            Some(wanted) => t == wanted,
            None => !Kind::LIBRARY
                .iter()
                .any(|k| k.library_type() == Some(t.as_str())),
        })
        .collect())
}

/// `GetAllInfos` as `(qId, qType)` pairs.
pub(crate) async fn all_infos(doc: &Doc) -> Result<Vec<(String, String)>> {
    let result = doc.call("GetAllInfos", json!([])).await?;
    let infos = member(result, "GetAllInfos", "qInfos")?;
    Ok(infos
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| (text(i, "/qId"), text(i, "/qType")))
        .collect())
}

/// The items of a variable list (`qName`, `qDefinition`, `qInfo`, `qIsScriptCreated`, …),
/// through a session object that goes away with the session.
pub(crate) async fn variable_list(doc: &Doc) -> Result<Vec<Value>> {
    let list = doc
        .get_handle(
            "CreateSessionObject",
            json!([{"qInfo": {"qType": "VariableList"},
                    "qVariableListDef": {"qType": "variable", "qShowReserved": false, "qShowConfig": false, "qData": {}}}]),
        )
        .await?
        .ok_or_else(|| Error::server("the engine gave no handle for a variable list"))?;
    let layout = member(
        doc.call_on(list, "GetLayout", json!([])).await?,
        "GetLayout",
        "qLayout",
    )?;
    Ok(layout
        .pointer("/qVariableList/qItems")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// The handle of the entity `id` (`None` when there is none). Variables: by id, then by name.
pub(crate) async fn handle(doc: &Doc, kind: Kind, id: &str) -> Result<Option<Handle>> {
    let found = doc.get_handle(kind.get_method(), json!([id])).await?;
    if found.is_none() && kind == Kind::Variable {
        return doc.get_handle("GetVariableByName", json!([id])).await;
    }
    Ok(found)
}

fn missing(kind: Kind, id: &str) -> Error {
    Error::not_found(format!("the app has no {} `{id}`", kind.label())).with_hint(format!(
        "list them with `qtool app {} ls APP`",
        kind.label()
    ))
}

/// A method of the entity `id` that answers `out` (`GetProperties` → `qProp`, …).
pub(crate) async fn read(
    doc: &Doc,
    kind: Kind,
    id: &str,
    method: &str,
    out: &str,
) -> Result<Value> {
    let handle = handle(doc, kind, id)
        .await?
        .ok_or_else(|| missing(kind, id))?;
    member(doc.call_on(handle, method, json!([])).await?, method, out)
}

/// An object as `unbuild` writes it: its full property tree when it has children, else its
/// properties.
pub(crate) async fn object_document(doc: &Doc, handle: Handle) -> Result<Value> {
    let tree = member(
        doc.call_on(handle, "GetFullPropertyTree", json!([]))
            .await?,
        "GetFullPropertyTree",
        "qPropEntry",
    )?;
    Ok(plain_unless_children(tree))
}

/// `{qProperty, qChildren: []}` → the properties alone; a tree with children as it is.
pub(crate) fn plain_unless_children(mut tree: Value) -> Value {
    let has_children = tree
        .get("qChildren")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    if has_children {
        tree
    } else {
        tree.get_mut("qProperty").map(Value::take).unwrap_or(tree)
    }
}

/// Properties of every entity of `kind`, [`super::IN_FLIGHT`] requests at a time.
pub(crate) async fn list(doc: &Doc, kind: Kind) -> Result<Vec<Value>> {
    let ids = ids(doc, kind).await?;
    let found = pipelined(ids, |(id, _)| async move {
        match handle(doc, kind, &id).await? {
            // Gone since the list was read.
            None => Ok(None),
            Some(h) => Ok(Some(member(
                doc.call_on(h, "GetProperties", json!([])).await?,
                "GetProperties",
                "qProp",
            )?)),
        }
    })
    .await?;
    Ok(found.into_iter().flatten().collect())
}

/// The key of a properties document of `kind`: `qInfo.qId` (or `qProperty.qInfo.qId` of a
/// tree), the `qName` of a variable. `None` when it has none.
pub(crate) fn key_of(kind: Kind, props: &Value) -> Option<String> {
    let pointer = match kind {
        Kind::Variable => "/qName",
        Kind::Object if props.get("qProperty").is_some() => "/qProperty/qInfo/qId",
        _ => "/qInfo/qId",
    };
    props
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Check that `props` can be written as a `kind` (the fields the engine needs), naming `source`.
pub(crate) fn validate(kind: Kind, props: &Value, source: &str) -> Result<()> {
    let fail = |what: &str| {
        Err(Error::input(format!("{source}: {what}"))
            .with_hint(format!("a {} needs the properties the engine returns for one (`qtool app {} get APP ID -o json` shows them)", kind.label(), kind.label())))
    };
    if !props.is_object() {
        return fail("not a JSON object");
    }
    let info = match kind {
        Kind::Object if props.get("qProperty").is_some() => props.pointer("/qProperty/qInfo"),
        _ => props.get("qInfo"),
    };
    let id = info
        .and_then(|i| i.get("qId"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let qtype = info
        .and_then(|i| i.get("qType"))
        .and_then(Value::as_str)
        .unwrap_or("");
    match kind {
        Kind::Variable => {
            if key_of(kind, props).is_none() {
                return fail("a variable without `qName`");
            }
        }
        _ => {
            if id.is_empty() {
                return fail(&format!("a {} without `qInfo.qId`", kind.label()));
            }
        }
    }
    match kind.library_type() {
        Some(wanted) if !qtype.is_empty() && qtype != wanted => {
            fail(&format!("`qInfo.qType` is `{qtype}`, not `{wanted}`"))
        }
        None if qtype.is_empty() => fail("an object without `qInfo.qType`"),
        _ => Ok(()),
    }
}

/// Create or update the entity described by `props` (validated).
pub(crate) async fn write(doc: &Doc, kind: Kind, props: &Value) -> Result<Written> {
    let key = key_of(kind, props).unwrap_or_default();
    let existing = match kind {
        Kind::Variable => doc.get_handle("GetVariableByName", json!([key])).await?,
        _ => doc.get_handle(kind.get_method(), json!([key])).await?,
    };
    let tree = kind == Kind::Object && props.get("qProperty").is_some();
    match (existing, tree) {
        (Some(h), true) => {
            doc.call_on(h, "SetFullPropertyTree", json!([props]))
                .await?;
            Ok(Written::Updated)
        }
        (Some(h), false) => {
            let mut props = props.clone();
            if kind == Kind::Variable {
                // The existing variable keeps its id (a file from another app has another).
                let id = member(
                    doc.call_on(h, "GetInfo", json!([])).await?,
                    "GetInfo",
                    "qInfo",
                )?;
                props["qInfo"] = id;
            }
            doc.call_on(h, "SetProperties", json!([props])).await?;
            Ok(Written::Updated)
        }
        (None, true) => {
            let info = props
                .pointer("/qProperty/qInfo")
                .cloned()
                .unwrap_or(Value::Null);
            let created = doc
                .get_handle("CreateObject", json!([{"qInfo": info}]))
                .await?
                .ok_or_else(|| Error::server("CreateObject answered no handle"))?;
            doc.call_on(created, "SetFullPropertyTree", json!([props]))
                .await?;
            Ok(Written::Created)
        }
        (None, false) => {
            doc.call(kind.create_method(), json!([props])).await?;
            Ok(Written::Created)
        }
    }
}

/// Delete the entity `id`; not found is an error.
pub(crate) async fn remove(doc: &Doc, kind: Kind, id: &str) -> Result<()> {
    let id = match kind {
        // `qName` or id: destroy by the id of the one found.
        Kind::Variable => {
            let h = handle(doc, kind, id)
                .await?
                .ok_or_else(|| missing(kind, id))?;
            let info = member(
                doc.call_on(h, "GetInfo", json!([])).await?,
                "GetInfo",
                "qInfo",
            )?;
            text(&info, "/qId")
        }
        _ => id.to_string(),
    };
    let result = doc.call(kind.destroy_method(), json!([id])).await?;
    if result.get("qSuccess").and_then(Value::as_bool) == Some(true) {
        Ok(())
    } else {
        Err(missing(kind, &id))
    }
}

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_validation() {
        let sheet = json!({"qInfo": {"qId": "s1", "qType": "sheet"}});
        assert_eq!(key_of(Kind::Object, &sheet).as_deref(), Some("s1"));
        let tree = json!({"qProperty": sheet, "qChildren": []});
        assert_eq!(key_of(Kind::Object, &tree).as_deref(), Some("s1"));
        assert!(validate(Kind::Object, &tree, "f").is_ok());
        assert!(validate(Kind::Object, &json!({"qInfo": {"qId": "x"}}), "f").is_err());
        let var = json!({"qInfo": {"qId": "v", "qType": "variable"}, "qName": "vX"});
        assert_eq!(key_of(Kind::Variable, &var).as_deref(), Some("vX"));
        assert!(validate(Kind::Variable, &json!({"qInfo": {"qId": "v"}}), "f").is_err());
        let err = validate(
            Kind::Measure,
            &json!({"qInfo": {"qId": "m", "qType": "dimension"}}),
            "m.json",
        )
        .unwrap_err();
        assert!(
            err.message()
                .starts_with("m.json: `qInfo.qType` is `dimension`"),
            "{err}"
        );
        assert_eq!(err.class().exit_code(), 3);
        assert_eq!(
            plain_unless_children(json!({"qProperty": {"a": 1}, "qChildren": []})),
            json!({"a": 1})
        );
    }
}
