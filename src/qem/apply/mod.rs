//! Declarative QEM: make QEM match a manifest. [`manifest::load`] reads and checks it,
//! [`plan::compute`] diffs it against the live state (`+` create, `~` update, `-` delete, with a
//! readable diff of changed definitions), [`execute::run`] applies only the changes, concurrently
//! where independent. A second run changes nothing. The command (`qtool qem apply`, which prints
//! the plan and the summary) is `qem::commands::apply`. Format and exit codes: docs/qem-apply.md.

pub mod diff;
pub mod execute;
pub mod manifest;
pub(crate) mod plan;
