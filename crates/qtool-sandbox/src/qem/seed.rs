//! A fresh QEM: one monitored Replicate server with `seed_tasks` tasks whose definitions follow
//! the Replicate export format (§9) and whose endpoints are realistic sources and targets.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::model::{Endpoint, License, Server, ServerKind, Store, Task, TaskStats};
use super::util::{self, random_bytes};
use crate::qem::spec::task_state;

pub const SEED_SERVER: &str = "Sandbox Replicate";
pub(super) const SEED_HOST: &str = "replicate.sandbox.local";
pub(super) const REPLICATE_VERSION: &str = "2024.11.0.177";

struct TaskTemplate {
    name: &'static str,
    source: &'static str,
    target: &'static str,
    tables: &'static [(&'static str, &'static str)],
    store_changes: bool,
}

const TEMPLATES: &[TaskTemplate] = &[
    TaskTemplate {
        name: "Sales to Kafka",
        source: "Oracle Sales",
        target: "Kafka Events",
        tables: &[
            ("SALES", "ORDERS"),
            ("SALES", "ORDER_LINES"),
            ("SALES", "CUSTOMERS"),
            ("SALES", "PRODUCTS"),
        ],
        store_changes: false,
    },
    TaskTemplate {
        name: "hr_employees_to_snowflake",
        source: "SQL Server HR",
        target: "Snowflake DW",
        tables: &[
            ("dbo", "employees"),
            ("dbo", "departments"),
            ("dbo", "salaries"),
        ],
        store_changes: true,
    },
    TaskTemplate {
        name: "Inventory to Kafka",
        source: "PostgreSQL Inventory",
        target: "Kafka Events",
        tables: &[
            ("public", "stock_levels"),
            ("public", "warehouses"),
            ("public", "shipments"),
        ],
        store_changes: false,
    },
    TaskTemplate {
        name: "orders_archive",
        source: "Oracle Sales",
        target: "File Archive",
        tables: &[("SALES", "ORDERS"), ("SALES", "ORDER_LINES")],
        store_changes: false,
    },
];

/// A realistic `databases[]` entry for one of the seed endpoint names.
pub(super) fn endpoint_definition(name: &str) -> Option<Map<String, Value>> {
    let (role, type_id, settings) = match name {
        "Oracle Sales" => (
            "SOURCE",
            "ORACLE_COMPONENT_TYPE",
            json!({"$type": "OracleSettings", "username": "REPL_CDC",
                   "password": "Oracle-Sandbox-1", "server": "//ora-sales.sandbox.local:1521/SALES",
                   "useLogminerReader": true, "accessAlternateDirectly": false}),
        ),
        "SQL Server HR" => (
            "SOURCE",
            "SQL_SERVER_COMPONENT_TYPE",
            json!({"$type": "SqlserverSettings", "server": "mssql-hr.sandbox.local",
                   "database": "HR", "username": "replicate", "password": "MsSql-Sandbox-1",
                   "safeguardPolicy": "EXCLUSIVE_AUTOMATIC_TRUNCATION"}),
        ),
        "PostgreSQL Inventory" => (
            "SOURCE",
            "POSTGRESQL_COMPONENT_TYPE",
            json!({"$type": "PostgresqlsourceSettings", "host": "pg-inventory.sandbox.local",
                   "port": 5432, "database": "inventory", "username": "replicate",
                   "password": "Pg-Sandbox-1", "slotName": "qlik_replicate"}),
        ),
        "Kafka Events" => (
            "TARGET",
            "KAFKA_COMPONENT_TYPE",
            json!({"$type": "KafkaSettings", "brokers": "kafka-1.sandbox.local:9092,kafka-2.sandbox.local:9092",
                   "topic": "replicate.cdc", "messageFormat": "JSON",
                   "saslUsername": "replicate", "saslPassword": "Kafka-Sandbox-1"}),
        ),
        "Snowflake DW" => (
            "TARGET",
            "SNOWFLAKE_COMPONENT_TYPE",
            json!({"$type": "SnowflakeSettings", "server": "sandbox.eu-west-1.snowflakecomputing.com",
                   "username": "REPLICATE_SVC", "password": "Snow-Sandbox-1",
                   "database": "HR_DW", "warehouse": "LOAD_WH"}),
        ),
        "File Archive" => (
            "TARGET",
            "FILE_COMPONENT_TYPE",
            json!({"$type": "FileSettings", "path": "/data/replicate/archive", "delimiter": ",",
                   "maxFileSize": 32000}),
        ),
        _ => return None,
    };
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("role".into(), json!(role));
    m.insert("is_licensed".into(), json!(true));
    m.insert("type_id".into(), json!(type_id));
    m.insert("db_settings".into(), settings);
    m.insert("override_properties".into(), json!({}));
    Some(m)
}

