//! Wire facts of the Qlik associative engine (QIX), written from the vendored enigma.js schema
//! (`spec/qix-engine-api.enigma-12.2027.0.json`: enums `LocalizedErrorCode`, `SessionState`,
//! `LocalizedMessageCode`) and the short error texts Qlik publishes (qlik.dev "qix errors", and
//! the engine's message list collected in countnazgul/qlik-internal-codes). The emulator owns
//! these; nothing is shared with the qtool client.

/// The engine API version the emulator follows: the vendored schema's.
pub const ENGINE_VERSION: &str = "12.2027.0";
/// `Global.QTProduct` on a Qlik Sense Enterprise on Windows node.
pub const PRODUCT_NAME: &str = "Qlik Sense";
/// `Global.OSName` on a QSEoW node.
pub const OS_NAME: &str = "windows";
/// The handle of the Global object (not JSON-RPC: Qlik's own request member).
pub const GLOBAL_HANDLE: i64 = -1;
/// The handle an opened document gets (every session opens at most one).
pub const DOC_HANDLE: i64 = 1;

/// `SessionState` values as the `OnConnected` notification sends them (by name).
pub mod session_state {
    pub const CREATED: &str = "SESSION_CREATED";
    pub const ATTACHED: &str = "SESSION_ATTACHED";
}

/// An engine error: `{"code", "parameter", "message"}` in a JSON-RPC error member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QixError {
    pub code: i64,
    pub parameter: String,
    pub message: &'static str,
}

impl QixError {
    pub fn new(code: ErrorCode, parameter: impl Into<String>) -> QixError {
        QixError {
            code: code.number(),
            parameter: parameter.into(),
            message: code.message(),
        }
    }
}

/// The `LocalizedErrorCode` members (and JSON-RPC protocol codes) the emulator answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    ParseError,
    InvalidRequest,
    MethodNotFound,
    InvalidParams,
    /// LOCERR_GENERIC_NOT_FOUND
    NotFound,
    /// LOCERR_GENERIC_ALREADY_EXISTS
    AlreadyExists,
    /// LOCERR_GENERIC_INVALID_PARAMETERS
    InvalidParameters,
    /// LOCERR_GENERIC_ABORTED
    Aborted,
    /// LOCERR_GENERIC_NOT_IMPLEMENTED
    NotImplemented,
    /// LOCERR_APP_ALREADY_EXISTS
    AppAlreadyExists,
    /// LOCERR_APP_INVALID_NAME
    AppInvalidName,
    /// LOCERR_APP_ALREADY_OPEN
    AppAlreadyOpen,
    /// LOCERR_APP_NOT_FOUND
    AppNotFound,
    /// LOCERR_APP_SAVE_FAILED
    AppSaveFailed,
    /// LOCERR_APP_CREATE_FAILED
    AppCreateFailed,
    /// LOCERR_APP_INVALID
    AppInvalid,
    /// LOCERR_APP_ALREADY_OPEN_IN_DIFFERENT_MODE
    AppOpenInDifferentMode,
    /// LOCERR_CONNECTION_ALREADY_EXISTS
    ConnectionAlreadyExists,
    /// LOCERR_CONNECTION_NOT_FOUND
    ConnectionNotFound,
    /// LOCERR_CONNECTION_NAME_IS_INVALID
    ConnectionNameInvalid,
    /// LOCERR_PERSISTENCE_NOT_SUPPORTED_FOR_SESSION_APP
    NotForSessionApp,
    /// LOCERR_RELOAD_IN_PROGRESS
    ReloadInProgress,
    /// LOCERR_VARIABLE_NO_NAME
    VariableNoName,
    /// LOCERR_VARIABLE_DUPLICATE_NAME
    VariableDuplicateName,
}

