//! The connection settings plus the selected context make the one [`Target`] a run talks to.
//! Precedence (as qlik-cli): command-line flag > environment variable > context.

use std::collections::BTreeMap;

use super::{ConnectionSettings, DEFAULT_MAX_RESPONSE_SIZE, EnvSecrets};
use crate::context::model::{AuthKind, ClientCert, Context, JwtRecipe, ServerType};
use crate::context::store::{Store, unknown_context};
use crate::error::{Error, Result};
use crate::http::TlsOptions;

/// Resolved credentials for one run.
#[derive(Clone)]
pub enum Auth {
    None,
    Bearer(String),
    /// Mint a token per run from the recipe; `passphrase` opens an encrypted key.
    JwtSign {
        recipe: Box<JwtRecipe>,
        passphrase: Option<String>,
    },
    /// Certificate auth: the identity is in [`TlsOptions::client_cert`]; `user` becomes `X-Qlik-User`.
    Cert {
        user: Option<String>,
    },
    Cookie(String),
    Password {
        user: String,
        password: String,
    },
    /// QSEoW Windows authentication: NTLM as `user` (`DOMAIN\user`).
    Ntlm {
        user: String,
        password: String,
    },
    ApiToken(String),
}

impl std::fmt::Debug for Auth {
    // Never print a secret, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => write!(f, "None"),
            Auth::Bearer(_) => write!(f, "Bearer(<redacted>)"),
            Auth::JwtSign { recipe, .. } => write!(f, "JwtSign(key={})", recipe.key.display()),
            Auth::Cert { user } => write!(f, "Cert(user={user:?})"),
            Auth::Cookie(_) => write!(f, "Cookie(<redacted>)"),
            Auth::Password { user, .. } => write!(f, "Password(user={user}, <redacted>)"),
            Auth::Ntlm { user, .. } => write!(f, "Ntlm(user={user}, <redacted>)"),
            Auth::ApiToken(_) => write!(f, "ApiToken(<redacted>)"),
        }
    }
}

/// Everything a client needs to reach and authenticate with one server.
#[derive(Debug, Clone)]
pub struct Target {
    /// The context this came from (None for an ad-hoc `--server`).
    pub context: Option<String>,
    pub server: reqwest::Url,
    pub server_type: ServerType,
    pub auth: Auth,
    pub tls: TlsOptions,
    /// Extra headers: the context's, then `--header` flags (a flag wins over the same name).
    pub headers: Vec<(String, String)>,
    pub timeout: std::time::Duration,
    pub retries: u32,
    /// The largest answer read into memory (bytes).
    pub max_response_size: u64,
}

impl Target {
    /// A short label for messages: the context name or the server URL.
    pub fn label(&self) -> String {
        match &self.context {
            Some(name) => format!("context `{name}`"),
            None => self.server.to_string(),
        }
    }
}

impl ConnectionSettings {
    /// How to trust `context`'s server: `--insecure` or the context's `insecure`; the CA from
    /// `--ca-cert`/`QTOOL_CA_CERT`, else the context's. No client certificate.
    pub fn server_trust(&self, context: &Context) -> TlsOptions {
        TlsOptions {
            insecure: self.insecure || context.insecure,
            ca_cert: self
                .ca_cert
                .as_ref()
                .map(|c| c.value.clone())
                .or(context.ca_cert.clone()),
            client_cert: None,
            cert_password: None,
        }
    }
}

