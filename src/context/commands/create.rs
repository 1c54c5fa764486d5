//! `context create` and `context update`: the same fields; create needs a new name and a
//! server, update changes only what is given. The global flags `--server`, `--server-type`,
//! `--insecure`, `--ca-cert` and `--header` are stored too (as qlik-cli does).

use std::path::{Path, PathBuf};

use clap::Args;

use super::{CreateArgs, UpdateArgs};
use crate::app::App;
use crate::context::model::{self, AuthKind, ClientCert, Context, JwtRecipe, Secrets, ServerType};
use crate::context::ops;
use crate::error::{Error, Result};
use crate::jwt::token::JwtAlgorithm;
use crate::output::status;
use crate::secret;
use crate::settings::parse_server_url;

#[derive(Debug, Clone, Default, Args)]
pub struct ContextFields {
    /// Authentication kind; inferred from the other flags when omitted.
    #[arg(long, value_enum)]
    pub auth: Option<AuthKind>,

    /// QSEoW: the JWT sent as bearer token. QEM: a personal access token (or a JWT with --auth jwt).
    #[arg(long, value_name = "TOKEN", conflicts_with = "api_key_stdin")]
    pub api_key: Option<String>,
    /// Read the API key from stdin.
    #[arg(long)]
    pub api_key_stdin: bool,

    /// User as DOMAIN\user: QEM login, QSEoW Windows (NTLM) or forms login, or X-Qlik-User
    /// for certificate auth.
    #[arg(long)]
    pub user: Option<String>,
    /// Read the password from stdin (QTOOL_PASSWORD also works).
    #[arg(long)]
    pub password_stdin: bool,
    /// Password on the command line (visible to other users; prefer --password-stdin).
    #[arg(long, hide = true, conflicts_with = "password_stdin")]
    pub password: Option<String>,

    /// Free text shown by `context ls`.
    #[arg(long)]
    pub comment: Option<String>,

    /// Private key (PEM) to mint a fresh JWT per run instead of a fixed --api-key.
    #[arg(long, value_name = "FILE", help_heading = "JWT signing recipe")]
    pub jwt_key: Option<PathBuf>,
    /// `userid` claim.
    #[arg(long, value_name = "ID", help_heading = "JWT signing recipe")]
    pub jwt_userid: Option<String>,
    /// `userdirectory` claim.
    #[arg(long, value_name = "DIR", help_heading = "JWT signing recipe")]
    pub jwt_userdirectory: Option<String>,
    /// `aud` claim (the virtual proxy's JWT audience).
    #[arg(long, value_name = "AUD", help_heading = "JWT signing recipe")]
    pub jwt_audience: Option<String>,
    /// `name` claim.
    #[arg(long, value_name = "NAME", help_heading = "JWT signing recipe")]
    pub jwt_name: Option<String>,
    /// `email` claim.
    #[arg(long, value_name = "EMAIL", help_heading = "JWT signing recipe")]
    pub jwt_email: Option<String>,
    /// `groups` claim entry (repeatable).
    #[arg(long, value_name = "GROUP", help_heading = "JWT signing recipe")]
    pub jwt_group: Vec<String>,
    /// Lifetime of each minted token (default 5m).
    #[arg(long, value_name = "DURATION", help_heading = "JWT signing recipe")]
    pub jwt_expires_in: Option<String>,
    /// Signing algorithm (default RS256).
    #[arg(
        long,
        value_name = "ALG",
        value_enum,
        ignore_case = true,
        help_heading = "JWT signing recipe"
    )]
    pub jwt_alg: Option<JwtAlgorithm>,
    /// `kid` header.
    #[arg(long, value_name = "KID", help_heading = "JWT signing recipe")]
    pub jwt_kid: Option<String>,
    /// Extra claim K=V (V parsed as JSON when it is JSON, else a string; repeatable).
    #[arg(long, value_name = "K=V", help_heading = "JWT signing recipe")]
    pub jwt_claim: Vec<String>,

    /// Client certificate for certificate authentication (QRS on port 4242): PEM with
    /// --client-key, or a PKCS#12 file (.pfx, the QMC's "Windows format") holding both.
    #[arg(long, value_name = "FILE", help_heading = "Certificate authentication")]
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM) of a PEM client certificate.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Certificate authentication",
        requires = "client_cert"
    )]
    pub client_key: Option<PathBuf>,
    /// Read the password of a .pfx client certificate from stdin (QTOOL_CERT_PASSWORD also
    /// works, when creating the context or when using it).
    #[arg(long, help_heading = "Certificate authentication")]
    pub cert_password_stdin: bool,
}

