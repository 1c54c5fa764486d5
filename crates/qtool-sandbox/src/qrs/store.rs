//! The repository: one table per entity type. Rows are kept as compact JSON text of the stored
//! form (references reduced to `{"id": ..}`), so 50,000 apps cost tens of megabytes, and cloning
//! a row out of the lock is a reference-count increment.
//!
//! The rendered wire text of entities (references expanded) is cached per entity and variant
//! ([`RenderCache`]): an entry is valid while its source row is the stored one (same `Arc`) and
//! no type its rendering reads from has changed since (those caches are dropped on every change).
//!
//! Every change is a [`Store::put`] or a [`Store::remove`]; while recording
//! ([`Store::start_recording`]) both are noted as journal operations (`["put", type, row]`,
//! `["rm", type, id]`), which [`Store::replay`] applies again after a restart. Replaying is
//! idempotent: each operation sets a row to a whole value or removes it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value, json};

use super::types::{self, TypeDef};
use crate::qrs::spec;

pub type Row = Arc<str>;

#[derive(Default)]
pub struct Table {
    rows: BTreeMap<u64, Row>,
    index: HashMap<String, u64>,
}

/// Upper bound of the cached rendered text (bytes); beyond it, entities are rendered uncached.
const RENDER_CACHE_BUDGET: usize = 96 * 1024 * 1024;

/// One cached rendering: the row it was made from, and its wire text.
struct Rendered {
    source: Row,
    text: Row,
}

/// Rendered wire text by rendered type name, then `(row seq, variant)`.
#[derive(Default)]
pub struct RenderCache {
    types: HashMap<&'static str, HashMap<(u64, u8), Rendered>>,
    bytes: usize,
}

impl RenderCache {
    fn get(&self, ty: &str, seq: u64, variant: u8, row: &Row) -> Option<Row> {
        let r = self.types.get(ty)?.get(&(seq, variant))?;
        Arc::ptr_eq(&r.source, row).then(|| r.text.clone())
    }

    fn insert(&mut self, ty: &'static str, seq: u64, variant: u8, source: Row, text: Row) {
        if self.bytes + text.len() > RENDER_CACHE_BUDGET {
            return;
        }
        self.bytes += text.len();
        let old = self
            .types
            .entry(ty)
            .or_default()
            .insert((seq, variant), Rendered { source, text });
        if let Some(old) = old {
            self.bytes -= old.text.len();
        }
    }

    /// Entity `seq` of `ty` changed or went away.
    fn changed(&mut self, ty: &str, seq: u64) {
        let mut freed = 0;
        self.types.retain(|rendered, entries| {
            if reads_refs_of(rendered, ty) {
                freed += entries.values().map(|r| r.text.len()).sum::<usize>();
                return false;
            }
            if types::type_def(rendered).is_some_and(|td| td.view_of.unwrap_or(td.name) == ty) {
                for v in 0..4 {
                    if let Some(r) = entries.remove(&(seq, v)) {
                        freed += r.text.len();
                    }
                }
            }
            true
        });
        self.bytes -= freed;
    }
}

/// Whether rendering an entity of `rendered` reads entities of `ty` through references
/// (transitively).
fn reads_refs_of(rendered: &str, ty: &str) -> bool {
    static DEPS: OnceLock<HashMap<&'static str, HashSet<&'static str>>> = OnceLock::new();
    let deps = DEPS.get_or_init(|| {
        let mut out = HashMap::new();
        for td in types::TYPES {
            let mut seen: HashSet<&'static str> = HashSet::new();
            let mut todo = vec![td.view_of.unwrap_or(td.name)];
            while let Some(t) = todo.pop() {
                let Some(def) = types::type_def(t) else {
                    continue;
                };
                for (_, target) in def.refs {
                    if seen.insert(target) {
                        todo.push(target);
                    }
                }
            }
            out.insert(td.name, seen);
        }
        out
    });
    deps.get(rendered).is_none_or(|d| d.contains(ty))
}

#[derive(Default)]
pub struct Store {
    tables: HashMap<&'static str, Table>,
    rendered: RenderCache,
    seq: u64,
    last_ms: i128,
    /// `(lowercase dir, lowercase userId)` → user id.
    users: HashMap<(String, String), String>,
    /// Journal operations of the change being made (JSON array text), while recording.
    recording: Option<Vec<u8>>,
}

