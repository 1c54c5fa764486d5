//! The QRS resources qtool knows, as [`ResourceKind`]: for each its URL path, which generic
//! operations the QRS spec offers, the table columns shown by default, and which integer fields
//! are enums (shown by name).

use serde_json::Value;

use super::endpoints::{QrsPath, fill};
use super::wire;
use crate::error::Result;
use crate::output::{Column, col};

/// Generic per-resource operations (`/qrs/{type}...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /{type}` condensed list.
    List,
    /// `GET /{type}/full`.
    Full,
    /// `GET /{type}/count`.
    Count,
    /// `GET /{type}/{id}`.
    Get,
    /// `POST /{type}`.
    Create,
    /// `POST /{type}/many`.
    CreateMany,
    /// `PUT /{type}/{id}`.
    Update,
    /// `DELETE /{type}/{id}`.
    Delete,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::List,
        Op::Full,
        Op::Count,
        Op::Get,
        Op::Create,
        Op::CreateMany,
        Op::Update,
        Op::Delete,
    ];

    pub fn method(self) -> &'static str {
        match self {
            Op::List | Op::Full | Op::Count | Op::Get => "GET",
            Op::Create | Op::CreateMany => "POST",
            Op::Update => "PUT",
            Op::Delete => "DELETE",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Op::List | Op::Create => "",
            Op::Full => "/full",
            Op::Count => "/count",
            Op::Get | Op::Update | Op::Delete => "/{id}",
            Op::CreateMany => "/many",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    pub fn verb(self) -> &'static str {
        match self {
            Op::List | Op::Full => "ls",
            Op::Count => "count",
            Op::Get => "get",
            Op::Create | Op::CreateMany => "create",
            Op::Update => "update",
            Op::Delete => "rm",
        }
    }
}

const READ: u8 = (1 << Op::List as u8) | (1 << Op::Full as u8);
const COUNT: u8 = 1 << Op::Count as u8;
const GET: u8 = 1 << Op::Get as u8;
const WRITE: u8 = (1 << Op::Create as u8)
    | (1 << Op::CreateMany as u8)
    | (1 << Op::Update as u8)
    | (1 << Op::Delete as u8);
const ALL_OPS: u8 = READ | COUNT | GET | WRITE;

/// An integer field shown by name in tables.
#[derive(Debug, Clone, Copy)]
struct EnumField {
    path: &'static str,
    names: &'static [&'static str],
}

/// Enum names the shared `wire` module does not carry (yet), as the QRS spec's `x-enumNames`.
const EVENT_TYPE: &[&str] = &["Schema", "Composite"];

const fn en(path: &'static str, names: &'static [&'static str]) -> EnumField {
    EnumField { path, names }
}

/// The QRS resources qtool knows, one per `qtool qrs <resource>` command, each with its row of
/// the table below: a misspelt resource is a compile error, not a failed run-time lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    App,
    Stream,
    Tag,
    User,
    ReloadTask,
    Task,
    ExecutionResult,
    ExecutionSession,
    SchemaEvent,
    CompositeEvent,
    CustomPropertyDefinition,
    DataConnection,
    Extension,
    ContentLibrary,
    SystemRule,
    VirtualProxyConfig,
    UserDirectory,
    ServiceStatus,
}

