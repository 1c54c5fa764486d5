//! `POST /qrs/{type}/table`: the QMC's list API. The body names columns, the answer is
//! `201 {"schemaPath": "Table", "columnNames": [..], "rows": [[..], ..], "id"}` with one row per
//! entity that passes `filter`, sorted by `sortColumn`, paged by `skip`/`take` (`take=0`: all).
//!
//! The body is the spec's `TableDefinition` (`{"type", "columns"}`, `columnType` a number) or
//! what the QMC and scripts send (`{"entity", "columns"}`, `columnType` a name). Column types:
//! - `Property`: the value at the dotted `definition` path of the full entity (`app.name`,
//!   `operational.lastExecutionResult.status`); through an array it is the array of values;
//!   a path the entity does not have is `null` (the QMC asks for `userDirectory.name` on tasks);
//! - `Function`: `Count(Type)` counts the entities of `Type` that reference the row
//!   (`Count(App)` on a stream), `Count(Type.Part)` the parts inside them
//!   (`Count(CompositeEvent.Rule)` on a task), `Count(field)` the items of an array field;
//! - `List`: the items of the array field the column is named after, each a row of the
//!   column's own `list` columns;
//! - `Privileges`: the caller's privileges on the row.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::filter::{self, SortKey};
use super::render::{ALL_PRIVILEGES, Renderer};
use super::routes::{Ctx, bad_request, json_response, parse_error};
use super::store::{self, parse_row};
use super::types::{self, TypeDef, type_by_schema};

/// `TableDefinitionColumn.columnType` (`x-enumNames` in the spec).
pub const COLUMN_TYPES: &[&str] = &["Undefined", "Property", "Function", "List", "Privileges"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Property,
    Function,
    List,
    Privileges,
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: ColumnType,
    definition: String,
    list: Vec<Column>,
}

fn column_type(v: &Value) -> Result<ColumnType, String> {
    let index = match v {
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Value::String(s) => COLUMN_TYPES
            .iter()
            .position(|name| name.eq_ignore_ascii_case(s.trim()))
            .or_else(|| s.trim().parse().ok()),
        _ => None,
    };
    match index {
        Some(1) => Ok(ColumnType::Property),
        Some(2) => Ok(ColumnType::Function),
        Some(3) => Ok(ColumnType::List),
        Some(4) => Ok(ColumnType::Privileges),
        _ => Err(format!(
            "columnType {v} is not one of Property (1), Function (2), List (3), Privileges (4)"
        )),
    }
}

fn parse_columns(v: Option<&Value>, nested: bool) -> Result<Vec<Column>, String> {
    let Some(Value::Array(items)) = v else {
        return Err("The table definition needs a `columns` array".into());
    };
    items
        .iter()
        .map(|item| {
            let Value::Object(c) = item else {
                return Err("Every column must be a JSON object".into());
            };
            let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").trim();
            let name = text("name");
            if name.is_empty() {
                return Err("Every column needs a `name`".into());
            }
            if name.contains(char::is_whitespace) {
                return Err(format!("The column name '{name}' must not contain spaces"));
            }
            let kind = column_type(c.get("columnType").unwrap_or(&Value::Null))?;
            let definition = text("definition").to_string();
            if definition.is_empty() && kind != ColumnType::Privileges {
                return Err(format!("The column '{name}' needs a `definition`"));
            }
            let list = if kind == ColumnType::List {
                if nested {
                    return Err(format!("The list column '{name}' cannot hold another list"));
                }
                parse_columns(c.get("list"), true)?
            } else {
                Vec::new()
            };
            Ok(Column {
                name: name.to_string(),
                kind,
                definition,
                list,
            })
        })
        .collect()
}

/// The value at a dotted path; through an array, the array of the values in its items.
fn property(v: &Value, path: &[&str]) -> Value {
    let Some((seg, rest)) = path.split_first() else {
        return v.clone();
    };
    match v {
        Value::Object(m) => m
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(seg))
            .map_or(Value::Null, |(_, x)| property(x, rest)),
        Value::Array(items) => Value::Array(items.iter().map(|i| property(i, path)).collect()),
        _ => Value::Null,
    }
}

/// Whether a stored item refers to `id` in one of its own fields (`{"id": ..}` or a list of them).
fn refers_to(item: &Map<String, Value>, id: &str) -> bool {
    let is_ref = |v: &Value| {
        v.get("id")
            .and_then(Value::as_str)
            .is_some_and(|x| x.eq_ignore_ascii_case(id))
    };
    item.iter().any(|(k, v)| {
        k != "id"
            && match v {
                Value::Object(_) => is_ref(v),
                Value::Array(items) => items.iter().any(is_ref),
                _ => false,
            }
    })
}

