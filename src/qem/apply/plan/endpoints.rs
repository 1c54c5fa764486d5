//! Endpoints: QEM cannot create them (they travel in task definitions), so the manifest only
//! deletes the absent ones, and checks that a present one exists or comes with a task.

use std::collections::HashMap;

use super::live::Live;
use super::tasks::Desired;
use super::{Action, Item, Kind, Op};
use crate::error::{Error, Result};
use crate::qem::apply::diff;
use crate::qem::apply::manifest::{Manifest, Presence};

pub(super) fn plan(
    m: &Manifest,
    desired: &[Desired<'_>],
    live: &HashMap<String, Live>,
) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for e in &m.endpoints {
        let listed = live
            .get(&e.server)
            .and_then(|l| l.endpoints.as_ref())
            .map(|eps| eps.contains(&e.name));
        match (e.state, listed) {
            (Presence::Absent, Some(true)) => items.push(Item {
                action: Action::Delete,
                kind: Kind::Endpoint,
                server: e.server.clone(),
                name: e.name.clone(),
                summary: "delete".into(),
                changes: vec![],
                op: Op::DeleteEndpoint,
            }),
            (Presence::Present, found) if found != Some(true) => {
                let provided = desired.iter().any(|d| {
                    d.spec.server.eq_ignore_ascii_case(&e.server)
                        && d.spec.state == Presence::Present
                        && d.def
                            .as_ref()
                            .is_some_and(|def| diff::endpoint_names(def).contains(&e.name))
                });
                if !provided {
                    return Err(Error::not_found(format!(
                        "endpoint `{}` does not exist on `{}` and no task definition in the manifest defines it",
                        e.name, e.server
                    ))
                    .with_hint("QEM cannot create endpoints directly: add a task definition exported with --with-endpoints that contains it"));
                }
            }
            _ => {}
        }
    }
    Ok(items)
}
