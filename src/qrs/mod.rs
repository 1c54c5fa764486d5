//! Qlik Sense Repository Service: client, resources and commands.
//!
//! - [`client`]: one transport per run (TLS, Xrfkey, auth, session cookie, retries, errors).
//! - [`endpoints`]: every QRS path qtool calls, in one table (checked against the QRS spec).
//! - [`resources`]: the resource table (name, path, what it supports, table columns, enums).
//! - [`filter`]: QRS filter quoting and composition.
//! - `reindent`: streaming pretty-printing of large JSON answers.
//! - [`ops`]: the operations (list, export, import, start and wait, ...) on a client, without clap.
//! - [`commands`]: `qtool qrs <resource> <verb>`: flags in, [`ops`] called, results printed.

pub mod client;
pub(crate) mod commands;
pub mod endpoints;
pub mod filter;
pub(crate) mod items;
pub mod ops;
pub mod reindent;
pub mod resources;
mod token;
mod windows_login;
pub(crate) mod wire;
