//! The QEM facts the emulator serves, written from the Enterprise Manager REST API guide
//! (sections noted): paths, the session header, enum names as they travel (strings), and the
//! documented error codes. The emulator keeps its own copy, apart from the client's, so that the
//! two are checked against the documentation independently.

/// Every REST path is below this (§1).
pub const API_BASE: &str = "/attunityenterprisemanager/api/v1";
/// Login answer header carrying the session id, sent back on every request (§2).
pub const SESSION_HEADER: &str = "EnterpriseManager.APISessionID";
/// Default sliding session lifetime (§2: 5 minutes after the last request).
pub const SESSION_TTL_SECS: u64 = 300;

/// Task states (§6). Clients must accept unknown ones.
pub mod task_state {
    pub const STOPPED: &str = "STOPPED";
    pub const STARTING: &str = "STARTING";
    pub const RUNNING: &str = "RUNNING";
    pub const STOPPING: &str = "STOPPING";
    pub const ERROR: &str = "ERROR";
    pub const RECOVERY: &str = "RECOVERY";
    pub const NOT_EXIST: &str = "NOT_EXIST";
}

/// RunTask `option` values (§5.5).
pub const RUN_OPTIONS: &[&str] = &[
    "RESUME_PROCESSING",
    "RELOAD_TARGET",
    "RESUME_PROCESSING_FROM_TIMESTAMP",
    "METADATA_ONLY_RECREATE_ALL_TABLES",
    "METADATA_ONLY_CREATE_MISSING_TABLES",
    "RECOVER_USING_LOCALLY_STORED_CHECKPOINT",
    "RECOVER_USING_CHECKPOINT_STORED_ON_TARGET",
    "RESUME_PROCESSING_FROM_POSITION",
];

/// Run options that need a `{"cdcposition": ...}` body (§5.5).
pub fn run_option_needs_position(option: &str) -> bool {
    matches!(
        option,
        "RESUME_PROCESSING_FROM_TIMESTAMP"
            | "RESUME_PROCESSING_FROM_POSITION"
            | "RECOVER_USING_CHECKPOINT_STORED_ON_TARGET"
    )
}

/// Server states (§6).
pub const SERVER_STATES: &[&str] = &["NOT_MONITORED", "MONITORED", "ERROR"];
/// Table states (§5.8).
pub const TABLE_STATES: &[&str] = &[
    "TABLE_QUEUED",
    "TABLE_LOADING",
    "TABLE_COMPLETED",
    "TABLE_CHANGE_PROCESSING",
    "TABLE_ERROR",
];

/// Error codes (§3, §5). The body is `{"error_code": CODE, "error_message": TEXT}`.
pub mod code {
    pub const UNAUTHORIZED_REQUEST: &str = "UNAUTHORIZED_REQUEST";
    pub const INVALID_SESSION_ID: &str = "INVALID_SESSION_ID";
    pub const DESERIALIZE_TO_TYPE: &str = "DESERIALIZE_TO_TYPE";
    pub const SERVER_NOT_FOUND: &str = "AEM_SERVER_NOT_FOUND";
    pub const SERVER_HAS_NO_ACL: &str = "AEM_SERVER_HAS_NO_ACL";
    pub const TASK_NOT_FOUND: &str = "AEM_TASK_NOT_FOUND";
    pub const TASK_ALREADY_STOPPED: &str = "AEM_TASK_ALREADY_STOPPED";
    pub const TASK_NOT_STOPPED: &str = "AEM_TASK_NOT_STOPPED";
    pub const STOP_TASK_TIMEOUT: &str = "AEM_STOP_TASK_TIMEOUT";
    pub const ENDPOINT_NOT_FOUND: &str = "AEM_ENDPOINT_NOT_FOUND";
    pub const ENDPOINT_IS_IN_USE: &str = "AEM_ENDPOINT_IS_IN_USE";
    pub const INVALID_TIMESTAMP_FORMAT: &str = "AEM_INVALID_TIMESTAMP_FORMAT";
    pub const SERVER_NOT_MONITORED: &str = "AEM_SERVER_NOT_MONITORED";
    pub const SERVER_NOT_CONNECTED: &str = "AEM_SERVER_NOT_CONNECTED";
    pub const SERVER_LICENSE_EXPIRED: &str = "AEM_SERVER_LICENSE_EXPIRED";
    pub const SRV_LIC_INVALID_FORMAT: &str = "AEM_SRV_LIC_INVALID_FORMAT";
    pub const INVALID_NAME: &str = "AEM_INVALID_NAME";
    pub const INVALID_HOST: &str = "AEM_INVALID_HOST";
    pub const EXPORT_INNER_ERR: &str = "AEM_EXPORT_INNER_ERR";
    pub const RELOAD_TABLE_ERR: &str = "AEM_RELOAD_TABLE_ERR";
    pub const INVALID_TASK_NOT_FL: &str = "AEM_INVALID_TASK_NOT_FL";
    pub const PATCH_ENDPOINT_INNER_ERR: &str = "AEM_PATCH_ENDPOINT_INNER_ERR";
    pub const TABLE_LIST_INNER_ERR: &str = "AEM_TABLE_LIST_INNER_ERR";
    /// Sandbox-only (undocumented): a stale server password placeholder from another session.
    pub const INVALID_PASSWORD: &str = "AEM_INVALID_PASSWORD";
    /// Sandbox-only (undocumented): no API method at this path (HTTP 404).
    pub const RESOURCE_NOT_FOUND: &str = "RESOURCE_NOT_FOUND";
    /// Sandbox-only (undocumented): the path exists but not for this HTTP method (HTTP 405).
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
}

/// Task stop reasons (§6).
pub const STOP_REASONS: &[&str] = &[
    "NONE",
    "NORMAL",
    "RECOVERABLE_ERROR",
    "FATAL_ERROR",
    "FULL_LOAD_ONLY_FINISHED",
    "STOPPED_AFTER_FULL_LOAD",
    "STOPPED_AFTER_CACHED_EVENTS",
    "EXPRESS_LICENSE_LIMITS_REACHED",
    "STOPPED_AFTER_DDL_APPLY",
    "STOPPED_LOW_MEMORY",
    "STOPPED_LOW_DISK_SPACE",
];

/// Endpoint roles (§6).
pub const ENDPOINT_ROLES: &[&str] = &["ALL", "SOURCE", "TARGET", "BOTH"];

/// Server definition `$type` values for PutServer (§5.1).
pub const SERVER_TYPE_REPLICATE: &str = "AemReplicateServer";
pub const SERVER_TYPE_COMPOSE: &str = "AemComposeServer";

/// RunTask/StopTask default `timeout` in seconds when the query omits it (REST doc, §5.5).
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
