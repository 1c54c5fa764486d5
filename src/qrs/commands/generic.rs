//! Generic verbs for every resource: ls, count, get, create, update, rm (by id, or by filter
//! with --yes). The work is in [`crate::qrs::ops::generic`]; this translates flags and prints.

use super::output::{print_list, print_one, read_json_input, stream_json};
use super::{CommonVerb, CountArgs, CreateArgs, LsArgs, RmArgs, UpdateArgs};
use crate::app::App;
use crate::error::{Error, Result};
use crate::output::{OutputFormat, scalar_text, status};
use crate::qrs::client::QrsClient;
use crate::qrs::items::Wanted;
use crate::qrs::ops::generic::{self as ops, Created, ListQuery, Patch};
use crate::qrs::resources::{Op, ResourceKind};
use crate::session_cache::{SessionCache, SessionKind};

/// The run's QRS client (Windows sessions cached across runs).
pub(super) fn connect(app: &App) -> Result<QrsClient> {
    Ok(QrsClient::new(&app.target()?)?.with_session_cache(session_cache(app)))
}

pub(super) fn session_cache(app: &App) -> SessionCache {
    SessionCache::new(app.settings.paths.cache_dir(), SessionKind::QseowProxy)
}

pub(super) fn run(res: ResourceKind, verb: CommonVerb, app: &App) -> Result<u8> {
    let client = connect(app)?;
    app.block_on(async {
        match verb {
            CommonVerb::Ls(a) => ls(&client, res, &a, app).await,
            CommonVerb::Count(a) => count(&client, res, &a, app).await,
            CommonVerb::Get(a) => {
                let item = ops::get(&client, res, &a.id).await?;
                print_one(&app.printer, res, item)
            }
            CommonVerb::Update(a) => update(&client, res, a, app).await,
            CommonVerb::Rm(a) => rm(&client, res, a, app).await,
        }
    })?;
    Ok(0)
}

pub(super) async fn ls(client: &QrsClient, res: ResourceKind, a: &LsArgs, app: &App) -> Result<()> {
    let query = ListQuery {
        filter: ops::name_filter(res, a.filter.as_deref(), a.name.as_deref())?,
        orderby: a.orderby.clone(),
        full: a.full,
    };
    if app.printer.format() == OutputFormat::Json && !app.printer.quiet() {
        let resp = ops::list_response(client, res, &query).await?;
        return stream_json(resp, &app.printer).await;
    }
    if app.printer.format() == OutputFormat::Table || app.printer.quiet() {
        return stream_table(client, res, &query, a.full, app).await;
    }
    let items = ops::list(client, res, &query).await?;
    print_list(&app.printer, res, items, a.full)
}

/// A table (or `-q` ids) printed while the list downloads: each item parsed for the shown
/// fields only, the column widths taken from the first rows.
async fn stream_table(
    client: &QrsClient,
    res: ResourceKind,
    query: &ListQuery,
    full: bool,
    app: &App,
) -> Result<()> {
    let columns = res.table_columns(full);
    let wanted = Wanted::paths(columns.iter().map(|c| c.path).chain(["id"]));
    let resp = ops::list_response(client, res, query).await?;
    let what = format!("GET {}", resp.url().path());
    let quiet = app.printer.quiet();
    let mut rows = app.printer.rows(columns, "id");
    crate::qrs::items::for_each_item(
        resp,
        client.max_response_size(),
        &what,
        &wanted,
        |mut slots| {
            // The last slot is the id (`-q`), the others the columns'.
            let id = slots.pop().flatten();
            let cells = if quiet {
                vec![id.as_ref().map(scalar_text).unwrap_or_default()]
            } else {
                columns
                    .iter()
                    .zip(slots)
                    .map(|(column, slot)| {
                        slot.map(|mut value| {
                            res.decorate_field(column.path, &mut value);
                            scalar_text(&value)
                        })
                        .unwrap_or_default()
                    })
                    .collect()
            };
            rows.cells(cells)
        },
    )
    .await?;
    rows.finish()
}

async fn count(client: &QrsClient, res: ResourceKind, a: &CountArgs, app: &App) -> Result<()> {
    let flt = ops::name_filter(res, a.filter.as_deref(), a.name.as_deref())?;
    let n = ops::count(client, res, flt.as_deref()).await?;
    if app.printer.is_structured() {
        app.printer.document(&serde_json::json!({ "value": n }))
    } else {
        app.printer.line(&n.to_string())
    }
}

pub(super) fn create(res: ResourceKind, a: CreateArgs, app: &App) -> Result<u8> {
    ops::require(res, Op::Create)?;
    let doc = read_json_input(&a.file)?;
    let client = connect(app)?;
    let created = app.block_on(ops::create(&client, res, doc))?;
    print_created(app, res, created)?;
    Ok(0)
}

pub(super) fn print_created(app: &App, res: ResourceKind, created: Created) -> Result<()> {
    match created {
        Created::Many(list) => print_list(&app.printer, res, list, true),
        Created::One(item) => print_one(&app.printer, res, item),
    }
}

async fn update(client: &QrsClient, res: ResourceKind, a: UpdateArgs, app: &App) -> Result<()> {
    ops::require(res, Op::Update)?;
    let patch = Patch {
        merge: a.file.as_deref().map(read_json_input).transpose()?,
        set: a
            .set
            .iter()
            .map(|s| ops::parse_set(s))
            .collect::<Result<Vec<_>>>()?,
    };
    let updated = ops::update(client, res, &a.id, patch).await?;
    print_one(&app.printer, res, updated)
}

async fn rm(client: &QrsClient, res: ResourceKind, a: RmArgs, app: &App) -> Result<()> {
    ops::require(res, Op::Delete)?;
    if let Some(id) = &a.id {
        if a.filter.is_some() || a.name.is_some() {
            return Err(Error::usage("give an id or --filter/--name, not both"));
        }
        ops::delete(client, res, id).await?;
        if !app.printer.quiet() {
            status(&format!("Deleted {} {id}", res.label()));
        }
        return Ok(());
    }
    let flt = ops::name_filter(res, a.filter.as_deref(), a.name.as_deref())?
        .ok_or_else(|| Error::usage("give an id, --filter or --name"))?;
    let query = ListQuery {
        filter: Some(flt.clone()),
        ..ListQuery::default()
    };
    let items = ops::list(client, res, &query).await?;
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
    let results = ops::delete_each(client, res, ids, 4).await;
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
