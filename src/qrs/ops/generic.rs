//! What every resource supports: list, count, get, create, update (GET → merge → PUT with the
//! fetched `modifiedDate`), delete; and finding one entity by name.

use futures_util::StreamExt;
use reqwest::{Method, Response};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorClass, Result};
use crate::qrs::client::{Body, QrsClient, json_body};
use crate::qrs::filter;
use crate::qrs::resources::{Op, ResourceKind};

/// Which entities a list returns.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub orderby: Option<String>,
    /// Full objects (`/full`) instead of condensed ones.
    pub full: bool,
}

impl ListQuery {
    fn pairs(&self) -> Vec<(&str, &str)> {
        let mut query = Vec::new();
        if let Some(f) = &self.filter {
            query.push(("filter", f.as_str()));
        }
        if let Some(o) = &self.orderby {
            query.push(("orderby", o.as_str()));
        }
        query
    }

    fn op(&self) -> Op {
        if self.full { Op::Full } else { Op::List }
    }
}

/// A QRS filter from `--filter` and `--name` (the name compared exactly on the resource's name field).
pub fn name_filter(
    res: ResourceKind,
    flt: Option<&str>,
    name: Option<&str>,
) -> Result<Option<String>> {
    if name.is_some() && res.name_field().is_none() {
        return Err(Error::usage(format!(
            "{}s have no name; use --filter",
            res.label()
        )));
    }
    Ok(filter::with_name(
        flt,
        res.name_field().unwrap_or("name"),
        name,
    ))
}

pub async fn list(client: &QrsClient, res: ResourceKind, query: &ListQuery) -> Result<Vec<Value>> {
    client
        .get_list(&res.op_path(query.op(), None)?, &query.pairs())
        .await
}

/// The list as the server's answer, to stream a large JSON array without holding it.
pub async fn list_response(
    client: &QrsClient,
    res: ResourceKind,
    query: &ListQuery,
) -> Result<Response> {
    let url = client.url(&res.op_path(query.op(), None)?, &query.pairs())?;
    client.send(Method::GET, url, Body::None).await
}

pub async fn count(client: &QrsClient, res: ResourceKind, flt: Option<&str>) -> Result<u64> {
    let query: Vec<(&str, &str)> = flt.iter().map(|f| ("filter", *f)).collect();
    if !res.supports(Op::Count) {
        return Ok(client
            .get_list(&res.op_path(Op::List, None)?, &query)
            .await?
            .len() as u64);
    }
    let v = client
        .get_json(&res.op_path(Op::Count, None)?, &query)
        .await?;
    // The spec says a number; servers answer `{"value": n}`. Accept both.
    v.as_u64()
        .or_else(|| v.get("value").and_then(Value::as_u64))
        .ok_or_else(|| {
            Error::server(format!(
                "the count of {}s is not a number: {v}",
                res.label()
            ))
        })
}

/// One entity by id (full). Resources without `/{id}` are read through `/full?filter=id eq`.
pub async fn get(client: &QrsClient, res: ResourceKind, id: &str) -> Result<Value> {
    if res.supports(Op::Get) {
        return client
            .get_json(&res.op_path(Op::Get, Some(id))?, &[])
            .await
            .map_err(|e| not_found_hint(e, res, id));
    }
    let flt = format!("id eq {id}");
    let mut items = client
        .get_list(&res.op_path(Op::Full, None)?, &[("filter", &flt)])
        .await?;
    if items.is_empty() {
        return Err(not_found(res, id));
    }
    Ok(items.swap_remove(0))
}

fn not_found(res: ResourceKind, id: &str) -> Error {
    Error::not_found(format!("no {} with id {id}", res.label()))
        .with_hint(format!("list them with `qtool qrs {} ls`", res.name()))
}

fn not_found_hint(e: Error, res: ResourceKind, id: &str) -> Error {
    if e.class() == ErrorClass::NotFound {
        not_found(res, id)
    } else {
        e
    }
}

