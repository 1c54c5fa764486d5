//! QRS operations: what the `qrs` commands do, as functions of a [`QrsClient`] and typed options
//! that return data. No clap, no printing of results, no environment: the commands translate
//! flags into these options and print what comes back; tests call them directly.
//!
//! [`QrsClient`]: crate::qrs::client::QrsClient

pub mod app;
pub mod generic;
pub(crate) mod raw;
pub(crate) mod reloadtask;
pub mod task;
pub(crate) mod virtualproxy;
