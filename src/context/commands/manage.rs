//! `context use`, `clear`, `rename` and `rm` ([`crate::context::ops`]).

use crate::app::App;
use crate::context::ops;
use crate::error::Result;
use crate::output::status;
use crate::session_cache::{SessionCache, SessionKind};

pub(super) fn run_use(name: &str, app: &App) -> Result<()> {
    ops::select(&app.store()?, Some(name))?;
    status(&format!("Context: {name}"));
    Ok(())
}

pub(super) fn run_clear(app: &App) -> Result<()> {
    ops::select(&app.store()?, None)?;
    status("Context: <NONE>");
    Ok(())
}

pub(super) fn run_rename(old: &str, new: &str, app: &App) -> Result<()> {
    ops::rename(&app.store()?, old, new)?;
    status(&format!("Context `{old}` renamed to `{new}`"));
    Ok(())
}

pub(super) fn run_rm(names: &[String], app: &App) -> Result<()> {
    let cleared = ops::remove(&app.store()?, names)?;
    let caches =
        SessionKind::ALL.map(|kind| SessionCache::new(app.settings.paths.cache_dir(), kind));
    for name in names {
        for cache in &caches {
            cache.forget(name);
        }
        status(&format!("Context `{name}` removed"));
    }
    if cleared {
        status("Context: <NONE>");
    }
    Ok(())
}