/// A new GUID (lowercase, hyphenated, as QRS writes them).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `2026-11-23T08:00:00.000Z` for a Unix time in milliseconds.
pub fn format_ms(ms: i128) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Milliseconds since the Unix epoch of a QRS date string.
pub fn parse_date_ms(s: &str) -> Option<i128> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| {
            // Dates without a zone (`2026-11-23T08:00:00.000`) are UTC.
            time::PrimitiveDateTime::parse(
                s,
                time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
                ),
            )
            .ok()
            .map(time::PrimitiveDateTime::assume_utc)
        })?;
    Some(t.unix_timestamp_nanos() / 1_000_000)
}

pub fn now_ms() -> i128 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000
}

impl Store {
    /// Note every put and remove from now on (see the module docs).
    pub fn start_recording(&mut self) {
        self.recording = Some(Vec::new());
    }

    /// The operations noted since [`start_recording`](Self::start_recording), as a JSON array
    /// (`None` when there were none); recording stops.
    pub fn take_recorded(&mut self) -> Option<Vec<u8>> {
        let mut ops = self.recording.take().filter(|ops| !ops.is_empty())?;
        ops.insert(0, b'[');
        ops.push(b']');
        Some(ops)
    }

    fn record(&mut self, op: &str, ty: &str, value: &str, raw: bool) {
        let Some(ops) = self.recording.as_mut() else {
            return;
        };
        if !ops.is_empty() {
            ops.push(b',');
        }
        let quoted = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        ops.extend_from_slice(format!("[\"{op}\",{},", quoted(ty)).as_bytes());
        if raw {
            ops.extend_from_slice(value.as_bytes());
        } else {
            ops.extend_from_slice(quoted(value).as_bytes());
        }
        ops.push(b']');
    }

    /// Apply journal operations (a JSON array as recorded) again.
    pub fn replay(&mut self, ops: &Value) -> Result<(), String> {
        let ops = ops.as_array().ok_or("not an array of operations")?;
        for op in ops {
            let parts = op.as_array().map(Vec::as_slice).unwrap_or_default();
            let ty = parts
                .get(1)
                .and_then(Value::as_str)
                .and_then(types::type_def)
                .map(|td| td.name)
                .ok_or_else(|| format!("unknown entity type in {op}"))?;
            match (parts.first().and_then(Value::as_str), parts.get(2)) {
                (Some("put"), Some(Value::Object(row))) => self.put(ty, row),
                (Some("rm"), Some(Value::String(id))) => {
                    self.remove(ty, id);
                }
                _ => return Err(format!("unknown operation {op}")),
            }
        }
        Ok(())
    }

    /// A timestamp later than every one handed out before (so each change has a distinct
    /// `modifiedDate` and stale PUTs are always detected).
    pub fn now(&mut self) -> String {
        let ms = now_ms().max(self.last_ms + 1);
        self.last_ms = ms;
        format_ms(ms)
    }

    /// After seeding with back-dated entities: continue from the real clock.
    pub fn reset_clock(&mut self) {
        self.last_ms = now_ms();
    }

    fn table(&self, ty: &str) -> Option<&Table> {
        self.tables.get(ty)
    }

    pub fn count(&self, ty: &str) -> usize {
        self.table(ty).map_or(0, |t| t.rows.len())
    }

    pub fn get_row(&self, ty: &str, id: &str) -> Option<Row> {
        let t = self.table(ty)?;
        let seq = t
            .index
            .get(id)
            .or_else(|| t.index.get(&id.to_ascii_lowercase()))?;
        t.rows.get(seq).cloned()
    }

    pub fn get(&self, ty: &str, id: &str) -> Option<Map<String, Value>> {
        self.get_row(ty, id).and_then(|r| parse_row(&r))
    }

    pub fn contains(&self, ty: &str, id: &str) -> bool {
        self.get_row(ty, id).is_some()
    }

    /// Rows in insertion order.
    pub fn rows(&self, ty: &str) -> impl Iterator<Item = &Row> {
        self.table(ty).into_iter().flat_map(|t| t.rows.values())
    }

    /// Rows in insertion order, with their sequence numbers (the render cache's keys).
    pub fn seq_rows(&self, ty: &str) -> impl Iterator<Item = (u64, &Row)> {
        self.table(ty)
            .into_iter()
            .flat_map(|t| t.rows.iter().map(|(k, v)| (*k, v)))
    }

    /// The cached rendering of row `seq` (`row` is the text it must have been made from).
    pub fn cached_render(&self, ty: &str, seq: u64, variant: u8, row: &Row) -> Option<Row> {
        self.rendered.get(ty, seq, variant, row)
    }

