//! Qlik Enterprise Manager: client, models, operations, commands and the declarative `apply`.
//!
//! - [`client`] and [`api`]: the transport (login, session cache, re-login) and one method per
//!   REST call.
//! - [`ops`]: what takes more than one call (list across servers, export all, import under a
//!   name, start/wait, ACL changes), on a client with typed options, without clap.
//! - [`apply`]: the declarative manifest, its plan and its execution.
//! - [`commands`]: `qtool qem ...`: flags in, operations called, results printed.

pub mod api;
pub mod apply;
pub mod client;
pub(crate) mod commands;
pub mod model;
pub mod ops;
pub(crate) mod wire;
