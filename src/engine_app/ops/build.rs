//! Make an app match a folder (the layout of [`super::folder`]): check the whole folder first
//! (nothing is sent when a file is missing or malformed), compare each part with the app,
//! and change only what differs, then save once.
//!
//! - Compared: the script (text), app properties (except what the engine owns:
//!   `qLastReloadTime`, `qMigrationHash`, `qSavedInProductVersion`, `qHasSectionAccess`),
//!   connections (by name: type, connection string, user), dimensions, measures and bookmarks
//!   (by `qInfo.qId`), variables (by `qName`), objects (by id; the whole property tree, children
//!   included). JSON is compared as data: key order does not matter.
//! - Order: the script first (set, then checked: with a syntax error it is put back and nothing
//!   else is touched), then connections, dimensions, variables, measures, bookmarks, objects,
//!   app properties, removals; then a reload when something changed (unless `--no-reload`), and
//!   one save at the end (unless `--no-save`). A failure (a lost connection, a failed reload)
//!   stops before the save: the app on disk is never half built.
//! - Removal: qlik-cli never deletes. By default neither does qtool: what the app has and the
//!   folder does not is listed as kept; `--prune` removes it (objects, dimensions, measures,
//!   variables not made by the script, and bookmarks when config.yml binds bookmarks).
//!   Connections are repository objects other apps use: never removed.
//! - Passwords cannot be compared (the engine never returns them): a password in the folder is
//!   sent when its connection is added or changed for another reason.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::connections::{self, ConnectionSpec};
use super::entities::{self, Kind};
use super::folder::{self, Layout};
use super::{pipelined, pipelined_by, script};
use crate::error::{Error, Result};
use crate::qix::Doc;
use crate::qix::doc::{member, returned_handle};
use crate::settings::Environment;

/// Files compared at once: each holds its entities and the app's answers for them (a sheet's
/// tree with its charts), so this bounds the memory of a build whatever the size of the app.
const FILES_IN_FLIGHT: usize = 48;

/// App properties the engine maintains itself.
const ENGINE_OWNED: &[&str] = &[
    "qLastReloadTime",
    "qMigrationHash",
    "qSavedInProductVersion",
    "qHasSectionAccess",
];

/// What a plan item does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    Add,
    Change,
    Remove,
}

/// The part of the app an item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Part {
    Script,
    AppProperties,
    Connection,
    Entity(#[serde(skip)] Kind),
}

impl Part {
    /// The order of the plan, which is the order of applying.
    fn order(self) -> u8 {
        match self {
            Part::Script => 0,
            Part::Connection => 1,
            Part::Entity(Kind::Dimension) => 2,
            Part::Entity(Kind::Variable) => 3,
            Part::Entity(Kind::Measure) => 4,
            Part::Entity(Kind::Bookmark) => 5,
            Part::Entity(Kind::Object) => 6,
            Part::AppProperties => 7,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Part::Script => "script",
            Part::AppProperties => "app-properties",
            Part::Connection => "connection",
            Part::Entity(kind) => kind.label(),
        }
    }
}

/// One change of the plan.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Item {
    pub action: Action,
    #[serde(rename = "kind", serialize_with = "serialize_part")]
    pub part: Part,
    /// Id (name for connections and variables).
    pub key: String,
    /// Where the wanted state is (relative to the folder); none for removals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The entry of an array file.
    #[serde(skip)]
    index: usize,
}

fn serialize_part<S: serde::Serializer>(part: &Part, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(part.label())
}

/// Everything that differs, plus what the app has beyond the folder.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Plan {
    pub items: Vec<Item>,
    /// In the app, not in the folder, kept (without `--prune`).
    pub kept: Vec<Item>,
}

