//! JWT and key toolkit for QSEoW JWT virtual proxies.

pub mod commands;