    pub fn cache_render(&mut self, ty: &'static str, seq: u64, variant: u8, row: Row, text: Row) {
        self.rendered.insert(ty, seq, variant, row, text);
    }

    /// Every stored entity of `ty`, parsed.
    pub fn all(&self, ty: &str) -> Vec<Map<String, Value>> {
        self.rows(ty).filter_map(|r| parse_row(r)).collect()
    }

    /// Insert or replace (keeps the position of an existing row).
    pub fn put(&mut self, ty: &'static str, entity: &Map<String, Value>) {
        let Some(id) = entity.get("id").and_then(Value::as_str) else {
            return;
        };
        let id = id.to_ascii_lowercase();
        if ty == "user" {
            self.index_user(entity, &id);
        }
        let text: Row = match serde_json::to_string(entity) {
            Ok(t) => Arc::from(t),
            Err(_) => return,
        };
        self.record("put", ty, &text, true);
        let table = self.tables.entry(ty).or_default();
        let seq = match table.index.get(&id) {
            Some(seq) => {
                table.rows.insert(*seq, text);
                *seq
            }
            None => {
                self.seq += 1;
                table.index.insert(id, self.seq);
                table.rows.insert(self.seq, text);
                self.seq
            }
        };
        self.rendered.changed(ty, seq);
    }

    fn index_user(&mut self, entity: &Map<String, Value>, id: &str) {
        self.users.retain(|_, v| v != id);
        let dir = entity.get("userDirectory").and_then(Value::as_str);
        let uid = entity.get("userId").and_then(Value::as_str);
        if let (Some(dir), Some(uid)) = (dir, uid) {
            self.users
                .insert((dir.to_lowercase(), uid.to_lowercase()), id.to_string());
        }
    }

    pub fn remove(&mut self, ty: &str, id: &str) -> Option<Map<String, Value>> {
        let table = self.tables.get_mut(ty)?;
        let seq = table.index.remove(&id.to_ascii_lowercase())?;
        let row = table.rows.remove(&seq)?;
        self.record("rm", ty, id, false);
        self.rendered.changed(ty, seq);
        if ty == "user" {
            let id = id.to_ascii_lowercase();
            self.users.retain(|_, v| *v != id);
        }
        parse_row(&row)
    }

    pub fn user_id(&self, dir: &str, user: &str) -> Option<String> {
        self.users
            .get(&(dir.to_lowercase(), user.to_lowercase()))
            .cloned()
    }

    /// A new entity of `ty` from `body` (fields outside the type's shape are ignored), with the
    /// audit fields filled in. References in `body` are reduced to ids.
    pub fn new_entity(
        &mut self,
        td: &TypeDef,
        body: &Map<String, Value>,
        by: &str,
    ) -> Map<String, Value> {
        let mut e = types::defaults(td.name);
        let now = self.now();
        for (k, v) in body {
            if let Some(slot) = e.get_mut(k)
                && !types::SERVER_OWNED.contains(&k.as_str())
            {
                *slot = v.clone();
            }
        }
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| uuid::Uuid::parse_str(s).is_ok() && *s != spec::EMPTY_GUID)
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(new_id);
        e.insert("id".into(), json!(id));
        e.insert("createdDate".into(), json!(now));
        e.insert("modifiedDate".into(), json!(now));
        e.insert("modifiedByUserName".into(), json!(by));
        self.finish(td, &mut e, &now, by);
        e
    }

    /// Apply `body` over `stored` (an update): every field of the type present in `body` replaces
    /// the stored one; server-owned fields stay.
    pub fn updated_entity(
        &mut self,
        td: &TypeDef,
        stored: &Map<String, Value>,
        body: &Map<String, Value>,
        by: &str,
    ) -> Map<String, Value> {
        let mut e = stored.clone();
        for (k, v) in body {
            if let Some(slot) = e.get_mut(k)
                && !types::SERVER_OWNED.contains(&k.as_str())
            {
                *slot = v.clone();
            }
        }
        let now = self.now();
        e.insert("modifiedDate".into(), json!(now));
        e.insert("modifiedByUserName".into(), json!(by));
        self.finish(td, &mut e, &now, by);
        e
    }

    /// Reduce references to ids, give embedded objects (custom property values, operational
    /// parts) their audit fields.
    fn finish(&mut self, td: &TypeDef, e: &mut Map<String, Value>, now: &str, by: &str) {
        for (path, _) in td.refs {
            let segs: Vec<&str> = path.split('.').collect();
            reduce_refs(e, &segs);
        }
        if let Some(Value::Array(cps)) = e.get_mut("customProperties") {
            for cp in cps.iter_mut() {
                if let Value::Object(cp) = cp {
                    embed_audit(cp, "CustomPropertyValue", now, by, false);
                    cp.entry("value").or_insert(json!(""));
                }
            }
            cps.retain(Value::is_object);
        }
        if let Some(Value::Array(rules)) = e.get_mut("compositeRules") {
            for r in rules.iter_mut() {
                if let Value::Object(r) = r {
                    embed_audit(r, "CompositeEventRule", now, by, false);
                    r.entry("ruleState").or_insert(json!(1));
                    for k in ["reloadTask", "userSyncTask", "externalProgramTask"] {
                        r.entry(k).or_insert(Value::Null);
                    }
                    r.entry("operational").or_insert(Value::Null);
                }
            }
        }
        if let Some(Value::Object(tc)) = e.get_mut("timeConstraint") {
            embed_audit(tc, "CompositeEventTimeConstraint", now, by, false);
            for k in ["days", "hours", "minutes", "seconds"] {
                tc.entry(k).or_insert(json!(0));
            }
        }
    }
}

