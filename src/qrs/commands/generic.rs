//! Generic verbs for every resource: ls, count, get, create, update (GET → merge → PUT with the
//! fetched modifiedDate), rm (by id, or by filter with --yes).

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Map, Value};

use super::output::{print_list, print_one, read_json_input, stream_json};
use super::{CommonVerb, CountArgs, CreateArgs, LsArgs, RmArgs, UpdateArgs};
use crate::app::App;
use crate::error::{Error, ErrorClass, Result};
use crate::output::{OutputFormat, status};
use crate::qrs::client::{Body, QrsClient, json_body};
use crate::qrs::filter;
use crate::qrs::resources::{Op, ResourceKind};

pub fn connect(app: &App) -> Result<QrsClient> {
    QrsClient::new(&app.target()?)
}

pub fn run(res: ResourceKind, verb: CommonVerb, app: &App) -> Result<u8> {
    let client = connect(app)?;
    app.block_on(async {
        match verb {
            CommonVerb::Ls(a) => ls(&client, res, &a, app).await,
            CommonVerb::Count(a) => count(&client, res, &a, app).await,
            CommonVerb::Get(a) => {
                let item = get(&client, res, &a.id).await?;
                print_one(&app.printer, res, item)
            }
            CommonVerb::Update(a) => update(&client, res, a, app).await,
            CommonVerb::Rm(a) => rm(&client, res, a, app).await,
        }
    })?;
    Ok(0)
}

fn name_filter(res: ResourceKind, flt: Option<&str>, name: Option<&str>) -> Result<Option<String>> {
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

pub async fn ls(client: &QrsClient, res: ResourceKind, a: &LsArgs, app: &App) -> Result<()> {
    let flt = name_filter(res, a.filter.as_deref(), a.name.as_deref())?;
    let op = if a.full { Op::Full } else { Op::List };
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(f) = &flt {
        query.push(("filter", f));
    }
    if let Some(o) = &a.orderby {
        query.push(("orderby", o));
    }
    let path = res.op_path(op, None)?;
    if app.printer.format() == OutputFormat::Json && !app.printer.quiet() {
        let url = client.url(&path, &query)?;
        let resp = client.send(Method::GET, url, Body::None).await?;
        return stream_json(resp, &app.printer).await;
    }
    let items = client.get_list(&path, &query).await?;
    print_list(&app.printer, res, items, a.full)
}

async fn count(client: &QrsClient, res: ResourceKind, a: &CountArgs, app: &App) -> Result<()> {
    let flt = name_filter(res, a.filter.as_deref(), a.name.as_deref())?;
    let query: Vec<(&str, &str)> = flt.iter().map(|f| ("filter", f.as_str())).collect();
    let n = if res.supports(Op::Count) {
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
            })?
    } else {
        client
            .get_list(&res.op_path(Op::List, None)?, &query)
            .await?
            .len() as u64
    };
    if app.printer.is_structured() {
        app.printer.document(&serde_json::json!({ "value": n }))
    } else {
        app.printer.line(&n.to_string())
    }
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

pub fn create(res: ResourceKind, a: CreateArgs, app: &App) -> Result<u8> {
    if !res.supports(Op::Create) {
        return Err(unsupported(res, Op::Create));
    }
    let doc = read_json_input(&a.file)?;
    let client = connect(app)?;
    app.block_on(create_doc(&client, res, doc, app))?;
    Ok(0)
}

