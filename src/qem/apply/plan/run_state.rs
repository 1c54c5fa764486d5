//! Run states: start or stop a task whose definition is already right, and which state to
//! restore after an update (a task that ran before the update runs after it).

use std::time::Duration;

use super::Op;
use crate::qem::apply::manifest::RunState;
use crate::qem::wire::task_state as ts;

/// The run option that continues where the task stopped.
pub(super) const RESUME: &str = "RESUME_PROCESSING";

/// Running in any sense that needs a stop before import or delete.
pub(super) fn is_active(state: &str) -> bool {
    matches!(
        state,
        ts::RUNNING | ts::STARTING | ts::RECOVERY | ts::STOPPING
    ) || state == "RECOVERING"
}

/// `RESUME_PROCESSING` → `resume-processing`, as the manifest spells it.
pub(super) fn pretty_option(option: &str) -> String {
    option.to_ascii_lowercase().replace('_', "-")
}

/// The option to start with after an update, if any: the manifest's run state, or else the
/// state the task was in.
pub(super) fn restart_after_update(
    run: Option<RunState>,
    active: bool,
    option: &str,
) -> Option<String> {
    match run {
        Some(RunState::Started) => Some(option.to_string()),
        Some(RunState::Stopped) => None,
        None if active => Some(RESUME.to_string()),
        None => None,
    }
}

/// The summary and op that bring an unchanged task from `state` to the manifest's run state.
pub(super) fn converge(
    run: Option<RunState>,
    state: &str,
    option: &str,
    timeout: Duration,
) -> Option<(String, Op)> {
    match run {
        Some(RunState::Started) if state != ts::RUNNING && state != ts::STARTING => Some((
            format!("start ({}), now {state}", pretty_option(option)),
            Op::StartTask {
                option: option.to_string(),
            },
        )),
        Some(RunState::Stopped) if state != ts::STOPPED && state != ts::NOT_EXIST => {
            Some((format!("stop, now {state}"), Op::StopTask { timeout }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_states_need_a_stop() {
        assert!(is_active("RUNNING"));
        assert!(is_active("STARTING"));
        assert!(!is_active("STOPPED"));
        assert!(!is_active("ERROR"));
    }

    #[test]
    fn run_states_converge() {
        let t = Duration::from_secs(1);
        assert!(converge(Some(RunState::Started), "RUNNING", RESUME, t).is_none());
        let (summary, _) = converge(Some(RunState::Started), "STOPPED", RESUME, t).unwrap();
        assert_eq!(summary, "start (resume-processing), now STOPPED");
        assert!(converge(None, "STOPPED", RESUME, t).is_none());
        assert_eq!(
            restart_after_update(None, true, "RELOAD_TARGET").as_deref(),
            Some(RESUME)
        );
    }
}
