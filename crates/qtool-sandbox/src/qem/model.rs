//! The persistent QEM state: servers with their tasks, endpoints, ACL and license, plus the
//! audit trail. This is exactly what `QemState::snapshot()` serializes (sessions are not here).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::qem::spec::task_state;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Store {
    /// The sandbox's `mk.dat`: AES-256 key (hex) for `{Z…}` secrets in exports.
    pub master_key: String,
    pub servers: Vec<Server>,
    #[serde(default)]
    pub audit: Vec<AuditRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ServerKind {
    Replicate,
    Compose,
}

impl ServerKind {
    pub(crate) fn def_type(self) -> &'static str {
        match self {
            ServerKind::Replicate => crate::qem::spec::SERVER_TYPE_REPLICATE,
            ServerKind::Compose => crate::qem::spec::SERVER_TYPE_COMPOSE,
        }
    }
    pub(crate) fn info_type(self) -> &'static str {
        match self {
            ServerKind::Replicate => "ReplicateServerInfo",
            ServerKind::Compose => "ComposeServerInfo",
        }
    }
    pub(crate) fn details_type(self) -> &'static str {
        match self {
            ServerKind::Replicate => "ReplicateServerDetails",
            ServerKind::Compose => "ComposeServerDetails",
        }
    }
    /// `type` field of the 2021 Python client (`ServerType` enum name).
    pub(crate) fn server_type(self) -> &'static str {
        match self {
            ServerKind::Replicate => "REPLICATE",
            ServerKind::Compose => "COMPOSE",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Server {
    pub kind: ServerKind,
    pub name: String,
    pub description: String,
    pub host: String,
    pub port: String,
    pub username: String,
    pub password: String,
    pub verify_server_certificate: bool,
    pub monitored: bool,
    pub platform: String,
    pub version: String,
    pub last_connection: Option<String>,
    pub license: Option<License>,
    pub acl: Option<Acl>,
    /// Extra `cmd.replication_definition` sections brought in by ImportAll (server settings).
    #[serde(default)]
    pub settings: Map<String, Value>,
    pub tasks: Vec<Task>,
    pub endpoints: Vec<Endpoint>,
}

impl Server {
    /// A server the emulator cannot reach: its host ends in `.invalid` (RFC 6761).
    pub(crate) fn unreachable(&self) -> bool {
        self.host.to_ascii_lowercase().ends_with(".invalid")
    }

    pub(crate) fn state(&self) -> &'static str {
        if !self.monitored {
            "NOT_MONITORED"
        } else if self.unreachable() {
            "ERROR"
        } else {
            "MONITORED"
        }
    }

    pub(crate) fn message(&self) -> String {
        if self.monitored && self.unreachable() {
            format!(
                "Cannot connect to server '{}' at {}:{}: host not found",
                self.name, self.host, self.port
            )
        } else {
            String::new()
        }
    }

    pub(crate) fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }
    pub(crate) fn task_mut(&mut self, name: &str) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|t| t.name == name)
    }
    pub(crate) fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name() == name)
    }
    pub(crate) fn endpoint_mut(&mut self, name: &str) -> Option<&mut Endpoint> {
        self.endpoints.iter_mut().find(|e| e.name() == name)
    }

    /// Names of tasks that use endpoint `name` as source or target.
    pub(crate) fn tasks_using(&self, endpoint: &str) -> Vec<String> {
        self.tasks
            .iter()
            .filter(|t| t.endpoint_names().iter().any(|n| n == endpoint))
            .map(|t| t.name.clone())
            .collect()
    }
}

/// A registered license: the raw key=value pairs as uploaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct License {
    pub fields: BTreeMap<String, String>,
}