pub(super) fn run_create(args: CreateArgs, app: &App) -> Result<()> {
    // Checked first: a bad name is reported before stdin is read.
    model::validate_name(&args.name).map_err(Error::usage)?;
    let g = &app.settings.connection;
    let server = g.server.as_ref().map(|s| s.value.clone()).ok_or_else(|| {
        Error::usage("--server is required to create a context")
            .with_hint("e.g. `qtool context create QSEoW --server https://host/jwt --server-type windows --api-key-stdin`")
    })?;
    parse_server_url(&server)?;
    let server_type = g.server_type.unwrap_or_else(|| guess_server_type(&server));
    let mut context = Context {
        server,
        server_type,
        auth: AuthKind::None,
        insecure: g.insecure,
        ca_cert: g.ca_cert.as_ref().map(|c| absolute(&c.value)).transpose()?,
        comment: None,
        user: None,
        jwt: None,
        client_cert: None,
        max_response_size: given_max_response_size(app),
    };
    let mut secrets = Secrets::default();
    for (k, v) in &g.headers {
        secrets.headers.insert(k.clone(), v.clone());
    }
    let inputs = read_secret_inputs(&args.fields, app)?;
    apply_fields(&mut context, &mut secrets, &args.fields, inputs, true)?;

    ops::create(&app.store()?, &args.name, context, secrets)?;
    status(&format!("Context `{}` created", args.name));
    Ok(())
}

pub(super) fn run_update(args: UpdateArgs, app: &App) -> Result<()> {
    let g = &app.settings.connection;
    let inputs = read_secret_inputs(&args.fields, app)?;
    ops::update(&app.store()?, &args.name, |context, secrets| {
        if let Some(server) = &g.server {
            parse_server_url(&server.value)?;
            context.server = server.value.clone();
        }
        if let Some(t) = g.server_type {
            context.server_type = t;
        }
        if g.insecure {
            context.insecure = true;
        }
        if args.secure {
            context.insecure = false;
        }
        if let Some(ca) = &g.ca_cert {
            context.ca_cert = Some(absolute(&ca.value)?);
        }
        if let Some(size) = given_max_response_size(app) {
            context.max_response_size = Some(size);
        }
        for (k, v) in &g.headers {
            secrets
                .headers
                .retain(|existing, _| !existing.eq_ignore_ascii_case(k));
            if !v.is_empty() {
                secrets.headers.insert(k.clone(), v.clone());
            }
        }
        apply_fields(context, secrets, &args.fields, inputs, false)
    })?;
    status(&format!("Context `{}` updated", args.name));
    Ok(())
}

/// `--max-response-size` given with `context create|update` is stored in the context (the
/// environment variable is not: it applies to the runs that see it).
fn given_max_response_size(app: &App) -> Option<String> {
    app.settings
        .connection
        .max_response_size
        .as_ref()
        .filter(|s| s.origin == crate::settings::Origin::Flag)
        .map(|s| qtool_common::bytes::format(s.value))
}

/// Secrets read before taking the store lock (stdin may block).
#[derive(Default)]
struct SecretInputs {
    api_key: Option<String>,
    password: Option<String>,
    cert_password: Option<String>,
}

fn read_secret_inputs(f: &ContextFields, app: &App) -> Result<SecretInputs> {
    let stdin_readers = [f.api_key_stdin, f.password_stdin, f.cert_password_stdin];
    if stdin_readers.iter().filter(|x| **x).count() > 1 {
        return Err(Error::usage(
            "only one of --api-key-stdin, --password-stdin and --cert-password-stdin can read stdin",
        )
        .with_hint("give the password in QTOOL_PASSWORD (or QTOOL_CERT_PASSWORD) instead"));
    }
    let api_key = if f.api_key_stdin {
        Some(secret::read_stdin("api key")?)
    } else {
        if f.api_key.is_some() {
            // The tutorial passes the token in argv; accept it, but say why stdin is better.
            tracing::info!("API key given on the command line");
        }
        f.api_key.clone().or_else(|| {
            // Like QTOOL_PASSWORD with --user: a token-based --auth takes QTOOL_API_KEY.
            matches!(f.auth, Some(AuthKind::Bearer | AuthKind::ApiToken))
                .then(|| app.settings.secrets.api_key.clone())
                .flatten()
        })
    };
    if let Some(key) = &api_key {
        model::validate_api_key(key).map_err(|e| {
            Error::usage(e).with_hint(
                "give the token itself, e.g. `printf %s \"$TOKEN\" | qtool context update NAME --api-key-stdin`",
            )
        })?;
    }
    let password = if f.password_stdin {
        Some(secret::read_stdin("password")?)
    } else if let Some(p) = &f.password {
        secret::warn_argv("--password");
        Some(p.clone())
    } else if f.user.is_some() {
        app.settings.secrets.password.clone()
    } else {
        None
    };
    let cert_password = if f.cert_password_stdin {
        Some(secret::read_stdin("cert password")?)
    } else {
        None
    };
    Ok(SecretInputs {
        api_key,
        password,
        cert_password,
    })
}

