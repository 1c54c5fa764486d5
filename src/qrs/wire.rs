//! QRS wire facts the client (`qtool qrs`) relies on: enum values as the QRS OpenAPI definition
//! lists them (`x-enumNames`), header and query names, fixed messages. The sandbox keeps its own
//! copy, so the two are checked against the specification independently.

/// Header and query parameter carrying the anti-CSRF key; both must hold the same 16 characters.
pub const XRFKEY_HEADER: &str = "X-Qlik-Xrfkey";
pub const XRFKEY_QUERY: &str = "xrfkey";
/// Body of the 403 QRS returns when the Xrfkey is missing or differs between query and header.
pub const XSRF_FAILED: &str = "XSRF prevention check failed. Possible XSRF discovered.";
/// Certificate authentication: which user the request runs as.
pub const QLIK_USER_HEADER: &str = "X-Qlik-User";
/// Content type of a QVF upload body.
pub const APP_CONTENT_TYPE: &str = "application/vnd.qlik.sense.app";
/// "Never" in QRS dates (e.g. `publishTime` of an unpublished app).
pub const NEVER_DATE: &str = "1753-01-01T00:00:00.000Z";
/// Field wrapping scalar answers: `GET /qrs/{type}/count` → `{"value": 12}` and
/// `POST /qrs/task/{id}/start/synchronous` → `{"value": "<execution session id>"}`. The spec
/// documents bare values; real QRS wraps them (clients read `.value`), and so does the sandbox.
pub const VALUE_FIELD: &str = "value";
/// Unset GUID references.
pub const EMPTY_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// `TaskExecutionStatus` (ExecutionResult.status, operational.lastExecutionResult.status).
pub const TASK_EXECUTION_STATUS: &[&str] = &[
    "NeverStarted",
    "Triggered",
    "Started",
    "Queued",
    "AbortInitiated",
    "Aborting",
    "Aborted",
    "FinishedSuccess",
    "FinishedFail",
    "Skipped",
    "Retry",
    "Error",
    "Reset",
    "DistributionQueue",
    "DistributionRunning",
];

pub mod task_status {
    pub const NEVER_STARTED: i64 = 0;
    pub const TRIGGERED: i64 = 1;
    pub const STARTED: i64 = 2;
    pub const QUEUED: i64 = 3;
    pub const ABORTED: i64 = 6;
    pub const FINISHED_SUCCESS: i64 = 7;
    pub const FINISHED_FAIL: i64 = 8;
    pub const SKIPPED: i64 = 9;
    pub const ERROR: i64 = 11;

    /// True once a task execution has ended (successfully or not).
    pub fn is_final(status: i64) -> bool {
        matches!(status, 6 | 7 | 8 | 9 | 11 | 12)
    }
}

/// `AppAvailabilityStatus`.
pub const APP_AVAILABILITY_STATUS: &[&str] = &[
    "NotApplicable",
    "Available",
    "NoActiveRoute",
    "NoConfiguredRoute",
    "NotSynced",
    "NotMigrated",
];

/// `TaskType` of ReloadTask/Task.
pub const TASK_TYPE: &[&str] = &["Reload", "ExternalProgram", "UserSync", "Distribute"];

/// `ExecutionResultDetail.detailsType`.
pub const DETAILS_TYPE: &[&str] = &["Error", "Warning", "Information"];

/// SchemaEvent `incrementOption`.
pub const INCREMENT_OPTION: &[&str] = &["once", "hourly", "daily", "weekly", "monthly", "custom"];

/// ServiceStatus `serviceType` and `serviceState`.
pub const SERVICE_TYPE: &[&str] = &[
    "Repository",
    "Proxy",
    "Scheduler",
    "Engine",
    "AppMigration",
    "Printing",
];
pub const SERVICE_STATE: &[&str] = &[
    "Initializing",
    "CertificatesNotInstalled",
    "Running",
    "NoCommunication",
    "Disabled",
    "Unknown",
];

/// VirtualProxyConfig `authenticationMethod`.
pub const AUTHENTICATION_METHOD: &[&str] = &[
    "Ticket",
    "HeaderStaticUserDirectory",
    "HeaderDynamicUserDirectory",
    "SAML",
    "JWT",
    "OIDC",
];

pub mod auth_method {
    /// Ticket: Windows authentication, or the forms login page for non-Windows user agents.
    pub const TICKET: i64 = 0;
    pub const JWT: i64 = 4;
}

/// SchemaEvent/CompositeEvent `eventType`.
pub const EVENT_TYPE: &[&str] = &["Schema", "Composite"];
/// CompositeEventRule `ruleState`.
pub const RULE_STATE: &[&str] = &["Undefined", "TaskSuccessful", "TaskFail"];
/// ExecutionSession `abortReason`.
pub const ABORT_REASON: &[&str] = &["Undefined", "Manual", "Timeout", "DeletedTask"];
/// SchemaEvent `daylightSavingTime`.
pub const DAYLIGHT_SAVING_TIME: &[&str] = &[
    "ObserveDaylightSavingTime",
    "PermanentStandardTime",
    "PermanentDaylightSavingTime",
];
/// About `nodeType`.
pub const NODE_TYPE: &[&str] = &["Undefined", "Central", "Rim"];
/// DataConnection `logOn`.
pub const LOG_ON: &[&str] = &["LOG_ON_SERVICE_USER", "LOG_ON_CURRENT_USER"];
/// DataConnection `architecture`.
pub const ARCHITECTURE: &[&str] = &["Undefined", "x86", "x64"];
/// SystemRule `ruleContext`.
pub const RULE_CONTEXT: &[&str] = &["BothQlikSenseAndQMC", "QlikSenseOnly", "QMCOnly"];
/// UserDirectory `syncStatus`.
pub const SYNC_STATUS: &[&str] = &["Idle", "ExternalFetch", "DBStore"];
/// UserDirectory `creationType`.
pub const CREATION_TYPE: &[&str] = &["Installed", "Added"];

