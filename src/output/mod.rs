//! Everything qtool prints to stdout goes through [`Printer`]: tables (aligned, coloured only on a
//! terminal, `NO_COLOR` honoured), JSON, YAML, or ids only (`-q`). Commands hand it JSON values
//! plus a column list, so one renderer serves every resource of every product. Tables, ids and
//! plain lines are made terminal-safe ([`escape`]); JSON and YAML are the data as it is.

mod escape;
mod table;

use std::io::{self, Read, Write};

use serde_json::Value;

use crate::error::{Error, Result};

pub(crate) use escape::{Keep, escape_controls};
pub(crate) use table::TableWriter;

/// `-o/--output` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// The JSON document (for scripts; the server's own JSON where there is one).
    Json,
    /// The same document as YAML.
    Yaml,
}

/// One table column: a header and a dotted path into each JSON item (`stream.name`).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub path: &'static str,
}

/// Shorthand for column tables: `col("NAME", "name")`.
pub(crate) const fn col(header: &'static str, path: &'static str) -> Column {
    Column { header, path }
}

/// Terminal colours we use; all are dropped when colour is off.
#[derive(Debug, Clone, Copy)]
pub enum Paint {
    Bold,
    Green,
    Red,
    Yellow,
    Dim,
}

#[derive(Debug, Clone)]
pub struct Printer {
    format: OutputFormat,
    quiet: bool,
    color: bool,
}

impl Printer {
    /// A printer as the run's settings say (colour is decided there: a terminal, no `NO_COLOR`).
    pub fn new(settings: crate::settings::OutputSettings) -> Self {
        Printer {
            format: settings.format,
            quiet: settings.quiet,
            color: settings.color,
        }
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }
    pub fn quiet(&self) -> bool {
        self.quiet
    }
    pub fn is_structured(&self) -> bool {
        self.format != OutputFormat::Table
    }

    pub fn paint(&self, text: &str, paint: Paint) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match paint {
            Paint::Bold => "1",
            Paint::Green => "32",
            Paint::Red => "31",
            Paint::Yellow => "33",
            Paint::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// A list of items: table rows, a JSON/YAML array, or one id per line with `-q`.
    pub fn list(&self, items: &[Value], columns: &[Column], id_path: &str) -> Result<()> {
        if self.quiet || self.format == OutputFormat::Table {
            let mut rows = self.rows(columns, id_path);
            for item in items {
                rows.item(item)?;
            }
            return rows.finish();
        }
        self.document(&Value::Array(items.to_vec()))
    }

    /// A table (or, with `-q`, id lines) written as items arrive: see [`Rows`].
    pub(crate) fn rows<'c>(&self, columns: &'c [Column], id_path: &'c str) -> Rows<'c> {
        let header = (!self.quiet).then(|| {
            columns
                .iter()
                .map(|c| self.paint(c.header, Paint::Bold))
                .collect()
        });
        Rows {
            table: TableWriter::new(
                io::BufWriter::with_capacity(1 << 16, io::stdout()),
                header,
                self.color,
            ),
            columns,
            id_path,
            quiet: self.quiet,
        }
    }

    /// One item: `key  value` lines in table mode (nested values as compact JSON).
    pub fn object(&self, item: &Value, id_path: &str) -> Result<()> {
        if self.quiet {
            return self.line(&cell(item, id_path));
        }
        match self.format {
            OutputFormat::Table => {
                let rows: Vec<Vec<String>> = match item {
                    Value::Object(map) => map
                        .iter()
                        .map(|(k, v)| vec![self.paint(k, Paint::Bold), scalar_text(v)])
                        .collect(),
                    other => vec![vec![scalar_text(other)]],
                };
                self.grid(None, &rows)
            }
            _ => self.document(item),
        }
    }

    /// A table with a header row (header painted bold on a terminal).
    pub fn table(&self, headers: &[&str], rows: &[Vec<String>]) -> Result<()> {
        let painted: Vec<String> = headers.iter().map(|h| self.paint(h, Paint::Bold)).collect();
        self.grid(Some(painted), rows)
    }

    /// Aligned rows, optionally under a (painted) header; cells are made terminal-safe.
    pub(crate) fn grid(&self, header: Option<Vec<String>>, rows: &[Vec<String>]) -> Result<()> {
        let mut table = TableWriter::new(
            io::BufWriter::with_capacity(1 << 16, io::stdout()),
            header,
            self.color,
        );
        for row in rows {
            table.row(row.clone()).map_err(stdout_error)?;
        }
        table.finish().map_err(stdout_error)?;
        Ok(())
    }

    /// A whole document in the chosen structured format (JSON when the format is `table`).
    pub fn document(&self, value: &Value) -> Result<()> {
        let mut text = match self.format {
            OutputFormat::Yaml => yaml_serde::to_string(value)
                .map_err(|e| Error::failed(format!("cannot render YAML: {e}")))?,
            _ => serde_json::to_string_pretty(value)
                .map_err(|e| Error::failed(format!("cannot render JSON: {e}")))?,
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        self.write_raw(text.as_bytes())
    }

    /// Re-indent a JSON document read from `reader` straight to stdout, without building it in
    /// memory (large QRS lists). Invalid JSON is reported as a server error.
    pub fn json_stream(&self, reader: impl Read) -> Result<()> {
        let stdout = io::stdout();
        let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
        let mut de =
            serde_json::Deserializer::from_reader(io::BufReader::with_capacity(1 << 16, reader));
        let mut ser = serde_json::Serializer::pretty(&mut out);
        serde_transcode::transcode(&mut de, &mut ser).map_err(|e| {
            if e.is_io() {
                let kind = e.io_error_kind().unwrap_or(io::ErrorKind::Other);
                Error::io("writing to stdout", io::Error::from(kind))
            } else {
                Error::server(format!("the server sent invalid JSON: {e}"))
            }
        })?;
        out.write_all(b"\n")
            .map_err(|e| Error::io("writing to stdout", e))?;
        out.flush().map_err(|e| Error::io("writing to stdout", e))
    }

    /// One line of plain text to stdout (terminal-safe: control characters escaped).
    pub fn line(&self, text: &str) -> Result<()> {
        let mut s = String::with_capacity(text.len() + 1);
        s.push_str(text);
        s.push('\n');
        self.text(&s)
    }

    /// Plain text to stdout, as is but terminal-safe: control characters other than line
    /// breaks (and qtool's own colours) escaped.
    pub fn text(&self, text: &str) -> Result<()> {
        let keep = Keep {
            newlines: true,
            own_colors: self.color,
        };
        self.write_raw(escape_controls(text, keep).as_bytes())
    }

    /// Bytes to stdout as they are (documents, files, data passed through).
    pub fn write_raw(&self, bytes: &[u8]) -> Result<()> {
        let stdout = io::stdout();
        let mut lock = stdout.lock();
        lock.write_all(bytes)
            .and_then(|()| lock.flush())
            .map_err(|e| Error::io("writing to stdout", e))
    }
}

fn stdout_error(e: io::Error) -> Error {
    Error::io("writing to stdout", e)
}

/// A list written item by item (from [`Printer::rows`]): table rows under the column headers,
/// or with `-q` the ids. Call [`finish`](Rows::finish) at the end.
pub(crate) struct Rows<'c> {
    table: TableWriter<io::BufWriter<io::Stdout>>,
    columns: &'c [Column],
    id_path: &'c str,
    quiet: bool,
}

impl Rows<'_> {
    pub(crate) fn item(&mut self, item: &Value) -> Result<()> {
        let row = if self.quiet {
            vec![cell(item, self.id_path)]
        } else {
            self.columns.iter().map(|c| cell(item, c.path)).collect()
        };
        self.cells(row)
    }

