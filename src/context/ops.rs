//! Context operations on the store: create, change, select, rename, remove, import qlik-cli
//! contexts, and the QSEoW forms login that stores a session cookie. Each read-modify-write runs
//! under the store's lock ([`Store::update`]); the commands only turn flags into these calls.

use reqwest::{Method, StatusCode, Url};

use super::model::{AuthKind, Context, Secrets, validate_name};
use super::qlikcli::{Imported, ImportedFile};
use super::store::{Contexts, Store};
use crate::error::{Error, Result};
use crate::http::{self, ClientOptions};

/// Add a context; an existing name is a conflict.
pub(crate) fn create(store: &Store, name: &str, context: Context, secrets: Secrets) -> Result<()> {
    validate_name(name).map_err(Error::usage)?;
    store.update(|all| {
        if all.file.contexts.contains_key(name) {
            return Err(
                Error::conflict(format!("context `{name}` already exists")).with_hint(format!(
                    "change it with `qtool context update {name} ...` or pick another name"
                )),
            );
        }
        all.file.contexts.insert(name.to_string(), context);
        all.set_secrets(name, secrets);
        Ok(())
    })
}

/// Change an existing context and its secrets with `change`.
pub(crate) fn update(
    store: &Store,
    name: &str,
    change: impl FnOnce(&mut Context, &mut Secrets) -> Result<()>,
) -> Result<()> {
    store.update(|all| {
        let mut context = all.get(name)?.clone();
        let mut secrets = all.secrets_of(name);
        change(&mut context, &mut secrets)?;
        all.file.contexts.insert(name.to_string(), context);
        all.set_secrets(name, secrets);
        Ok(())
    })
}

/// Make `name` the current context (`None`: no current context).
pub(crate) fn select(store: &Store, name: Option<&str>) -> Result<()> {
    store.update(|all| {
        if let Some(name) = name {
            all.get(name)?;
        }
        all.file.current_context = name.map(str::to_string);
        Ok(())
    })
}

/// Rename a context with its secrets (and the current-context mark).
pub(crate) fn rename(store: &Store, old: &str, new: &str) -> Result<()> {
    validate_name(new).map_err(Error::usage)?;
    store.update(|all| {
        let context = all.get(old)?.clone();
        if all.file.contexts.contains_key(new) {
            return Err(Error::conflict(format!("context `{new}` already exists")));
        }
        all.file.contexts.remove(old);
        all.file.contexts.insert(new.to_string(), context);
        if let Some(secrets) = all.secrets.remove(old) {
            all.secrets.insert(new.to_string(), secrets);
        }
        if all.file.current_context.as_deref() == Some(old) {
            all.file.current_context = Some(new.to_string());
        }
        Ok(())
    })
}