/// An explicit server ACL (§5.2), normalized.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Acl {
    pub admin_role: Role,
    pub designer_role: Role,
    pub operator_role: Role,
    pub viewer_role: Role,
    pub disable_inheritance: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Role {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Task {
    pub name: String,
    /// One `cmd.replication_definition.tasks[]` entry (`task`, `source`, `targets`,
    /// `task_settings`, …) with `task.name` equal to `name`.
    pub definition: Value,
    pub state: String,
    pub stop_reason: String,
    pub message: String,
    #[serde(default)]
    pub assigned_tags: Vec<String>,
    #[serde(default)]
    pub stats: TaskStats,
    #[serde(default)]
    pub retention_barrier: Option<RetentionBarrier>,
    /// Run epoch: a state-machine timer only acts if the task is still in the epoch it started in.
    #[serde(skip)]
    pub epoch: u64,
    /// The run option of a start in progress (applied when the task reaches RUNNING).
    #[serde(skip)]
    pub pending_option: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct TaskStats {
    /// Unix seconds of the last transition to RUNNING.
    pub started_at: Option<i64>,
    /// Unix seconds when the last full load began (first run or RELOAD_TARGET), if any.
    pub full_load_started_at: Option<i64>,
    /// CDC events applied in earlier runs.
    pub applied_inserts: u64,
    pub applied_updates: u64,
    pub applied_deletes: u64,
    pub applied_ddls: u64,
    /// `schema.table` → unix seconds a table reload was requested.
    #[serde(default)]
    pub table_reloads: BTreeMap<String, i64>,
    /// Change data older than this (ISO timestamp) was deleted.
    #[serde(default)]
    pub change_data_deleted_before: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RetentionBarrier {
    pub application: String,
    pub retention_point: String,
}

impl Task {
    pub(crate) fn new_stopped(name: &str, definition: Value) -> Task {
        Task {
            name: name.to_string(),
            definition,
            state: task_state::STOPPED.to_string(),
            stop_reason: "NONE".to_string(),
            message: String::new(),
            assigned_tags: Vec::new(),
            stats: TaskStats::default(),
            retention_barrier: None,
            epoch: 0,
            pending_option: None,
        }
    }

    pub(crate) fn source_name(&self) -> String {
        self.definition
            .pointer("/task/source_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    pub(crate) fn target_names(&self) -> Vec<String> {
        self.definition
            .pointer("/task/target_names")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn endpoint_names(&self) -> Vec<String> {
        let mut v = vec![self.source_name()];
        v.extend(self.target_names());
        v.retain(|n| !n.is_empty());
        v
    }

    pub(crate) fn description(&self) -> String {
        self.definition
            .pointer("/task/description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    fn common_flag(&self, key: &str, default: bool) -> bool {
        self.definition
            .pointer(&format!("/task_settings/common_settings/{key}"))
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }

    pub(crate) fn full_load_enabled(&self) -> bool {
        self.common_flag("full_load_enabled", true)
    }
    pub(crate) fn apply_changes_enabled(&self) -> bool {
        self.common_flag("apply_changes_enabled", true)
    }
    pub(crate) fn store_changes_enabled(&self) -> bool {
        self.common_flag("save_changes_enabled", false)
    }
    pub(crate) fn audit_changes_enabled(&self) -> bool {
        self.common_flag("audit_changes_enabled", false)
    }

    /// `(schema, table)` of the explicitly included tables.
    pub(crate) fn tables(&self) -> Vec<(String, String)> {
        self.definition
            .pointer("/source/source_tables/explicit_included_tables")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| {
                        Some((
                            t.get("owner")?.as_str()?.to_string(),
                            t.get("name")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.state == task_state::STOPPED || self.state == task_state::ERROR
    }

    pub(crate) fn is_running(&self) -> bool {
        self.state == task_state::RUNNING
    }
}

/// One endpoint: a `databases[]` entry (`name`, `role`, `is_licensed`, `type_id`,
/// `db_settings{$type,…}`, `override_properties`, …) with secrets in plain text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Endpoint {
    pub definition: Map<String, Value>,
}

impl Endpoint {
    fn str_field(&self, key: &str) -> &str {
        self.definition
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    pub(crate) fn name(&self) -> &str {
        self.str_field("name")
    }
    pub(crate) fn role(&self) -> &str {
        self.str_field("role")
    }
    pub(crate) fn type_id(&self) -> &str {
        self.str_field("type_id")
    }
    pub(crate) fn description(&self) -> &str {
        self.str_field("description")
    }
    pub(crate) fn is_licensed(&self) -> bool {
        self.definition
            .get("is_licensed")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }
    /// The GetEndpointList `type` (e.g. `ORACLE` for `ORACLE_COMPONENT_TYPE`).
    pub(crate) fn list_type(&self) -> String {
        let t = self.type_id();
        t.strip_suffix("_COMPONENT_TYPE").unwrap_or(t).to_string()
    }
    /// The host an endpoint connects to, if its settings name one.
    pub(crate) fn host(&self) -> String {
        let Some(settings) = self
            .definition
            .get("db_settings")
            .and_then(Value::as_object)
        else {
            return String::new();
        };
        ["server", "host", "hostname", "brokers", "serverName"]
            .iter()
            .find_map(|k| settings.get(*k).and_then(Value::as_str))
            .unwrap_or_default()
            .to_string()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AuditRecord {
    /// ISO timestamp (UTC, no `Z`).
    pub timestamp: String,
    pub unix: i64,
    pub user: String,
    /// API method name, e.g. `RunTask`.
    pub operation: String,
    pub server: Option<String>,
    pub task: Option<String>,
    pub endpoint: Option<String>,
    pub details: String,
}