fn apply_fields(
    context: &mut Context,
    secrets: &mut Secrets,
    f: &ContextFields,
    inputs: SecretInputs,
    creating: bool,
) -> Result<()> {
    if let Some(comment) = &f.comment {
        context.comment = Some(comment.clone()).filter(|c| !c.is_empty());
    }
    if let Some(user) = &f.user {
        context.user = Some(user.clone()).filter(|u| !u.is_empty());
    }
    if let Some(key) = inputs.api_key {
        secrets.api_key = Some(key);
    }
    if let Some(password) = inputs.password {
        secrets.password = Some(password);
    }
    if let Some(password) = inputs.cert_password {
        secrets.cert_password = Some(password);
    }
    if let Some(cert) = &f.client_cert {
        context.client_cert = Some(ClientCert {
            cert: absolute(cert)?,
            key: f.client_key.as_deref().map(absolute).transpose()?,
        });
    }
    update_jwt_recipe(context, f)?;

    let inferred = if f.jwt_key.is_some() {
        Some(AuthKind::JwtSign)
    } else if f.client_cert.is_some() {
        Some(AuthKind::Cert)
    } else if f.api_key.is_some() || f.api_key_stdin {
        Some(match context.server_type {
            ServerType::Windows => AuthKind::Bearer,
            ServerType::Qem => AuthKind::ApiToken,
        })
    } else if (f.password_stdin || f.password.is_some() || secrets.password.is_some())
        && context.user.is_some()
    {
        // A user and a password: the QEM login, or QSEoW Windows authentication.
        Some(match context.server_type {
            ServerType::Windows => AuthKind::Ntlm,
            ServerType::Qem => AuthKind::Password,
        })
    } else {
        None
    };
    if let Some(kind) = f.auth.or(inferred) {
        context.auth = kind;
    } else if creating {
        context.auth = AuthKind::None;
    }
    check_auth(context, secrets)
}

fn update_jwt_recipe(context: &mut Context, f: &ContextFields) -> Result<()> {
    let touches_recipe = f.jwt_key.is_some()
        || f.jwt_userid.is_some()
        || f.jwt_userdirectory.is_some()
        || f.jwt_audience.is_some()
        || f.jwt_name.is_some()
        || f.jwt_email.is_some()
        || !f.jwt_group.is_empty()
        || f.jwt_expires_in.is_some()
        || f.jwt_alg.is_some()
        || f.jwt_kid.is_some()
        || !f.jwt_claim.is_empty();
    if !touches_recipe {
        return Ok(());
    }
    let mut recipe = context.jwt.clone().unwrap_or_default();
    if let Some(key) = &f.jwt_key {
        recipe.key = absolute(key)?;
    }
    let set = |slot: &mut Option<String>, value: &Option<String>| {
        if let Some(v) = value {
            *slot = Some(v.clone()).filter(|v| !v.is_empty());
        }
    };
    if let Some(u) = &f.jwt_userid {
        recipe.userid = u.clone();
    }
    if let Some(d) = &f.jwt_userdirectory {
        recipe.userdirectory = d.clone();
    }
    set(&mut recipe.audience, &f.jwt_audience);
    set(&mut recipe.name, &f.jwt_name);
    set(&mut recipe.email, &f.jwt_email);
    set(&mut recipe.kid, &f.jwt_kid);
    if let Some(e) = &f.jwt_expires_in {
        crate::duration::parse(e).map_err(|e| Error::usage(e.to_string()))?;
        recipe.expires_in = Some(e.clone());
    }
    if f.jwt_alg.is_some() {
        recipe.alg = f.jwt_alg;
    }
    if !f.jwt_group.is_empty() {
        recipe.groups = f.jwt_group.clone();
    }
    for claim in &f.jwt_claim {
        let (k, v) = claim
            .split_once('=')
            .ok_or_else(|| Error::usage(format!("--jwt-claim `{claim}` is not K=V")))?;
        let json = match serde_json::from_str::<serde_json::Value>(v) {
            Ok(value) => value.to_string(),
            Err(_) => serde_json::Value::String(v.to_string()).to_string(),
        };
        recipe.claims.insert(k.to_string(), json);
    }
    context.jwt = Some(recipe);
    Ok(())
}