fn embed_audit(m: &mut Map<String, Value>, schema: &str, now: &str, by: &str, privileges: bool) {
    let has_id = m
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok() && s != spec::EMPTY_GUID);
    if !has_id {
        m.insert("id".into(), json!(new_id()));
        m.insert("createdDate".into(), json!(now));
    }
    m.entry("createdDate").or_insert(json!(now));
    m.insert("modifiedDate".into(), json!(now));
    m.insert("modifiedByUserName".into(), json!(by));
    m.insert("schemaPath".into(), json!(schema));
    if privileges {
        m.entry("privileges").or_insert(Value::Null);
    }
    // keep the audit fields first, as QRS writes them
    let rest: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
    for k in [
        "id",
        "createdDate",
        "modifiedDate",
        "modifiedByUserName",
        "schemaPath",
    ] {
        if let Some((_, v)) = rest.iter().find(|(key, _)| key == k) {
            m.insert(k.into(), v.clone());
        }
    }
    for (k, v) in rest {
        m.entry(k).or_insert(v);
    }
}

/// Replace the objects at `segs` by `{"id": ..}` (null when they carry no id).
fn reduce_refs(m: &mut Map<String, Value>, segs: &[&str]) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    let Some(v) = m.get_mut(*first) else { return };
    reduce_value(v, rest);
}

fn reduce_value(v: &mut Value, rest: &[&str]) {
    match v {
        Value::Array(items) => {
            for i in items.iter_mut() {
                reduce_value(i, rest);
            }
            if rest.is_empty() {
                items.retain(|i| !i.is_null());
            }
        }
        Value::Object(o) if !rest.is_empty() => reduce_refs(o, rest),
        Value::Object(o) => {
            let id = o
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase);
            *v = match id {
                Some(id) => json!({ "id": id }),
                None => Value::Null,
            };
        }
        Value::String(s) if rest.is_empty() && uuid::Uuid::parse_str(s).is_ok() => {
            *v = json!({ "id": s.to_ascii_lowercase() });
        }
        _ => {}
    }
}

pub fn parse_row(r: &str) -> Option<Map<String, Value>> {
    serde_json::from_str(r).ok()
}

/// Every id referenced at `path` (`{"id"}` objects after reduction) in a stored entity.
pub fn ref_ids(e: &Map<String, Value>, path: &str) -> Vec<String> {
    let segs: Vec<String> = path.split('.').map(str::to_string).collect();
    let v = Value::Object(e.clone());
    super::filter::resolve(&v, &segs)
        .into_iter()
        .filter_map(|x| x.get("id").and_then(Value::as_str).map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let s = format_ms(1_795_420_800_123);
        assert_eq!(s, "2026-11-23T08:00:00.123Z");
        assert_eq!(parse_date_ms(&s), Some(1_795_420_800_123));
        assert_eq!(
            parse_date_ms("2026-11-23T08:00:00.123"),
            Some(1_795_420_800_123)
        );
        assert!(parse_date_ms("yesterday").is_none());
    }

    #[test]
    fn now_is_strictly_increasing() {
        let mut s = Store::default();
        let a = s.now();
        let b = s.now();
        assert!(b > a);
    }
}