/// What a create returned: one entity, or several for an array.
#[derive(Debug)]
pub enum Created {
    One(Value),
    Many(Vec<Value>),
}

/// Create one entity from an object, or many (`/many`) from an array of objects.
pub async fn create(client: &QrsClient, res: ResourceKind, doc: Value) -> Result<Created> {
    require(res, Op::Create)?;
    let op = match &doc {
        Value::Array(_) => Op::CreateMany,
        Value::Object(_) => Op::Create,
        _ => {
            return Err(Error::input(format!(
                "a {} to create must be a JSON object (or an array of them)",
                res.label()
            )));
        }
    };
    let url = client.url(&res.op_path(op, None)?, &[])?;
    let created = client
        .json(Method::POST, url, Body::Json(json_body(&doc)?))
        .await?;
    Ok(match created {
        Value::Array(list) => Created::Many(list),
        other => Created::One(other),
    })
}

/// An error unless `res` supports `op`.
pub fn require(res: ResourceKind, op: Op) -> Result<()> {
    if res.supports(op) {
        Ok(())
    } else {
        Err(unsupported(res, op))
    }
}

pub fn unsupported(res: ResourceKind, op: Op) -> Error {
    let hint = match (res, op) {
        (ResourceKind::App, Op::Create) => {
            "apps are created with `qtool qrs app import FILE.qvf`".to_string()
        }
        (ResourceKind::Task, _) => {
            "tasks are managed per type: use `qtool qrs reloadtask ...`".to_string()
        }
        _ => format!("use `qtool qrs raw` for other {} operations", res.label()),
    };
    Error::usage(format!(
        "QRS has no `{}` operation for {}s",
        op.verb(),
        res.label()
    ))
    .with_hint(hint)
}

/// The change an update makes: a document merged in, then single fields set.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub merge: Option<Value>,
    pub set: Vec<(String, Value)>,
}

/// Read the entity, apply `patch`, write it back with the `modifiedDate` that was read (QRS then
/// refuses the write if someone changed it in between).
pub async fn update(
    client: &QrsClient,
    res: ResourceKind,
    id: &str,
    patch: Patch,
) -> Result<Value> {
    require(res, Op::Update)?;
    if patch.merge.as_ref().is_some_and(|p| !p.is_object()) {
        return Err(Error::input("the update file must hold a JSON object"));
    }
    let mut current = get(client, res, id).await?;
    let modified = current.get("modifiedDate").cloned();
    if let Some(p) = patch.merge {
        merge(&mut current, p);
    }
    for (path, value) in patch.set {
        set_path(&mut current, &path, value)?;
    }
    // Identity and concurrency token always come from what we read.
    if let Some(obj) = current.as_object_mut() {
        obj.insert("id".into(), Value::String(id.to_string()));
        if let Some(m) = modified {
            obj.insert("modifiedDate".into(), m);
        }
    }
    let url = client.url(&res.op_path(Op::Update, Some(id))?, &[])?;
    client
        .json(Method::PUT, url, Body::Json(json_body(&current)?))
        .await
        .map_err(|e| {
            if e.class() == ErrorClass::Conflict {
                Error::conflict(format!(
                    "{} {id} was changed by someone else since qtool read it",
                    res.label()
                ))
                .with_hint("run the update again (it re-reads the current version)")
            } else {
                not_found_hint(e, res, id)
            }
        })
}

/// `path=value`; the value is JSON when it parses as JSON (numbers, booleans, objects), else text.
pub fn parse_set(text: &str) -> Result<(String, Value)> {
    let (path, raw) = text.split_once('=').ok_or_else(|| {
        Error::usage(format!("--set `{text}` is not PATH=VALUE"))
            .with_hint("e.g. --set name='New name' --set enabled=false")
    })?;
    let path = path.trim();
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(Error::usage(format!(
            "--set `{text}`: bad field path `{path}`"
        )));
    }
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    Ok((path.to_string(), value))
}