/// `Count(...)` of one row.
struct Counter<'a> {
    store: &'a store::Store,
}

impl Counter<'_> {
    fn count(&self, td: &TypeDef, row: &Value, definition: &str) -> Result<Value, String> {
        let inner = definition
            .trim()
            .strip_suffix(')')
            .and_then(|d| {
                d.get(..6)
                    .filter(|f| f.eq_ignore_ascii_case("count("))
                    .map(|_| &d[6..])
            })
            .map(str::trim)
            .ok_or_else(|| {
                format!("The function '{definition}' is not supported (use Count(Type))")
            })?;
        let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
        let (ty, part) = match inner.split_once('.') {
            Some((t, p)) => (t, Some(p)),
            None => (inner, None),
        };
        if let Some(other) = type_by_schema(ty) {
            let source = other.view_of.unwrap_or(other.name);
            let mut n = 0usize;
            for e in self.store.all(source) {
                match part {
                    None => n += usize::from(refers_to(&e, id)),
                    Some(p) => {
                        // `CompositeEvent.Rule` → the `compositeRules` array of each event.
                        let plural = format!("{}s", p.to_ascii_lowercase());
                        let items = e
                            .iter()
                            .find(|(k, _)| k.to_ascii_lowercase().ends_with(&plural))
                            .and_then(|(_, v)| v.as_array());
                        n += items.map_or(0, |items| {
                            items
                                .iter()
                                .filter_map(Value::as_object)
                                .filter(|i| refers_to(i, id))
                                .count()
                        });
                    }
                }
            }
            return Ok(json!(n));
        }
        if types::full_fields(td)
            .iter()
            .any(|f| f.eq_ignore_ascii_case(inner))
        {
            let items = property(row, &[inner]);
            return Ok(json!(items.as_array().map_or(0, Vec::len)));
        }
        Err(format!(
            "Count({inner}): '{inner}' is neither an entity type nor a list of {}",
            td.schema
        ))
    }
}

/// The cells of one row.
fn cells(
    counter: &Counter,
    td: &TypeDef,
    row: &Value,
    columns: &[Column],
    privileges: &Value,
) -> Result<Vec<Value>, String> {
    columns
        .iter()
        .map(|c| match c.kind {
            ColumnType::Property => {
                let path: Vec<&str> = c.definition.split('.').collect();
                Ok(property(row, &path))
            }
            ColumnType::Privileges => Ok(privileges.clone()),
            ColumnType::Function => counter.count(td, row, &c.definition),
            ColumnType::List => {
                let items = property(row, &[c.name.as_str()]);
                let items = items.as_array().cloned().unwrap_or_default();
                let rows: Result<Vec<Value>, String> = items
                    .iter()
                    .map(|item| cells(counter, td, item, &c.list, privileges).map(Value::Array))
                    .collect();
                rows.map(Value::Array)
            }
        })
        .collect()
}

/// Query parameters of a table request.
struct Paging {
    filter: Option<filter::Expr>,
    skip: usize,
    take: usize,
    sort_column: Option<String>,
    ascending: bool,
}

fn paging(ctx: &Ctx, td: &TypeDef) -> Result<Paging, Response> {
    let filter = match ctx.q("filter").filter(|f| !f.trim().is_empty()) {
        None => None,
        Some(f) => {
            let e = filter::parse(f).map_err(|d| parse_error(&d))?;
            filter::check_properties(&e, types::full_fields(td)).map_err(|d| parse_error(&d))?;
            Some(e)
        }
    };
    let number = |name: &str| -> Result<usize, Response> {
        match ctx.q(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(0),
            Some(v) => v.parse().map_err(|_| {
                bad_request(format!(
                    "The value '{v}' of parameter '{name}' is not a non-negative number"
                ))
            }),
        }
    };
    Ok(Paging {
        filter,
        skip: number("skip")?,
        take: number("take")?,
        sort_column: ctx
            .q("sortcolumn")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        ascending: ctx.q_bool("orderascending", true)?,
    })
}

/// Check the body's `type`/`entity` (when given) names the type of the path.
fn check_entity(body: &Map<String, Value>, td: &TypeDef) -> Result<(), String> {
    let named = ["type", "entity"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|n| !n.is_empty());
    match named {
        None => Ok(()),
        Some(n) if type_by_schema(n).is_some_and(|t| t.name == td.name) => Ok(()),
        Some(n) => Err(format!(
            "The table type '{n}' does not match the path (/qrs/{}/table is {})",
            td.name, td.schema
        )),
    }
}