impl ErrorCode {
    pub fn number(self) -> i64 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::NotFound => 2,
            ErrorCode::AlreadyExists => 3,
            ErrorCode::InvalidParameters => 8,
            ErrorCode::Aborted => 15,
            ErrorCode::NotImplemented => 20,
            ErrorCode::AppAlreadyExists => 1000,
            ErrorCode::AppInvalidName => 1001,
            ErrorCode::AppAlreadyOpen => 1002,
            ErrorCode::AppNotFound => 1003,
            ErrorCode::AppSaveFailed => 1005,
            ErrorCode::AppCreateFailed => 1006,
            ErrorCode::AppInvalid => 1007,
            ErrorCode::AppOpenInDifferentMode => 1009,
            ErrorCode::ConnectionAlreadyExists => 2000,
            ErrorCode::ConnectionNotFound => 2001,
            ErrorCode::ConnectionNameInvalid => 2004,
            ErrorCode::NotForSessionApp => 9009,
            ErrorCode::ReloadInProgress => 11000,
            ErrorCode::VariableNoName => 18000,
            ErrorCode::VariableDuplicateName => 18001,
        }
    }

    /// The schema's enum member name (JSON-RPC protocol codes have none).
    pub fn enum_name(self) -> Option<&'static str> {
        Some(match self {
            ErrorCode::ParseError
            | ErrorCode::InvalidRequest
            | ErrorCode::MethodNotFound
            | ErrorCode::InvalidParams => return None,
            ErrorCode::NotFound => "LOCERR_GENERIC_NOT_FOUND",
            ErrorCode::AlreadyExists => "LOCERR_GENERIC_ALREADY_EXISTS",
            ErrorCode::InvalidParameters => "LOCERR_GENERIC_INVALID_PARAMETERS",
            ErrorCode::Aborted => "LOCERR_GENERIC_ABORTED",
            ErrorCode::NotImplemented => "LOCERR_GENERIC_NOT_IMPLEMENTED",
            ErrorCode::AppAlreadyExists => "LOCERR_APP_ALREADY_EXISTS",
            ErrorCode::AppInvalidName => "LOCERR_APP_INVALID_NAME",
            ErrorCode::AppAlreadyOpen => "LOCERR_APP_ALREADY_OPEN",
            ErrorCode::AppNotFound => "LOCERR_APP_NOT_FOUND",
            ErrorCode::AppSaveFailed => "LOCERR_APP_SAVE_FAILED",
            ErrorCode::AppCreateFailed => "LOCERR_APP_CREATE_FAILED",
            ErrorCode::AppInvalid => "LOCERR_APP_INVALID",
            ErrorCode::AppOpenInDifferentMode => "LOCERR_APP_ALREADY_OPEN_IN_DIFFERENT_MODE",
            ErrorCode::ConnectionAlreadyExists => "LOCERR_CONNECTION_ALREADY_EXISTS",
            ErrorCode::ConnectionNotFound => "LOCERR_CONNECTION_NOT_FOUND",
            ErrorCode::ConnectionNameInvalid => "LOCERR_CONNECTION_NAME_IS_INVALID",
            ErrorCode::NotForSessionApp => "LOCERR_PERSISTENCE_NOT_SUPPORTED_FOR_SESSION_APP",
            ErrorCode::ReloadInProgress => "LOCERR_RELOAD_IN_PROGRESS",
            ErrorCode::VariableNoName => "LOCERR_VARIABLE_NO_NAME",
            ErrorCode::VariableDuplicateName => "LOCERR_VARIABLE_DUPLICATE_NAME",
        })
    }

    /// The engine's short message for the code (the `message` member).
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "JSON parse error",
            ErrorCode::InvalidRequest => "Invalid JSON request",
            ErrorCode::MethodNotFound => "Method does not exist",
            ErrorCode::InvalidParams => "Invalid method parameter(s)",
            ErrorCode::NotFound => "Resource not found",
            ErrorCode::AlreadyExists => "Resource already exists",
            ErrorCode::InvalidParameters => "Invalid parameters",
            ErrorCode::Aborted => "Request aborted",
            ErrorCode::NotImplemented => "Not implemented",
            ErrorCode::AppAlreadyExists => "App already exists",
            ErrorCode::AppInvalidName => "Invalid app name",
            ErrorCode::AppAlreadyOpen => "App already open",
            ErrorCode::AppNotFound => "App not found",
            ErrorCode::AppSaveFailed => "App save failed",
            ErrorCode::AppCreateFailed => "App creation failed",
            ErrorCode::AppInvalid => "App invalid",
            ErrorCode::AppOpenInDifferentMode => "App already open in different mode",
            ErrorCode::ConnectionAlreadyExists => "Connection already exists",
            ErrorCode::ConnectionNotFound => "Connection not found",
            ErrorCode::ConnectionNameInvalid => {
                "Connection name is invalid. Should be 1-256 characters and not contain <>:\"/|?*"
            }
            ErrorCode::NotForSessionApp => "Not supported for session apps",
            ErrorCode::ReloadInProgress => "Reload in progress",
            ErrorCode::VariableNoName => "Variable must have a name",
            ErrorCode::VariableDuplicateName => "Variable already exists",
        }
    }

    /// Every code, for the schema test.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::ParseError,
        ErrorCode::InvalidRequest,
        ErrorCode::MethodNotFound,
        ErrorCode::InvalidParams,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::InvalidParameters,
        ErrorCode::Aborted,
        ErrorCode::NotImplemented,
        ErrorCode::AppAlreadyExists,
        ErrorCode::AppInvalidName,
        ErrorCode::AppAlreadyOpen,
        ErrorCode::AppNotFound,
        ErrorCode::AppSaveFailed,
        ErrorCode::AppCreateFailed,
        ErrorCode::AppInvalid,
        ErrorCode::AppOpenInDifferentMode,
        ErrorCode::ConnectionAlreadyExists,
        ErrorCode::ConnectionNotFound,
        ErrorCode::ConnectionNameInvalid,
        ErrorCode::NotForSessionApp,
        ErrorCode::ReloadInProgress,
        ErrorCode::VariableNoName,
        ErrorCode::VariableDuplicateName,
    ];
}

