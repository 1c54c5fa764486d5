//! `context import`: bring qlik-cli's QSEoW contexts over in one command.

use super::ImportArgs;
use crate::app::App;
use crate::context::{ops, qlikcli};
use crate::error::Result;
use crate::output::{status, warn};

pub(super) fn run(args: ImportArgs, app: &App) -> Result<()> {
    let path = match args.file {
        Some(p) => p,
        None => app.settings.paths.qlik_cli_contexts()?.to_path_buf(),
    };
    let imported = qlikcli::read(&path)?;
    let report = ops::import(&app.store()?, imported, args.overwrite)?;
    for (name, reason) in &report.skipped {
        warn(&format!("skipped `{name}`: {reason}"));
    }
    for name in &report.added {
        status(&format!("Context `{name}` imported"));
    }
    status(&format!(
        "Imported {} context(s) from {}, skipped {}",
        report.added.len(),
        path.display(),
        report.skipped.len()
    ));
    Ok(())
}
