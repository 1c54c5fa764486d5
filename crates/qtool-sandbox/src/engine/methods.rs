//! Every method the engine emulator serves: its class, parameter names (with the value used when
//! a client omits one), out-parameter names, what `qReturn` holds, and its handler. The schema
//! has no types, so the `qReturn` kind is kept here by hand (from the Qlik API reference); a
//! test checks names, order, optionality, scalar defaults and out-names against the vendored
//! enigma.js schema, so a typo here cannot reach a client.
//!
//! The dispatcher builds every result from this table (`qReturn` first, then the out-parameters
//! in table order), so a handler cannot answer with a name the table does not declare.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::dispatch::Handler;
use super::{connections, doc, global, objects};

/// The engine classes a handle can stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Global,
    Doc,
    GenericObject,
    GenericDimension,
    GenericMeasure,
    GenericVariable,
    GenericBookmark,
}

impl Class {
    /// The schema's struct name (and the `qType` of a handle of this class).
    pub fn name(self) -> &'static str {
        match self {
            Class::Global => "Global",
            Class::Doc => "Doc",
            Class::GenericObject => "GenericObject",
            Class::GenericDimension => "GenericDimension",
            Class::GenericMeasure => "GenericMeasure",
            Class::GenericVariable => "GenericVariable",
            Class::GenericBookmark => "GenericBookmark",
        }
    }
}

/// What the result's `qReturn` member holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// No `qReturn`.
    Nothing,
    /// An object interface `{qType, qHandle, qGenericType?, qGenericId?}` (or both null).
    Handle,
    Bool,
    Text,
}

#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    /// JSON used when the client omits the parameter; `null` for a required structure.
    pub default: &'static str,
    /// The schema's `Optional` flag.
    pub optional: bool,
}

pub struct Method {
    pub class: Class,
    pub name: &'static str,
    pub params: &'static [Param],
    pub outs: &'static [&'static str],
    pub returns: Returns,
    pub handler: Handler,
}

const fn p(name: &'static str, default: &'static str) -> Param {
    Param {
        name,
        default,
        optional: false,
    }
}

const fn opt(name: &'static str, default: &'static str) -> Param {
    Param {
        name,
        default,
        optional: true,
    }
}

use Class::{
    Doc as D, GenericBookmark as GB, GenericDimension as GD, GenericMeasure as GM,
    GenericObject as GO, GenericVariable as GV, Global as G,
};
use Returns::{Bool, Handle, Nothing, Text};

const fn m(
    class: Class,
    name: &'static str,
    params: &'static [Param],
    outs: &'static [&'static str],
    returns: Returns,
    handler: Handler,
) -> Method {
    Method {
        class,
        name,
        params,
        outs,
        returns,
        handler,
    }
}

const PROP: &[Param] = &[p("qProp", "null")];
const ID: &[Param] = &[p("qId", "\"\"")];
const NONE: &[Param] = &[];
const PATCHES: &[Param] = &[p("qPatches", "null")];

