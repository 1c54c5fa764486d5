//! An app as the engine holds it in memory while sessions have it open: app properties, load
//! script, generic objects (a tree: children belong to a parent), the library (dimensions,
//! measures, variables, bookmarks) and a summary of the data model the last reload produced.
//! One `LoadedApp` is shared by every session that opened the app, as in the real engine; it is
//! read from the app's `.qvf` file on first open and written back by `DoSave`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::qvf::{self, AppDocument, DataModel};

/// Properties of one object or library item, with the dates its `qMeta` shows.
#[derive(Debug, Clone)]
pub struct Entity {
    pub props: Map<String, Value>,
    pub created: String,
    pub modified: String,
    /// Variables only: set by a reload's SET/LET rather than through the API.
    pub script_created: bool,
}

impl Entity {
    pub fn new(props: Map<String, Value>, now: &str) -> Entity {
        Entity {
            props,
            created: now.to_string(),
            modified: now.to_string(),
            script_created: false,
        }
    }

    pub fn id(&self) -> &str {
        info_field(&self.props, "qId")
    }

    pub fn kind(&self) -> &str {
        info_field(&self.props, "qType")
    }
}

/// `props.qInfo.<field>` as text ("" when absent).
pub fn info_field<'a>(props: &'a Map<String, Value>, field: &str) -> &'a str {
    props
        .get("qInfo")
        .and_then(|i| i.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Library items of one kind, in creation order.
#[derive(Debug, Default, Clone)]
pub struct Library {
    order: Vec<String>,
    items: HashMap<String, Entity>,
}

impl Library {
    pub fn get(&self, id: &str) -> Option<&Entity> {
        self.items.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Entity> {
        self.items.get_mut(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.items.contains_key(id)
    }

    pub fn insert(&mut self, entity: Entity) {
        let id = entity.id().to_string();
        if self.items.insert(id.clone(), entity).is_none() {
            self.order.push(id);
        }
    }

    pub fn remove(&mut self, id: &str) -> Option<Entity> {
        let removed = self.items.remove(id)?;
        self.order.retain(|x| x != id);
        Some(removed)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entity> {
        self.order.iter().filter_map(|id| self.items.get(id))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A generic object and its place in the tree.
#[derive(Debug, Clone)]
pub struct Node {
    pub entity: Entity,
    pub parent: Option<String>,
    pub children: Vec<String>,
}

/// Generic objects (sheets, charts, master objects...), in creation order.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    order: Vec<String>,
    nodes: HashMap<String, Node>,
}

impl Tree {
    pub fn get(&self, id: &str) -> Option<&Node> {
        self.nodes.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Node> {
        self.nodes.get_mut(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.nodes.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node, parents before their children, in creation order.
    pub fn iter(&self) -> impl Iterator<Item = &Node> {
        self.order.iter().filter_map(|id| self.nodes.get(id))
    }

    /// Add `entity` under `parent` (which must exist, if given).
    pub fn insert(&mut self, entity: Entity, parent: Option<&str>) {
        let id = entity.id().to_string();
        if let Some(p) = parent
            && let Some(node) = self.nodes.get_mut(p)
            && !node.children.contains(&id)
        {
            node.children.push(id.clone());
        }
        let node = Node {
            entity,
            parent: parent.map(str::to_string),
            children: Vec::new(),
        };
        if self.nodes.insert(id.clone(), node).is_none() {
            self.order.push(id);
        }
    }

    /// Remove `id` and its descendants; returns the removed ids (the node first).
    pub fn remove(&mut self, id: &str) -> Vec<String> {
        let parent = self.nodes.get(id).and_then(|n| n.parent.clone());
        let removed = self.subtree(id);
        for r in &removed {
            self.nodes.remove(r);
        }
        if let Some(p) = parent.and_then(|p| self.nodes.get_mut(&p)) {
            p.children.retain(|c| c != id);
        }
        self.order.retain(|x| !removed.contains(x));
        removed
    }

    /// Put `child` under `parent` (or at the top level), moving it if it was elsewhere.
    pub fn reparent(&mut self, child: &str, parent: Option<&str>) {
        let old = self.nodes.get(child).and_then(|n| n.parent.clone());
        if old.as_deref() == parent {
            return;
        }
        if let Some(p) = old.and_then(|p| self.nodes.get_mut(&p)) {
            p.children.retain(|c| c != child);
        }
        if let Some(p) = parent.and_then(|p| self.nodes.get_mut(p))
            && !p.children.iter().any(|c| c == child)
        {
            p.children.push(child.to_string());
        }
        if let Some(n) = self.nodes.get_mut(child) {
            n.parent = parent.map(str::to_string);
        }
    }

    /// Order `parent`'s children as `order` (ids not among its children are ignored).
    pub fn order_children(&mut self, parent: &str, order: &[String]) {
        if let Some(p) = self.nodes.get_mut(parent) {
            let mut ordered: Vec<String> = order
                .iter()
                .filter(|c| p.children.contains(c))
                .cloned()
                .collect();
            for c in &p.children {
                if !ordered.contains(c) {
                    ordered.push(c.clone());
                }
            }
            p.children = ordered;
        }
    }

    /// The full property tree of `id`: `{"qProperty", "qChildren": [..]}`.
    pub fn property_tree(&self, id: &str) -> Option<Value> {
        let node = self.nodes.get(id)?;
        let children: Vec<Value> = node
            .children
            .iter()
            .filter_map(|c| self.property_tree(c))
            .collect();
        Some(json!({"qProperty": node.entity.props, "qChildren": children}))
    }

    /// Ids of `id` and all its descendants.
    pub fn subtree(&self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut todo = vec![id.to_string()];
        while let Some(next) = todo.pop() {
            if let Some(node) = self.nodes.get(&next) {
                todo.extend(node.children.iter().cloned());
                out.push(next);
            }
        }
        out
    }
}

/// The app itself.
#[derive(Debug, Clone)]
pub struct AppModel {
    pub id: String,
    pub session_app: bool,
    /// Opened with `qNoData`: the data model was not loaded.
    pub no_data: bool,
    pub properties: Map<String, Value>,
    pub script: String,
    pub objects: Tree,
    pub dimensions: Library,
    pub measures: Library,
    pub variables: Library,
    pub bookmarks: Library,
    pub data: DataModel,
    /// Connections embedded in the file (imported into the repository on upload).
    pub embedded_connections: Vec<Value>,
    /// Changed since the last save.
    pub modified: bool,
    /// A reload of this app is running.
    pub reloading: bool,
}

impl AppModel {
    /// A new, empty app (what `CreateSessionApp` and a foreign file give).
    pub fn empty(id: &str, title: &str, session_app: bool) -> AppModel {
        let mut properties = Map::new();
        properties.insert("qTitle".into(), json!(title));
        properties.insert("qThumbnail".into(), json!({"qUrl": ""}));
        AppModel {
            id: id.to_string(),
            session_app,
            no_data: false,
            properties,
            script: String::new(),
            objects: Tree::default(),
            dimensions: Library::default(),
            measures: Library::default(),
            variables: Library::default(),
            bookmarks: Library::default(),
            data: DataModel::default(),
            embedded_connections: Vec::new(),
            modified: false,
            reloading: false,
        }
    }

    /// The model of a stored document.
    pub fn from_document(id: &str, doc: AppDocument, no_data: bool) -> AppModel {
        let mut app = AppModel::empty(id, "", false);
        app.no_data = no_data;
        app.properties = doc.properties;
        app.script = doc.script;
        let date = |id: &str| doc.dates.get(id).cloned().unwrap_or_default();
        let entity = |props: Map<String, Value>| {
            let (created, modified) = date(info_field(&props, "qId"));
            Entity {
                props,
                created,
                modified,
                script_created: false,
            }
        };
        fn add_tree(
            tree: &mut Tree,
            entry: &Value,
            parent: Option<&str>,
            entity: &dyn Fn(Map<String, Value>) -> Entity,
        ) {
            let Some(Value::Object(props)) = entry.get("qProperty") else {
                return;
            };
            let e = entity(props.clone());
            let id = e.id().to_string();
            if id.is_empty() {
                return;
            }
            tree.insert(e, parent);
            if let Some(Value::Array(children)) = entry.get("qChildren") {
                for c in children {
                    add_tree(tree, c, Some(&id), entity);
                }
            }
        }
        for entry in &doc.objects {
            add_tree(&mut app.objects, entry, None, &entity);
        }
        for (lib, items) in [
            (&mut app.dimensions, doc.dimensions),
            (&mut app.measures, doc.measures),
            (&mut app.bookmarks, doc.bookmarks),
        ] {
            for v in items {
                if let Value::Object(props) = v
                    && !info_field(&props, "qId").is_empty()
                {
                    lib.insert(entity(props));
                }
            }
        }
        for v in doc.variables {
            if let Value::Object(mut props) = v
                && !info_field(&props, "qId").is_empty()
            {
                let script_created = props
                    .remove(qvf::SCRIPT_CREATED)
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                let mut e = entity(props);
                e.script_created = script_created;
                app.variables.insert(e);
            }
        }
        if !no_data {
            app.data = doc.data_model;
        }
        app.embedded_connections = doc.connections;
        app
    }

    /// The document to store (`previous` keeps the data model of an app opened without data).
    pub fn to_document(&self, previous_data: Option<&DataModel>) -> AppDocument {
        let mut dates = HashMap::new();
        let mut note = |e: &Entity| {
            dates.insert(e.id().to_string(), (e.created.clone(), e.modified.clone()));
        };
        for n in self.objects.iter() {
            note(&n.entity);
        }
        for lib in [
            &self.dimensions,
            &self.measures,
            &self.variables,
            &self.bookmarks,
        ] {
            for e in lib.iter() {
                note(e);
            }
        }
        let top: Vec<Value> = self
            .objects
            .iter()
            .filter(|n| n.parent.is_none())
            .filter_map(|n| self.objects.property_tree(n.entity.id()))
            .collect();
        let props = |lib: &Library| -> Vec<Value> {
            lib.iter().map(|e| Value::Object(e.props.clone())).collect()
        };
        let variables = self
            .variables
            .iter()
            .map(|e| {
                let mut p = e.props.clone();
                if e.script_created {
                    p.insert(qvf::SCRIPT_CREATED.into(), json!(true));
                }
                Value::Object(p)
            })
            .collect();
        let data = match (self.no_data, previous_data) {
            (true, Some(previous)) if self.data.last_reload_time.is_none() => previous.clone(),
            _ => self.data.clone(),
        };
        AppDocument {
            properties: self.properties.clone(),
            script: self.script.clone(),
            objects: top,
            dimensions: props(&self.dimensions),
            measures: props(&self.measures),
            variables,
            bookmarks: props(&self.bookmarks),
            connections: self.embedded_connections.clone(),
            data_model: data,
            dates,
            ..AppDocument::default()
        }
    }

    pub fn title(&self) -> &str {
        self.properties
            .get("qTitle")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The variable named `name` (names are case-sensitive, as in the engine).
    pub fn variable_by_name(&self, name: &str) -> Option<&Entity> {
        self.variables
            .iter()
            .find(|e| variable_name(&e.props) == name)
    }

    /// Every `{qId, qType}` of the app (objects, then the library).
    pub fn infos(&self) -> Vec<Value> {
        let info = |e: &Entity| json!({"qId": e.id(), "qType": e.kind()});
        self.objects
            .iter()
            .map(|n| info(&n.entity))
            .chain(self.dimensions.iter().map(info))
            .chain(self.measures.iter().map(info))
            .chain(self.bookmarks.iter().map(info))
            .chain(self.variables.iter().map(info))
            .collect()
    }
}

/// A variable's `qName`.
pub fn variable_name(props: &Map<String, Value>) -> &str {
    props.get("qName").and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(id: &str, ty: &str) -> Entity {
        let Value::Object(p) = json!({"qInfo": {"qId": id, "qType": ty}}) else {
            unreachable!()
        };
        Entity::new(p, "2024-01-01T00:00:00.000Z")
    }

    #[test]
    fn tree_keeps_children_with_their_parent() {
        let mut t = Tree::default();
        t.insert(obj("s1", "sheet"), None);
        t.insert(obj("c1", "barchart"), Some("s1"));
        t.insert(obj("c2", "kpi"), Some("s1"));
        t.insert(obj("g1", "text"), Some("c2"));
        let tree = t.property_tree("s1").unwrap();
        assert_eq!(tree["qChildren"].as_array().unwrap().len(), 2);
        assert_eq!(
            tree["qChildren"][1]["qChildren"][0]["qProperty"]["qInfo"]["qId"],
            "g1"
        );
        assert_eq!(t.remove("c2"), vec!["c2".to_string(), "g1".to_string()]);
        assert_eq!(t.get("s1").unwrap().children, vec!["c1".to_string()]);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn document_round_trip_keeps_everything() {
        let mut app = AppModel::empty("a", "Sales", false);
        app.script = "LOAD 1 AS x AUTOGENERATE 1;".into();
        app.objects.insert(obj("s1", "sheet"), None);
        app.objects.insert(obj("c1", "barchart"), Some("s1"));
        app.dimensions.insert(obj("d1", "dimension"));
        let mut v = obj("v1", "variable");
        v.props.insert("qName".into(), json!("vX"));
        v.script_created = true;
        app.variables.insert(v);
        let back = AppModel::from_document("a", app.to_document(None), false);
        assert_eq!(back.script, app.script);
        assert_eq!(
            back.objects.get("c1").unwrap().parent.as_deref(),
            Some("s1")
        );
        assert!(back.variable_by_name("vX").unwrap().script_created);
        assert_eq!(back.infos().len(), 4);
        assert_eq!(back.title(), "Sales");
    }
}