/// Script errors a reload reports (`LocalizedErrorCode` 11001..), with the engine's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadError {
    /// LOCERR_RELOAD_TABLE_X_NOT_FOUND
    TableNotFound,
    /// LOCERR_RELOAD_UNKNOWN_STATEMENT
    UnknownStatement,
    /// LOCERR_RELOAD_EXPECTED_SOMETHING_FOUND_UNKNOWN
    UnexpectedToken,
    /// LOCERR_RELOAD_LIB_CONNECTION_X_NOT_FOUND
    ConnectionNotFound,
    /// LOCERR_RELOAD_OPEN_FILE_ERROR
    CannotOpenFile,
    /// LOCERR_RELOAD_AUTO_GENERATE_COUNT
    AutogenerateCount,
    /// LOCERR_RELOAD_MATCHING_CONTROL_STATEMENT_ERROR
    ControlStatementMismatch,
    /// LOCERR_RELOAD_MODE_STATEMENT_ONLY_FOR_LIB_PATHS
    LibPathsOnly,
    /// LOCERR_RELOAD_NO_OPEN_DATABASE
    NoOpenConnection,
    /// LOCERR_RELOAD_MATCHING_LIBPATH_X_NOT_FOUND
    LibPathNotFound,
    /// LOCERR_RELOAD_CONNECT_MUST_USE_LIB_PREFIX_IN_THIS_MODE
    ConnectMustUseLib,
    /// LOCERR_RELOAD_CONCATENATE_LOAD_NO_PREVIOUS_TABLE
    NoPreviousTable,
}