impl Plan {
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Read every file the layout binds and check each entity, before anything is sent.
pub(crate) fn check_folder(layout: &Layout, env: &Environment) -> Result<()> {
    if let Some(path) = &layout.script {
        read_script(path)?;
    }
    if let Some(path) = &layout.app_properties {
        folder::read_json(path)?;
    }
    folder::read_connections(layout, env)?;
    for (kind, files) in &layout.files {
        for path in files {
            for entity in folder::read_entities(path)? {
                entities::validate(*kind, &entity, &path.display().to_string())?;
            }
        }
    }
    Ok(())
}

fn read_script(path: &Path) -> Result<String> {
    let bytes = crate::input::read_file(path, crate::input::InputKind::Document)?;
    String::from_utf8(bytes).map_err(|_| {
        Error::input(format!("{}: not UTF-8 text", path.display()))
            .with_hint("save the script as UTF-8")
    })
}

/// Compare the folder with the app. `prune`: removals go into the plan instead of `kept`.
pub(crate) async fn plan(
    doc: &Doc,
    layout: &Layout,
    env: &Environment,
    prune: bool,
) -> Result<Plan> {
    let relative = |p: &Path| {
        p.strip_prefix(&layout.dir)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let mut plan = Plan::default();
    let (script_item, properties_item, connection_items) = futures_util::try_join!(
        plan_script(doc, layout, &relative),
        plan_properties(doc, layout, &relative),
        plan_connections(doc, layout, env, &relative),
    )?;
    plan.items.extend(script_item);
    plan.items.extend(connection_items);
    let kinds: Vec<(Kind, Vec<PathBuf>)> =
        layout.files.iter().map(|(k, f)| (*k, f.clone())).collect();
    let groups = futures_util::future::try_join_all(
        kinds
            .iter()
            .map(|(kind, files)| plan_kind(doc, *kind, files, &relative)),
    )
    .await?;
    for (kind, (items, keys, children)) in kinds.iter().map(|(k, _)| *k).zip(groups) {
        plan.items.extend(items);
        let extras = extras(doc, kind, &keys, &children).await?;
        let target = if prune {
            &mut plan.items
        } else {
            &mut plan.kept
        };
        target.extend(extras.into_iter().map(|key| Item {
            action: Action::Remove,
            part: Part::Entity(kind),
            key,
            file: None,
            index: 0,
        }));
    }
    plan.items.extend(properties_item);
    plan.items
        .sort_by_key(|i| (i.part.order(), i.action == Action::Remove));
    Ok(plan)
}

async fn plan_script(
    doc: &Doc,
    layout: &Layout,
    relative: &dyn Fn(&Path) -> String,
) -> Result<Option<Item>> {
    let Some(path) = &layout.script else {
        return Ok(None);
    };
    let wanted = read_script(path)?;
    let current = script::get(doc).await?;
    Ok((wanted != current).then(|| Item {
        action: Action::Change,
        part: Part::Script,
        key: "script".into(),
        file: Some(relative(path)),
        index: 0,
    }))
}

async fn plan_properties(
    doc: &Doc,
    layout: &Layout,
    relative: &dyn Fn(&Path) -> String,
) -> Result<Option<Item>> {
    let Some(path) = &layout.app_properties else {
        return Ok(None);
    };
    let wanted = folder::read_json(path)?;
    let current = member(
        doc.call("GetAppProperties", json!([])).await?,
        "GetAppProperties",
        "qProp",
    )?;
    Ok(
        (without_engine_owned(&wanted) != without_engine_owned(&current)).then(|| Item {
            action: Action::Change,
            part: Part::AppProperties,
            key: "app-properties".into(),
            file: Some(relative(path)),
            index: 0,
        }),
    )
}

fn without_engine_owned(props: &Value) -> Value {
    let mut copy = props.clone();
    if let Value::Object(map) = &mut copy {
        for key in ENGINE_OWNED {
            map.remove(*key);
        }
    }
    copy
}

async fn plan_connections(
    doc: &Doc,
    layout: &Layout,
    env: &Environment,
    relative: &dyn Fn(&Path) -> String,
) -> Result<Vec<Item>> {
    let wanted = folder::read_connections(layout, env)?;
    if wanted.is_empty() {
        return Ok(vec![]);
    }
    let file = match &layout.connections {
        Some(folder::Connections::File(p)) => relative(p),
        _ => folder::CONFIG.to_string(),
    };
    let current = connections::list(doc).await?;
    Ok(wanted
        .iter()
        .enumerate()
        .filter_map(|(index, spec)| {
            let action = match find_connection(&current, &spec.name) {
                None => Action::Add,
                Some(c) if !connection_matches(c, spec) => Action::Change,
                Some(_) => return None,
            };
            Some(Item {
                action,
                part: Part::Connection,
                key: spec.name.clone(),
                file: Some(file.clone()),
                index,
            })
        })
        .collect())
}

fn find_connection<'a>(current: &'a [Value], name: &str) -> Option<&'a Value> {
    current.iter().find(|c| {
        c.get("qName")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

fn connection_matches(current: &Value, spec: &ConnectionSpec) -> bool {
    let text = |k: &str| current.get(k).and_then(Value::as_str).unwrap_or_default();
    text("qType").eq_ignore_ascii_case(&spec.kind)
        && text("qConnectionString") == spec.connection_string
        && spec.user.as_deref().is_none_or(|u| u == text("qUserName"))
}

/// The items of one kind, the keys the folder has, and (objects) the ids of children inside
/// the folder's trees. Files are read one at a time inside the pipeline: memory holds the
/// entities in flight, not the folder.
async fn plan_kind(
    doc: &Doc,
    kind: Kind,
    files: &[PathBuf],
    relative: &dyn Fn(&Path) -> String,
) -> Result<(Vec<Item>, HashSet<String>, HashSet<String>)> {
    let mut items = Vec::new();
    let mut keys = HashSet::new();
    let mut children = HashSet::new();
    // Object files hold one entity each: compare them in parallel. Library files hold arrays:
    // the entities of one file in parallel, files one after another.
    let per_file = pipelined_by(FILES_IN_FLIGHT, files.to_vec(), |path| async move {
        let entities = folder::read_entities(&path)?;
        let compared = pipelined(
            entities.into_iter().enumerate().collect(),
            |(index, entity)| compare(doc, kind, index, entity),
        )
        .await?;
        Ok((path, compared))
    })
    .await?;
    for (path, compared) in per_file {
        for (index, key, action, child_ids) in compared {
            keys.insert(key.clone());
            children.extend(child_ids);
            if let Some(action) = action {
                items.push(Item {
                    action,
                    part: Part::Entity(kind),
                    key,
                    file: Some(relative(&path)),
                    index,
                });
            }
        }
    }
    Ok((items, keys, children))
}

type Compared = (usize, String, Option<Action>, Vec<String>);

/// One entity of the folder against the app: its key, the action (if any), its children's ids.
async fn compare(doc: &Doc, kind: Kind, index: usize, entity: Value) -> Result<Compared> {
    let key = entities::key_of(kind, &entity).unwrap_or_default();
    let handle = match kind {
        Kind::Variable => doc.get_handle("GetVariableByName", json!([key])).await?,
        _ => entities::handle(doc, kind, &key).await?,
    };
    let mut child_ids = Vec::new();
    if kind == Kind::Object {
        collect_child_ids(&as_tree(entity.clone()), &mut child_ids);
    }
    let Some(handle) = handle else {
        return Ok((index, key, Some(Action::Add), child_ids));
    };
    let same = if kind == Kind::Object {
        let current = member(
            doc.call_on(handle, "GetFullPropertyTree", json!([]))
                .await?,
            "GetFullPropertyTree",
            "qPropEntry",
        )?;
        trees_equal(&as_tree(entity), &current)
    } else {
        let current = member(
            doc.call_on(handle, "GetProperties", json!([])).await?,
            "GetProperties",
            "qProp",
        )?;
        library_equal(kind, &entity, &current)
    };
    Ok((index, key, (!same).then_some(Action::Change), child_ids))
}

/// A variable from another app has another `qInfo.qId`; it is keyed by name.
fn library_equal(kind: Kind, wanted: &Value, current: &Value) -> bool {
    if kind != Kind::Variable {
        return wanted == current;
    }
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(info) = v.get_mut("qInfo").and_then(Value::as_object_mut) {
            info.remove("qId");
        }
        v
    };
    strip(wanted) == strip(current)
}

/// An object's document as a tree: plain properties become a tree without children.
fn as_tree(entity: Value) -> Value {
    if entity.get("qProperty").is_some() {
        entity
    } else {
        json!({"qProperty": entity, "qChildren": []})
    }
}

fn trees_equal(a: &Value, b: &Value) -> bool {
    let children = |v: &Value| {
        v.get("qChildren")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (ca, cb) = (children(a), children(b));
    a.get("qProperty") == b.get("qProperty")
        && ca.len() == cb.len()
        && ca.iter().zip(&cb).all(|(x, y)| trees_equal(x, y))
}

fn collect_child_ids(tree: &Value, out: &mut Vec<String>) {
    for child in tree
        .get("qChildren")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = child
            .pointer("/qProperty/qInfo/qId")
            .and_then(Value::as_str)
        {
            out.push(id.to_string());
        }
        collect_child_ids(child, out);
    }
}

/// What the app has of `kind` beyond the folder: top-level objects, library items, variables
/// not made by the script.
async fn extras(
    doc: &Doc,
    kind: Kind,
    keys: &HashSet<String>,
    children: &HashSet<String>,
) -> Result<Vec<String>> {
    if kind == Kind::Variable {
        let list = entities::variable_list(doc).await?;
        return Ok(list
            .iter()
            .filter(|v| v.get("qIsScriptCreated").and_then(Value::as_bool) != Some(true))
            .filter_map(|v| v.get("qName").and_then(Value::as_str))
            .filter(|name| !keys.contains(*name))
            .map(str::to_string)
            .collect());
    }
    let candidates: Vec<String> = entities::ids(doc, kind)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| !keys.contains(id) && !children.contains(id))
        .collect();
    if kind != Kind::Object {
        return Ok(candidates);
    }
    let top_level = pipelined(candidates, |id| async move {
        let Some(h) = doc.get_handle("GetObject", json!([id])).await? else {
            return Ok(None);
        };
        let parent = doc.call_on(h, "GetParent", json!([])).await?;
        Ok(returned_handle(&parent).is_none().then_some(id))
    })
    .await?;
    Ok(top_level.into_iter().flatten().collect())
}

/// What applying did.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Applied {
    pub applied: usize,
}

