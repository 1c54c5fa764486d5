//! The sandbox's app file format. A real QVF is proprietary; the sandbox stores what its engine
//! needs in a documented container instead, inside the same `<state>/apps/<id>.qvf` files the
//! repository emulator uploads, copies and exports:
//!
//! ```text
//! QTOOL-SANDBOX-QVF 1\n            magic line and format version
//! <N>\n                            length in bytes of the JSON document, decimal
//! <N bytes of JSON>                the app document (below), UTF-8
//! \n
//! <data section>                   opaque bytes standing in for the data model (any length)
//! ```
//!
//! The JSON document: `{"format": "qtool-sandbox-qvf", "version": 1, "properties": {..app
//! properties..}, "script": "..", "objects": [full property trees of top-level objects:
//! {"qProperty", "qChildren"}], "dimensions": [..], "measures": [..], "variables": [..],
//! "bookmarks": [..], "connections": [{"qName", "qConnectionString", "qType", "qUserName",
//! "qPassword"}], "dataModel": {"lastReloadTime", "tables": [{"name", "rows", "fields"}]},
//! "dates": {"<id>": ["<created>", "<modified>"]}}`. Library entries are engine properties
//! exactly as `GetProperties` returns them; a script-created variable carries
//! `"qtoolScriptCreated": true`.
//!
//! Connections are embedded only as QSEoW does for apps made on Qlik Sense Desktop: the
//! repository imports them as data connections on upload; the engine itself reads and writes
//! connections in the repository, never in the file.
//!
//! A file that does not start with the magic line (a real QVF, random bytes) opens as a fresh
//! app: empty script, no objects.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::script;

pub const MAGIC: &str = "QTOOL-SANDBOX-QVF 1\n";
pub const FORMAT: &str = "qtool-sandbox-qvf";
pub const VERSION: u32 = 1;
/// Marks a script-created variable in the stored document.
pub const SCRIPT_CREATED: &str = "qtoolScriptCreated";
/// Largest JSON document read from a file (beyond it the file is treated as foreign).
const MAX_DOCUMENT: u64 = 512 * 1024 * 1024;
/// Bytes of data section per loaded cell (rows x fields), a rough stand-in for real QVF sizes.
const BYTES_PER_CELL: u64 = 6;

/// What the last reload left: tables with their row counts and fields.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataModel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reload_time: Option<String>,
    #[serde(default)]
    pub tables: Vec<Table>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub rows: u64,
    pub fields: Vec<String>,
}

impl DataModel {
    /// Size of the data section that stands in for this data model.
    pub fn data_bytes(&self) -> u64 {
        self.tables
            .iter()
            .map(|t| t.rows.saturating_mul(t.fields.len().max(1) as u64) * BYTES_PER_CELL)
            .sum()
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// The JSON document of a container file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppDocument {
    pub format: String,
    pub version: u32,
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub script: String,
    #[serde(default)]
    pub objects: Vec<Value>,
    #[serde(default)]
    pub dimensions: Vec<Value>,
    #[serde(default)]
    pub measures: Vec<Value>,
    #[serde(default)]
    pub variables: Vec<Value>,
    #[serde(default)]
    pub bookmarks: Vec<Value>,
    #[serde(default)]
    pub connections: Vec<Value>,
    #[serde(default)]
    pub data_model: DataModel,
    #[serde(default)]
    pub dates: HashMap<String, (String, String)>,
}

impl Default for AppDocument {
    fn default() -> AppDocument {
        AppDocument {
            format: FORMAT.into(),
            version: VERSION,
            properties: Map::new(),
            script: String::new(),
            objects: Vec::new(),
            dimensions: Vec::new(),
            measures: Vec::new(),
            variables: Vec::new(),
            bookmarks: Vec::new(),
            connections: Vec::new(),
            data_model: DataModel::default(),
            dates: HashMap::new(),
        }
    }
}

/// Read the document of the file at `path`, without reading its data section. `Ok(None)`: the
/// file is not in the sandbox format (a fresh app opens instead).
pub fn read_document(path: &Path) -> std::io::Result<Option<AppDocument>> {
    let file = std::fs::File::open(path)?;
    let mut reader = std::io::BufReader::new(file);
    let mut magic = vec![0u8; MAGIC.len()];
    if reader.read_exact(&mut magic).is_err() || magic != MAGIC.as_bytes() {
        return Ok(None);
    }
    let mut length = String::new();
    (&mut reader).take(24).read_line(&mut length)?;
    let Some(length) = length
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n <= MAX_DOCUMENT)
    else {
        return Ok(None);
    };
    let mut json_bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    (&mut reader).take(length).read_to_end(&mut json_bytes)?;
    if json_bytes.len() as u64 != length {
        return Ok(None);
    }
    Ok(serde_json::from_slice::<AppDocument>(&json_bytes)
        .ok()
        .filter(|d| d.format == FORMAT && d.version == VERSION))
}

