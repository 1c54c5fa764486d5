//! Task tables (§5.8): list, statuses, selection, reload, resume.
//!
//! Tables come from the definition's `source.source_tables.explicit_included_tables`; their
//! states follow the run state machine (see `tasks::table_phase`).
//! - Filters: `schema`/`table` patterns (`%`/`*` any run, `_`/`?` one char, empty = all; the
//!   literal `None` the Python client sends for an unset filter also means all);
//!   GAP: when no `include*` flag is true, every state is included.
//! - Selection lives in `source_tables` (`included_pattern`, `excluded_pattern`,
//!   `explicit_included_tables`); PUT replaces all three (GAP: allowed in any task state; it
//!   applies from the next run).
//! - GAP: ResumeTable is `POST …/tables?action=resume&schema=&table=`; the sandbox never
//!   suspends tables, so it answers `AEM_RESUME_TABLE_ERR` for a table that is not suspended.

use axum::response::Response;
use serde_json::{Map, Value, json};

use super::api::{ApiError, ApiResult, empty_ok, json_ok};
use super::audit::{self, Entry};
use super::model::Task;
use super::routes::Ctx;
use super::servers::{self, parse_json_object};
use super::tasks::{TablePhase, find_task, table_phase, table_rows};
use super::util::{self, stable_hash, wildcard_match};
use crate::qem::spec::code;

struct Filter {
    schema: String,
    table: String,
    include: [bool; 4],
}

/// `schema`/`table` here are wildcard filters: decoded once only (a `%` in them is a wildcard,
/// and the 2018 client that encodes names twice has no table calls).
fn filter(ctx: &Ctx) -> ApiResult<Filter> {
    let pattern = |k: &str| {
        let v = ctx.params.get(k).unwrap_or("").trim().to_string();
        if v == "None" { String::new() } else { v }
    };
    let flags = [
        ctx.params.bool("includequeued", false)?,
        ctx.params.bool("includeloading", false)?,
        ctx.params.bool("includecompleted", false)?,
        ctx.params.bool("includechangeprocessing", false)?,
    ];
    let error = ctx.params.bool("includeerror", false)?;
    let any = flags.iter().any(|f| *f) || error;
    Ok(Filter {
        schema: pattern("schema"),
        table: pattern("table"),
        include: if any { flags } else { [true; 4] },
    })
}

impl Filter {
    fn admits(&self, schema: &str, table: &str, phase: TablePhase) -> bool {
        let slot = match phase {
            TablePhase::Queued => 0,
            TablePhase::Loading(_) => 1,
            TablePhase::Completed => 2,
            TablePhase::ChangeProcessing => 3,
        };
        self.include[slot]
            && wildcard_match(&self.schema, schema)
            && wildcard_match(&self.table, table)
    }
}

fn with_task<R>(ctx: &Ctx, server: &str, task: &str, f: impl FnOnce(&Task) -> R) -> ApiResult<R> {
    let inner = ctx.state.lock();
    let s = servers::connected(&inner.store, server)?;
    let t = find_task(s, task)?;
    Ok(f(t))
}

/// A table of a task, where it is at unix time `now`.
struct TableAt<'a> {
    task: &'a Task,
    schema: &'a str,
    table: &'a str,
    phase: TablePhase,
    /// `(load_start, load_end)`, as `table_phase` gives it.
    window: Option<(i64, i64)>,
    now: i64,
}

/// `item` of every table of the task that the request's filter admits, in table order.
fn admitted_tables(
    ctx: &Ctx,
    server: &str,
    task: &str,
    item: impl Fn(&TableAt) -> Value,
) -> ApiResult<Vec<Value>> {
    let filter = filter(ctx)?;
    let now = util::unix_now();
    with_task(ctx, server, task, |t| {
        t.tables()
            .iter()
            .enumerate()
            .filter_map(|(i, (schema, table))| {
                let (phase, window) = table_phase(t, i, schema, table, now);
                filter.admits(schema, table, phase).then(|| {
                    item(&TableAt {
                        task: t,
                        schema,
                        table,
                        phase,
                        window,
                        now,
                    })
                })
            })
            .collect()
    })
}