/// A task definition (one `tasks[]` entry) in the Replicate export shape.
pub(super) fn task_definition(
    name: &str,
    source: &str,
    target: &str,
    tables: &[(&str, &str)],
    store_changes: bool,
) -> Value {
    let tables: Vec<Value> = tables
        .iter()
        .map(|(owner, table)| {
            json!({"owner": owner, "name": table, "validation_sampling_percentage": 0})
        })
        .collect();
    let mut common = json!({
        "change_table_settings": {"header_columns_settings": {}},
        "audit_table_settings": {},
        "dr_settings": {},
        "statistics_table_settings": {},
        "bidi_table_settings": {},
        "task_uuid": uuid::Uuid::new_v4().to_string(),
        "status_table_settings": {},
        "suspended_tables_table_settings": {},
        "history_table_settings": {},
        "exception_table_settings": {},
        "recovery_table_settings": {},
        "data_batching_settings": {},
        "data_batching_table_settings": {},
        "log_stream_settings_depricated": {},
        "ddl_history_table_settings": {},
        "customized_charset_settings": {"validation": {"sub_char": 0}}
    });
    if store_changes && let Some(obj) = common.as_object_mut() {
        obj.insert("save_changes_enabled".into(), json!(true));
    }
    json!({
        "task": {"name": name, "source_name": source, "target_names": [target]},
        "source": {
            "rep_source": {"source_name": source, "database_name": source},
            "source_tables": {"name": source, "explicit_included_tables": tables}
        },
        "targets": [{"rep_target": {"target_name": target, "target_state": "DISABLED", "database_name": target}}],
        "task_settings": {
            "source_settings": {},
            "target_settings": {
                "queue_settings": {"message_shape": {}, "key_shape": {}},
                "ftm_settings": {},
                "artifacts_cleanup_enabled": false
            },
            "sorter_settings": {"local_transactions_storage": {}},
            "common_settings": common
        },
        "loggers": {"$type": "RepTaskLoggers", "loggers_configuration": {}}
    })
}

pub(super) fn seed_license(now: time::OffsetDateTime) -> License {
    let issue = now.date();
    let expiry = issue.saturating_add(time::Duration::days(365));
    let fmt = |d: time::Date| d.format(util::DATE).unwrap_or_default();
    let fields: BTreeMap<String, String> = [
        ("license_type", "Evaluation".to_string()),
        ("licensed_to", "Sandbox".to_string()),
        ("licensed_by", "Qlik".to_string()),
        ("serial_no", "SBX-0001".to_string()),
        ("issue_date", fmt(issue)),
        ("expiration_date", fmt(expiry)),
        ("hosts", SEED_HOST.to_string()),
        ("source_types", "Oracle,SQL Server,PostgreSQL".to_string()),
        ("target_types", "Kafka,Snowflake,File".to_string()),
        ("features", "all".to_string()),
        ("version", "2024.11".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    License { fields }
}

pub(super) fn seed_store(seed_tasks: usize) -> Store {
    let now = util::now();
    let mut server = Server {
        kind: ServerKind::Replicate,
        name: SEED_SERVER.to_string(),
        description: "Replicate server of the qtool sandbox".to_string(),
        host: SEED_HOST.to_string(),
        port: "3552".to_string(),
        username: "SANDBOX\\svc_replicate".to_string(),
        password: util::session_id(),
        verify_server_certificate: false,
        monitored: true,
        platform: "LINUX".to_string(),
        version: REPLICATE_VERSION.to_string(),
        last_connection: Some(util::iso(now)),
        license: Some(seed_license(now)),
        acl: None,
        settings: Map::new(),
        tasks: Vec::new(),
        endpoints: Vec::new(),
    };
    for i in 0..seed_tasks {
        let t = &TEMPLATES[i % TEMPLATES.len()];
        let round = i / TEMPLATES.len();
        let name = if round == 0 {
            t.name.to_string()
        } else {
            format!("{} {}", t.name, round + 1)
        };
        for ep in [t.source, t.target] {
            if server.endpoint(ep).is_none()
                && let Some(def) = endpoint_definition(ep)
            {
                server.endpoints.push(Endpoint { definition: def });
            }
        }
        let def = task_definition(&name, t.source, t.target, t.tables, t.store_changes);
        let mut task = Task::new_stopped(&name, def);
        task.assigned_tags = match i % 3 {
            0 => vec!["prod".to_string()],
            1 => vec!["prod".to_string(), "hr".to_string()],
            _ => Vec::new(),
        };
        if i == 0 {
            // The first task has been replicating for an hour: realistic counters from the start.
            let started = now.unix_timestamp() - 3600;
            task.state = task_state::RUNNING.to_string();
            task.stats = TaskStats {
                started_at: Some(started),
                full_load_started_at: Some(started),
                ..TaskStats::default()
            };
        }
        server.tasks.push(task);
    }
    Store {
        master_key: hex(&random_bytes::<32>()),
        servers: vec![server],
        audit: Vec::new(),
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn unhex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