impl ReloadError {
    pub fn number(self) -> i64 {
        match self {
            ReloadError::TableNotFound => 11001,
            ReloadError::UnknownStatement => 11002,
            ReloadError::UnexpectedToken => 11003,
            ReloadError::ConnectionNotFound => 11015,
            ReloadError::CannotOpenFile => 11020,
            ReloadError::AutogenerateCount => 11021,
            ReloadError::ControlStatementMismatch => 11023,
            ReloadError::LibPathsOnly => 11028,
            ReloadError::NoOpenConnection => 11030,
            ReloadError::LibPathNotFound => 11024,
            ReloadError::ConnectMustUseLib => 11032,
            ReloadError::NoPreviousTable => 11046,
        }
    }

    pub fn enum_name(self) -> &'static str {
        match self {
            ReloadError::TableNotFound => "LOCERR_RELOAD_TABLE_X_NOT_FOUND",
            ReloadError::UnknownStatement => "LOCERR_RELOAD_UNKNOWN_STATEMENT",
            ReloadError::UnexpectedToken => "LOCERR_RELOAD_EXPECTED_SOMETHING_FOUND_UNKNOWN",
            ReloadError::ConnectionNotFound => "LOCERR_RELOAD_LIB_CONNECTION_X_NOT_FOUND",
            ReloadError::CannotOpenFile => "LOCERR_RELOAD_OPEN_FILE_ERROR",
            ReloadError::AutogenerateCount => "LOCERR_RELOAD_AUTO_GENERATE_COUNT",
            ReloadError::ControlStatementMismatch => {
                "LOCERR_RELOAD_MATCHING_CONTROL_STATEMENT_ERROR"
            }
            ReloadError::LibPathsOnly => "LOCERR_RELOAD_MODE_STATEMENT_ONLY_FOR_LIB_PATHS",
            ReloadError::NoOpenConnection => "LOCERR_RELOAD_NO_OPEN_DATABASE",
            ReloadError::LibPathNotFound => "LOCERR_RELOAD_MATCHING_LIBPATH_X_NOT_FOUND",
            ReloadError::ConnectMustUseLib => {
                "LOCERR_RELOAD_CONNECT_MUST_USE_LIB_PREFIX_IN_THIS_MODE"
            }
            ReloadError::NoPreviousTable => "LOCERR_RELOAD_CONCATENATE_LOAD_NO_PREVIOUS_TABLE",
        }
    }

    /// The engine's text, `{0}` filled with `arg`.
    pub fn text(self, arg: &str) -> String {
        match self {
            ReloadError::TableNotFound => format!("Table '{arg}' not found"),
            ReloadError::UnknownStatement => format!("Unknown statement: {arg}"),
            ReloadError::UnexpectedToken => format!("Unexpected token: '{arg}'"),
            ReloadError::ConnectionNotFound => format!("Connection '{arg}' not found"),
            ReloadError::CannotOpenFile => format!("Cannot open file: '{arg}'"),
            ReloadError::AutogenerateCount => format!("Invalid Autogenerate count: {arg}"),
            ReloadError::ControlStatementMismatch => "The control statement is not correctly \
                 matched with its corresponding start statement."
                .to_string(),
            ReloadError::LibPathsOnly => {
                "This statement only works with lib:// paths in this script mode".to_string()
            }
            ReloadError::NoOpenConnection => "There is no open data connection.".to_string(),
            ReloadError::LibPathNotFound => format!("Connection not found: {arg}"),
            ReloadError::ConnectMustUseLib => {
                "CONNECTs other than LIB CONNECT are not available in this script mode.".to_string()
            }
            ReloadError::NoPreviousTable => "No previous table for concatenate load.".to_string(),
        }
    }

    pub const ALL: &'static [ReloadError] = &[
        ReloadError::TableNotFound,
        ReloadError::UnknownStatement,
        ReloadError::UnexpectedToken,
        ReloadError::ConnectionNotFound,
        ReloadError::CannotOpenFile,
        ReloadError::AutogenerateCount,
        ReloadError::ControlStatementMismatch,
        ReloadError::LibPathsOnly,
        ReloadError::NoOpenConnection,
        ReloadError::LibPathNotFound,
        ReloadError::ConnectMustUseLib,
        ReloadError::NoPreviousTable,
    ];
}

