//! Qlik Enterprise Manager: client, models and commands.

pub mod commands;
pub mod session_cache;
pub mod wire;