/// What qtool knows about one resource.
#[derive(Debug)]
struct Table {
    /// Command name (`reloadtask`), which is also the path segment after `/qrs/`.
    name: &'static str,
    /// Singular label for messages ("reload task").
    label: &'static str,
    ops: u8,
    /// Field used by `--name` (None when the resource has no name).
    name_field: Option<&'static str>,
    columns: &'static [Column],
    /// Columns for `ls --full` (falls back to `columns`).
    full_columns: &'static [Column],
    enums: &'static [EnumField],
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 18] = [
        ResourceKind::App,
        ResourceKind::Stream,
        ResourceKind::Tag,
        ResourceKind::User,
        ResourceKind::ReloadTask,
        ResourceKind::Task,
        ResourceKind::ExecutionResult,
        ResourceKind::ExecutionSession,
        ResourceKind::SchemaEvent,
        ResourceKind::CompositeEvent,
        ResourceKind::CustomPropertyDefinition,
        ResourceKind::DataConnection,
        ResourceKind::Extension,
        ResourceKind::ContentLibrary,
        ResourceKind::SystemRule,
        ResourceKind::VirtualProxyConfig,
        ResourceKind::UserDirectory,
        ResourceKind::ServiceStatus,
    ];

    fn table(self) -> &'static Table {
        use ResourceKind as K;
        match self {
            K::App => &APP,
            K::Stream => &STREAM,
            K::Tag => &TAG,
            K::User => &USER,
            K::ReloadTask => &RELOADTASK,
            K::Task => &TASK,
            K::ExecutionResult => &EXECUTIONRESULT,
            K::ExecutionSession => &EXECUTIONSESSION,
            K::SchemaEvent => &SCHEMAEVENT,
            K::CompositeEvent => &COMPOSITEEVENT,
            K::CustomPropertyDefinition => &CUSTOMPROPERTYDEFINITION,
            K::DataConnection => &DATACONNECTION,
            K::Extension => &EXTENSION,
            K::ContentLibrary => &CONTENTLIBRARY,
            K::SystemRule => &SYSTEMRULE,
            K::VirtualProxyConfig => &VIRTUALPROXYCONFIG,
            K::UserDirectory => &USERDIRECTORY,
            K::ServiceStatus => &SERVICESTATUS,
        }
    }

    /// Command name (`qtool qrs reloadtask`) and path segment (`/qrs/reloadtask`).
    pub fn name(self) -> &'static str {
        self.table().name
    }

    /// Singular label for messages ("reload task").
    pub fn label(self) -> &'static str {
        self.table().label
    }

    /// Field used by `--name` (None when the resource has no name).
    pub fn name_field(self) -> Option<&'static str> {
        self.table().name_field
    }

    pub fn supports(self, op: Op) -> bool {
        self.table().ops & op.bit() != 0
    }

    pub fn template(self, op: Op) -> String {
        format!("/{}{}", self.name(), op.suffix())
    }

    /// The path of a generic operation; `id` for get/update/delete.
    pub fn op_path(self, op: Op, id: Option<&str>) -> Result<QrsPath> {
        let params: Vec<&str> = id.into_iter().collect();
        fill(&self.template(op), &params)
    }

    pub fn table_columns(self, full: bool) -> &'static [Column] {
        let table = self.table();
        if full && !table.full_columns.is_empty() {
            table.full_columns
        } else {
            table.columns
        }
    }

    /// Replace enum integers by their names (for tables).
    pub fn decorate(self, item: &mut Value) {
        decorate(item, self.table().enums);
    }

    /// [`decorate`](Self::decorate) for the value at `path` of an item alone.
    pub(crate) fn decorate_field(self, path: &str, value: &mut Value) {
        blank_never_dates(value);
        if let Some(e) = self.table().enums.iter().find(|e| e.path == path)
            && let Some(n) = value.as_i64()
        {
            *value = Value::String(wire::enum_name(e.names, n));
        }
    }
}

/// Replace enum integers at the given paths by their names, and QRS's "never" date
/// (`1753-01-01T00:00:00.000Z`) by an empty cell.
fn decorate(item: &mut Value, enums: &[EnumField]) {
    blank_never_dates(item);
    for e in enums {
        if let Some(slot) = lookup_mut(item, e.path)
            && let Some(n) = slot.as_i64()
        {
            *slot = Value::String(wire::enum_name(e.names, n));
        }
    }
}

fn blank_never_dates(item: &mut Value) {
    match item {
        Value::String(s) if s == wire::NEVER_DATE => *item = Value::Null,
        Value::Object(map) => map.values_mut().for_each(blank_never_dates),
        Value::Array(items) => items.iter_mut().for_each(blank_never_dates),
        _ => {}
    }
}

fn lookup_mut<'a>(item: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut current = item;
    for part in path.split('.') {
        current = current.as_object_mut()?.get_mut(part)?;
    }
    Some(current)
}

