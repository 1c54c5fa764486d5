//! Secrets enter through stdin or the environment, not argv (visible in `ps` and shell history).

use crate::error::{Error, Result};
use crate::input::{InputKind, InputSource};

/// Read one secret from stdin: the whole input with the trailing newline removed.
pub(crate) fn read_stdin(what: &str) -> Result<String> {
    let text = InputSource::Stdin.read_to_string(InputKind::Credential)?;
    let secret = text.trim_end_matches(['\r', '\n']).to_string();
    if secret.is_empty() {
        return Err(
            Error::usage(format!("no {what} on stdin")).with_hint(format!(
                "pipe it in, e.g. `printf %s \"$SECRET\" | qtool ... --{}-stdin`",
                what.replace(' ', "-")
            )),
        );
    }
    Ok(secret)
}

/// Warn that a secret came from the command line.
pub(crate) fn warn_argv(flag: &str) {
    crate::output::warn(&format!(
        "{flag} on the command line is visible to other users and kept in shell history; prefer {flag}-stdin or the environment"
    ));
}