/// The embedded connections of the file at `path` (none for a foreign or unreadable file).
pub fn embedded_connections(path: &Path) -> Vec<Value> {
    read_document(path)
        .ok()
        .flatten()
        .map(|d| d.connections)
        .unwrap_or_default()
}

/// Write a container to `out`: header, document, then `data_len` bytes of deterministic filler
/// derived from `seed`. Returns the bytes written.
pub fn write_container(
    out: &mut dyn Write,
    doc: &AppDocument,
    seed: &str,
    data_len: u64,
) -> std::io::Result<u64> {
    let json = serde_json::to_vec(doc).map_err(std::io::Error::other)?;
    let header = format!("{MAGIC}{}\n", json.len());
    out.write_all(header.as_bytes())?;
    out.write_all(&json)?;
    out.write_all(b"\n")?;
    let mut written = 0u64;
    let mut block = 0u64;
    let mut buf = Vec::with_capacity(64 * 1024);
    while written < data_len {
        buf.clear();
        let len = usize::try_from((data_len - written).min(64 * 1024)).unwrap_or(64 * 1024);
        crate::qrs::apps::fake_content_block(seed, block, &mut buf, len);
        out.write_all(&buf)?;
        written += buf.len() as u64;
        block += 1;
    }
    Ok(header.len() as u64 + json.len() as u64 + 1 + data_len)
}

/// Write a container to `path` atomically (temp file in the same directory, renamed).
pub fn write_file(
    path: &Path,
    doc: &AppDocument,
    seed: &str,
    data_len: u64,
) -> std::io::Result<u64> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".engine-{}.tmp", uuid::Uuid::new_v4()));
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        let n = write_container(&mut out, doc, seed, data_len)?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// What the repository knows of a seeded app when its file is first needed.
pub struct SeedApp<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    /// The file size the repository announced (the data section fills up to it).
    pub file_size: u64,
    /// Number of generic objects (sheets and their visualizations).
    pub objects: usize,
    pub last_reload_time: &'a str,
}

/// Write a seeded app's file; returns its size (at least `file_size`).
pub fn write_seeded(path: &Path, app: &SeedApp<'_>) -> std::io::Result<u64> {
    let doc = seeded_document(app);
    let json_len = serde_json::to_vec(&doc)
        .map_err(std::io::Error::other)?
        .len() as u64;
    let header_len = format!("{MAGIC}{json_len}\n").len() as u64 + json_len + 1;
    let data_len = app.file_size.saturating_sub(header_len);
    write_file(path, &doc, app.id, data_len)
}

/// The connections the seeded repository has, which seeded scripts use.
pub const SEEDED_CONNECTIONS: &[&str] = &["ServerLogFolder", "ArchivedLogsFolder", "Sales DB"];

/// Realistic content for a seeded app: a script loading inline data, a generated calendar, a
/// database table and log files; master dimensions, measures, variables, a bookmark; sheets
/// holding visualizations (`objects` in all), a master visualization and a story with a slide;
/// the data model its script produces.
pub fn seeded_document(app: &SeedApp<'_>) -> AppDocument {
    let mut doc = seeded_content(app);
    doc.data_model = script::dry_run_tables(&doc.script, SEEDED_CONNECTIONS);
    doc.data_model.last_reload_time = Some(app.last_reload_time.to_string());
    doc
}