/// Apply the plan (without reload or save: the caller does those once). The script goes
/// first; a syntax error leaves the app as it was.
pub(crate) async fn apply(
    doc: &Doc,
    layout: &Layout,
    env: &Environment,
    plan: &Plan,
) -> Result<Applied> {
    let mut applied = 0;
    let of = |part: Part| plan.items.iter().filter(move |i| i.part == part);
    if let (Some(_), Some(path)) = (of(Part::Script).next(), &layout.script) {
        let text = read_script(path)?;
        let errors = script::set_checked(doc, &text, false).await?;
        if !errors.is_empty() {
            return Err(script::syntax_error(&path.display().to_string(), &errors));
        }
        applied += 1;
    }
    let specs = folder::read_connections(layout, env)?;
    let current = if of(Part::Connection).next().is_some() {
        connections::list(doc).await?
    } else {
        vec![]
    };
    for item in of(Part::Connection) {
        let Some(spec) = specs.get(item.index) else {
            continue;
        };
        match find_connection(&current, &spec.name)
            .and_then(|c| c.get("qId"))
            .and_then(Value::as_str)
        {
            Some(id) => connections::modify(doc, id, spec).await?,
            None => {
                connections::create(doc, spec).await?;
            }
        }
        applied += 1;
    }
    for kind in [
        Kind::Dimension,
        Kind::Variable,
        Kind::Measure,
        Kind::Bookmark,
        Kind::Object,
    ] {
        applied += apply_kind(doc, layout, kind, &plan.items).await?;
    }
    if let (Some(_), Some(path)) = (of(Part::AppProperties).next(), &layout.app_properties) {
        let wanted = without_engine_owned(&folder::read_json(path)?);
        doc.call("SetAppProperties", json!([wanted])).await?;
        applied += 1;
    }
    let removals: Vec<&Item> = plan
        .items
        .iter()
        .filter(|i| i.action == Action::Remove)
        .collect();
    pipelined(removals, |item| async move {
        if let Part::Entity(kind) = item.part {
            entities::remove(doc, kind, &item.key).await?;
        }
        Ok(())
    })
    .await?;
    applied += plan
        .items
        .iter()
        .filter(|i| i.action == Action::Remove)
        .count();
    Ok(Applied { applied })
}