pub(super) fn list(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let items = admitted_tables(
        ctx,
        server,
        task,
        |at| json!({"schema": at.schema, "table": at.table, "state": at.phase.wire()}),
    )?;
    Ok(json_ok(&json!({ "tablelist": items })))
}

fn target_schema(t: &Task, schema: &str) -> String {
    t.definition
        .pointer("/task_settings/target_settings/default_schema")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(schema)
        .to_string()
}

pub(super) fn statuses(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let items = admitted_tables(ctx, server, task, |at| {
        let (t, schema, table, phase, window, now) =
            (at.task, at.schema, at.table, at.phase, at.window, at.now);
        let rows = table_rows(schema, table);
        let transferred = match phase {
            TablePhase::Queued => 0,
            TablePhase::Loading(pm) => rows * pm / 1000,
            _ if window.is_some() => rows,
            _ => 0,
        };
        let (start, end) = match window {
            Some((s, e)) => (
                util::iso_unix(s),
                if now >= e {
                    util::iso_unix(e)
                } else {
                    String::new()
                },
            ),
            None => (String::new(), String::new()),
        };
        let cdc_secs = match (phase, t.stats.started_at) {
            (TablePhase::ChangeProcessing, Some(st)) => (now - st).max(0) as u64,
            _ => 0,
        };
        let share = 1 + stable_hash(&[schema, table, "cdc"]) % 4;
        json!({
            "schema_on_source": schema,
            "table_on_source": table,
            "schema_on_target": target_schema(t, schema),
            "table_on_target": table,
            "state": phase.wire(),
            "data_errors_count": 0,
            "table_full_load_info": {
                "start_time": start,
                "end_time": end,
                "estimated_row_count": rows,
                "estimated_end_time": window.map(|(_, e)| util::iso_unix(e)).unwrap_or_default(),
                "transferred_row_count": transferred,
                "transferred_volume_mb": transferred / 20_000,
            },
            "table_cdc_info": {
                "insert_count": cdc_secs.saturating_mul(share),
                "update_count": cdc_secs.saturating_mul(share) / 2,
                "delete_count": cdc_secs.saturating_mul(share) / 5,
                "ddl_count": 0,
                "last_update_time": if cdc_secs > 0 { util::iso_unix(now) } else { String::new() },
                "cached_insert_count": 0,
                "cached_update_count": 0,
                "cached_delete_count": 0,
            },
        })
    })?;
    Ok(json_ok(&json!({ "table_details": items })))
}

pub(super) fn get_selection(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let body = with_task(ctx, server, task, |t| {
        let st = t.definition.pointer("/source/source_tables");
        let arr = |k: &str| {
            st.and_then(|v| v.get(k))
                .filter(|v| v.is_array())
                .cloned()
                .unwrap_or_else(|| json!([]))
        };
        json!({
            "included_pattern": arr("included_pattern"),
            "excluded_pattern": arr("excluded_pattern"),
            "explicit_included_tables": arr("explicit_included_tables"),
        })
    })?;
    Ok(json_ok(&body))
}

fn check_selection(map: &Map<String, Value>) -> ApiResult<[Value; 3]> {
    const T: &str = "AemTableSelection";
    let mut out: [Value; 3] = [json!([]), json!([]), json!([])];
    for (slot, key) in [
        "included_pattern",
        "excluded_pattern",
        "explicit_included_tables",
    ]
    .iter()
    .enumerate()
    {
        let items = match map.get(*key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(other) => {
                return Err(ApiError::deserialize(
                    T,
                    format!("'{key}' must be an array, not {other}"),
                ));
            }
        };
        for item in &items {
            let ok = item.get("owner").is_some_and(Value::is_string)
                && item.get("name").is_some_and(Value::is_string);
            if !ok {
                return Err(ApiError::deserialize(
                    T,
                    format!("every '{key}' entry needs string 'owner' and 'name'"),
                ));
            }
        }
        out[slot] = Value::Array(
            items
                .into_iter()
                .map(|mut v| {
                    if let Some(m) = v.as_object_mut() {
                        m.remove("$type");
                    }
                    v
                })
                .collect(),
        );
    }
    Ok(out)
}

