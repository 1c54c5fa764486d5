//! An app as files (the layout of [`super::folder`]), read with every independent request in
//! flight at once: script, app properties, connections, the list of everything, then each
//! library item and each object in parallel. An object's file is written as soon as its answer
//! arrives, so memory holds at most the answers in flight, not the app.
//!
//! Top-level objects only get files (children live inside their parent's property tree); an
//! object is top-level when `GetParent` answers no handle. Script-created variables are left
//! out (the script makes them on every reload); bookmarks are not exported, as qlik-cli does
//! not (their properties do not carry enough to re-apply a selection state).
//!
//! The folder is rewritten: files of the layout are replaced (temp file + rename, so a killed
//! run never leaves half a file), and `objects/*.json` files of objects the app no longer has
//! are removed, so `git diff` shows what changed. A folder that has files but no config.yml is
//! refused: it is not an unbuild folder.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Value, json};

use super::entities::{self, Kind};
use super::folder::{self, APP_PROPERTIES, CONFIG, CONFIG_TEXT, CONNECTIONS, OBJECTS_DIR, SCRIPT};
use super::{connections, pipelined, pipelined_unordered, script};
use crate::error::{Error, Result};
use crate::qix::Doc;
use crate::qix::doc::{Handle, member, returned_handle};

#[derive(Debug, Serialize)]
pub(crate) struct UnbuildSummary {
    pub dir: PathBuf,
    pub objects: usize,
    pub dimensions: usize,
    pub measures: usize,
    pub variables: usize,
    pub connections: usize,
    /// Object files of objects the app no longer has, removed.
    pub removed: Vec<String>,
}

/// Write the app open in `doc` to `dir`.
pub(crate) async fn unbuild(doc: &Doc, dir: &Path) -> Result<UnbuildSummary> {
    check_dir(dir)?;
    let objects_dir = dir.join(OBJECTS_DIR);
    std::fs::create_dir_all(&objects_dir)
        .map_err(|e| Error::io(format!("creating {}", objects_dir.display()), e))?;

    let properties = async {
        member(
            doc.call("GetAppProperties", json!([])).await?,
            "GetAppProperties",
            "qProp",
        )
    };
    let written = Mutex::new(HashSet::new());
    // Three independent chains, so that no answer waits for an unrelated one: the app's own
    // parts; the list of everything, then library items and objects; the variable list, then
    // the variables.
    let items = async {
        let infos = entities::all_infos(doc).await?;
        let of_type = |wanted: &str| -> Vec<String> {
            infos
                .iter()
                .filter(|(_, t)| t == wanted)
                .map(|(id, _)| id.clone())
                .collect()
        };
        let object_ids: Vec<String> = infos
            .iter()
            .filter(|(_, t)| {
                !Kind::LIBRARY
                    .iter()
                    .any(|k| k.library_type() == Some(t.as_str()))
            })
            .map(|(id, _)| id.clone())
            .collect();
        futures_util::try_join!(
            library(doc, Kind::Dimension, of_type("dimension")),
            library(doc, Kind::Measure, of_type("measure")),
            pipelined_unordered(object_ids, |id| write_object(
                doc,
                id,
                &objects_dir,
                &written
            )),
        )
    };
    let variables = async {
        let names: Vec<String> = entities::variable_list(doc)
            .await?
            .iter()
            .filter(|v| v.get("qIsScriptCreated").and_then(Value::as_bool) != Some(true))
            .filter_map(|v| v.get("qName").and_then(Value::as_str).map(str::to_string))
            .collect();
        library(doc, Kind::Variable, names).await
    };
    let (script_text, app_properties, connection_list, (dimensions, measures, objects), variables) =
        futures_util::try_join!(
            script::get(doc),
            properties,
            connections::list(doc),
            items,
            variables,
        )?;

    write(&dir.join(SCRIPT), &script_text)?;
    write(
        &dir.join(APP_PROPERTIES),
        &folder::json_text(&app_properties),
    )?;
    write(
        &dir.join(CONNECTIONS),
        &folder::connections_yaml(&connection_list),
    )?;
    for (kind, items) in [
        (Kind::Dimension, &dimensions),
        (Kind::Measure, &measures),
        (Kind::Variable, &variables),
    ] {
        if let Some(file) = folder::library_file(kind) {
            write(
                &dir.join(file),
                &folder::json_text(&Value::Array(items.clone())),
            )?;
        }
    }
    write(&dir.join(CONFIG), CONFIG_TEXT)?;
    let written = written
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let removed = remove_stale(&objects_dir, &written)?;
    Ok(UnbuildSummary {
        dir: dir.to_path_buf(),
        objects: objects.into_iter().filter(Option::is_some).count(),
        dimensions: dimensions.len(),
        measures: measures.len(),
        variables: variables.len(),
        connections: connection_list.len(),
        removed,
    })
}

/// Refuse a folder with files but no config.yml.
fn check_dir(dir: &Path) -> Result<()> {
    let Ok(mut entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    if entries.next().is_some() && !dir.join(CONFIG).is_file() {
        return Err(Error::usage(format!(
            "{} has files but no config.yml: it is not an app folder, and unbuild replaces what it finds",
            dir.display()
        ))
        .with_hint("pass a new or empty folder, or one written by `qtool app unbuild`"));
    }
    Ok(())
}

/// Properties of library items by id (variables by name), in order.
async fn library(doc: &Doc, kind: Kind, keys: Vec<String>) -> Result<Vec<Value>> {
    let found = pipelined(keys, |key| async move {
        let method = if kind == Kind::Variable {
            "GetVariableByName"
        } else {
            match kind {
                Kind::Dimension => "GetDimension",
                _ => "GetMeasure",
            }
        };
        let Some(handle) = doc.get_handle(method, json!([key])).await? else {
            return Ok(None);
        };
        Ok(Some(member(
            doc.call_on(handle, "GetProperties", json!([])).await?,
            "GetProperties",
            "qProp",
        )?))
    })
    .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Write one object's file if it is a top-level object; its file name then.
async fn write_object(
    doc: &Doc,
    id: String,
    objects_dir: &Path,
    written: &Mutex<HashSet<String>>,
) -> Result<Option<String>> {
    let Some(handle) = doc.get_handle("GetObject", json!([id])).await? else {
        return Ok(None);
    };
    let (parent, document) = futures_util::try_join!(
        doc.call_on(handle, "GetParent", json!([])),
        entities::object_document(doc, Handle(handle.0)),
    )?;
    if returned_handle(&parent).is_some() {
        return Ok(None);
    }
    let mut name = folder::object_file_name(&document);
    {
        let mut taken = written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{}-{n}.json", name.trim_end_matches(".json"));
            n += 1;
        }
        taken.insert(name.clone());
    }
    write(&objects_dir.join(&name), &folder::json_text(&document))?;
    Ok(Some(name))
}

/// Remove `objects/*.json` files this run did not write.
fn remove_stale(objects_dir: &Path, written: &HashSet<String>) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let entries = std::fs::read_dir(objects_dir)
        .map_err(|e| Error::io(format!("reading {}", objects_dir.display()), e))?;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && !name.starts_with('.') && !written.contains(&name) {
            std::fs::remove_file(entry.path())
                .map_err(|e| Error::io(format!("removing {}", entry.path().display()), e))?;
            removed.push(name);
        }
    }
    removed.sort();
    Ok(removed)
}

/// Replace `path` with `text` (temp file in the same folder, then rename). No fsync: the folder
/// is regenerated by running unbuild again, and thousands of fsyncs would cost seconds.
fn write(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(format!("writing {}", path.display()), e)
        })
}