/// Remove contexts and their secrets (all or none: an unknown name changes nothing). Whether
/// the current context was among them.
pub(crate) fn remove(store: &Store, names: &[String]) -> Result<bool> {
    store.update(|all| {
        for name in names {
            all.get(name)?;
        }
        let mut cleared = false;
        for name in names {
            all.file.contexts.remove(name);
            all.secrets.remove(name);
            if all.file.current_context.as_deref() == Some(name.as_str()) {
                all.file.current_context = None;
                cleared = true;
            }
        }
        Ok(cleared)
    })
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ImportReport {
    pub added: Vec<String>,
    /// Name and reason.
    pub skipped: Vec<(String, String)>,
}

/// Add the imported contexts (replacing same-named ones only with `overwrite`); the file's
/// current context becomes the current one when there is none and it was added.
pub(crate) fn import(
    store: &Store,
    imported: ImportedFile,
    overwrite: bool,
) -> Result<ImportReport> {
    store.update(|all| Ok(merge_imported(all, imported, overwrite)))
}

fn merge_imported(all: &mut Contexts, imported: ImportedFile, overwrite: bool) -> ImportReport {
    let mut report = ImportReport::default();
    for item in imported.items {
        match item {
            Imported::Context {
                name,
                context,
                secrets,
            } => {
                if all.file.contexts.contains_key(&name) && !overwrite {
                    report.skipped.push((
                        name,
                        "a qtool context has this name (use --overwrite)".to_string(),
                    ));
                    continue;
                }
                all.file.contexts.insert(name.clone(), *context);
                all.set_secrets(&name, secrets);
                report.added.push(name);
            }
            Imported::Skipped { name, reason } => report.skipped.push((name, reason)),
        }
    }
    if all.file.current_context.is_none()
        && let Some(current) = imported.current.filter(|c| report.added.contains(c))
    {
        all.file.current_context = Some(current);
    }
    report
}

/// Keep the session cookie of a forms login in the context (its auth becomes `cookie`).
pub(crate) fn store_login(store: &Store, name: &str, user: &str, cookie: &str) -> Result<()> {
    update(store, name, |context, secrets| {
        context.user = Some(user.to_string());
        context.auth = AuthKind::Cookie;
        secrets.cookie = Some(cookie.to_string());
        Ok(())
    })
}

/// QSEoW forms login through the proxy: follow the server URL to the proxy's login form
/// (`/{prefix}/internal_forms_authentication/?targetId=…`), post `username`/`pwd` to it as the
/// form itself does (no Xrfkey: the login module is not the repository API), and return the
/// session cookie the proxy sets.
pub(crate) async fn forms_login(
    options: ClientOptions,
    server: Url,
    user: String,
    password: String,
    retries: u32,
) -> Result<String> {
    let client = http::build_client(&options)?;
    // 1. Follow redirects (same origin only) to the login form.
    let mut url = server.clone();
    let mut hops = 0;
    let form_url = loop {
        let resp = http::send(&Method::GET, &url, retries, || client.get(url.clone())).await?;
        if resp.status().is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::server("the proxy redirected without a Location"))?;
            let next = url
                .join(location)
                .map_err(|_| Error::server(format!("bad redirect `{location}`")))?;
            if next.origin() != server.origin() {
                return Err(Error::auth(format!(
                    "the proxy redirected to another site ({})",
                    next.origin().ascii_serialization()
                ))
                .with_hint("forms login works with the QSEoW proxy's own login page only"));
            }
            url = next;
            hops += 1;
            if hops > 5 {
                return Err(Error::server(
                    "too many redirects on the way to the login page",
                ));
            }
            continue;
        }
        if resp.status() == StatusCode::OK && http::is_html(&resp) {
            break url.clone();
        }
        return Err(Error::auth(format!(
            "{} did not lead to a login form (HTTP {})",
            server,
            resp.status().as_u16()
        ))
        .with_hint("use the URL of a virtual proxy that uses forms authentication"));
    };

    // 2. Post the credentials back to the form's own address (its `targetId` included).
    let post_url = form_url.clone();
    let body = format!(
        "username={}&pwd={}",
        percent_encoding::utf8_percent_encode(&user, percent_encoding::NON_ALPHANUMERIC),
        percent_encoding::utf8_percent_encode(&password, percent_encoding::NON_ALPHANUMERIC)
    );
    let resp = http::send(&Method::POST, &post_url, 0, || {
        client
            .post(post_url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.clone())
    })
    .await?;

    // 3. The first session cookie the proxy sets is the one we keep.
    let cookie = http::qlik_session_cookie(&resp);
    match cookie {
        Some(c) => Ok(c.to_string()),
        None => Err(Error::auth(format!(
            "login as {user} was refused: no X-Qlik-Session cookie (HTTP {})",
            resp.status().as_u16()
        ))
        .with_hint("check the user name and password")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::model::ServerType;
    use crate::error::ErrorClass;

    fn context(server: &str) -> Context {
        Context {
            server: server.into(),
            server_type: ServerType::Windows,
            auth: AuthKind::Bearer,
            insecure: false,
            ca_cert: None,
            comment: None,
            user: None,
            jwt: None,
            client_cert: None,
            max_response_size: None,
        }
    }

    fn token(t: &str) -> Secrets {
        Secrets {
            api_key: Some(t.into()),
            ..Secrets::default()
        }
    }

    #[test]
    fn create_select_rename_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        create(&store, "a", context("https://a/jwt"), token("ta")).unwrap();
        let err = create(&store, "a", context("https://x"), Secrets::default()).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Conflict);
        assert_eq!(
            create(&store, "bad name", context("https://x"), Secrets::default())
                .unwrap_err()
                .class(),
            ErrorClass::Usage
        );
        select(&store, Some("a")).unwrap();
        assert_eq!(
            select(&store, Some("nope")).unwrap_err().class(),
            ErrorClass::NotFound
        );

        rename(&store, "a", "b").unwrap();
        let all = store.load().unwrap();
        assert_eq!(all.file.current_context.as_deref(), Some("b"));
        assert_eq!(all.secrets_of("b").api_key.as_deref(), Some("ta"));
        assert!(!all.file.contexts.contains_key("a"));

        update(&store, "b", |c, s| {
            c.comment = Some("changed".into());
            s.api_key = None;
            Ok(())
        })
        .unwrap();
        let all = store.load().unwrap();
        assert_eq!(all.file.contexts["b"].comment.as_deref(), Some("changed"));
        assert!(!all.secrets.contains_key("b"), "empty secrets are dropped");

        // All or nothing.
        let err = remove(&store, &["b".into(), "nope".into()]).unwrap_err();
        assert_eq!(err.class(), ErrorClass::NotFound);
        assert!(store.load().unwrap().file.contexts.contains_key("b"));
        assert!(remove(&store, &["b".into()]).unwrap());
        assert!(store.load().unwrap().file.current_context.is_none());
    }

    #[test]
    fn import_skips_existing_names_unless_overwriting() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        create(
            &store,
            "old",
            context("https://mine/jwt"),
            Secrets::default(),
        )
        .unwrap();
        let file = || ImportedFile {
            current: Some("new".into()),
            items: vec![
                Imported::Context {
                    name: "old".into(),
                    context: Box::new(context("https://theirs/jwt")),
                    secrets: token("t"),
                },
                Imported::Context {
                    name: "new".into(),
                    context: Box::new(context("https://new/jwt")),
                    secrets: Secrets::default(),
                },
                Imported::Skipped {
                    name: "cloud".into(),
                    reason: "not QSEoW".into(),
                },
            ],
        };
        let report = import(&store, file(), false).unwrap();
        assert_eq!(report.added, vec!["new".to_string()]);
        assert_eq!(report.skipped.len(), 2);
        let all = store.load().unwrap();
        assert_eq!(all.file.contexts["old"].server, "https://mine/jwt");
        assert_eq!(all.file.current_context.as_deref(), Some("new"));

        let report = import(&store, file(), true).unwrap();
        assert_eq!(report.added.len(), 2);
        assert_eq!(
            store.load().unwrap().file.contexts["old"].server,
            "https://theirs/jwt"
        );
    }
}