/// `LocalizedMessageCode` values of reload progress messages, with the data load editor's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// LOCMSG_SCRIPTEDITOR_EMPTY_MESSAGE: "{0}" (a line of text)
    Text,
    /// LOCMSG_SCRIPTEDITOR_PROGRESS_CONNECTED: "Connected"
    Connected,
    /// LOCMSG_SCRIPTEDITOR_PROGRESS_CONNECTING_TO: "Connecting to {0}"
    ConnectingTo,
    /// LOCMSG_SCRIPTEDITOR_ERROR: "Script error: {0}"
    Error,
    /// LOCMSG_SCRIPTEDITOR_DONE: "Done"
    Done,
    /// LOCMSG_SCRIPTEDITOR_RELOAD: "Reloading: {0}"
    Reload,
    /// LOCMSG_SCRIPTEDITOR_LINES_FETCHED: "Lines fetched: {0}"
    LinesFetched,
    /// LOCMSG_SCRIPTEDITOR_SEARCHINDEX_START: "Creating search index"
    SearchIndexStart,
    /// LOCMSG_SCRIPTEDITOR_SEARCHINDEX_SUCCESS: "Search index creation completed successfully"
    SearchIndexSuccess,
}

impl Progress {
    /// The data load editor's text, `{0}` filled with `arg`.
    pub fn text(self, arg: &str) -> String {
        match self {
            Progress::Text => arg.to_string(),
            Progress::Connected => "Connected".into(),
            Progress::ConnectingTo => format!("Connecting to {arg}"),
            Progress::Error => format!("Script error: {arg}"),
            Progress::Done => "Done".into(),
            Progress::Reload => format!("Reloading: {arg}"),
            Progress::LinesFetched => format!("Lines fetched: {arg}"),
            Progress::SearchIndexStart => "Creating search index".into(),
            Progress::SearchIndexSuccess => "Search index creation completed successfully".into(),
        }
    }

    pub fn number(self) -> i64 {
        match self {
            Progress::Text => 0,
            Progress::Connected => 5,
            Progress::ConnectingTo => 6,
            Progress::Error => 10,
            Progress::Done => 11,
            Progress::Reload => 20,
            Progress::LinesFetched => 21,
            Progress::SearchIndexStart => 22,
            Progress::SearchIndexSuccess => 24,
        }
    }

    pub fn enum_name(self) -> &'static str {
        match self {
            Progress::Text => "LOCMSG_SCRIPTEDITOR_EMPTY_MESSAGE",
            Progress::Connected => "LOCMSG_SCRIPTEDITOR_PROGRESS_CONNECTED",
            Progress::ConnectingTo => "LOCMSG_SCRIPTEDITOR_PROGRESS_CONNECTING_TO",
            Progress::Error => "LOCMSG_SCRIPTEDITOR_ERROR",
            Progress::Done => "LOCMSG_SCRIPTEDITOR_DONE",
            Progress::Reload => "LOCMSG_SCRIPTEDITOR_RELOAD",
            Progress::LinesFetched => "LOCMSG_SCRIPTEDITOR_LINES_FETCHED",
            Progress::SearchIndexStart => "LOCMSG_SCRIPTEDITOR_SEARCHINDEX_START",
            Progress::SearchIndexSuccess => "LOCMSG_SCRIPTEDITOR_SEARCHINDEX_SUCCESS",
        }
    }

    pub const ALL: &'static [Progress] = &[
        Progress::Text,
        Progress::Connected,
        Progress::ConnectingTo,
        Progress::Error,
        Progress::Done,
        Progress::Reload,
        Progress::LinesFetched,
        Progress::SearchIndexStart,
        Progress::SearchIndexSuccess,
    ];
}

/// `ErrorData.qErrorDataCode` of a script error.
pub const EDC_ERROR: &str = "EDC_ERROR";