pub static METHODS: &[Method] = &[
    // Global
    m(
        G,
        "OpenDoc",
        &[
            p("qDocName", "\"\""),
            opt("qUserName", "\"\""),
            opt("qPassword", "\"\""),
            opt("qSerial", "\"\""),
            opt("qNoData", "false"),
        ],
        &[],
        Handle,
        global::open_doc,
    ),
    m(G, "GetActiveDoc", NONE, &[], Handle, global::get_active_doc),
    m(
        G,
        "GetDocList",
        NONE,
        &["qDocList"],
        Nothing,
        global::get_doc_list,
    ),
    m(
        G,
        "EngineVersion",
        NONE,
        &["qVersion"],
        Nothing,
        global::engine_version,
    ),
    m(
        G,
        "ProductVersion",
        NONE,
        &[],
        Text,
        global::product_version,
    ),
    m(G, "QTProduct", NONE, &[], Text, global::qt_product),
    m(G, "OSName", NONE, &[], Text, global::os_name),
    m(G, "IsDesktopMode", NONE, &[], Bool, global::is_desktop_mode),
    m(
        G,
        "IsPersonalMode",
        NONE,
        &[],
        Bool,
        global::is_personal_mode,
    ),
    m(
        G,
        "AllowCreateApp",
        NONE,
        &[],
        Bool,
        global::allow_create_app,
    ),
    m(
        G,
        "GetAuthenticatedUser",
        NONE,
        &[],
        Text,
        global::get_authenticated_user,
    ),
    m(
        G,
        "GetUniqueID",
        NONE,
        &["qUniqueID"],
        Nothing,
        global::get_unique_id,
    ),
    m(
        G,
        "GetProgress",
        &[p("qRequestId", "0")],
        &["qProgressData"],
        Nothing,
        global::get_progress,
    ),
    m(
        G,
        "CancelReload",
        &[opt("qReason", "\"\"")],
        &[],
        Nothing,
        global::cancel_reload,
    ),
    m(
        G,
        "AbortRequest",
        &[p("qRequestId", "0")],
        &[],
        Nothing,
        global::abort_request,
    ),
    m(G, "AbortAll", NONE, &[], Nothing, global::abort_all),
    m(
        G,
        "CreateSessionApp",
        NONE,
        &["qSessionAppId"],
        Handle,
        global::create_session_app,
    ),
    m(
        G,
        "CreateApp",
        &[
            p("qAppName", "\"\""),
            opt("qLocalizedScriptMainSection", "\"\""),
            opt("qLocale", "\"\""),
        ],
        &["qSuccess", "qAppId"],
        Nothing,
        global::create_app,
    ),
    // Doc: script, reload, save, evaluation
    m(D, "GetScript", NONE, &["qScript"], Nothing, doc::get_script),
    m(
        D,
        "SetScript",
        &[p("qScript", "\"\"")],
        &[],
        Nothing,
        doc::set_script,
    ),
    m(
        D,
        "GetEmptyScript",
        &[opt("qLocalizedMainSection", "\"\"")],
        &[],
        Text,
        doc::get_empty_script,
    ),
    m(
        D,
        "CheckScriptSyntax",
        NONE,
        &["qErrors"],
        Nothing,
        doc::check_script_syntax,
    ),
    m(
        D,
        "DoReload",
        &[
            opt("qMode", "0"),
            opt("qPartial", "false"),
            opt("qDebug", "false"),
        ],
        &[],
        Bool,
        doc::do_reload,
    ),
    m(
        D,
        "DoReloadEx",
        &[opt("qParams", "null")],
        &["qResult"],
        Nothing,
        doc::do_reload_ex,
    ),
    m(
        D,
        "DoSave",
        &[opt("qFileName", "\"\"")],
        &[],
        Nothing,
        doc::do_save,
    ),
    m(D, "SaveObjects", NONE, &[], Nothing, doc::save_objects),
    m(
        D,
        "Evaluate",
        &[p("qExpression", "\"\"")],
        &[],
        Text,
        doc::evaluate,
    ),
    m(
        D,
        "EvaluateEx",
        &[p("qExpression", "\"\"")],
        &["qValue"],
        Nothing,
        doc::evaluate_ex,
    ),
    m(
        D,
        "GetAppProperties",
        NONE,
        &["qProp"],
        Nothing,
        doc::get_app_properties,
    ),
    m(
        D,
        "SetAppProperties",
        PROP,
        &[],
        Nothing,
        doc::set_app_properties,
    ),
    m(
        D,
        "GetAppLayout",
        NONE,
        &["qLayout"],
        Nothing,
        doc::get_app_layout,
    ),
    m(
        D,
        "GetAllInfos",
        NONE,
        &["qInfos"],
        Nothing,
        objects::get_all_infos,
    ),
    // Doc: generic objects
    m(
        D,
        "CreateObject",
        PROP,
        &["qInfo"],
        Handle,
        objects::create_object,
    ),
    m(D, "GetObject", ID, &[], Handle, objects::get_object),
    m(
        D,
        "DestroyObject",
        ID,
        &["qSuccess"],
        Nothing,
        objects::destroy_object,
    ),
    m(
        D,
        "CreateSessionObject",
        PROP,
        &[],
        Handle,
        objects::create_session_object,
    ),
    m(
        D,
        "DestroySessionObject",
        ID,
        &["qSuccess"],
        Nothing,
        objects::destroy_session_object,
    ),
    // Doc: library dimensions, measures, variables, bookmarks
    m(
        D,
        "CreateDimension",
        PROP,
        &["qInfo"],
        Handle,
        objects::create_dimension,
    ),
    m(D, "GetDimension", ID, &[], Handle, objects::get_dimension),
    m(
        D,
        "DestroyDimension",
        ID,
        &["qSuccess"],
        Nothing,
        objects::destroy_dimension,
    ),
    m(
        D,
        "CreateMeasure",
        PROP,
        &["qInfo"],
        Handle,
        objects::create_measure,
    ),
    m(D, "GetMeasure", ID, &[], Handle, objects::get_measure),
    m(
        D,
        "DestroyMeasure",
        ID,
        &["qSuccess"],
        Nothing,
        objects::destroy_measure,
    ),
    m(
        D,
        "CreateVariableEx",
        PROP,
        &["qInfo"],
        Handle,
        objects::create_variable_ex,
    ),
    m(
        D,
        "GetVariableById",
        ID,
        &[],
        Handle,
        objects::get_variable_by_id,
    ),
    m(
        D,
        "GetVariableByName",
        &[p("qName", "\"\"")],
        &[],
        Handle,
        objects::get_variable_by_name,
    ),
    m(
        D,
        "DestroyVariableById",
        ID,
        &["qSuccess"],
        Nothing,
        objects::destroy_variable_by_id,
    ),
    m(
        D,
        "DestroyVariableByName",
        &[p("qName", "\"\"")],
        &["qSuccess"],
        Nothing,
        objects::destroy_variable_by_name,
    ),
    m(
        D,
        "CreateBookmark",
        PROP,
        &["qInfo"],
        Handle,
        objects::create_bookmark,
    ),
    m(D, "GetBookmark", ID, &[], Handle, objects::get_bookmark),
    m(
        D,
        "DestroyBookmark",
        ID,
        &["qSuccess"],
        Nothing,
        objects::destroy_bookmark,
    ),
    // Doc: data connections (kept by the repository, as on QSEoW)
    m(
        D,
        "GetConnections",
        NONE,
        &["qConnections"],
        Nothing,
        connections::get_connections,
    ),
    m(
        D,
        "GetConnection",
        &[p("qConnectionId", "\"\"")],
        &["qConnection"],
        Nothing,
        connections::get_connection,
    ),
    m(
        D,
        "CreateConnection",
        &[p("qConnection", "null")],
        &["qConnectionId"],
        Nothing,
        connections::create_connection,
    ),
    m(
        D,
        "ModifyConnection",
        &[
            p("qConnectionId", "\"\""),
            p("qConnection", "null"),
            opt("qOverrideCredentials", "false"),
        ],
        &[],
        Nothing,
        connections::modify_connection,
    ),
    m(
        D,
        "DeleteConnection",
        &[p("qConnectionId", "\"\"")],
        &[],
        Nothing,
        connections::delete_connection,
    ),
    // GenericObject
    m(GO, "GetInfo", NONE, &["qInfo"], Nothing, objects::get_info),
    m(
        GO,
        "GetProperties",
        NONE,
        &["qProp"],
        Nothing,
        objects::get_properties,
    ),
    m(
        GO,
        "GetEffectiveProperties",
        NONE,
        &["qProp"],
        Nothing,
        objects::get_properties,
    ),
    m(
        GO,
        "SetProperties",
        PROP,
        &[],
        Nothing,
        objects::set_properties,
    ),
    m(
        GO,
        "ApplyPatches",
        &[p("qPatches", "null"), opt("qSoftPatch", "false")],
        &[],
        Nothing,
        objects::apply_patches,
    ),
    m(
        GO,
        "GetLayout",
        NONE,
        &["qLayout"],
        Nothing,
        objects::get_layout,
    ),
    m(
        GO,
        "GetFullPropertyTree",
        NONE,
        &["qPropEntry"],
        Nothing,
        objects::get_full_property_tree,
    ),
    m(
        GO,
        "SetFullPropertyTree",
        &[p("qPropEntry", "null")],
        &[],
        Nothing,
        objects::set_full_property_tree,
    ),
    m(
        GO,
        "GetChildInfos",
        NONE,
        &["qInfos"],
        Nothing,
        objects::get_child_infos,
    ),
    m(
        GO,
        "CreateChild",
        &[p("qProp", "null"), opt("qPropForThis", "null")],
        &["qInfo"],
        Handle,
        objects::create_child,
    ),
    m(
        GO,
        "DestroyChild",
        &[p("qId", "\"\""), opt("qPropForThis", "null")],
        &["qSuccess"],
        Nothing,
        objects::destroy_child,
    ),
    m(
        GO,
        "DestroyAllChildren",
        &[opt("qPropForThis", "null")],
        &[],
        Nothing,
        objects::destroy_all_children,
    ),
    m(GO, "GetChild", ID, &[], Handle, objects::get_child),
    m(GO, "GetParent", NONE, &[], Handle, objects::get_parent),
    // GenericDimension
    m(GD, "GetInfo", NONE, &["qInfo"], Nothing, objects::get_info),
    m(
        GD,
        "GetProperties",
        NONE,
        &["qProp"],
        Nothing,
        objects::get_properties,
    ),
    m(
        GD,
        "SetProperties",
        PROP,
        &[],
        Nothing,
        objects::set_properties,
    ),
    m(
        GD,
        "ApplyPatches",
        PATCHES,
        &[],
        Nothing,
        objects::apply_patches,
    ),
    m(
        GD,
        "GetLayout",
        NONE,
        &["qLayout"],
        Nothing,
        objects::get_layout,
    ),
    m(
        GD,
        "GetDimension",
        NONE,
        &["qDim"],
        Nothing,
        objects::get_dimension_def,
    ),
    // GenericMeasure
    m(GM, "GetInfo", NONE, &["qInfo"], Nothing, objects::get_info),
    m(
        GM,
        "GetProperties",
        NONE,
        &["qProp"],
        Nothing,
        objects::get_properties,
    ),
    m(
        GM,
        "SetProperties",
        PROP,
        &[],
        Nothing,
        objects::set_properties,
    ),
    m(
        GM,
        "ApplyPatches",
        PATCHES,
        &[],
        Nothing,
        objects::apply_patches,
    ),
    m(
        GM,
        "GetLayout",
        NONE,
        &["qLayout"],
        Nothing,
        objects::get_layout,
    ),
    m(
        GM,
        "GetMeasure",
        NONE,
        &["qMeasure"],
        Nothing,
        objects::get_measure_def,
    ),
    // GenericVariable
    m(GV, "GetInfo", NONE, &["qInfo"], Nothing, objects::get_info),
    m(
        GV,
        "GetProperties",
        NONE,
        &["qProp"],
        Nothing,
        objects::get_properties,
    ),
    m(
        GV,
        "SetProperties",
        PROP,
        &[],
        Nothing,
        objects::set_properties,
    ),
    m(
        GV,
        "ApplyPatches",
        PATCHES,
        &[],
        Nothing,
        objects::apply_patches,
    ),
    m(
        GV,
        "GetLayout",
        NONE,
        &["qLayout"],
        Nothing,
        objects::get_layout,
    ),
    m(
        GV,
        "GetRawContent",
        NONE,
        &[],
        Text,
        objects::get_raw_content,
    ),
    m(
        GV,
        "SetStringValue",
        &[p("qVal", "\"\"")],
        &[],
        Nothing,
        objects::set_string_value,
    ),
    m(
        GV,
        "SetNumValue",
        &[p("qVal", "0")],
        &[],
        Nothing,
        objects::set_num_value,
    ),
    m(
        GV,
        "SetDualValue",
        &[p("qText", "\"\""), p("qNum", "0")],
        &[],
        Nothing,
        objects::set_dual_value,
    ),
    // GenericBookmark
    m(GB, "GetInfo", NONE, &["qInfo"], Nothing, objects::get_info),
    m(
        GB,
        "GetProperties",
        NONE,
        &["qProp"],
        Nothing,
        objects::get_properties,
    ),
    m(
        GB,
        "SetProperties",
        PROP,
        &[],
        Nothing,
        objects::set_properties,
    ),
    m(
        GB,
        "ApplyPatches",
        PATCHES,
        &[],
        Nothing,
        objects::apply_patches,
    ),
    m(
        GB,
        "GetLayout",
        NONE,
        &["qLayout"],
        Nothing,
        objects::get_layout,
    ),
    m(
        GB,
        "Apply",
        NONE,
        &["qSuccess"],
        Nothing,
        objects::apply_bookmark,
    ),
];

/// The method `name` of `class`, if served.
pub fn find(class: Class, name: &str) -> Option<&'static Method> {
    static INDEX: OnceLock<HashMap<(Class, &'static str), &'static Method>> = OnceLock::new();
    INDEX
        .get_or_init(|| METHODS.iter().map(|m| ((m.class, m.name), m)).collect())
        .get(&(class, name))
        .copied()
}
