//! `GetLayout`: the properties with their definitions computed. Following the engine's rules
//! (help.qlik.com "Generic object", "Layout"), a `qXxxDef` member becomes `qXxx`: list
//! definitions (`qChildListDef`, `qAppObjectListDef`, `qDimensionListDef`, `qMeasureListDef`,
//! `qBookmarkListDef`, `qVariableListDef`, `qFieldListDef`) become their lists, with each item's
//! `qData` read from the item's properties by the JSON pointers of the definition's `qData`;
//! `{"qStringExpression": ..}` and `{"qValueExpression": ..}` become their values; `qMetaDef`
//! becomes `qMeta` with the dates and privileges. The sandbox holds no field values, so a
//! `qHyperCubeDef` or `qListObjectDef` becomes a cube or list of zero rows with its column
//! descriptions.

use serde_json::{Map, Value, json};

use super::app::{AppModel, Entity, Tree, variable_name};
use super::script::expr::{self, Scope};

/// What `qMeta.privileges` lists for the owner of an object on QSEoW.
const PRIVILEGES: &[&str] = &[
    "read",
    "update",
    "delete",
    "exportdata",
    "publish",
    "change_owner",
    "approve",
    "unapprove",
];

/// The app's variables and fields, for expressions.
pub struct AppScope<'a>(pub &'a AppModel);

impl Scope for AppScope<'_> {
    fn variable(&self, name: &str) -> Option<String> {
        self.0.variable_by_name(name).map(|e| {
            e.props
                .get("qDefinition")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
    }
    fn is_field(&self, name: &str) -> bool {
        self.0
            .data
            .tables
            .iter()
            .any(|t| t.fields.iter().any(|f| f == name))
    }
}

/// `qMeta` of an entity: its `qMetaDef` plus what the engine adds.
pub fn meta(e: &Entity) -> Value {
    let mut m = match e.props.get("qMetaDef") {
        Some(Value::Object(d)) => d.clone(),
        _ => Map::new(),
    };
    m.insert("privileges".into(), json!(PRIVILEGES));
    m.insert("createdDate".into(), json!(e.created));
    m.insert("modifiedDate".into(), json!(e.modified));
    m.insert("published".into(), json!(false));
    m.insert("approved".into(), json!(false));
    Value::Object(m)
}

/// Where the objects of a layout are found.
pub struct Context<'a> {
    pub app: &'a AppModel,
    pub session_objects: &'a Tree,
}

/// The layout of generic object `node_id` from `tree`.
pub fn object_layout(ctx: &Context<'_>, tree: &Tree, node_id: &str) -> Value {
    let Some(node) = tree.get(node_id) else {
        return Value::Null;
    };
    let mut out = compute(ctx, &node.entity.props, Some((tree, &node.children)));
    if let Value::Object(m) = &mut out {
        m.remove("qMetaDef");
        m.insert("qMeta".into(), meta(&node.entity));
        m.insert("qSelectionInfo".into(), json!({}));
    }
    out
}

/// The layout of a library item (dimension, measure, bookmark, variable).
pub fn library_layout(ctx: &Context<'_>, kind: &str, e: &Entity) -> Value {
    let mut m = Map::new();
    m.insert(
        "qInfo".into(),
        e.props.get("qInfo").cloned().unwrap_or(Value::Null),
    );
    m.insert("qMeta".into(), meta(e));
    match kind {
        "dimension" => {
            let dim = e.props.get("qDim").cloned().unwrap_or_else(|| json!({}));
            let infos: Vec<Value> = dim
                .get("qFieldDefs")
                .and_then(Value::as_array)
                .map(|defs| {
                    defs.iter()
                        .map(|f| json!({"qName": f, "qTags": [], "qIsSemantic": false}))
                        .collect()
                })
                .unwrap_or_default();
            m.insert("qDim".into(), dim);
            m.insert("qDimInfos".into(), Value::Array(infos));
        }
        "measure" => {
            m.insert(
                "qMeasure".into(),
                e.props
                    .get("qMeasure")
                    .cloned()
                    .unwrap_or_else(|| json!({})),
            );
        }
        "bookmark" => {
            m.insert(
                "qBookmark".into(),
                json!({"qStateData": [{"qStateName": "$", "qFieldItems": []}],
                       "qUtcModifyTime": 0, "qVariableItems": [], "qPatches": []}),
            );
        }
        _ => {
            let def = e
                .props
                .get("qDefinition")
                .and_then(Value::as_str)
                .unwrap_or("");
            let (text, num) = variable_value(ctx.app, def);
            m.insert("qText".into(), json!(text));
            if let Some(n) = num {
                m.insert("qNum".into(), json!(n));
            }
            if e.script_created {
                m.insert("qIsScriptCreated".into(), json!(true));
            }
        }
    }
    // Members of the client's own (not `q`-prefixed) stay, computed.
    for (k, v) in &e.props {
        if k.starts_with('q') {
            continue;
        }
        let computed = match v {
            Value::Object(o) => expression_or(ctx, o),
            other => other.clone(),
        };
        m.entry(k.clone()).or_insert(computed);
    }
    Value::Object(m)
}