pub async fn table(mut ctx: Ctx, td: &'static TypeDef) -> Response {
    let query = match paging(&ctx, td) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let body = match ctx.json_object().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(e) = check_entity(&body, td) {
        return bad_request(e);
    }
    let columns = match parse_columns(body.get("columns"), false) {
        Ok(c) => c,
        Err(e) => return bad_request(e),
    };
    let sort_index = match &query.sort_column {
        None => None,
        Some(name) => match columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
        {
            Some(i) => Some(i),
            None => {
                return bad_request(format!(
                    "The sort column '{name}' is not a column of the table"
                ));
            }
        },
    };
    let privileges = json!(ALL_PRIVILEGES);
    let mut rows = Vec::new();
    {
        let s = ctx.st.read();
        let counter = Counter { store: &s };
        let mut renderer = Renderer::new(&s);
        for row in s.rows(td.view_of.unwrap_or(td.name)) {
            let Some(e) = parse_row(row) else { continue };
            let full = renderer.render(td, e, false, false);
            if query
                .filter
                .as_ref()
                .is_some_and(|f| !filter::eval(f, &full))
            {
                continue;
            }
            match cells(&counter, td, &full, &columns, &privileges) {
                Ok(c) => rows.push(c),
                Err(e) => return bad_request(e),
            }
        }
    }
    if let Some(i) = sort_index {
        let key = [SortKey {
            path: Vec::new(),
            desc: !query.ascending,
        }];
        rows.sort_by(|a, b| {
            let va = [filter::sort_val(&a[i], &[])];
            let vb = [filter::sort_val(&b[i], &[])];
            filter::cmp_sort_vals(&va, &vb, &key)
        });
    } else if !query.ascending {
        rows.reverse();
    }
    let take = if query.take == 0 {
        usize::MAX
    } else {
        query.take
    };
    let rows: Vec<Value> = rows
        .into_iter()
        .skip(query.skip)
        .take(take)
        .map(Value::Array)
        .collect();
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    json_response(
        StatusCode::CREATED,
        &json!({
            "schemaPath": "Table",
            "columnNames": names,
            "rows": rows,
            "id": store::new_id(),
        }),
    )
}

/// Order of two cells (for tests of the sort).
#[cfg(test)]
fn cmp_cells(a: &Value, b: &Value) -> std::cmp::Ordering {
    let key = [SortKey {
        path: Vec::new(),
        desc: false,
    }];
    filter::cmp_sort_vals(
        &[filter::sort_val(a, &[])],
        &[filter::sort_val(b, &[])],
        &key,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_accept_numbers_and_names() {
        let cols = parse_columns(
            Some(&json!([
                {"name": "id", "columnType": 1, "definition": "id"},
                {"name": "privileges", "columnType": "Privileges", "definition": "privileges"},
                {"name": "tags", "columnType": "List", "definition": "tag",
                 "list": [{"name": "name", "columnType": "Property", "definition": "name"}]},
                {"name": "n", "columnType": "function", "definition": "Count(App)"},
            ])),
            false,
        )
        .unwrap();
        assert_eq!(
            cols.iter().map(|c| c.kind).collect::<Vec<_>>(),
            [
                ColumnType::Property,
                ColumnType::Privileges,
                ColumnType::List,
                ColumnType::Function
            ]
        );
        assert_eq!(cols[2].list.len(), 1);
        let bad = parse_columns(
            Some(&json!([{"name": "a b", "columnType": 1, "definition": "x"}])),
            false,
        );
        assert!(bad.unwrap_err().contains("spaces"));
        let bad = parse_columns(
            Some(&json!([{"name": "a", "columnType": 9, "definition": "x"}])),
            false,
        );
        assert!(bad.unwrap_err().contains("columnType"));
    }

    #[test]
    fn properties_follow_paths_and_arrays() {
        let v =
            json!({"name": "A", "stream": {"name": "S"}, "tags": [{"name": "t1"}, {"name": "t2"}]});
        assert_eq!(property(&v, &["Name"]), json!("A"));
        assert_eq!(property(&v, &["stream", "name"]), json!("S"));
        assert_eq!(property(&v, &["tags", "name"]), json!(["t1", "t2"]));
        assert_eq!(property(&v, &["userDirectory", "name"]), Value::Null);
        assert_eq!(
            cmp_cells(&json!("a"), &json!("B")),
            std::cmp::Ordering::Less
        );
        assert_eq!(cmp_cells(&Value::Null, &json!(1)), std::cmp::Ordering::Less);
    }
}
