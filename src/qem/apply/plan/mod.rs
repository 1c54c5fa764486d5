//! Read the live state the manifest talks about (concurrently) and compute the changes: one
//! planner per kind of thing (servers, ACLs, tasks with their run states, endpoints), run in
//! that order so the first problem reported is the first one in the manifest.

mod acls;
mod endpoints;
mod live;
mod run_state;
mod servers;
mod tasks;

use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::manifest::Loaded;
use crate::error::Result;
use crate::qem::client::QemClient;

/// What an item does to its thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    /// The plan's mark: `+` create, `~` update, `-` delete.
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
        }
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_char(self.symbol())
    }
}

/// What an item changes. The declaration order is the plan's order within a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Acl,
    Endpoint,
    Server,
    Task,
}

/// Items of a phase run before those of a later one; items of one phase run concurrently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Register or update servers: tasks and ACLs need them.
    Servers,
    TasksAndAcls,
    /// Endpoints can go once no task uses them.
    EndpointDeletions,
    /// Unregistering a server removes its tasks, so it comes last.
    ServerDeletions,
}

/// One change of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub action: Action,
    pub kind: Kind,
    pub server: String,
    pub name: String,
    pub summary: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    #[serde(skip)]
    pub op: Op,
}

/// The requests that carry out an item.
#[derive(Debug, Clone)]
pub enum Op {
    PutServer {
        def: Value,
    },
    DeleteServer,
    PutAcl {
        acl: Value,
    },
    DeleteAcl,
    CreateTask {
        def: Value,
        start: Option<String>,
    },
    UpdateTask {
        def: Value,
        /// Delete before importing (the import merges and cannot remove items).
        replace: bool,
        stop_first: bool,
        restart: Option<String>,
        timeout: Duration,
    },
    DeleteTask {
        stop_first: bool,
        delete_logs: bool,
        timeout: Duration,
    },
    StartTask {
        option: String,
    },
    StopTask {
        timeout: Duration,
    },
    DeleteEndpoint,
}

impl Item {
    pub fn label(&self) -> String {
        let action = self.action.symbol();
        match self.kind {
            Kind::Server => format!("{action} server `{}`", self.name),
            Kind::Acl => format!("{action} acl of server `{}`", self.server),
            Kind::Task => format!("{action} task `{}` on `{}`", self.name, self.server),
            Kind::Endpoint => format!("{action} endpoint `{}` on `{}`", self.name, self.server),
        }
    }

    pub fn phase(&self) -> Phase {
        match (self.kind, self.action) {
            (Kind::Server, Action::Delete) => Phase::ServerDeletions,
            (Kind::Server, _) => Phase::Servers,
            (Kind::Acl | Kind::Task, _) => Phase::TasksAndAcls,
            (Kind::Endpoint, _) => Phase::EndpointDeletions,
        }
    }
}

/// Read the state and compute the plan, in the order it runs.
pub(crate) async fn compute(
    client: &QemClient,
    loaded: &Loaded,
    concurrency: usize,
) -> Result<Vec<Item>> {
    let desired = tasks::desired(loaded)?;
    let live = live::read(client, loaded, concurrency).await?;
    let mut items = servers::plan(&loaded.manifest, &live)?;
    items.extend(acls::plan(&loaded.manifest, &live));
    items.extend(tasks::plan(client, loaded, &desired, &live, concurrency).await?);
    items.extend(endpoints::plan(&loaded.manifest, &desired, &live)?);
    items.sort_by(|a, b| {
        (a.phase(), a.kind, &a.server, &a.name).cmp(&(b.phase(), b.kind, &b.server, &b.name))
    });
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(action: Action, kind: Kind) -> Item {
        Item {
            action,
            kind,
            server: "s".into(),
            name: "n".into(),
            summary: String::new(),
            changes: vec![],
            op: Op::DeleteEndpoint,
        }
    }

    #[test]
    fn servers_come_first_and_go_last() {
        assert_eq!(item(Action::Create, Kind::Server).phase(), Phase::Servers);
        assert_eq!(item(Action::Update, Kind::Server).phase(), Phase::Servers);
        assert_eq!(
            item(Action::Delete, Kind::Server).phase(),
            Phase::ServerDeletions
        );
        assert_eq!(
            item(Action::Delete, Kind::Task).phase(),
            Phase::TasksAndAcls
        );
        assert!(Phase::EndpointDeletions > Phase::TasksAndAcls);
        assert_eq!(
            serde_json::to_value(item(Action::Update, Kind::Acl)).unwrap()["action"],
            "~"
        );
        assert_eq!(
            item(Action::Delete, Kind::Acl).label(),
            "- acl of server `s`"
        );
    }
}
