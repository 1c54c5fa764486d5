//! Contexts: named QSEoW and QEM endpoints with their authentication, stored in TOML under the
//! user's config directory (`contexts.toml` public, `credentials.toml` secret and 0600).

pub(crate) mod commands;
pub mod model;
pub(crate) mod ops;
pub mod qlikcli;
pub mod store;

use clap_complete::engine::CompletionCandidate;

/// Dynamic shell completion of context names: reads the local file only, never the network,
/// and fails silently (it runs on every TAB).
pub fn complete_context_names(current: &std::ffi::OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    // Completion runs before the command line is parsed: read the environment here.
    let paths = crate::settings::Paths::resolve(&crate::settings::Environment::capture());
    let Ok(dir) = paths.config_dir() else {
        return Vec::new();
    };
    let store = store::Store::new(dir.to_path_buf());
    let Ok(file) = store.load_contexts() else {
        return Vec::new();
    };
    file.contexts
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(name, ctx)| {
            let help = format!("{} {}", ctx.server_type.as_str(), ctx.server);
            CompletionCandidate::new(name.clone()).help(Some(help.into()))
        })
        .collect()
}
