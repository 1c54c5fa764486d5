//! The load script: read, check, and set only when it checks clean.
//!
//! `CheckScriptSyntax` checks the app's current script, so a new script is set, checked, and
//! put back as it was when the check finds errors: nothing with a syntax error is ever saved,
//! and the app is left as it was found. Positions come back 0-based in characters (`qTextPos`
//! from the script start, `qTabIx` the section); errors name the 1-based line and column of
//! the whole script, as an editor shows the file, and the section.

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::qix::Doc;
use crate::qix::doc::member;

/// One syntax error area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SyntaxError {
    /// 1-based line of the whole script.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// The section (`///$tab Name`), when the script has sections.
    pub section: Option<String>,
    /// The offending text (at most one line).
    pub text: String,
    /// A second area the engine reports for the rest of a failing statement.
    pub secondary: bool,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)?;
        if let Some(section) = &self.section {
            write!(f, " (section `{section}`)")?;
        }
        write!(f, ": syntax error at `{}`", self.text)
    }
}

pub(crate) async fn get(doc: &Doc) -> Result<String> {
    let result = doc.call("GetScript", json!([])).await?;
    Ok(member(result, "GetScript", "qScript")?
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// The syntax errors of the app's current script, whose text is `script`.
pub(crate) async fn check_current(doc: &Doc, script: &str) -> Result<Vec<SyntaxError>> {
    let result = doc.call("CheckScriptSyntax", json!([])).await?;
    let errors = member(result, "CheckScriptSyntax", "qErrors")?;
    Ok(errors
        .as_array()
        .map(|list| list.iter().map(|e| locate(script, e)).collect())
        .unwrap_or_default())
}

/// Set `script` when it checks clean; with errors the previous script is put back and the
/// errors returned. `restore_always`: put the previous script back in any case (a check only).
pub(crate) async fn set_checked(
    doc: &Doc,
    script: &str,
    restore_always: bool,
) -> Result<Vec<SyntaxError>> {
    let previous = get(doc).await?;
    doc.call("SetScript", json!([script])).await?;
    let errors = check_current(doc, script).await?;
    if !errors.is_empty() || restore_always {
        doc.call("SetScript", json!([previous])).await?;
    }
    Ok(errors)
}

/// The error for a script with syntax errors (`source` names where the script came from).
pub(crate) fn syntax_error(source: &str, errors: &[SyntaxError]) -> Error {
    let primary: Vec<&SyntaxError> = errors.iter().filter(|e| !e.secondary).collect();
    let first = primary.first().copied().or(errors.first());
    let more = primary.len().saturating_sub(1);
    let first = first.map(ToString::to_string).unwrap_or_default();
    Error::input(format!(
        "{source} has a syntax error: {first}{}",
        if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        }
    ))
    .with_hint("fix the script; nothing was saved and the app's script is unchanged")
}

/// Turn an engine error area into a position in `script`.
fn locate(script: &str, error: &Value) -> SyntaxError {
    let number = |key: &str| error.get(key).and_then(Value::as_u64).unwrap_or(0) as usize;
    let position = number("qTextPos");
    let length = number("qErrLen").max(1);
    let mut line = 1;
    let mut column = 1;
    let mut text = String::new();
    for (i, c) in script.chars().enumerate() {
        if i < position {
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
            continue;
        }
        if i >= position + length || c == '\n' || c == '\r' {
            break;
        }
        text.push(c);
    }
    let tab = number("qTabIx");
    SyntaxError {
        line,
        column,
        section: sections(script).into_iter().nth(tab),
        text: text.chars().take(60).collect(),
        secondary: error
            .get("qSecondaryFailure")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// Section names in order (`///$tab Name` lines).
fn sections(script: &str) -> Vec<String> {
    script
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("///$tab "))
        .map(|name| name.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_become_lines_columns_and_sections() {
        let script = "///$tab Main\r\nSET a=1;\r\n///$tab Data\r\nLOAD x FROM;\r\n";
        let at = script.find("FROM").unwrap();
        let e = locate(
            script,
            &json!({"qTabIx": 1, "qLineInTab": 1, "qColInLine": 7, "qTextPos": at, "qErrLen": 4}),
        );
        assert_eq!((e.line, e.column), (4, 8));
        assert_eq!(e.section.as_deref(), Some("Data"));
        assert_eq!(e.text, "FROM");
        assert_eq!(
            e.to_string(),
            "line 4, column 8 (section `Data`): syntax error at `FROM`"
        );
        let err = syntax_error(
            "script.qvs",
            &[
                e.clone(),
                SyntaxError {
                    secondary: true,
                    ..e
                },
            ],
        );
        assert!(
            err.message()
                .starts_with("script.qvs has a syntax error: line 4")
        );
        assert!(!err.message().contains("more"));
        assert_eq!(err.class().exit_code(), 3);
    }
}