pub async fn create_doc(
    client: &QrsClient,
    res: ResourceKind,
    doc: Value,
    app: &App,
) -> Result<()> {
    match doc {
        Value::Array(items) => {
            let url = client.url(&res.op_path(Op::CreateMany, None)?, &[])?;
            let body = json_body(&Value::Array(items))?;
            let created = client.json(Method::POST, url, Body::Json(body)).await?;
            match created {
                Value::Array(list) => print_list(&app.printer, res, list, true),
                other => print_one(&app.printer, res, other),
            }
        }
        Value::Object(_) => {
            let url = client.url(&res.op_path(Op::Create, None)?, &[])?;
            let created = client
                .json(Method::POST, url, Body::Json(json_body(&doc)?))
                .await?;
            print_one(&app.printer, res, created)
        }
        _ => Err(Error::input(format!(
            "a {} to create must be a JSON object (or an array of them)",
            res.label()
        ))),
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

async fn update(client: &QrsClient, res: ResourceKind, a: UpdateArgs, app: &App) -> Result<()> {
    if !res.supports(Op::Update) {
        return Err(unsupported(res, Op::Update));
    }
    let patch = match &a.file {
        Some(f) => Some(read_json_input(f)?),
        None => None,
    };
    let sets = a
        .set
        .iter()
        .map(|s| parse_set(s))
        .collect::<Result<Vec<_>>>()?;
    let mut current = get(client, res, &a.id).await?;
    let modified = current.get("modifiedDate").cloned();
    if let Some(p) = patch {
        if !p.is_object() {
            return Err(Error::input("the update file must hold a JSON object"));
        }
        merge(&mut current, p);
    }
    for (path, value) in sets {
        set_path(&mut current, &path, value)?;
    }
    // Identity and concurrency token always come from what we read.
    if let Some(obj) = current.as_object_mut() {
        obj.insert("id".into(), Value::String(a.id.clone()));
        if let Some(m) = modified {
            obj.insert("modifiedDate".into(), m);
        }
    }
    let url = client.url(&res.op_path(Op::Update, Some(&a.id))?, &[])?;
    let updated = client
        .json(Method::PUT, url, Body::Json(json_body(&current)?))
        .await
        .map_err(|e| {
            if e.class() == ErrorClass::Conflict {
                Error::conflict(format!(
                    "{} {} was changed by someone else since qtool read it",
                    res.label(),
                    a.id
                ))
                .with_hint("run the update again (it re-reads the current version)")
            } else {
                not_found_hint(e, res, &a.id)
            }
        })?;
    print_one(&app.printer, res, updated)
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

async fn rm(client: &QrsClient, res: ResourceKind, a: RmArgs, app: &App) -> Result<()> {
    if !res.supports(Op::Delete) {
        return Err(unsupported(res, Op::Delete));
    }
    if let Some(id) = &a.id {
        if a.filter.is_some() || a.name.is_some() {
            return Err(Error::usage("give an id or --filter/--name, not both"));
        }
        delete_one(client, res, id).await?;
        if !app.printer.quiet() {
            status(&format!("Deleted {} {id}", res.label()));
        }
        return Ok(());
    }
    let flt = name_filter(res, a.filter.as_deref(), a.name.as_deref())?
        .ok_or_else(|| Error::usage("give an id, --filter or --name"))?;
    let items = client
        .get_list(&res.op_path(Op::List, None)?, &[("filter", &flt)])
        .await?;
    if items.is_empty() {
        status(&format!(
            "No {} matches `{flt}`; nothing deleted",
            res.label()
        ));
        return Ok(());
    }
    if !a.yes {
        print_list(&app.printer, res, items.clone(), false)?;
        return Err(Error::usage(format!(
            "refusing to delete {} {}(s) without --yes (listed above)",
            items.len(),
            res.label()
        ))
        .with_hint("check the list and run the same command with --yes"));
    }
    let ids: Vec<String> = items.iter().map(|i| crate::output::cell(i, "id")).collect();
    let total = ids.len();
    let results: Vec<(String, Result<()>)> = futures_util::stream::iter(ids)
        .map(|id| async move {
            let r = delete_one(client, res, &id).await;
            (id, r)
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut first_err = None;
    let mut failed = 0;
    for (id, r) in results {
        match r {
            Ok(()) => {
                if !app.printer.quiet() {
                    status(&format!("Deleted {} {id}", res.label()));
                }
            }
            Err(e) => {
                failed += 1;
                crate::output::warn(&format!("{} {id}: {e}", res.label()));
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        None => Ok(()),
        Some(e) => Err(Error::new(
            e.class(),
            format!(
                "{failed} of {total} deletions failed; first: {}",
                e.message()
            ),
        )),
    }
}

async fn delete_one(client: &QrsClient, res: ResourceKind, id: &str) -> Result<()> {
    let url = client.url(&res.op_path(Op::Delete, Some(id))?, &[])?;
    client
        .send(Method::DELETE, url, Body::None)
        .await
        .map_err(|e| not_found_hint(e, res, id))?;
    Ok(())
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
