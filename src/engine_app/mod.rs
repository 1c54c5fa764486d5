//! `qtool app`: Qlik Sense apps through the associative engine (QIX) rather than the
//! repository: script, reload, evaluation, objects and master items, connections, and an app
//! as files (`unbuild` / `build`) in the layout qlik-cli writes.
//!
//! Named `engine_app` because `crate::app` is the per-run context every command receives.
//! The transport is [`crate::qix`]; [`ops`] holds the operations (typed options in, data out,
//! no clap, no printing of results), [`commands`] the clap types and the printing.

pub(crate) mod commands;
pub(crate) mod ops;