/// Refuse a context that cannot possibly authenticate, naming what is missing.
fn check_auth(context: &Context, secrets: &Secrets) -> Result<()> {
    let kind = context.auth;
    let allowed = match context.server_type {
        ServerType::Windows => matches!(
            kind,
            AuthKind::None
                | AuthKind::Bearer
                | AuthKind::JwtSign
                | AuthKind::Cert
                | AuthKind::Cookie
                | AuthKind::Ntlm
        ),
        ServerType::Qem => matches!(
            kind,
            AuthKind::Password | AuthKind::ApiToken | AuthKind::Bearer | AuthKind::JwtSign
        ),
    };
    if !allowed {
        let hint = match context.server_type {
            ServerType::Windows => {
                "QSEoW contexts use --api-key, --jwt-key ..., --client-cert, --auth ntlm --user 'DOMAIN\\user' --password-stdin, or `context login`"
            }
            ServerType::Qem => {
                "QEM contexts use --user 'DOMAIN\\user' with --password-stdin, --api-key-stdin (personal access token), or a JWT (--auth jwt --api-key-stdin, or --jwt-key ...)"
            }
        };
        return Err(Error::usage(format!(
            "authentication `{}` does not apply to a {} server",
            kind.as_str(),
            context.server_type.as_str()
        ))
        .with_hint(hint));
    }
    match kind {
        AuthKind::Bearer | AuthKind::ApiToken if secrets.api_key.is_none() => {
            Err(Error::usage("this authentication needs a token")
                .with_hint("give --api-key-stdin, or set QTOOL_API_KEY"))
        }
        AuthKind::Password | AuthKind::Ntlm if context.user.is_none() => {
            Err(Error::usage(format!(
                "{} authentication needs --user 'DOMAIN\\user'",
                kind.as_str()
            )))
        }
        AuthKind::Ntlm if !context.user.as_deref().is_some_and(|u| u.contains('\\')) => {
            Err(Error::usage(format!(
                "Windows authentication needs the user as DOMAIN\\user, not `{}`",
                context.user.as_deref().unwrap_or_default()
            ))
            .with_hint("e.g. --user 'CONTOSO\\svc_qlik'"))
        }
        AuthKind::Password | AuthKind::Ntlm if secrets.password.is_none() => Err(Error::usage(
            format!("{} authentication needs a password", kind.as_str()),
        )
        .with_hint("give --password-stdin or set QTOOL_PASSWORD")),
        AuthKind::JwtSign => check_recipe(context.jwt.as_ref()),
        AuthKind::Cert => check_client_cert(context.client_cert.as_ref(), secrets),
        AuthKind::Cookie if secrets.cookie.is_none() => {
            Err(Error::usage("no session cookie stored")
                .with_hint("run `qtool context login NAME` to get one"))
        }
        _ => Ok(()),
    }
}

/// A certificate context needs a certificate (and a key unless it is a PKCS#12 file); with the
/// password at hand, a `.pfx` is opened now, so that a wrong password, a file without a key or
/// an expired certificate is reported when the context is made.
fn check_client_cert(cert: Option<&ClientCert>, secrets: &Secrets) -> Result<()> {
    let Some(cc) = cert else {
        return Err(Error::usage(
            "certificate authentication needs --client-cert (and --client-key for PEM)",
        ));
    };
    let bytes = std::fs::read(&cc.cert).map_err(|e| {
        Error::io(
            format!("reading client certificate {}", cc.cert.display()),
            e,
        )
    })?;
    let is_pkcs12 = !String::from_utf8_lossy(&bytes).contains("-----BEGIN");
    if cc.key.is_none() && !is_pkcs12 {
        return Err(Error::usage(format!(
            "{} is not a PKCS#12 (.pfx) file: give its key with --client-key",
            cc.cert.display()
        )));
    }
    if is_pkcs12 && secrets.cert_password.is_some() {
        crate::http::client_cert::load(cc, secrets.cert_password.as_deref())?;
    }
    Ok(())
}

fn check_recipe(recipe: Option<&JwtRecipe>) -> Result<()> {
    let Some(r) = recipe else {
        return Err(Error::usage(
            "JWT signing needs --jwt-key, --jwt-userid and --jwt-userdirectory",
        ));
    };
    if r.key.as_os_str().is_empty() {
        return Err(Error::usage("JWT signing needs --jwt-key FILE"));
    }
    if r.userid.is_empty() || r.userdirectory.is_empty() {
        return Err(Error::usage(
            "JWT signing needs --jwt-userid and --jwt-userdirectory",
        ));
    }
    if !r.key.is_file() {
        return Err(
            Error::not_found(format!("JWT key {} does not exist", r.key.display()))
                .with_hint("create one with `qtool jwt keygen --out KEY.pem`"),
        );
    }
    Ok(())
}

/// QEM's REST API lives under /attunityenterprisemanager; anything else is taken as QSEoW.
fn guess_server_type(server: &str) -> ServerType {
    if server
        .to_ascii_lowercase()
        .contains("attunityenterprisemanager")
    {
        ServerType::Qem
    } else {
        ServerType::Windows
    }
}

/// Store absolute paths so the context works from any directory.
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io(format!("resolving {}", path.display()), e))
}
