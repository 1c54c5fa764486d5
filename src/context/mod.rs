//! Contexts: named QSEoW and QEM endpoints with their authentication, stored in TOML under the
//! user's config directory (`contexts.toml` public, `credentials.toml` secret and 0600).

pub mod commands;
pub mod model;
pub mod qlikcli;
pub mod resolve;
pub mod store;

use clap_complete::engine::CompletionCandidate;

/// Dynamic shell completion of context names: reads the local file only, never the network,
/// and fails silently (it runs on every TAB).
pub fn complete_context_names(current: &std::ffi::OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    let Ok(store) = store::Store::open() else {
        return Vec::new();
    };
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
