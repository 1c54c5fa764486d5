//! App objects (`/qrs/app/object`): the sheets, stories, master items and bookmarks the
//! repository records for each app, with their approve/publish state.
//!
//! Seeded apps carry the objects of their engine content (see `engine::qvf`); a copied app gets
//! copies of its source's objects (new ids, owned by the caller, neither published nor
//! approved); deleting an app deletes its objects; when the engine saves an app, its objects
//! follow the app's content ([`sync_with_engine`]), as the repository does on QSEoW. An uploaded
//! app has none until the engine saves it.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::routes::{Ctx, not_found, respond_entity};
use super::store::{self, Store};
use super::types::type_def;
use crate::qrs::spec;

pub const TYPE: &str = "app/object";

/// An object of an app's content as the repository records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineItem {
    pub engine_id: String,
    pub object_type: String,
    pub name: String,
}

/// Apps beyond this many seeded apps get no objects (keeps a 50,000-app seed small).
pub const MAX_SEEDED_APPS: usize = 1_000;

/// A short engine object id (`aBcDeF`), as the engine makes them for objects that are not sheets.
fn engine_id(seed: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut x = seed | 1;
    (0..6)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// The stored fields of a new object of `app`.
fn object_body(
    app: &Map<String, Value>,
    object_type: &str,
    name: &str,
    owner: Option<&Value>,
    seed: u64,
) -> Map<String, Value> {
    let published = app.get("published").and_then(Value::as_bool) == Some(true);
    let base = published && matches!(object_type, "sheet" | "story");
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("objectType".into(), json!(object_type));
    m.insert("engineObjectType".into(), json!(object_type));
    let engine_object_id = if object_type == "sheet" {
        store::new_id()
    } else {
        engine_id(seed)
    };
    m.insert("engineObjectId".into(), json!(engine_object_id));
    m.insert(
        "app".into(),
        json!({"id": app.get("id").cloned().unwrap_or(Value::Null)}),
    );
    m.insert(
        "owner".into(),
        owner
            .cloned()
            .or_else(|| app.get("owner").cloned())
            .unwrap_or(Value::Null),
    );
    m.insert(
        "contentHash".into(),
        json!(format!("{:016x}", seed.wrapping_mul(0x9e37_79b9_7f4a_7c15))),
    );
    m.insert("size".into(), json!(2_000 + seed % 30_000));
    m.insert("published".into(), json!(base));
    m.insert("approved".into(), json!(base));
    if base {
        let at = app
            .get("publishTime")
            .cloned()
            .unwrap_or(json!(spec::NEVER_DATE));
        m.insert("publishTime".into(), at);
    }
    m
}

fn put_new(s: &mut Store, body: &Map<String, Value>, by: &str) {
    if let Some(td) = type_def(TYPE) {
        let e = s.new_entity(td, body, by);
        s.put(TYPE, &e);
    }
}

/// Seed the objects of app `app_id` (the `index`-th seeded app): those of its content.
pub fn seed_for_app(s: &mut Store, app_id: &str, index: usize, by: &str, items: &[EngineItem]) {
    let Some(app) = s.get("app", app_id) else {
        return;
    };
    for (k, item) in items.iter().enumerate() {
        let seed = (index as u64) << 8 | k as u64;
        let mut body = object_body(
            &app,
            &item.object_type,
            &item.name,
            None,
            seed.wrapping_add(1),
        );
        body.insert("engineObjectId".into(), json!(item.engine_id));
        put_new(s, &body, by);
    }
}

/// Make the objects of app `app_id` match what the engine saved: new ones are created (owned by
/// `owner`, neither published nor approved), renamed ones renamed, gone ones removed.
pub fn sync_with_engine(
    s: &mut Store,
    app_id: &str,
    items: &[EngineItem],
    owner: Option<&str>,
    by: &str,
) {
    let Some(app) = s.get("app", app_id) else {
        return;
    };
    let app_id = app_id.to_ascii_lowercase();
    let existing: Vec<Map<String, Value>> = s
        .all(TYPE)
        .into_iter()
        .filter(|o| store::ref_ids(o, "app").contains(&app_id))
        .collect();
    let engine_id = |o: &Map<String, Value>| {
        o.get("engineObjectId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    for o in &existing {
        if !items.iter().any(|i| i.engine_id == engine_id(o))
            && let Some(id) = o.get("id").and_then(Value::as_str)
        {
            s.remove(TYPE, id);
        }
    }
    let owner = owner.map(|o| json!({ "id": o }));
    for (k, item) in items.iter().enumerate() {
        match existing.iter().find(|o| engine_id(o) == item.engine_id) {
            Some(o) if o.get("name").and_then(Value::as_str) != Some(item.name.as_str()) => {
                let mut o = o.clone();
                let now = s.now();
                o.insert("name".into(), json!(item.name));
                o.insert("modifiedDate".into(), json!(now));
                o.insert("modifiedByUserName".into(), json!(by));
                s.put(TYPE, &o);
            }
            Some(_) => {}
            None => {
                let mut body = object_body(
                    &app,
                    &item.object_type,
                    &item.name,
                    owner.as_ref(),
                    k as u64 + 1,
                );
                body.insert("engineObjectId".into(), json!(item.engine_id));
                body.insert("published".into(), json!(false));
                body.insert("approved".into(), json!(false));
                body.remove("publishTime");
                put_new(s, &body, by);
            }
        }
    }
}

/// Give the new app `copy_id` copies of the objects of `source_id`, owned by `owner`.
pub fn copy_for_app(s: &mut Store, source_id: &str, copy_id: &str, owner: Option<&str>, by: &str) {
    let Some(copy) = s.get("app", copy_id) else {
        return;
    };
    let owner = owner.map(|o| json!({ "id": o }));
    let source_id = source_id.to_ascii_lowercase();
    let originals: Vec<Map<String, Value>> = s
        .all(TYPE)
        .into_iter()
        .filter(|o| store::ref_ids(o, "app").contains(&source_id))
        .collect();
    for (k, o) in originals.iter().enumerate() {
        let object_type = o
            .get("objectType")
            .and_then(Value::as_str)
            .unwrap_or("sheet");
        let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
        let mut body = object_body(&copy, object_type, name, owner.as_ref(), k as u64 + 1);
        for field in [
            "engineObjectId",
            "contentHash",
            "size",
            "description",
            "attributes",
        ] {
            if let Some(v) = o.get(field) {
                body.insert(field.into(), v.clone());
            }
        }
        put_new(s, &body, by);
    }
}

/// The ids of the objects of app `app_id`.
pub fn of_app(s: &Store, app_id: &str) -> Vec<String> {
    let app_id = app_id.to_ascii_lowercase();
    s.all(TYPE)
        .into_iter()
        .filter(|o| store::ref_ids(o, "app").contains(&app_id))
        .filter_map(|o| o.get("id").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// `POST .../approve|unapprove` (201) and `PUT .../publish|unpublish` (200): set `field`.
pub fn set_flag(ctx: &Ctx, field: &str, value: bool, status: StatusCode) -> Response {
    let id = ctx.param("id").to_ascii_lowercase();
    let by = ctx.by();
    let found = ctx.st.mutate(|s| {
        let Some(mut o) = s.get(TYPE, &id) else {
            return false;
        };
        let now = s.now();
        o.insert(field.into(), json!(value));
        if field == "published" {
            let at = if value {
                now.clone()
            } else {
                spec::NEVER_DATE.to_string()
            };
            o.insert("publishTime".into(), json!(at));
        }
        o.insert("modifiedDate".into(), json!(now));
        o.insert("modifiedByUserName".into(), json!(by));
        s.put(TYPE, &o);
        true
    });
    if !found {
        return not_found("App.Object", &id);
    }
    respond_entity(ctx, status, TYPE, &id)
}