pub(super) fn resolve(
    conn: &ConnectionSettings,
    env: &EnvSecrets,
    store: &Store,
) -> Result<Target> {
    let file = store.load_contexts()?;
    let name = conn
        .context
        .as_ref()
        .map(|c| c.value.clone())
        .or_else(|| file.current_context.clone());
    let env_api_key = env.api_key.clone();
    let env_password = env.password.clone();
    let server_flag = conn.server.as_ref().map(|s| s.value.as_str());

    let Some(name) = name.filter(|_| conn.context.is_some() || server_flag.is_none()) else {
        // Ad-hoc target from flags and environment only.
        let Some(server) = server_flag else {
            return Err(Error::config("no context selected").with_hint(
                "run `qtool context use NAME`, pass --context NAME, or give --server URL",
            ));
        };
        let auth = match env_api_key {
            Some(key) => Auth::Bearer(key),
            None => Auth::None,
        };
        return Ok(Target {
            context: None,
            server: parse_server_url(server)?,
            server_type: conn.server_type.unwrap_or(ServerType::Windows),
            auth,
            tls: TlsOptions {
                insecure: conn.insecure,
                ca_cert: conn.ca_cert.as_ref().map(|c| c.value.clone()),
                client_cert: None,
                cert_password: None,
            },
            headers: conn.headers.clone(),
            timeout: conn.timeout.value,
            retries: conn.retries.value,
            max_response_size: conn
                .max_response_size
                .as_ref()
                .map_or(DEFAULT_MAX_RESPONSE_SIZE, |s| s.value),
        });
    };

    let context = file
        .contexts
        .get(&name)
        .ok_or_else(|| unknown_context(&name, &file))?
        .clone();
    let secrets = store.load_credentials()?.remove(&name).unwrap_or_default();
    let server = parse_server_url(server_flag.unwrap_or(&context.server))?;

    let api_key = env_api_key.or(secrets.api_key.clone());
    let missing = |what: &str, how: &str| {
        Error::config(format!("context `{name}` has no {what}")).with_hint(how.to_string())
    };
    let auth = match context.auth {
        AuthKind::None => Auth::None,
        AuthKind::Bearer => Auth::Bearer(api_key.ok_or_else(|| {
            missing(
                "API key",
                "run `qtool context update NAME --api-key-stdin` or set QTOOL_API_KEY",
            )
        })?),
        AuthKind::ApiToken => Auth::ApiToken(api_key.ok_or_else(|| {
            missing(
                "API token",
                "run `qtool context update NAME --api-key-stdin` or set QTOOL_API_KEY",
            )
        })?),
        AuthKind::JwtSign => Auth::JwtSign {
            recipe: context.jwt.clone().map(Box::new).ok_or_else(|| {
                missing(
                    "JWT signing recipe",
                    "run `qtool context update NAME --jwt-key KEY --jwt-userid ...`",
                )
            })?,
            passphrase: env.key_passphrase.clone(),
        },
        AuthKind::Cert => Auth::Cert {
            user: context.user.clone(),
        },
        AuthKind::Cookie => Auth::Cookie(
            secrets
                .cookie
                .clone()
                .ok_or_else(|| missing("session cookie", "run `qtool context login NAME`"))?,
        ),
        AuthKind::Password | AuthKind::Ntlm => {
            let user = context.user.clone().ok_or_else(|| {
                missing(
                    "user",
                    "run `qtool context update NAME --user 'DOMAIN\\user'`",
                )
            })?;
            let password = env_password.or(secrets.password.clone()).ok_or_else(|| {
                missing(
                    "password",
                    "run `qtool context update NAME --password-stdin` or set QTOOL_PASSWORD",
                )
            })?;
            if context.auth == AuthKind::Ntlm {
                Auth::Ntlm { user, password }
            } else {
                Auth::Password { user, password }
            }
        }
    };

    let mut headers: BTreeMap<String, String> = secrets.headers.clone();
    for (k, v) in &conn.headers {
        headers.retain(|existing, _| !existing.eq_ignore_ascii_case(k));
        headers.insert(k.clone(), v.clone());
    }

    let max_response_size = max_response_size(conn, &name, &context)?;
    Ok(Target {
        context: Some(name),
        server,
        server_type: conn.server_type.unwrap_or(context.server_type),
        auth,
        tls: TlsOptions {
            client_cert: context
                .client_cert
                .clone()
                .filter(|_: &ClientCert| context.auth == AuthKind::Cert),
            cert_password: env.cert_password.clone().or(secrets.cert_password.clone()),
            ..conn.server_trust(&context)
        },
        headers: headers.into_iter().collect(),
        timeout: conn.timeout.value,
        retries: conn.retries.value,
        max_response_size,
    })
}