/// The objects the repository records for a document (QRS `app/object`): top-level sheets,
/// stories and master objects, and the library's dimensions, measures and bookmarks, each with
/// its engine id, type and title.
pub fn repository_items(doc: &AppDocument) -> Vec<crate::qrs::objects::EngineItem> {
    let item = |props: &Value| {
        let ty = props
            .pointer("/qInfo/qType")
            .and_then(Value::as_str)
            .unwrap_or("");
        let id = props
            .pointer("/qInfo/qId")
            .and_then(Value::as_str)
            .unwrap_or("");
        let title = props
            .pointer("/qMetaDef/title")
            .and_then(Value::as_str)
            .unwrap_or(id);
        crate::qrs::objects::EngineItem {
            engine_id: id.to_string(),
            object_type: ty.to_string(),
            name: title.to_string(),
        }
    };
    let top = doc
        .objects
        .iter()
        .filter_map(|t| t.get("qProperty"))
        .filter(|p| {
            matches!(
                p.pointer("/qInfo/qType").and_then(Value::as_str),
                Some("sheet" | "story" | "masterobject")
            )
        })
        .map(item);
    let library = doc
        .dimensions
        .iter()
        .chain(&doc.measures)
        .chain(&doc.bookmarks)
        .map(item);
    top.chain(library)
        .filter(|i| !i.engine_id.is_empty())
        .collect()
}

/// A seeded app's content without its data model.
pub fn seeded_content(app: &SeedApp<'_>) -> AppDocument {
    let mut doc = AppDocument::default();
    let when = app.last_reload_time;
    doc.properties = props(json!({
        "qTitle": app.name, "qThumbnail": {"qUrl": ""}, "qLastReloadTime": when,
        "qMigrationHash": "", "qSavedInProductVersion": super::spec::ENGINE_VERSION,
        "qHasSectionAccess": false, "description": app.description,
    }));
    doc.script = seeded_script(app.name);
    let prefix: String = app.id.chars().take(8).collect();
    let id = |kind: &str, n: usize| format!("{prefix}-{kind}-{n}");
    let mut dates = HashMap::new();
    let mut date = |id: &str| {
        dates.insert(id.to_string(), (when.to_string(), when.to_string()));
    };
    let dims = [
        ("Region", "Region"),
        ("Year", "Year"),
        ("Customer", "CustomerName"),
    ];
    for (i, (title, field)) in dims.iter().enumerate() {
        let dim_id = id("dim", i);
        date(&dim_id);
        doc.dimensions.push(json!({
            "qInfo": {"qId": dim_id, "qType": "dimension"},
            "qDim": {"qGrouping": "N", "qFieldDefs": [field], "qFieldLabels": [title], "title": title},
            "qMetaDef": {"title": title, "description": "", "tags": []},
        }));
    }
    let measures = [
        ("Total Sales", "Sum(Amount)"),
        ("Orders", "Count(DISTINCT OrderId)"),
        ("Average Order", "Sum(Amount) / Count(DISTINCT OrderId)"),
    ];
    for (i, (title, def)) in measures.iter().enumerate() {
        let m_id = id("measure", i);
        date(&m_id);
        doc.measures.push(json!({
            "qInfo": {"qId": m_id, "qType": "measure"},
            "qMeasure": {"qLabel": title, "qDef": def, "qGrouping": "N", "qExpressions": [], "qActiveExpression": 0},
            "qMetaDef": {"title": title, "description": "", "tags": []},
        }));
    }
    let variables = [
        (
            "vCompany",
            "Sandbox Trading",
            "Company name shown in titles",
        ),
        ("vSalesTarget", "1000000", "Yearly sales target"),
        (
            "vTargetReached",
            "=If($(vSalesTarget) > 500000, 'yes', 'no')",
            "A calculated variable",
        ),
    ];
    for (i, (name, def, comment)) in variables.iter().enumerate() {
        let v_id = id("var", i);
        date(&v_id);
        doc.variables.push(json!({
            "qInfo": {"qId": v_id, "qType": "variable"}, "qName": name, "qDefinition": def,
            "qComment": comment, "qMetaDef": {}, "qIncludeInBookmark": false,
        }));
    }
    let bookmark_id = id("bookmark", 0);
    date(&bookmark_id);
    doc.bookmarks.push(json!({
        "qInfo": {"qId": bookmark_id, "qType": "bookmark"},
        "qMetaDef": {"title": "North region", "description": "Saved selection"},
        "creationDate": when, "qIncludeVariables": false,
    }));
    let (mut objects, object_dates) = seeded_objects(app, &doc);
    for d in object_dates {
        date(&d);
    }
    let master = id("master", 0);
    let story = id("story", 0);
    let slide = id("slide", 0);
    for d in [&master, &story, &slide] {
        date(d);
    }
    objects.push(json!({"qProperty": {
        "qInfo": {"qId": master, "qType": "masterobject"},
        "qMetaDef": {"title": "Revenue by region", "description": "Master visualization", "tags": []},
        "visualization": "barchart", "title": "Revenue by region",
        "qHyperCubeDef": {
            "qDimensions": [{"qLibraryId": doc.dimensions[0]["qInfo"]["qId"], "qDef": {"qFieldDefs": [], "qFieldLabels": []}}],
            "qMeasures": [{"qLibraryId": doc.measures[0]["qInfo"]["qId"], "qDef": {"qDef": "", "qLabel": ""}}],
            "qInterColumnSortOrder": [0, 1], "qSuppressZero": false, "qSuppressMissing": true, "qMode": "S",
        },
    }, "qChildren": []}));
    objects.push(json!({"qProperty": {
        "qInfo": {"qId": story, "qType": "story"},
        "qMetaDef": {"title": "Quarterly review", "description": ""},
        "rank": 0, "thumbnail": {"qStaticContentUrlDef": null},
        "qChildListDef": {"qData": {"title": "/title", "rank": "/rank"}},
    }, "qChildren": [{"qProperty": {
        "qInfo": {"qId": slide, "qType": "slide"}, "qMetaDef": {}, "title": "Highlights", "rank": 0,
        "qChildListDef": {"qData": {"title": "/title"}},
    }, "qChildren": []}]}));
    doc.objects = objects;
    doc.dates = dates;
    doc
}