/// Add and change the entities of one kind, file by file (each file read once).
async fn apply_kind(doc: &Doc, layout: &Layout, kind: Kind, items: &[Item]) -> Result<usize> {
    let mut by_file: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for item in items {
        if item.part == Part::Entity(kind)
            && item.action != Action::Remove
            && let Some(file) = &item.file
        {
            by_file.entry(file.as_str()).or_default().push(item.index);
        }
    }
    let count = by_file.values().map(Vec::len).sum();
    let files: Vec<(&str, Vec<usize>)> = by_file.into_iter().collect();
    pipelined(files, |(file, indexes)| async move {
        let entities = folder::read_entities(&layout.dir.join(file))?;
        let wanted: Vec<Value> = indexes
            .into_iter()
            .filter_map(|i| entities.get(i).cloned())
            .map(|e| if kind == Kind::Object { as_tree(e) } else { e })
            .collect();
        pipelined(wanted, |entity| async move {
            entities::write(doc, kind, &entity).await.map(|_| ())
        })
        .await?;
        Ok(())
    })
    .await?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_ignore_key_order_engine_fields_and_variable_ids() {
        let a = json!({"qInfo": {"qId": "m", "qType": "measure"}, "qMeasure": {"qDef": "Sum(x)", "qLabel": "X"}});
        let b = json!({"qMeasure": {"qLabel": "X", "qDef": "Sum(x)"}, "qInfo": {"qType": "measure", "qId": "m"}});
        assert!(library_equal(Kind::Measure, &a, &b));
        let v1 =
            json!({"qInfo": {"qId": "v1", "qType": "variable"}, "qName": "vX", "qDefinition": "1"});
        let v2 =
            json!({"qInfo": {"qId": "v2", "qType": "variable"}, "qName": "vX", "qDefinition": "1"});
        assert!(library_equal(Kind::Variable, &v1, &v2));
        assert!(!library_equal(Kind::Measure, &v1, &v2));
        assert_eq!(
            without_engine_owned(&json!({"qTitle": "A", "qLastReloadTime": "x"})),
            json!({"qTitle": "A"})
        );
        let plain = json!({"qInfo": {"qId": "s", "qType": "sheet"}});
        let tree =
            json!({"qProperty": plain.clone(), "qChildren": [], "qEmbeddedSnapshotRef": null});
        assert!(trees_equal(&as_tree(plain.clone()), &tree));
        let with_child = json!({"qProperty": plain, "qChildren": [{"qProperty": {"qInfo": {"qId": "c", "qType": "kpi"}}, "qChildren": []}]});
        assert!(!trees_equal(&with_child, &tree));
        let mut ids = vec![];
        collect_child_ids(&with_child, &mut ids);
        assert_eq!(ids, ["c"]);
    }
}
