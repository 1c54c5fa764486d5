//! Shared pieces of the qrs commands: streaming JSON to stdout, reading JSON input files,
//! printing resource lists.

use std::path::Path;

use futures_util::StreamExt;
use reqwest::Response;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::input::{InputKind, InputSource};
use crate::output::{OutputFormat, Printer};
use crate::qrs::resources::ResourceKind;

/// Pretty-print a (possibly huge) JSON response to stdout while it downloads: the bytes are
/// re-indented chunk by chunk (as `serde_json`'s pretty printer lays them out) without being
/// parsed into values, and written in 64 KiB blocks.
pub(crate) async fn stream_json(resp: Response, printer: &Printer) -> Result<()> {
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
pub(super) fn read_json_input(path: &Path) -> Result<Value> {
    let source = InputSource::from_arg(path);
    let text = source.read_to_string(InputKind::Document)?;
    let is_yaml = matches!(source.extension().as_deref(), Some("yaml" | "yml"));
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
pub(super) fn print_list(
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
pub(super) fn print_one(printer: &Printer, res: ResourceKind, mut item: Value) -> Result<()> {
    if printer.format() == OutputFormat::Table && !printer.quiet() {
        res.decorate(&mut item);
    }
    printer.object(&item, "id")
}