fn props(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Sheets of up to nine visualizations each, `app.objects` generic objects in all.
fn seeded_objects(app: &SeedApp<'_>, doc: &AppDocument) -> (Vec<Value>, Vec<String>) {
    const CHARTS: &[(&str, &str)] = &[
        ("barchart", "Sales by region"),
        ("kpi", "Total sales"),
        ("linechart", "Sales over time"),
        ("table", "Orders"),
        ("piechart", "Sales by segment"),
        ("combochart", "Sales and orders"),
        ("filterpane", "Filters"),
        ("scatterplot", "Customers"),
        ("text-image", "About this sheet"),
    ];
    let dim = |i: usize| doc.dimensions[i % doc.dimensions.len()]["qInfo"]["qId"].clone();
    let measure = |i: usize| doc.measures[i % doc.measures.len()]["qInfo"]["qId"].clone();
    let prefix: String = app.id.chars().take(8).collect();
    let mut out = Vec::new();
    let mut ids = Vec::new();
    let mut made = 0;
    let mut sheet_no = 0;
    while made < app.objects {
        let sheet_id = format!("{prefix}-sheet-{sheet_no}");
        made += 1;
        let n_children = (app.objects - made).min(CHARTS.len());
        let mut children = Vec::new();
        let mut cells = Vec::new();
        for c in 0..n_children {
            let (viz, title) = CHARTS[(sheet_no + c) % CHARTS.len()];
            let chart_id = format!("{prefix}-{viz}-{sheet_no}-{c}");
            cells.push(
                json!({"name": chart_id, "type": viz, "col": (c % 3) * 8, "row": (c / 3) * 4,
                              "colspan": 8, "rowspan": 4}),
            );
            let cube = if viz == "kpi" {
                json!({"qDimensions": [], "qMeasures": [{"qLibraryId": measure(c), "qDef": {"qDef": "", "qLabel": ""}}],
                       "qInitialDataFetch": [{"qLeft": 0, "qTop": 0, "qWidth": 1, "qHeight": 1}],
                       "qSuppressZero": false, "qSuppressMissing": true, "qMode": "S"})
            } else {
                json!({"qDimensions": [{"qLibraryId": dim(c), "qDef": {"qFieldDefs": [], "qFieldLabels": []}}],
                       "qMeasures": [{"qLibraryId": measure(c), "qDef": {"qDef": "", "qLabel": ""}}],
                       "qInterColumnSortOrder": [0, 1],
                       "qInitialDataFetch": [{"qLeft": 0, "qTop": 0, "qWidth": 2, "qHeight": 500}],
                       "qSuppressZero": false, "qSuppressMissing": true, "qMode": "S"})
            };
            children.push(json!({"qProperty": {
                "qInfo": {"qId": chart_id, "qType": viz}, "qMetaDef": {}, "visualization": viz,
                "title": title, "showTitles": true, "subtitle": "", "footnote": "",
                "qHyperCubeDef": cube,
            }, "qChildren": []}));
            ids.push(chart_id);
        }
        made += n_children;
        out.push(json!({"qProperty": {
            "qInfo": {"qId": sheet_id, "qType": "sheet"},
            "qMetaDef": {"title": format!("{} {}", sheet_title(sheet_no), sheet_no + 1), "description": ""},
            "rank": sheet_no, "thumbnail": {"qStaticContentUrlDef": null},
            "columns": 24, "rows": 12, "cells": cells,
            "qChildListDef": {"qData": {"title": "/title"}},
        }, "qChildren": children}));
        ids.push(sheet_id);
        sheet_no += 1;
    }
    (out, ids)
}

fn sheet_title(n: usize) -> &'static str {
    ["Overview", "Sales", "Customers", "Trends", "Details"][n % 5]
}