const APP_COLS: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("STREAM", "stream.name"),
    col("PUBLISHED", "published"),
    col("STATUS", "availabilityStatus"),
];
const APP_FULL_COLS: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("STREAM", "stream.name"),
    col("OWNER", "owner.userId"),
    col("LAST RELOAD", "lastReloadTime"),
    col("SIZE", "fileSize"),
    col("TAGS", "tags"),
];
const NAMED: &[Column] = &[col("ID", "id"), col("NAME", "name")];
const STREAM_FULL: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("OWNER", "owner.userId"),
    col("TAGS", "tags"),
];
const USER_COLS: &[Column] = &[
    col("ID", "id"),
    col("DIRECTORY", "userDirectory"),
    col("USERID", "userId"),
    col("NAME", "name"),
];
const USER_FULL: &[Column] = &[
    col("ID", "id"),
    col("DIRECTORY", "userDirectory"),
    col("USERID", "userId"),
    col("NAME", "name"),
    col("ROLES", "roles"),
    col("INACTIVE", "inactive"),
];
const RELOADTASK_COLS: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("ENABLED", "enabled"),
    col("LAST STATUS", "operational.lastExecutionResult.status"),
    col("NEXT", "operational.nextExecution"),
];
const RELOADTASK_FULL: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("APP", "app.name"),
    col("ENABLED", "enabled"),
    col("LAST STATUS", "operational.lastExecutionResult.status"),
    col("NEXT", "operational.nextExecution"),
];
const TASK_COLS: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("TYPE", "taskType"),
    col("ENABLED", "enabled"),
];
const RESULT_COLS: &[Column] = &[
    col("ID", "id"),
    col("STATUS", "status"),
    col("START", "startTime"),
    col("STOP", "stopTime"),
    col("DURATION MS", "duration"),
    col("NODE", "executingNodeName"),
];
const SESSION_COLS: &[Column] = &[
    col("ID", "id"),
    col("TASK", "reloadTask.name"),
    col("STATUS", "executionResult.status"),
    col("ABORT AT", "abortAt"),
];
const EVENT_COLS: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("ENABLED", "enabled"),
    col("TYPE", "eventType"),
    col("NEXT", "operational.nextExecution"),
];
const SCHEMA_FULL: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("ENABLED", "enabled"),
    col("TASK", "reloadTask.name"),
    col("REPEAT", "incrementOption"),
    col("START", "startDate"),
    col("TIMEZONE", "timeZone"),
];
const COMPOSITE_FULL: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("ENABLED", "enabled"),
    col("TASK", "reloadTask.name"),
    col("RULES", "compositeRules"),
];
const CPD_COLS: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("TYPE", "valueType"),
    col("CHOICES", "choiceValues"),
];
const DATACONN_COLS: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("TYPE", "type"),
    col("CONNECTION", "connectionstring"),
];
const TYPED_COLS: &[Column] = &[col("ID", "id"), col("NAME", "name"), col("TYPE", "type")];
const RULE_COLS: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("CATEGORY", "category"),
    col("TYPE", "type"),
    col("DISABLED", "disabled"),
    col("RESOURCE FILTER", "resourceFilter"),
];
const VP_COLS: &[Column] = &[
    col("ID", "id"),
    col("PREFIX", "prefix"),
    col("DESCRIPTION", "description"),
    col("AUTH", "authenticationMethod"),
    col("COOKIE", "sessionCookieHeaderName"),
];
const UD_FULL: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("TYPE", "type"),
    col("DIRECTORY", "userDirectoryName"),
    col("SYNC ONLY LOGGED IN", "syncOnlyLoggedInUsers"),
];
const SERVICE_COLS: &[Column] = &[
    col("NODE", "serverNodeConfiguration.name"),
    col("SERVICE", "serviceType"),
    col("STATE", "serviceState"),
    col("TIMESTAMP", "timestamp"),
];

const STATUS_ENUMS: &[EnumField] = &[
    en("status", wire::TASK_EXECUTION_STATUS),
    en("executionResult.status", wire::TASK_EXECUTION_STATUS),
    en(
        "operational.lastExecutionResult.status",
        wire::TASK_EXECUTION_STATUS,
    ),
    en("taskType", wire::TASK_TYPE),
];
const EVENT_ENUMS: &[EnumField] = &[
    en("eventType", EVENT_TYPE),
    en("incrementOption", wire::INCREMENT_OPTION),
];

const APP: Table = Table {
    name: "app",
    label: "app",
    ops: READ | COUNT | GET | (1 << Op::Update as u8) | (1 << Op::Delete as u8),
    name_field: Some("name"),
    columns: APP_COLS,
    full_columns: APP_FULL_COLS,
    enums: &[en("availabilityStatus", wire::APP_AVAILABILITY_STATUS)],
};

const STREAM: Table = Table {
    name: "stream",
    label: "stream",
    ops: ALL_OPS,
    name_field: Some("name"),
    columns: NAMED,
    full_columns: STREAM_FULL,
    enums: &[],
};

const TAG: Table = Table {
    name: "tag",
    label: "tag",
    ops: ALL_OPS,
    name_field: Some("name"),
    columns: NAMED,
    full_columns: &[],
    enums: &[],
};

const USER: Table = Table {
    name: "user",
    label: "user",
    ops: ALL_OPS,
    name_field: Some("userId"),
    columns: USER_COLS,
    full_columns: USER_FULL,
    enums: &[],
};

const RELOADTASK: Table = Table {
    name: "reloadtask",
    label: "reload task",
    ops: ALL_OPS,
    name_field: Some("name"),
    columns: RELOADTASK_COLS,
    full_columns: RELOADTASK_FULL,
    enums: STATUS_ENUMS,
};

const TASK: Table = Table {
    name: "task",
    label: "task",
    ops: READ,
    name_field: Some("name"),
    columns: TASK_COLS,
    full_columns: &[],
    enums: STATUS_ENUMS,
};

