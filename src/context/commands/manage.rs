//! `context use`, `clear`, `rename` and `rm`.

use crate::app::App;
use crate::context::model::validate_name;
use crate::error::{Error, Result};
use crate::output::status;

pub fn run_use(name: &str, app: &App) -> Result<()> {
    app.store()?.update(|all| {
        all.get(name)?;
        all.file.current_context = Some(name.to_string());
        Ok(())
    })?;
    status(&format!("Context: {name}"));
    Ok(())
}

pub fn run_clear(app: &App) -> Result<()> {
    app.store()?.update(|all| {
        all.file.current_context = None;
        Ok(())
    })?;
    status("Context: <NONE>");
    Ok(())
}

pub fn run_rename(old: &str, new: &str, app: &App) -> Result<()> {
    validate_name(new).map_err(Error::usage)?;
    app.store()?.update(|all| {
        let context = all.get(old)?.clone();
        if all.file.contexts.contains_key(new) {
            return Err(Error::conflict(format!("context `{new}` already exists")));
        }
        all.file.contexts.remove(old);
        all.file.contexts.insert(new.to_string(), context);
        if let Some(secrets) = all.secrets.remove(old) {
            all.secrets.insert(new.to_string(), secrets);
        }
        if all.file.current_context.as_deref() == Some(old) {
            all.file.current_context = Some(new.to_string());
        }
        Ok(())
    })?;
    status(&format!("Context `{old}` renamed to `{new}`"));
    Ok(())
}

pub fn run_rm(names: &[String], app: &App) -> Result<()> {
    let cleared = app.store()?.update(|all| {
        for name in names {
            all.get(name)?;
        }
        let mut cleared = false;
        for name in names {
            all.file.contexts.remove(name);
            all.secrets.remove(name);
            if all.file.current_context.as_deref() == Some(name.as_str()) {
                all.file.current_context = None;
                cleared = true;
            }
        }
        Ok(cleared)
    })?;
    for name in names {
        crate::qem::session_cache::forget(name);
        status(&format!("Context `{name}` removed"));
    }
    if cleared {
        status("Context: <NONE>");
    }
    Ok(())
}
