//! Qlik Enterprise Manager: client, models, commands and the declarative `apply`.

pub mod api;
pub mod apply;
pub mod client;
pub mod commands;
pub mod model;
pub mod session_cache;
pub mod wire;