/// The seeded load script, in sections like the data load editor writes them.
pub fn seeded_script(app_name: &str) -> String {
    let main = script::default_main_section();
    format!(
        "{main}\
///$tab Data\r\n\
// Data of {app_name}\r\n\
Regions:\r\n\
LOAD * INLINE [\r\n\
RegionId, Region\r\n\
1, North\r\n\
2, South\r\n\
3, East\r\n\
4, West\r\n\
];\r\n\
\r\n\
Calendar:\r\n\
LOAD\r\n\
    Date(MakeDate(2024, 1, 1) + RecNo() - 1) AS OrderDate,\r\n\
    Year(MakeDate(2024, 1, 1) + RecNo() - 1) AS Year\r\n\
AUTOGENERATE 366;\r\n\
\r\n\
LIB CONNECT TO 'Sales DB';\r\n\
\r\n\
Orders:\r\n\
LOAD OrderId, CustomerId, RegionId, OrderDate, Amount;\r\n\
SQL SELECT OrderId, CustomerId, RegionId, OrderDate, Amount FROM dbo.Orders;\r\n\
\r\n\
Customers:\r\n\
LOAD CustomerId, CustomerName, Segment;\r\n\
SQL SELECT CustomerId, CustomerName, Segment FROM dbo.Customers;\r\n\
\r\n\
///$tab Logs\r\n\
EngineSessions:\r\n\
LOAD\r\n\
    [Session Start] AS SessionStart,\r\n\
    [ActiveUserId] AS UserId,\r\n\
    [App Title] AS AppTitle\r\n\
FROM [lib://ServerLogFolder/Engine/Trace/*_Session_Engine.txt]\r\n\
(txt, utf8, embedded labels, delimiter is '\\t', msq);\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_round_trip_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.qvf");
        let app = SeedApp {
            id: "0c6f0b2a-1111-2222-3333-444455556666",
            name: "Sales Dashboard",
            description: "Dashboard",
            file_size: 200_000,
            objects: 25,
            last_reload_time: "2024-05-01T10:00:00.000Z",
        };
        let size = write_seeded(&path, &app).unwrap();
        assert_eq!(size, 200_000);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 200_000);
        let doc = read_document(&path).unwrap().unwrap();
        assert_eq!(doc.properties["qTitle"], "Sales Dashboard");
        let count = |v: &Value| -> usize { 1 + v["qChildren"].as_array().map_or(0, |c| c.len()) };
        // 25 sheets and charts, a master visualization, a story and its slide.
        assert_eq!(doc.objects.iter().map(count).sum::<usize>(), 28);
        let items = repository_items(&doc);
        let kinds: std::collections::BTreeSet<&str> =
            items.iter().map(|i| i.object_type.as_str()).collect();
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            [
                "bookmark",
                "dimension",
                "masterobject",
                "measure",
                "sheet",
                "story"
            ]
        );
        assert_eq!(doc.variables.len(), 3);
        assert!(doc.script.contains("LOAD * INLINE"));
        let names: Vec<&str> = doc
            .data_model
            .tables
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "Regions",
                "Calendar",
                "Orders",
                "Customers",
                "EngineSessions"
            ]
        );
        assert_eq!(doc.data_model.table("Regions").unwrap().rows, 4);
        assert_eq!(doc.data_model.table("Calendar").unwrap().rows, 366);

        std::fs::write(&path, b"QVF-SANDBOX\nsomething else").unwrap();
        assert!(read_document(&path).unwrap().is_none());
        std::fs::write(&path, format!("{MAGIC}99\n{{}}")).unwrap();
        assert!(read_document(&path).unwrap().is_none());
    }
}
