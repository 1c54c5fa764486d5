//! Engine errors and what they mean for qtool's exit codes. Codes are the schema's
//! `LocalizedErrorCode` values (enigma.js 12.2027.0) and JSON-RPC's own (-32700..-32600); the
//! grouping follows what the user can do about each: fix the input (3), check the name or id
//! (6), get access (5), wait or resolve a clash (7), or report a server failure (10).

use crate::error::{Error, ErrorClass};

/// `{"code", "parameter", "message"}` of an engine error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EngineError {
    pub code: i64,
    pub parameter: String,
    pub message: String,
}

impl EngineError {
    /// From the `error` member of an answer.
    pub(crate) fn from_json(error: &serde_json::Value) -> EngineError {
        let text = |key: &str| {
            error
                .get(key)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        EngineError {
            code: error
                .get("code")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(-1),
            parameter: text("parameter"),
            message: text("message"),
        }
    }

    /// The exit-code class of an engine error code.
    pub(crate) fn class(&self) -> ErrorClass {
        match self.code {
            // Not found: generic, app, connection, persistence, file.
            2 | 1003 | 2001 | 3003 | 9003 => ErrorClass::NotFound,
            // Access denied: generic, file, user, data source; licence and session limits.
            5 | 3000 | 4000 | 4001 | 5000..=5005 | 10000 => ErrorClass::Auth,
            // Bad input: parameters, calculation definitions, script statements, names.
            8 | 9 | 1001 | 2004 | 2005 | 7000..=7014 | 11001..=11048 | 18000 | -32602 => {
                ErrorClass::Input
            }
            // Exists already, or busy with something else.
            3 | 1000 | 1002 | 1009 | 2000 | 11000 | 18001 => ErrorClass::Conflict,
            // Aborted by a request (ours or another client's).
            15 => ErrorClass::Failed,
            _ => ErrorClass::Server,
        }
    }

    /// A qtool error naming the method, the engine's words and the code.
    pub(crate) fn into_error(self, method: &str) -> Error {
        let class = self.class();
        let detail = match (self.message.is_empty(), self.parameter.is_empty()) {
            (false, false) => format!("{} ({})", self.message, self.parameter),
            (false, true) => self.message.clone(),
            (true, false) => self.parameter.clone(),
            (true, true) => "no detail".into(),
        };
        let hint = match (class, self.code) {
            (_, 1002) => {
                "the app is already open in this engine session; retry, or use another --ttl"
            }
            (_, 1009) => {
                "the app is open with and without data in other sessions: retry without --no-data"
            }
            (_, 11000) => "the app is reloading: wait for that reload to finish and retry",
            (ErrorClass::NotFound, _) => {
                "check the id (list them with `qtool app object ls APP` or `qtool qrs app ls`)"
            }
            (ErrorClass::Auth, _) => {
                "the user lacks access to the app or the resource: check the security rules in the QMC"
            }
            (ErrorClass::Input, _) => {
                "check the value or file you passed (the engine named the parameter)"
            }
            (ErrorClass::Conflict, _) => {
                "it exists already or is busy: pick another id or name, or retry later"
            }
            (ErrorClass::Failed, _) => "the request was aborted; run it again",
            _ => "the engine failed; retry, and check the engine log on the server if it persists",
        };
        Error::new(
            class,
            format!(
                "the engine refused {method}: {detail} [engine error {}]",
                self.code
            ),
        )
        .with_hint(hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_map_to_exit_codes() {
        let e = |code| EngineError {
            code,
            parameter: String::new(),
            message: String::new(),
        };
        assert_eq!(e(1003).class().exit_code(), 6);
        assert_eq!(e(2).class().exit_code(), 6);
        assert_eq!(e(5).class().exit_code(), 5);
        assert_eq!(e(8).class().exit_code(), 3);
        assert_eq!(e(11002).class().exit_code(), 3);
        assert_eq!(e(-32602).class().exit_code(), 3);
        assert_eq!(e(1002).class().exit_code(), 7);
        assert_eq!(e(11000).class().exit_code(), 7);
        assert_eq!(e(-128).class().exit_code(), 10);
        assert_eq!(e(-32601).class().exit_code(), 10);
    }

    #[test]
    fn the_line_names_method_words_and_code() {
        let err = EngineError::from_json(
            &json!({"code": 1007, "parameter": "No active document", "message": "App invalid"}),
        )
        .into_error("GetActiveDoc");
        assert_eq!(
            err.message(),
            "the engine refused GetActiveDoc: App invalid (No active document) [engine error 1007]"
        );
        assert!(err.hint().is_some());
    }
}
