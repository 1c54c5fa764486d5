//! Qlik Sense Repository Service: client, models and commands.

pub mod commands;
pub mod wire;
