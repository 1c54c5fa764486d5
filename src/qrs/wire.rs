//! QRS wire facts shared by the client (`qtool qrs`) and the sandbox's emulator: enum values as
//! the QRS OpenAPI definition lists them (`x-enumNames`), header and query names, fixed messages.

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