/// One enum as `GET /qrs/about/api/enums` describes it: its name, value names (index = value)
/// and the `Type.property` usages.
pub struct EnumInfo {
    pub name: &'static str,
    pub values: &'static [&'static str],
    pub usages: &'static [&'static str],
}

/// The enums the tool knows, with where they are used (`Type.property`, as the spec names them).
pub const ENUMS: &[EnumInfo] = &[
    EnumInfo {
        name: "TaskExecutionStatus",
        values: TASK_EXECUTION_STATUS,
        usages: &["ExecutionResult.status", "ExecutionResultCondensed.status"],
    },
    EnumInfo {
        name: "AppAvailabilityStatus",
        values: APP_AVAILABILITY_STATUS,
        usages: &["App.availabilityStatus", "AppCondensed.availabilityStatus"],
    },
    EnumInfo {
        name: "TaskType",
        values: TASK_TYPE,
        usages: &["ReloadTask.taskType", "Task.taskType"],
    },
    EnumInfo {
        name: "ExecutionResultDetailType",
        values: DETAILS_TYPE,
        usages: &["ExecutionResultDetail.detailsType"],
    },
    EnumInfo {
        name: "IncrementOption",
        values: INCREMENT_OPTION,
        usages: &["SchemaEvent.incrementOption"],
    },
    EnumInfo {
        name: "EventType",
        values: EVENT_TYPE,
        usages: &["SchemaEvent.eventType", "CompositeEvent.eventType"],
    },
    EnumInfo {
        name: "RuleState",
        values: RULE_STATE,
        usages: &["CompositeEventRule.ruleState"],
    },
    EnumInfo {
        name: "AbortReason",
        values: ABORT_REASON,
        usages: &["ExecutionSession.abortReason"],
    },
    EnumInfo {
        name: "DaylightSavingTime",
        values: DAYLIGHT_SAVING_TIME,
        usages: &["SchemaEvent.daylightSavingTime"],
    },
    EnumInfo {
        name: "ServiceType",
        values: SERVICE_TYPE,
        usages: &["ServiceStatus.serviceType"],
    },
    EnumInfo {
        name: "ServiceState",
        values: SERVICE_STATE,
        usages: &["ServiceStatus.serviceState"],
    },
    EnumInfo {
        name: "AuthenticationMethod",
        values: AUTHENTICATION_METHOD,
        usages: &["VirtualProxyConfig.authenticationMethod"],
    },
    EnumInfo {
        name: "NodeType",
        values: NODE_TYPE,
        usages: &["About.nodeType"],
    },
    EnumInfo {
        name: "LogOn",
        values: LOG_ON,
        usages: &["DataConnection.logOn"],
    },
    EnumInfo {
        name: "Architecture",
        values: ARCHITECTURE,
        usages: &["DataConnection.architecture"],
    },
    EnumInfo {
        name: "RuleContext",
        values: RULE_CONTEXT,
        usages: &["SystemRule.ruleContext"],
    },
    EnumInfo {
        name: "SyncStatus",
        values: SYNC_STATUS,
        usages: &["UserDirectory.syncStatus"],
    },
    EnumInfo {
        name: "CreationType",
        values: CREATION_TYPE,
        usages: &["UserDirectory.creationType"],
    },
];

/// The enum used by a property (matched on the property name, case-insensitive), for filters
/// like `status eq FinishedFail`.
pub fn enum_for_property(property: &str) -> Option<&'static EnumInfo> {
    ENUMS.iter().find(|e| {
        e.usages.iter().any(|u| {
            u.rsplit_once('.')
                .is_some_and(|(_, p)| p.eq_ignore_ascii_case(property))
        })
    })
}

/// Name of an enum value, or the number itself when it is out of range.
pub fn enum_name(names: &[&str], value: i64) -> String {
    usize::try_from(value)
        .ok()
        .and_then(|i| names.get(i))
        .map_or_else(|| value.to_string(), |s| (*s).to_string())
}

/// Value of an enum name (case-insensitive), for filters like `status eq FinishedFail`.
pub fn enum_value(names: &[&str], name: &str) -> Option<i64> {
    names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .and_then(|i| i64::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_round_trip() {
        assert_eq!(enum_name(TASK_EXECUTION_STATUS, 7), "FinishedSuccess");
        assert_eq!(enum_name(TASK_EXECUTION_STATUS, 99), "99");
        assert_eq!(enum_value(TASK_EXECUTION_STATUS, "finishedfail"), Some(8));
        assert!(task_status::is_final(task_status::FINISHED_FAIL));
        assert!(!task_status::is_final(task_status::STARTED));
    }
}
