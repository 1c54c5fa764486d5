//! `context import`: bring qlik-cli's QSEoW contexts over in one command.

use super::ImportArgs;
use crate::app::App;
use crate::context::qlikcli::{self, Imported};
use crate::error::Result;
use crate::output::{status, warn};

pub fn run(args: ImportArgs, app: &App) -> Result<()> {
    let path = match args.file {
        Some(p) => p,
        None => qlikcli::default_path()?,
    };
    let imported = qlikcli::read(&path)?;
    let overwrite = args.overwrite;
    let (added, skipped) = app.store()?.update(|all| {
        let mut added = Vec::new();
        let mut skipped = Vec::new();
        for item in imported.items {
            match item {
                Imported::Context {
                    name,
                    context,
                    secrets,
                } => {
                    if all.file.contexts.contains_key(&name) && !overwrite {
                        skipped.push((
                            name,
                            "a qtool context has this name (use --overwrite)".to_string(),
                        ));
                        continue;
                    }
                    all.file.contexts.insert(name.clone(), *context);
                    all.set_secrets(&name, secrets);
                    added.push(name);
                }
                Imported::Skipped { name, reason } => skipped.push((name, reason)),
            }
        }
        if all.file.current_context.is_none()
            && let Some(current) = imported.current.filter(|c| added.contains(c))
        {
            all.file.current_context = Some(current);
        }
        Ok((added, skipped))
    })?;
    for (name, reason) in &skipped {
        warn(&format!("skipped `{name}`: {reason}"));
    }
    for name in &added {
        status(&format!("Context `{name}` imported"));
    }
    status(&format!(
        "Imported {} context(s) from {}, skipped {}",
        added.len(),
        path.display(),
        skipped.len()
    ));
    Ok(())
}
