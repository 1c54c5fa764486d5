//! Explicit ACLs of the manifest's servers, declared as a whole and compared as sets (names
//! case-insensitively): set when they differ, removed when the manifest's ACL is empty.

use std::collections::HashMap;

use serde_json::Value;

use super::live::Live;
use super::{Action, Item, Kind, Op};
use crate::qem::apply::manifest::{AclSpec, Manifest, Presence, ServerSpec};
use crate::qem::model::{self, AclEntry, Principal, Role};

pub(super) fn plan(m: &Manifest, live: &HashMap<String, Live>) -> Vec<Item> {
    let mut items = Vec::new();
    for s in &m.servers {
        let Some(acl) = &s.acl else { continue };
        if s.state != Presence::Present {
            continue;
        }
        // A server registered by this plan has no ACL yet.
        let current = live
            .get(&s.name)
            .filter(|l| l.def.is_some())
            .map(|l| l.acl.as_ref());
        items.extend(plan_one(s, acl, current));
    }
    items
}

fn spec_entries(acl: &AclSpec) -> Vec<AclEntry> {
    let mut out = Vec::new();
    for (role, spec) in [
        (Role::Admin, &acl.admin),
        (Role::Designer, &acl.designer),
        (Role::Operator, &acl.operator),
        (Role::Viewer, &acl.viewer),
    ] {
        let Some(spec) = spec else { continue };
        for (kind, names) in [
            (Principal::User, &spec.users),
            (Principal::Group, &spec.groups),
        ] {
            for n in names {
                out.push(AclEntry {
                    role,
                    kind,
                    name: n.clone(),
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `current`: `None` = server being registered now; `Some(None)` = no explicit ACL.
fn plan_one(s: &ServerSpec, acl: &AclSpec, current: Option<Option<&Value>>) -> Option<Item> {
    let want = spec_entries(acl);
    let cur_entries = current
        .flatten()
        .map(model::acl_entries)
        .unwrap_or_default();
    let cur_inherit = current
        .flatten()
        .is_some_and(model::acl_disable_inheritance);
    let has_explicit = current.flatten().is_some();
    let item = |action, summary: &str, changes, op| Item {
        action,
        kind: Kind::Acl,
        server: s.name.clone(),
        name: s.name.clone(),
        summary: summary.to_string(),
        changes,
        op,
    };
    if want.is_empty() && !acl.disable_inheritance {
        return has_explicit.then(|| {
            item(
                Action::Delete,
                "remove the explicit ACL",
                vec![],
                Op::DeleteAcl,
            )
        });
    }
    let want_key = model::acl_key(&want);
    let cur_key = model::acl_key(&cur_entries);
    if has_explicit && want_key == cur_key && cur_inherit == acl.disable_inheritance {
        return None;
    }
    let mut changes = Vec::new();
    for e in &want {
        if !cur_key.contains(&(e.role, e.kind, e.name.to_lowercase())) {
            changes.push(format!("+ {} {} `{}`", e.role, e.kind, e.name));
        }
    }
    for e in &cur_entries {
        if !want_key.contains(&(e.role, e.kind, e.name.to_lowercase())) {
            changes.push(format!("- {} {} `{}`", e.role, e.kind, e.name));
        }
    }
    if cur_inherit != acl.disable_inheritance {
        changes.push(format!(
            "~ disable_inheritance: {cur_inherit} → {}",
            acl.disable_inheritance
        ));
    }
    Some(item(
        if has_explicit {
            Action::Update
        } else {
            Action::Create
        },
        "set the explicit ACL",
        changes,
        Op::PutAcl {
            acl: model::acl_document(&want, acl.disable_inheritance),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn acl_plans() {
        let s: ServerSpec =
            toml::from_str("name = \"s\"\n[acl.admin]\nusers = ['D\\alice']").unwrap();
        let acl = s.acl.clone().unwrap();
        let same = json!({"admin_role": {"users": [{"name": "d\\ALICE"}], "groups": []}, "disable_inheritance": false});
        assert!(
            plan_one(&s, &acl, Some(Some(&same))).is_none(),
            "names compare case-insensitively"
        );
        let set = plan_one(&s, &acl, Some(None)).unwrap();
        assert_eq!(set.action, Action::Create);
        let removal = plan_one(&s, &AclSpec::default(), Some(Some(&same))).unwrap();
        assert!(matches!(removal.op, Op::DeleteAcl));
    }
}