/// The member at `path` of a map.
fn at<'a>(m: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(m.get(*first)?, |v, k| v.get(*k))
}

/// A variable's text and number: `=expr` definitions are evaluated.
pub fn variable_value(app: &AppModel, definition: &str) -> (String, Option<f64>) {
    match definition.strip_prefix('=') {
        Some(e) => match expr::evaluate(e, &AppScope(app)) {
            Ok(v) => (v.text(), v.number().filter(|_| v.is_numeric())),
            Err(err) => (format!("Error: {}", err.message()), None),
        },
        None => (definition.to_string(), expr::parse_number(definition)),
    }
}

/// Walk properties, replacing definitions by their computed form.
fn compute(
    ctx: &Context<'_>,
    props: &Map<String, Value>,
    children: Option<(&Tree, &Vec<String>)>,
) -> Value {
    let mut out = Map::new();
    for (k, v) in props {
        match (k.as_str(), v) {
            ("qStringExpression", _) | ("qValueExpression", _) => {}
            ("qHyperCubeDef", Value::Object(def)) => {
                out.insert("qHyperCube".into(), hypercube(ctx, def));
            }
            ("qListObjectDef", Value::Object(def)) => {
                out.insert("qListObject".into(), list_object(def));
            }
            ("qChildListDef", Value::Object(def)) => {
                let items: Vec<Value> = children
                    .map(|(tree, ids)| {
                        ids.iter()
                            .filter_map(|id| tree.get(id))
                            .map(|n| json!({"qInfo": n.entity.props.get("qInfo"), "qData": data_of(def, &n.entity.props)}))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert("qChildList".into(), json!({"qItems": items}));
            }
            ("qAppObjectListDef", Value::Object(def)) => {
                let ty = def.get("qType").and_then(Value::as_str).unwrap_or("");
                let items: Vec<Value> = ctx
                    .app
                    .objects
                    .iter()
                    .filter(|n| n.entity.kind() == ty)
                    .map(|n| item(def, &n.entity))
                    .collect();
                out.insert("qAppObjectList".into(), json!({"qItems": items}));
            }
            ("qDimensionListDef", Value::Object(def)) => {
                let items: Vec<Value> = ctx.app.dimensions.iter().map(|e| item(def, e)).collect();
                out.insert("qDimensionList".into(), json!({"qItems": items}));
            }
            ("qMeasureListDef", Value::Object(def)) => {
                let items: Vec<Value> = ctx.app.measures.iter().map(|e| item(def, e)).collect();
                out.insert("qMeasureList".into(), json!({"qItems": items}));
            }
            ("qBookmarkListDef", Value::Object(def)) => {
                let items: Vec<Value> = ctx.app.bookmarks.iter().map(|e| item(def, e)).collect();
                out.insert("qBookmarkList".into(), json!({"qItems": items}));
            }
            ("qVariableListDef", Value::Object(def)) => {
                out.insert("qVariableList".into(), variable_list(ctx.app, def));
            }
            ("qFieldListDef", Value::Object(_)) => {
                let items: Vec<Value> = ctx
                    .app
                    .data
                    .tables
                    .iter()
                    .flat_map(|t| t.fields.iter().map(move |f| (f, t)))
                    .map(|(f, t)| json!({"qName": f, "qCardinal": 0, "qTags": [], "qSrcTables": [t.name]}))
                    .collect();
                out.insert("qFieldList".into(), json!({"qItems": items}));
            }
            ("qSelectionObjectDef", _) => {
                out.insert(
                    "qSelectionObject".into(),
                    json!({"qBackCount": 0, "qForwardCount": 0, "qSelections": []}),
                );
            }
            ("qUndoInfoDef", _) => {
                out.insert(
                    "qUndoInfo".into(),
                    json!({"qUndoCount": 0, "qRedoCount": 0}),
                );
            }
            ("qMediaListDef", _) => {
                out.insert("qMediaList".into(), json!({"qItems": []}));
            }
            (_, Value::Object(inner)) => {
                out.insert(k.clone(), expression_or(ctx, inner));
            }
            (_, Value::Array(items)) => {
                let computed = items
                    .iter()
                    .map(|i| match i {
                        Value::Object(m) => expression_or(ctx, m),
                        other => other.clone(),
                    })
                    .collect();
                out.insert(k.clone(), Value::Array(computed));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// `{"qStringExpression": {"qExpr": ..}}` → its text, `{"qValueExpression": ..}` → its number,
/// any other object → computed recursively.
fn expression_or(ctx: &Context<'_>, m: &Map<String, Value>) -> Value {
    let expr_of = |v: &Value| -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Object(o) => o
                .get("qExpr")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        }
    };
    if let Some(v) = m.get("qStringExpression") {
        let e = expr_of(v);
        let e = e.strip_prefix('=').unwrap_or(&e);
        return json!(
            expr::evaluate(e, &AppScope(ctx.app))
                .map(|v| v.text())
                .unwrap_or_default()
        );
    }
    if let Some(v) = m.get("qValueExpression") {
        let e = expr_of(v);
        let e = e.strip_prefix('=').unwrap_or(&e);
        return match expr::evaluate(e, &AppScope(ctx.app))
            .ok()
            .and_then(|v| v.number())
        {
            Some(n) => json!(n),
            None => json!("NaN"),
        };
    }
    compute(ctx, m, None)
}

/// `qData` of a list item: each member of the definition's `qData` is a JSON pointer into the
/// item's properties (missing members are left out).
fn data_of(def: &Map<String, Value>, props: &Map<String, Value>) -> Value {
    let root = Value::Object(props.clone());
    let mut out = Map::new();
    if let Some(Value::Object(wanted)) = def.get("qData") {
        for (k, pointer) in wanted {
            let v = match pointer {
                Value::String(p) if p.starts_with('/') => root.pointer(p).cloned(),
                other => Some(other.clone()),
            };
            if let Some(v) = v {
                out.insert(k.clone(), v);
            }
        }
    }
    Value::Object(out)
}

fn item(def: &Map<String, Value>, e: &Entity) -> Value {
    json!({"qInfo": e.props.get("qInfo"), "qMeta": meta(e), "qData": data_of(def, &e.props)})
}

fn variable_list(app: &AppModel, def: &Map<String, Value>) -> Value {
    let show_reserved = def
        .get("qShowReserved")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let show_config = def
        .get("qShowConfig")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let items: Vec<Value> = app
        .variables
        .iter()
        .filter(|e| {
            let name = variable_name(&e.props);
            let (reserved, config) = reserved_kind(name);
            (!reserved || show_reserved) && (!config || show_config)
        })
        .map(|e| {
            let name = variable_name(&e.props);
            let (reserved, config) = reserved_kind(name);
            let mut v = json!({
                "qName": name,
                "qDefinition": e.props.get("qDefinition").and_then(Value::as_str).unwrap_or(""),
                "qInfo": e.props.get("qInfo"),
                "qMeta": meta(e),
                "qData": data_of(def, &e.props),
            });
            if let Some(c) = e
                .props
                .get("qComment")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
            {
                v["qDescription"] = json!(c);
            }
            if e.script_created {
                v["qIsScriptCreated"] = json!(true);
            }
            if reserved {
                v["qIsReserved"] = json!(true);
            }
            if config {
                v["qIsConfig"] = json!(true);
            }
            v
        })
        .collect();
    json!({"qItems": items})
}

/// Qlik's system variables (number interpretation, error and script settings): reserved, and
/// among them the configuration ones.
fn reserved_kind(name: &str) -> (bool, bool) {
    const CONFIG: &[&str] = &[
        "ThousandSep",
        "DecimalSep",
        "MoneyThousandSep",
        "MoneyDecimalSep",
        "MoneyFormat",
        "TimeFormat",
        "DateFormat",
        "TimestampFormat",
        "FirstWeekDay",
        "BrokenWeeks",
        "ReferenceDay",
        "FirstMonthOfYear",
        "CollationLocale",
        "CreateSearchIndexOnReload",
        "MonthNames",
        "LongMonthNames",
        "DayNames",
        "LongDayNames",
        "NumericalAbbreviation",
    ];
    const RESERVED: &[&str] = &[
        "ErrorMode",
        "ScriptError",
        "ScriptErrorCount",
        "ScriptErrorList",
        "NullValue",
        "NullDisplay",
        "NullInterpret",
        "OtherSymbol",
        "StripComments",
        "Verbatim",
        "HidePrefix",
        "HideSuffix",
        "SearchIndexOnReload",
    ];
    let config = CONFIG.contains(&name);
    (config || RESERVED.contains(&name), config)
}

fn hypercube(ctx: &Context<'_>, def: &Map<String, Value>) -> Value {
    let list = |k: &str| {
        def.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let dims = list("qDimensions");
    let measures = list("qMeasures");
    let dim_info: Vec<Value> = dims
        .iter()
        .map(|d| {
            let library = d.get("qLibraryId").and_then(Value::as_str).filter(|s| !s.is_empty());
            let lib = library.and_then(|id| ctx.app.dimensions.get(id));
            let fields = lib
                .and_then(|e| e.props.get("qDim"))
                .or_else(|| d.get("qDef"))
                .and_then(|q| q.get("qFieldDefs"))
                .cloned()
                .unwrap_or_else(|| json!([]));
            let title = lib
                .and_then(|e| at(&e.props, &["qMetaDef", "title"]).and_then(Value::as_str).map(str::to_string))
                .or_else(|| d.pointer("/qDef/qFieldLabels/0").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string))
                .or_else(|| fields.get(0).and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default();
            let mut info = json!({"qFallbackTitle": title, "qApprMaxGlyphCount": 0, "qCardinal": 0,
                "qSortIndicator": "N", "qGroupFieldDefs": fields, "qMin": "NaN", "qMax": "NaN",
                "qAttrExprInfo": [], "qAttrDimInfo": [], "qCardinalities": {"qCardinal": 0, "qHypercubeCardinal": 0}});
            if let Some(id) = library {
                info["qLibraryId"] = json!(id);
            }
            info
        })
        .collect();
    let measure_info: Vec<Value> = measures
        .iter()
        .map(|m| {
            let library = m.get("qLibraryId").and_then(Value::as_str).filter(|s| !s.is_empty());
            let lib = library.and_then(|id| ctx.app.measures.get(id));
            let title = lib
                .and_then(|e| at(&e.props, &["qMetaDef", "title"]).and_then(Value::as_str).map(str::to_string))
                .or_else(|| m.pointer("/qDef/qLabel").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string))
                .or_else(|| m.pointer("/qDef/qDef").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default();
            let mut info = json!({"qFallbackTitle": title, "qApprMaxGlyphCount": 0, "qCardinal": 0,
                "qSortIndicator": "N", "qMin": 0, "qMax": 0, "qIsAutoFormat": true,
                "qNumFormat": {"qType": "U", "qnDec": 10, "qUseThou": 0}, "qAttrExprInfo": [], "qAttrDimInfo": []});
            if let Some(id) = library {
                info["qLibraryId"] = json!(id);
            }
            info
        })
        .collect();
    let columns = dims.len() + measures.len();
    let pages: Vec<Value> = def
        .get("qInitialDataFetch")
        .and_then(Value::as_array)
        .map(|fetches| {
            fetches
                .iter()
                .map(|f| json!({"qMatrix": [], "qTails": [], "qArea": {
                    "qLeft": f.get("qLeft").cloned().unwrap_or(json!(0)),
                    "qTop": f.get("qTop").cloned().unwrap_or(json!(0)),
                    "qWidth": f.get("qWidth").and_then(Value::as_u64).unwrap_or(0).min(columns as u64),
                    "qHeight": 0}}))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "qStateName": def.get("qStateName").cloned().unwrap_or(json!("")),
        "qSize": {"qcx": columns, "qcy": 0},
        "qDimensionInfo": dim_info,
        "qMeasureInfo": measure_info,
        "qEffectiveInterColumnSortOrder": (0..columns).collect::<Vec<_>>(),
        "qGrandTotalRow": [],
        "qDataPages": pages,
        "qPivotDataPages": [],
        "qStackedDataPages": [],
        "qMode": def.get("qMode").cloned().unwrap_or(json!("S")),
        "qNoOfLeftDims": def.get("qNoOfLeftDims").cloned().unwrap_or(json!(-1)),
        "qTreeNodesOnDim": [],
        "qColumnOrder": def.get("qColumnOrder").cloned().unwrap_or(json!([])),
    })
}

fn list_object(def: &Map<String, Value>) -> Value {
    let fields = at(def, &["qDef", "qFieldDefs"])
        .cloned()
        .unwrap_or_else(|| json!([]));
    let title = fields
        .get(0)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    json!({
        "qStateName": def.get("qStateName").cloned().unwrap_or(json!("")),
        "qSize": {"qcx": 1, "qcy": 0},
        "qDimensionInfo": {"qFallbackTitle": title, "qApprMaxGlyphCount": 0, "qCardinal": 0,
                           "qSortIndicator": "N", "qGroupFieldDefs": fields,
                           "qStateCounts": {"qLocked": 0, "qSelected": 0, "qOption": 0, "qDeselected": 0,
                                            "qAlternative": 0, "qExcluded": 0, "qSelectedExcluded": 0, "qLockedExcluded": 0}},
        "qDataPages": [],
    })
}

/// `NxAppLayout` of the open app.
pub fn app_layout(app: &AppModel) -> Value {
    let mut m = app.properties.clone();
    m.entry("qTitle").or_insert(json!(""));
    m.insert("qFileName".into(), json!(app.id));
    m.entry("qLastReloadTime").or_insert(json!(""));
    m.insert("qModified".into(), json!(app.modified));
    m.insert("qHasScript".into(), json!(!app.script.trim().is_empty()));
    m.insert("qStateNames".into(), json!([]));
    m.insert(
        "qMeta".into(),
        json!({"privileges": ["read", "update", "delete", "reload", "export", "exportdata", "publish", "duplicate", "change_owner"]}),
    );
    m.insert("qLocaleInfo".into(), locale_info(app));
    m.insert("qHasData".into(), json!(!app.data.tables.is_empty()));
    m.insert("qReadOnly".into(), json!(false));
    m.insert("qIsOpenedWithoutData".into(), json!(app.no_data));
    m.insert("qIsSessionApp".into(), json!(app.session_app));
    m.entry("qThumbnail").or_insert(json!({"qUrl": ""}));
    m.insert("qUsage".into(), json!("ANALYTICS"));
    Value::Object(m)
}

/// `NxLocaleInfo` from the number and date variables the script set (defaults otherwise).
fn locale_info(app: &AppModel) -> Value {
    let var = |name: &str, default: &str| -> String {
        app.variable_by_name(name)
            .and_then(|e| e.props.get("qDefinition").and_then(Value::as_str))
            .unwrap_or(default)
            .to_string()
    };
    let list = |name: &str, default: &str| -> Vec<String> {
        var(name, default).split(';').map(str::to_string).collect()
    };
    json!({
        "qDecimalSep": var("DecimalSep", "."), "qThousandSep": var("ThousandSep", ","),
        "qListSep": ",", "qMoneyDecimalSep": var("MoneyDecimalSep", "."),
        "qMoneyThousandSep": var("MoneyThousandSep", ","), "qCurrentYear": 2024,
        "qMoneyFmt": var("MoneyFormat", "$#,##0.00;-$#,##0.00"), "qTimeFmt": var("TimeFormat", "h:mm:ss TT"),
        "qDateFmt": var("DateFormat", "M/D/YYYY"), "qTimestampFmt": var("TimestampFormat", "M/D/YYYY h:mm:ss[.fff] TT"),
        "qCalendarStrings": {
            "qDayNames": list("DayNames", "Mon;Tue;Wed;Thu;Fri;Sat;Sun"),
            "qMonthNames": list("MonthNames", "Jan;Feb;Mar;Apr;May;Jun;Jul;Aug;Sep;Oct;Nov;Dec"),
            "qLongDayNames": list("LongDayNames", "Monday;Tuesday;Wednesday;Thursday;Friday;Saturday;Sunday"),
            "qLongMonthNames": list("LongMonthNames", "January;February;March;April;May;June;July;August;September;October;November;December"),
        },
        "qFirstWeekDay": var("FirstWeekDay", "6").parse::<i64>().unwrap_or(6),
        "qBrokenWeeks": var("BrokenWeeks", "1") != "0",
        "qReferenceDay": var("ReferenceDay", "0").parse::<i64>().unwrap_or(0),
        "qFirstMonthOfYear": var("FirstMonthOfYear", "1").parse::<i64>().unwrap_or(1),
        "qCollation": var("CollationLocale", "en-US"),
        "qNumericalAbbreviation": var("NumericalAbbreviation", "3:k;6:M;9:G;12:T;15:P;18:E;21:Z;24:Y;-3:m;-6:μ;-9:n;-12:p;-15:f;-18:a;-21:z;-24:y"),
    })
}
