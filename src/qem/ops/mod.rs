//! QEM operations: functions of a [`QemClient`] and typed options that return data. No clap,
//! no printing of results, no environment; the commands translate flags and print.
//!
//! [`QemClient`]: crate::qem::client::QemClient

pub mod server;
pub mod task;