    /// A row of cells already taken from an item: one per column, or the id with `-q`.
    pub(crate) fn cells(&mut self, cells: Vec<String>) -> Result<()> {
        self.table.row(cells).map_err(stdout_error)
    }

    pub(crate) fn finish(self) -> Result<()> {
        self.table.finish().map_err(stdout_error)?;
        Ok(())
    }
}

/// stderr text: control characters escaped, qtool's own colours and line breaks kept.
const STDERR_TEXT: Keep = Keep {
    newlines: true,
    own_colors: true,
};

/// A progress/status message for people: stderr, never stdout, so pipes stay clean.
pub(crate) fn status(text: &str) {
    let _ = writeln!(
        io::stderr().lock(),
        "{}",
        escape_controls(text, STDERR_TEXT)
    );
}

/// A warning on stderr (`warning: ...`).
pub(crate) fn warn(text: &str) {
    let _ = writeln!(
        io::stderr().lock(),
        "warning: {}",
        escape_controls(text, STDERR_TEXT)
    );
}

/// Follow a dotted path (`stream.name`, `tags`) into a JSON value.
pub(crate) fn lookup<'a>(item: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = item;
    for part in path.split('.') {
        current = match current {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// The text shown in a table cell for the value at `path`.
pub(crate) fn cell(item: &Value, path: &str) -> String {
    lookup(item, path).map(scalar_text).unwrap_or_default()
}

/// Render any JSON value as a short cell: strings bare, arrays of named things as names.
pub(crate) fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Object(map) => map
                    .get("name")
                    .or_else(|| map.get("id"))
                    .map(scalar_text)
                    .unwrap_or_else(|| v.to_string()),
                other => scalar_text(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(map) => match map.get("name") {
            Some(name) => scalar_text(name),
            None => value.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_follows_nested_paths() {
        let v = json!({"stream": {"name": "Sales"}, "tags": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(cell(&v, "stream.name"), "Sales");
        assert_eq!(cell(&v, "tags"), "a,b");
        assert_eq!(cell(&v, "tags.1.name"), "b");
        assert_eq!(cell(&v, "missing.path"), "");
    }

    #[test]
    fn scalar_text_of_null_stream_is_empty() {
        assert_eq!(scalar_text(&Value::Null), "");
        assert_eq!(scalar_text(&json!({"id": "x", "name": "S"})), "S");
    }
}