/// Set a dotted path, creating objects on the way.
pub fn set_path(target: &mut Value, path: &str, value: Value) -> Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut current = target;
    for (i, part) in parts.iter().enumerate() {
        if current.is_null() {
            *current = Value::Object(Map::new());
        }
        let obj = current.as_object_mut().ok_or_else(|| {
            Error::usage(format!(
                "--set {path}: `{}` is not an object",
                parts[..i].join(".")
            ))
        })?;
        if i + 1 == parts.len() {
            obj.insert((*part).to_string(), value);
            return Ok(());
        }
        current = obj
            .entry((*part).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

/// Deep-merge `patch` into `base` (objects merge, everything else replaces).
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, p) => *b = p,
    }
}

pub async fn delete(client: &QrsClient, res: ResourceKind, id: &str) -> Result<()> {
    require(res, Op::Delete)?;
    let url = client.url(&res.op_path(Op::Delete, Some(id))?, &[])?;
    client
        .send(Method::DELETE, url, Body::None)
        .await
        .map_err(|e| not_found_hint(e, res, id))?;
    Ok(())
}

/// Delete each id, `concurrency` at a time; one result per id (a failure does not stop the others).
pub async fn delete_each(
    client: &QrsClient,
    res: ResourceKind,
    ids: Vec<String>,
    concurrency: usize,
) -> Vec<(String, Result<()>)> {
    futures_util::stream::iter(ids)
        .map(|id| async move {
            let r = delete(client, res, &id).await;
            (id, r)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// The one entity of `res` named `name`: 0 matches is "not found", 2+ is a conflict listing them.
pub async fn one_by_name(client: &QrsClient, res: ResourceKind, name: &str) -> Result<Value> {
    let field = res.name_field().unwrap_or("name");
    let flt = filter::eq(field, name);
    let items = client
        .get_list(&res.op_path(Op::List, None)?, &[("filter", &flt)])
        .await?;
    match items.len() {
        1 => Ok(items.into_iter().next().unwrap_or(Value::Null)),
        0 => Err(
            Error::not_found(format!("no {} named `{name}`", res.label()))
                .with_hint(format!("list them with `qtool qrs {} ls`", res.name())),
        ),
        n => {
            let ids: Vec<String> = items.iter().map(|i| crate::output::cell(i, "id")).collect();
            Err(Error::conflict(format!(
                "{n} {}s are named `{name}`: {}",
                res.label(),
                ids.join(", ")
            ))
            .with_hint("pass the id instead of the name"))
        }
    }
}

/// Id from an argument that is either a GUID or a name.
pub async fn id_or_name(client: &QrsClient, res: ResourceKind, text: &str) -> Result<String> {
    if filter::is_guid(text) {
        return Ok(text.to_string());
    }
    let item = one_by_name(client, res, text).await?;
    Ok(crate::output::cell(&item, "id"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_values_parse_as_json_or_text() {
        assert_eq!(parse_set("enabled=false").unwrap().1, json!(false));
        assert_eq!(parse_set("name=New name").unwrap().1, json!("New name"));
        assert_eq!(parse_set("maxRetries=3").unwrap().1, json!(3));
        assert_eq!(parse_set("x=a=b").unwrap(), ("x".into(), json!("a=b")));
        assert!(parse_set("novalue").is_err());
        assert!(parse_set("a..b=1").is_err());
    }

    #[test]
    fn set_path_creates_objects() {
        let mut v = json!({"owner": null, "name": "a"});
        set_path(&mut v, "owner.id", json!("x")).unwrap();
        assert_eq!(v["owner"]["id"], "x");
        assert!(set_path(&mut v, "name.x", json!(1)).is_err());
    }

    #[test]
    fn merge_is_deep_for_objects() {
        let mut base = json!({"a": {"b": 1, "c": 2}, "tags": [1]});
        merge(&mut base, json!({"a": {"c": 3}, "tags": []}));
        assert_eq!(base, json!({"a": {"b": 1, "c": 3}, "tags": []}));
    }
}