/// Flag or environment, else the context's `max-response-size`, else the default.
fn max_response_size(conn: &ConnectionSettings, name: &str, context: &Context) -> Result<u64> {
    if let Some(given) = &conn.max_response_size {
        return Ok(given.value);
    }
    match &context.max_response_size {
        None => Ok(DEFAULT_MAX_RESPONSE_SIZE),
        Some(text) => qtool_common::bytes::parse(text).map_err(|e| {
            Error::config(format!("context `{name}` has max-response-size {e}")).with_hint(format!(
                "run `qtool context update {name} --max-response-size 512MiB`"
            ))
        }),
    }
}

/// Parse and check a server URL: https (or http for loopback tests), a host, no query, and no
/// user name or password (they would be stored in `contexts.toml` and printed by `context ls`).
/// Messages never repeat a password the text may hold.
pub fn parse_server_url(text: &str) -> Result<reqwest::Url> {
    let shown = mask_url_userinfo(text.trim());
    let url = reqwest::Url::parse(text.trim()).map_err(|e| {
        Error::usage(format!("`{shown}` is not a valid server URL ({e})"))
            .with_hint("use the full URL, e.g. https://qlik.example.com/jwt")
    })?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(
            Error::usage(format!("`{shown}` is not an http(s) server URL"))
                .with_hint("use the full URL, e.g. https://qlik.example.com/jwt"),
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::usage(format!(
            "server URL `{shown}` holds a user name or password; qtool keeps credentials out of URLs"
        ))
        .with_hint(
            "remove `user:password@` from the URL and give the credentials as such: --user with --password-stdin (QEM), --api-key-stdin (a token)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::usage(format!(
            "server URL `{shown}` must not have a query or fragment"
        )));
    }
    Ok(url)
}

/// `https://****@host/path` for a URL text with `user[:password]@` before its host; other
/// text unchanged. For showing URLs that were stored before userinfo was refused.
pub fn mask_url_userinfo(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(scheme_end) = text.find("://") else {
        return text.into();
    };
    let authority_start = scheme_end + 3;
    let rest = &text[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_len].rfind('@') {
        Some(at) => format!(
            "{}****{}",
            &text[..authority_start],
            &text[authority_start + at..]
        )
        .into(),
        None => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked() {
        assert!(parse_server_url("https://192.168.254.243/jwt").is_ok());
        assert!(parse_server_url("qlik.example.com").is_err());
        assert!(parse_server_url("ftp://x").is_err());
        assert!(parse_server_url("https://x/?a=b").is_err());
    }

    #[test]
    fn credentials_in_server_urls_are_refused_and_never_repeated() {
        for url in [
            "https://alice:hunter2@qlik.example.com/jwt",
            "https://alice@qlik.example.com/jwt",
            "https://:hunter2@qlik.example.com",
            "https://al ice:hunter2@qlik example.com/jwt",
        ] {
            let err = parse_server_url(url).unwrap_err();
            assert_eq!(err.class(), crate::error::ErrorClass::Usage, "{url}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
            assert!(!err.to_string().contains("alice"), "{err}");
        }
        let err = parse_server_url("https://alice:hunter2@qlik.example.com/jwt").unwrap_err();
        assert!(
            err.message()
                .contains("`https://****@qlik.example.com/jwt` holds a user name or password"),
            "{err}"
        );
        assert_eq!(
            mask_url_userinfo("https://a:b@h:443/p@x"),
            "https://****@h:443/p@x"
        );
        assert_eq!(mask_url_userinfo("https://h/p@x"), "https://h/p@x");
        assert_eq!(mask_url_userinfo("not a url"), "not a url");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let auth = Auth::Password {
            user: "D\\u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::Bearer("eyJsecret".into())).contains("eyJsecret"));
    }
}