const EXECUTIONRESULT: Table = Table {
    name: "executionresult",
    label: "execution result",
    ops: ALL_OPS,
    name_field: None,
    columns: RESULT_COLS,
    full_columns: &[],
    enums: STATUS_ENUMS,
};

const EXECUTIONSESSION: Table = Table {
    name: "executionsession",
    label: "execution session",
    ops: ALL_OPS,
    name_field: None,
    columns: SESSION_COLS,
    full_columns: &[],
    enums: STATUS_ENUMS,
};

const SCHEMAEVENT: Table = Table {
    name: "schemaevent",
    label: "schema event",
    ops: ALL_OPS,
    name_field: Some("name"),
    columns: EVENT_COLS,
    full_columns: SCHEMA_FULL,
    enums: EVENT_ENUMS,
};

const COMPOSITEEVENT: Table = Table {
    name: "compositeevent",
    label: "composite event",
    ops: ALL_OPS,
    name_field: Some("name"),
    columns: EVENT_COLS,
    full_columns: COMPOSITE_FULL,
    enums: EVENT_ENUMS,
};

const CUSTOMPROPERTYDEFINITION: Table = Table {
    name: "custompropertydefinition",
    label: "custom property definition",
    ops: ALL_OPS,
    name_field: Some("name"),
    columns: CPD_COLS,
    full_columns: &[],
    enums: &[],
};

const DATACONNECTION: Table = Table {
    name: "dataconnection",
    label: "data connection",
    ops: ALL_OPS,
    name_field: Some("name"),
    columns: DATACONN_COLS,
    full_columns: &[],
    enums: &[],
};

const EXTENSION: Table = Table {
    name: "extension",
    label: "extension",
    ops: ALL_OPS,
    name_field: Some("name"),
    columns: NAMED,
    full_columns: &[],
    enums: &[],
};

const CONTENTLIBRARY: Table = Table {
    name: "contentlibrary",
    label: "content library",
    ops: ALL_OPS,
    name_field: Some("name"),
    columns: TYPED_COLS,
    full_columns: &[],
    enums: &[],
};

const SYSTEMRULE: Table = Table {
    name: "systemrule",
    label: "system rule",
    ops: ALL_OPS,
    name_field: Some("name"),
    columns: RULE_COLS,
    full_columns: &[],
    enums: &[],
};

const VIRTUALPROXYCONFIG: Table = Table {
    name: "virtualproxyconfig",
    label: "virtual proxy",
    ops: ALL_OPS,
    name_field: Some("prefix"),
    columns: VP_COLS,
    full_columns: &[],
    enums: &[en("authenticationMethod", wire::AUTHENTICATION_METHOD)],
};

const USERDIRECTORY: Table = Table {
    name: "userdirectory",
    label: "user directory",
    ops: ALL_OPS,
    name_field: Some("name"),
    columns: TYPED_COLS,
    full_columns: UD_FULL,
    enums: &[],
};

const SERVICESTATUS: Table = Table {
    name: "servicestatus",
    label: "service status",
    ops: READ | COUNT | GET,
    name_field: None,
    columns: SERVICE_COLS,
    full_columns: SERVICE_COLS,
    enums: &[
        en("serviceType", wire::SERVICE_TYPE),
        en("serviceState", wire::SERVICE_STATE),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn enums_are_named_for_tables() {
        let r = ResourceKind::ReloadTask;
        let mut v = json!({"taskType": 0, "operational": {"lastExecutionResult": {"status": 8},
            "nextExecution": "1753-01-01T00:00:00.000Z"}});
        r.decorate(&mut v);
        assert!(v["operational"]["nextExecution"].is_null());
        assert_eq!(v["taskType"], "Reload");
        assert_eq!(
            v["operational"]["lastExecutionResult"]["status"],
            "FinishedFail"
        );
    }

    #[test]
    fn every_kind_is_listed_once_and_is_a_qrs_command() {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        let qrs = cli.find_subcommand("qrs").unwrap();
        let mut names = std::collections::HashSet::new();
        for kind in ResourceKind::ALL {
            assert!(names.insert(kind.name()), "{kind:?} listed twice");
            assert!(qrs.find_subcommand(kind.name()).is_some(), "{kind:?}");
        }
    }

    #[test]
    fn op_paths() {
        let r = ResourceKind::App;
        assert!(!r.supports(Op::Create));
        assert!(r.supports(Op::Full));
        assert_eq!(r.template(Op::Get), "/app/{id}");
        assert_eq!(
            r.op_path(Op::Delete, Some("x")).unwrap().segments,
            vec!["app", "x"]
        );
        assert!(!ResourceKind::Task.supports(Op::Get));
    }
}
