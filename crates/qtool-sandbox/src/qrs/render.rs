//! Stored form → wire form: references expanded to the target's condensed shape (so a renamed
//! stream shows up renamed in every app), condensed projection, `privileges`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::store::{Store, parse_row};
use super::types::{self, TypeDef, type_def};

/// Privileges reported with `privileges=true` (the sandbox user may do everything).
pub const ALL_PRIVILEGES: &[&str] = &["create", "read", "update", "delete"];

/// How deep references are expanded (App → stream is 1; ExecutionSession → reloadTask → operational
/// is still inline).
const MAX_REF_DEPTH: usize = 2;

pub struct Renderer<'a> {
    store: &'a Store,
    cache: HashMap<(&'static str, String), Value>,
}

impl<'a> Renderer<'a> {
    pub fn new(store: &'a Store) -> Self {
        Renderer {
            store,
            cache: HashMap::new(),
        }
    }

    /// The wire form of a stored entity of `td` (a view type renders its source type).
    pub fn render(
        &mut self,
        td: &TypeDef,
        stored: Map<String, Value>,
        condensed: bool,
        privileges: bool,
    ) -> Value {
        let source = td.view_of.and_then(type_def).unwrap_or(td);
        let mut e = self.expand(source, stored, condensed.then_some(td), 0);
        if td.view_of.is_some() || condensed {
            let fields = if condensed {
                types::condensed_fields(td)
            } else {
                types::full_fields(td)
            };
            e = project(&e, fields);
        }
        if td.has_privileges {
            e.insert(
                "privileges".into(),
                if privileges {
                    json!(ALL_PRIVILEGES)
                } else {
                    Value::Null
                },
            );
        }
        Value::Object(e)
    }

    /// Expand references of `source`; when `only_for` is given, only those inside its condensed
    /// fields (the others are projected away anyway).
    fn expand(
        &mut self,
        source: &TypeDef,
        mut e: Map<String, Value>,
        only_for: Option<&TypeDef>,
        depth: usize,
    ) -> Map<String, Value> {
        let keep = only_for.map(types::condensed_fields);
        for (path, target) in source.refs {
            let segs: Vec<&str> = path.split('.').collect();
            if let (Some(keep), Some(first)) = (&keep, segs.first())
                && !keep.iter().any(|k| k == first)
            {
                continue;
            }
            self.expand_path(&mut e, &segs, target, depth);
        }
        e
    }

    fn expand_path(
        &mut self,
        m: &mut Map<String, Value>,
        segs: &[&str],
        target: &str,
        depth: usize,
    ) {
        let Some((first, rest)) = segs.split_first() else {
            return;
        };
        let Some(v) = m.get_mut(*first) else { return };
        self.expand_value(v, rest, target, depth);
    }

    fn expand_value(&mut self, v: &mut Value, rest: &[&str], target: &str, depth: usize) {
        match v {
            Value::Array(items) => {
                for i in items.iter_mut() {
                    self.expand_value(i, rest, target, depth);
                }
            }
            Value::Object(o) if !rest.is_empty() => self.expand_path(o, rest, target, depth),
            Value::Object(o) => {
                if let Some(id) = o.get("id").and_then(Value::as_str).map(str::to_string)
                    && let Some(c) = self.condensed_ref(target, &id, depth + 1)
                {
                    *v = c;
                }
            }
            _ => {}
        }
    }

    /// The condensed shape of entity `id` of type `ty`, as embedded in another entity.
    pub fn condensed_ref(&mut self, ty: &str, id: &str, depth: usize) -> Option<Value> {
        let td = type_def(ty)?;
        if let Some(v) = self.cache.get(&(td.name, id.to_string())) {
            return Some(v.clone());
        }
        let stored = self.store.get_row(ty, id).and_then(|r| parse_row(&r))?;
        let e = if depth >= MAX_REF_DEPTH {
            stored
        } else {
            self.expand(td, stored, Some(td), depth)
        };
        let mut c = project(&e, types::condensed_fields(td));
        if td.has_privileges {
            c.insert("privileges".into(), Value::Null);
        }
        let c = Value::Object(c);
        self.cache.insert((td.name, id.to_string()), c.clone());
        Some(c)
    }
}

/// Keep `fields` of `e`, in that order (missing ones are skipped).
pub fn project(e: &Map<String, Value>, fields: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    for f in fields {
        if let Some(v) = e.get(f) {
            out.insert(f.clone(), v.clone());
        }
    }
    out
}
