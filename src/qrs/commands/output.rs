//! Shared pieces of the qrs commands: streaming JSON to stdout, reading JSON input files,
//! printing resource lists, and resolving a name to exactly one entity.

use std::io::Read;
use std::path::Path;

use futures_util::StreamExt;
use reqwest::Response;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::output::{OutputFormat, Printer};
use crate::qrs::client::QrsClient;
use crate::qrs::filter;
use crate::qrs::resources::{Op, ResourceKind};

/// Pretty-print a (possibly huge) JSON response to stdout while it downloads: the bytes are
/// re-indented chunk by chunk (as `serde_json`'s pretty printer lays them out) without being
/// parsed into values, and written in 64 KiB blocks.
pub async fn stream_json(resp: Response, printer: &Printer) -> Result<()> {
    let mut reindent = crate::qrs::reindent::Reindent::new();
    let mut out = Vec::with_capacity(1 << 17);
    let mut body = resp.bytes_stream();
    let invalid = |e: String| Error::server(format!("the server sent invalid JSON: {e}"));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            Error::network(format!(
                "the answer was cut off: {}",
                crate::http::root_cause(&e)
            ))
            .with_hint("run the command again")
        })?;
        reindent.feed(&chunk, &mut out).map_err(invalid)?;
        if out.len() >= 1 << 16 {
            printer.write_raw(&out)?;
            out.clear();
        }
    }
    reindent.finish(&mut out).map_err(invalid)?;
    printer.write_raw(&out)
}

/// Read a JSON (or YAML, by extension) document from a file or `-` (stdin).
pub fn read_json_input(path: &Path) -> Result<Value> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::io("reading stdin", e))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
    };
    let is_yaml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let parsed = if is_yaml {
        yaml_serde::from_str::<Value>(&text).map_err(|e| e.to_string())
    } else {
        serde_json::from_str::<Value>(&text).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| {
        Error::input(format!(
            "{} is not valid {}: {e}",
            path.display(),
            if is_yaml { "YAML" } else { "JSON" }
        ))
        .with_hint("fix the file; `-` reads the document from stdin")
    })
}

/// Print a list of entities of `res`: table with enum names, JSON/YAML as received, or ids.
pub fn print_list(
    printer: &Printer,
    res: ResourceKind,
    mut items: Vec<Value>,
    full: bool,
) -> Result<()> {
    if printer.format() == OutputFormat::Table && !printer.quiet() {
        for item in &mut items {
            res.decorate(item);
        }
    }
    printer.list(&items, res.table_columns(full), "id")
}

/// Print one entity (enum names in table mode).
pub fn print_one(printer: &Printer, res: ResourceKind, mut item: Value) -> Result<()> {
    if printer.format() == OutputFormat::Table && !printer.quiet() {
        res.decorate(&mut item);
    }
    printer.object(&item, "id")
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
