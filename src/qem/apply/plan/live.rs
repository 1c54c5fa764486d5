//! The live state the manifest talks about, read concurrently: per server its registration, its
//! explicit ACL, its tasks' states and its endpoints, each only when the manifest needs it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::StreamExt;
use serde_json::Value;

use crate::error::{Error, Result, ResultExt};
use crate::qem::apply::manifest::{Loaded, Presence, ServerSpec};
use crate::qem::client::QemClient;
use crate::qem::model;
use crate::qem::wire::code::SERVER_NOT_FOUND;

/// What was read from QEM for one server.
#[derive(Default)]
pub(super) struct Live {
    pub def: Option<Value>,
    pub acl: Option<Value>,
    /// Task name → state; `None` when the server is not registered (yet).
    pub tasks: Option<HashMap<String, String>>,
    pub endpoints: Option<BTreeSet<String>>,
}

/// What to read about one server.
#[derive(Default, Clone, Copy)]
struct Wanted {
    def: bool,
    tasks: bool,
    endpoints: bool,
}

pub(super) fn server_spec<'a>(loaded: &'a Loaded, name: &str) -> Option<&'a ServerSpec> {
    loaded
        .manifest
        .servers
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Read every server the manifest names, `concurrency` servers at a time.
pub(super) async fn read(
    client: &QemClient,
    loaded: &Loaded,
    concurrency: usize,
) -> Result<HashMap<String, Live>> {
    let m = &loaded.manifest;
    let mut servers: BTreeMap<String, Wanted> = BTreeMap::new();
    for s in &m.servers {
        servers.entry(s.name.clone()).or_default().def = true;
    }
    for t in &m.tasks {
        servers.entry(t.server.clone()).or_default().tasks = true;
    }
    for e in &m.endpoints {
        servers.entry(e.server.clone()).or_default().endpoints = true;
    }
    let reads = futures_util::stream::iter(
        servers
            .iter()
            .map(|(name, wanted)| read_server(client, loaded, name, *wanted)),
    )
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    let mut live = HashMap::new();
    for r in reads {
        let (name, l) = r.context("reading the live state")?;
        live.insert(name, l);
    }
    Ok(live)
}

async fn read_server(
    client: &QemClient,
    loaded: &Loaded,
    name: &str,
    wanted: Wanted,
) -> Result<(String, Live)> {
    let mut live = Live::default();
    let spec = server_spec(loaded, name);
    if wanted.def {
        live.def = client.server_def(name).await.map_err(Error::from)?;
    }
    let registered = if wanted.def { live.def.is_some() } else { true };
    if registered && spec.is_some_and(|s| s.state == Presence::Present && s.acl.is_some()) {
        live.acl = client.server_acl(name).await.map_err(Error::from)?;
    }
    if registered && wanted.tasks {
        match client.task_list(name).await {
            Ok(list) => {
                live.tasks = Some(
                    list.iter()
                        .map(|t| {
                            (
                                model::str_field(t, "name").to_string(),
                                model::str_field(t, "state").to_string(),
                            )
                        })
                        .collect(),
                );
            }
            Err(e) if e.is(SERVER_NOT_FOUND) => {}
            Err(e) => return Err(Error::from(e)),
        }
    }
    if registered && wanted.endpoints {
        match client.endpoint_list(name).await {
            Ok(list) => {
                live.endpoints = Some(
                    list.iter()
                        .map(|e| model::str_field(e, "name").to_string())
                        .collect(),
                );
            }
            Err(e) if e.is(SERVER_NOT_FOUND) => {}
            Err(e) => return Err(Error::from(e)),
        }
    }
    Ok((name.to_string(), live))
}
