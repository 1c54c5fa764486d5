//! QRS wire facts the client (`qtool qrs`) relies on: enum values as the QRS OpenAPI definition
//! lists them (`x-enumNames`), header and query names, fixed messages. The sandbox keeps its own
//! copy, so the two are checked against the specification independently.

/// Header and query parameter carrying the anti-CSRF key; both must hold the same 16 characters.
pub(crate) const XRFKEY_HEADER: &str = "X-Qlik-Xrfkey";
pub(crate) const XRFKEY_QUERY: &str = "xrfkey";
/// Certificate authentication: which user the request runs as.
pub(crate) const QLIK_USER_HEADER: &str = "X-Qlik-User";
/// Content type of a QVF upload body.
pub(crate) const APP_CONTENT_TYPE: &str = "application/vnd.qlik.sense.app";
/// "Never" in QRS dates (e.g. `publishTime` of an unpublished app).
pub(crate) const NEVER_DATE: &str = "1753-01-01T00:00:00.000Z";
/// Unset GUID references.
pub(crate) const EMPTY_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// `TaskExecutionStatus` (ExecutionResult.status, operational.lastExecutionResult.status).
pub(crate) const TASK_EXECUTION_STATUS: &[&str] = &[
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

pub(crate) mod task_status {
    pub(crate) const FINISHED_SUCCESS: i64 = 7;

    /// True once a task execution has ended (successfully or not).
    pub(crate) fn is_final(status: i64) -> bool {
        matches!(status, 6 | 7 | 8 | 9 | 11 | 12)
    }
}

/// `AppAvailabilityStatus`.
pub(crate) const APP_AVAILABILITY_STATUS: &[&str] = &[
    "NotApplicable",
    "Available",
    "NoActiveRoute",
    "NoConfiguredRoute",
    "NotSynced",
    "NotMigrated",
];

/// `TaskType` of ReloadTask/Task.
pub(crate) const TASK_TYPE: &[&str] = &["Reload", "ExternalProgram", "UserSync", "Distribute"];

/// `ExecutionResultDetail.detailsType`.
pub(crate) const DETAILS_TYPE: &[&str] = &["Error", "Warning", "Information"];

/// SchemaEvent `incrementOption`.
pub(crate) const INCREMENT_OPTION: &[&str] =
    &["once", "hourly", "daily", "weekly", "monthly", "custom"];

/// ServiceStatus `serviceType` and `serviceState`.
pub(crate) const SERVICE_TYPE: &[&str] = &[
    "Repository",
    "Proxy",
    "Scheduler",
    "Engine",
    "AppMigration",
    "Printing",
];
pub(crate) const SERVICE_STATE: &[&str] = &[
    "Initializing",
    "CertificatesNotInstalled",
    "Running",
    "NoCommunication",
    "Disabled",
    "Unknown",
];

/// VirtualProxyConfig `authenticationMethod`.
pub(crate) const AUTHENTICATION_METHOD: &[&str] = &[
    "Ticket",
    "HeaderStaticUserDirectory",
    "HeaderDynamicUserDirectory",
    "SAML",
    "JWT",
    "OIDC",
];

pub(crate) mod auth_method {}

/// Name of an enum value, or the number itself when it is out of range.
pub(crate) fn enum_name(names: &[&str], value: i64) -> String {
    usize::try_from(value)
        .ok()
        .and_then(|i| names.get(i))
        .map_or_else(|| value.to_string(), |s| (*s).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_round_trip() {
        assert_eq!(enum_name(TASK_EXECUTION_STATUS, 7), "FinishedSuccess");
        assert_eq!(enum_name(TASK_EXECUTION_STATUS, 99), "99");
        assert!(task_status::is_final(task_status::FINISHED_SUCCESS));
        assert!(task_status::is_final(8), "FinishedFail");
        assert!(!task_status::is_final(2), "Started");
    }
}