pub(super) fn put_selection(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let [included, excluded, explicit] =
        check_selection(&parse_json_object(&ctx.body, "AemTableSelection")?)?;
    let count = explicit.as_array().map_or(0, Vec::len);
    ctx.state.mutate(|inner| {
        let s = servers::connected_mut(&mut inner.store, server)?;
        let t = s
            .task_mut(task)
            .ok_or_else(|| ApiError::task_not_found(server, task))?;
        let source = t
            .definition
            .as_object_mut()
            .ok_or_else(|| {
                ApiError::aem(
                    code::TABLE_LIST_INNER_ERR,
                    "task definition is not an object",
                )
            })?
            .entry("source")
            .or_insert_with(|| json!({}));
        let Some(source) = source.as_object_mut() else {
            return Err(ApiError::aem(
                code::TABLE_LIST_INNER_ERR,
                "task source is not an object",
            ));
        };
        let tables = source.entry("source_tables").or_insert_with(|| json!({}));
        let Some(tables) = tables.as_object_mut() else {
            return Err(ApiError::aem(
                code::TABLE_LIST_INNER_ERR,
                "source_tables is not an object",
            ));
        };
        tables.insert("included_pattern".into(), included);
        tables.insert("excluded_pattern".into(), excluded);
        tables.insert("explicit_included_tables".into(), explicit);
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "PutTaskTableSelection",
                server: Some(server),
                task: Some(task),
                endpoint: None,
                details: format!("{count} explicit tables"),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

fn schema_table(ctx: &Ctx) -> ApiResult<(String, String)> {
    // Names, not filters: decoded a second time like names in the path.
    let get = |k: &str| {
        ctx.params
            .name(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let (schema, table) = (get("schema"), get("table"));
    if schema.is_empty() || table.is_empty() {
        return Err(ApiError::deserialize(
            "String",
            "query parameters 'schema' and 'table' are required",
        ));
    }
    Ok((schema, table))
}

pub(super) fn reload(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let (schema, table) = schema_table(ctx)?;
    ctx.state.mutate(|inner| {
        let s = servers::connected_mut(&mut inner.store, server)?;
        let t = s
            .task_mut(task)
            .ok_or_else(|| ApiError::task_not_found(server, task))?;
        if !t.full_load_enabled() {
            return Err(ApiError::aem(
                code::INVALID_TASK_NOT_FL,
                format!("Task '{task}' does not have full load enabled"),
            ));
        }
        if !t
            .tables()
            .iter()
            .any(|(sc, tb)| *sc == schema && *tb == table)
        {
            return Err(ApiError::aem(
                code::RELOAD_TABLE_ERR,
                format!("Table '{schema}.{table}' is not part of task '{task}'"),
            ));
        }
        t.stats
            .table_reloads
            .insert(format!("{schema}.{table}"), util::unix_now());
        audit::record(
            &mut inner.store,
            &ctx.user,
            Entry {
                operation: "ReloadTable",
                server: Some(server),
                task: Some(task),
                endpoint: None,
                details: format!("{schema}.{table}"),
            },
        );
        Ok(())
    })?;
    Ok(empty_ok())
}

pub(super) fn resume(ctx: &Ctx, server: &str, task: &str) -> ApiResult<Response> {
    let (schema, table) = schema_table(ctx)?;
    with_task(ctx, server, task, |t| {
        if t.tables()
            .iter()
            .any(|(sc, tb)| *sc == schema && *tb == table)
        {
            Err(ApiError::aem(
                "AEM_RESUME_TABLE_ERR",
                format!("Table '{schema}.{table}' is not suspended"),
            ))
        } else {
            Err(ApiError::aem(
                "AEM_RESUME_TABLE_ERR",
                format!("Table '{schema}.{table}' is not part of task '{task}'"),
            ))
        }
    })?
}
