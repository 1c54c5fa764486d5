//! A reload with its log: `DoReloadEx` runs while `GetProgress(<its request id>)` is polled
//! every half second on the same socket; each answer carries the log lines written since the
//! previous one (`qPersistentProgress`), the current step (`qTransientProgress`) and script
//! errors (`qErrorData`). The app is saved after a successful reload unless told not to.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::qix::Doc;
use crate::qix::rpc::GLOBAL;

/// How often the log is polled.
const POLL: Duration = Duration::from_millis(500);
/// Lines of the log repeated in the error of a failed reload.
pub(crate) const TAIL: usize = 10;

#[derive(Debug, Clone, Default)]
pub(crate) struct ReloadOptions {
    /// `--partial`: a partial reload (ADD/REPLACE/MERGE statements only).
    pub partial: bool,
    /// `--limit N`: at most N rows from each source (`qRowLimit`).
    pub limit: Option<u64>,
    /// Save after a successful reload.
    pub save: bool,
    /// How long to wait for the reload (`None`: as long as it takes).
    pub wait: Option<Duration>,
}

/// What the reload reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Progress {
    /// A line of the reload log.
    Line(String),
    /// The step in progress ("Lines fetched: 1,234").
    Step(String),
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReloadOutcome {
    pub success: bool,
    pub saved: bool,
    /// The last lines of the log.
    pub tail: Vec<String>,
    /// Script errors the engine reported (`qErrorString`, with the line when given).
    pub errors: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_rows: Option<u64>,
}

/// Reload, reporting the log through `on_progress`; a failed reload is an outcome, not an
/// error (the caller decides the exit code).
pub(crate) async fn reload(
    doc: &Doc,
    options: &ReloadOptions,
    mut on_progress: impl FnMut(Progress),
) -> Result<ReloadOutcome> {
    let mut params = json!({"qMode": 0, "qPartial": options.partial, "qDebug": false});
    if let Some(limit) = options.limit {
        params["qRowLimit"] = json!(limit);
    }
    let pending = doc
        .session
        .send(doc.handle.0, "DoReloadEx", json!([params]))?;
    let id = pending.id;
    let answer = pending.wait(options.wait);
    tokio::pin!(answer);
    let mut tail: Vec<String> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut report = |progress: &Value, on_progress: &mut dyn FnMut(Progress)| {
        absorb(progress, &mut tail, &mut errors, on_progress);
    };
    let answer = loop {
        tokio::select! {
            answer = &mut answer => break answer?,
            () = tokio::time::sleep(POLL) => {
                let progress = get_progress(doc, id).await?;
                report(&progress, &mut on_progress);
            }
        }
    };
    // The lines written between the last poll and the end.
    let progress = get_progress(doc, id).await?;
    report(&progress, &mut on_progress);
    let result = answer.map_err(|e| e.into_error("DoReloadEx"))?;
    let outcome = result.get("qResult").cloned().unwrap_or(Value::Null);
    let success = outcome
        .get("qSuccess")
        .and_then(Value::as_bool)
        .ok_or_else(|| {
            Error::server("the engine's answer to DoReloadEx has no qResult.qSuccess")
        })?;
    let saved = success && options.save;
    if saved {
        doc.call("DoSave", json!([""])).await?;
    }
    Ok(ReloadOutcome {
        success,
        saved,
        tail,
        errors,
        loaded_rows: outcome.get("qNbrOfLoadedRows").and_then(Value::as_u64),
    })
}

async fn get_progress(doc: &Doc, request: u64) -> Result<Value> {
    let result = doc
        .session
        .call(GLOBAL, "GetProgress", json!([request]))
        .await?;
    Ok(result.get("qProgressData").cloned().unwrap_or(Value::Null))
}

/// Take the new lines, step and errors of one `ProgressData`.
fn absorb(
    progress: &Value,
    tail: &mut Vec<String>,
    errors: &mut Vec<String>,
    on_progress: &mut dyn FnMut(Progress),
) {
    let text = |key: &str| {
        progress
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    for line in text("qPersistentProgress").lines() {
        let line = line.trim_end_matches('\r').to_string();
        tail.push(line.clone());
        if tail.len() > TAIL {
            tail.remove(0);
        }
        on_progress(Progress::Line(line));
    }
    let step = text("qTransientProgress");
    if !step.is_empty() {
        on_progress(Progress::Step(step.to_string()));
    }
    for error in progress
        .get("qErrorData")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let message = error
            .get("qErrorString")
            .and_then(Value::as_str)
            .unwrap_or("script error");
        let line = error.get("qLine").and_then(Value::as_str).unwrap_or("");
        errors.push(if line.is_empty() {
            message.to_string()
        } else {
            format!("{message}: {line}")
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_data_becomes_lines_steps_and_errors() {
        let mut tail = Vec::new();
        let mut errors = Vec::new();
        let mut seen = Vec::new();
        let mut sink = |p: Progress| seen.push(p);
        absorb(
            &json!({"qPersistentProgress": "Started loading data\nT << INLINE 4 Lines fetched\n",
                    "qTransientProgress": "Lines fetched: 4",
                    "qErrorData": [{"qErrorString": "Table not found", "qLine": "LOAD * RESIDENT X"}]}),
            &mut tail,
            &mut errors,
            &mut sink,
        );
        assert_eq!(
            tail,
            ["Started loading data", "T << INLINE 4 Lines fetched"]
        );
        assert_eq!(errors, ["Table not found: LOAD * RESIDENT X"]);
        for i in 0..20 {
            absorb(
                &json!({"qPersistentProgress": format!("{i}\n")}),
                &mut tail,
                &mut errors,
                &mut sink,
            );
        }
        assert_eq!(tail.len(), TAIL);
        assert_eq!(tail.last().map(String::as_str), Some("19"));
        assert_eq!(seen[2], Progress::Step("Lines fetched: 4".into()));
    }
}
