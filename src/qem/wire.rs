//! QEM wire facts the client (`qtool qem`) relies on, from the Enterprise Manager REST API guide
//! (sections noted): paths, the session header, enum names as they travel (strings), and the
//! documented error codes. The sandbox keeps its own copy, so the two are checked independently.

/// Every REST path is below this (§1).
pub(crate) const API_BASE: &str = "/attunityenterprisemanager/api/v1";
/// Login answer header carrying the session id, sent back on every request (§2).
pub(crate) const SESSION_HEADER: &str = "EnterpriseManager.APISessionID";
/// Default sliding session lifetime (§2: 5 minutes after the last request).
pub(crate) const SESSION_TTL_SECS: u64 = 300;

/// Task states (§6). Clients must accept unknown ones.
pub(crate) mod task_state {
    pub(crate) const STOPPED: &str = "STOPPED";
    pub(crate) const STARTING: &str = "STARTING";
    pub(crate) const RUNNING: &str = "RUNNING";
    pub(crate) const STOPPING: &str = "STOPPING";
    pub(crate) const ERROR: &str = "ERROR";
    pub(crate) const RECOVERY: &str = "RECOVERY";
    pub(crate) const NOT_EXIST: &str = "NOT_EXIST";
}

/// RunTask `option` values (§5.5).
pub(crate) const RUN_OPTIONS: &[&str] = &[
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
pub(crate) fn run_option_needs_position(option: &str) -> bool {
    matches!(
        option,
        "RESUME_PROCESSING_FROM_TIMESTAMP"
            | "RESUME_PROCESSING_FROM_POSITION"
            | "RECOVER_USING_CHECKPOINT_STORED_ON_TARGET"
    )
}

/// Error codes (§3, §5). The body is `{"error_code": CODE, "error_message": TEXT}`.
pub(crate) mod code {
    pub(crate) const UNAUTHORIZED_REQUEST: &str = "UNAUTHORIZED_REQUEST";
    pub(crate) const INVALID_SESSION_ID: &str = "INVALID_SESSION_ID";
    pub(crate) const DESERIALIZE_TO_TYPE: &str = "DESERIALIZE_TO_TYPE";
    pub(crate) const SERVER_NOT_FOUND: &str = "AEM_SERVER_NOT_FOUND";
    pub(crate) const SERVER_HAS_NO_ACL: &str = "AEM_SERVER_HAS_NO_ACL";
    pub(crate) const TASK_NOT_FOUND: &str = "AEM_TASK_NOT_FOUND";
    pub(crate) const TASK_ALREADY_STOPPED: &str = "AEM_TASK_ALREADY_STOPPED";
    pub(crate) const TASK_NOT_STOPPED: &str = "AEM_TASK_NOT_STOPPED";
    pub(crate) const STOP_TASK_TIMEOUT: &str = "AEM_STOP_TASK_TIMEOUT";
    pub(crate) const ENDPOINT_NOT_FOUND: &str = "AEM_ENDPOINT_NOT_FOUND";
    pub(crate) const ENDPOINT_IS_IN_USE: &str = "AEM_ENDPOINT_IS_IN_USE";
    pub(crate) const INVALID_TIMESTAMP_FORMAT: &str = "AEM_INVALID_TIMESTAMP_FORMAT";
}

/// Server definition `$type` values for PutServer (§5.1).
pub(crate) const SERVER_TYPE_REPLICATE: &str = "AemReplicateServer";
pub(crate) const SERVER_TYPE_COMPOSE: &str = "AemComposeServer";
