//! What a context is: a named server with how to reach it and how to authenticate. The public
//! part lives in `contexts.toml`; everything secret lives in `credentials.toml` (0600).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::jwt::token::JwtAlgorithm;

/// Which product the server is. `windows` is qlik-cli's name for QSEoW.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ServerType {
    /// Qlik Sense Enterprise on Windows (QRS through a virtual proxy or port 4242).
    #[value(alias = "qseow", alias = "Windows")]
    Windows,
    /// Qlik Enterprise Manager (Replicate/Compose fleets).
    #[value(alias = "QEM", alias = "aem")]
    Qem,
}

impl ServerType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerType::Windows => "windows",
            ServerType::Qem => "qem",
        }
    }
}

/// How qtool authenticates with a context's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    /// Nothing but the extra headers (header-auth virtual proxies, or anonymous).
    None,
    /// A fixed token: QSEoW `Authorization: Bearer <api-key>`; QEM login as `jwt:<api-key>`
    /// (`--auth jwt` says the same for QEM).
    #[value(alias = "jwt")]
    Bearer,
    /// A fresh short-lived JWT minted every run from the context's key and claims.
    JwtSign,
    /// Client certificate (QRS port 4242) with `X-Qlik-User` from `user`.
    Cert,
    /// The session cookie stored by `qtool context login`.
    Cookie,
    /// QEM Active Directory login: `user` (`DOMAIN\user`) and a password.
    Password,
    /// QSEoW Windows authentication (NTLM, alone or inside Negotiate) as `user`
    /// (`DOMAIN\user`) with a password; the proxy's session cookie is cached.
    Ntlm,
    /// QEM OpenID Connect personal access token (login as `api-token:<token>`).
    ApiToken,
}

impl AuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::None => "none",
            AuthKind::Bearer => "bearer",
            AuthKind::JwtSign => "jwt-sign",
            AuthKind::Cert => "cert",
            AuthKind::Cookie => "cookie",
            AuthKind::Password => "password",
            AuthKind::Ntlm => "ntlm",
            AuthKind::ApiToken => "api-token",
        }
    }
}

/// The recipe from which qtool signs a token per run (instead of a 365-day token in a file).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct JwtRecipe {
    /// Private key (PEM, PKCS#8 or PKCS#1) used to sign.
    pub key: PathBuf,
    pub userid: String,
    pub userdirectory: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Lifetime of each minted token, e.g. `5m` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    /// RS256 (default), RS384 or RS512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<JwtAlgorithm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Extra claims, as JSON text per claim name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
}

/// Client certificate for certificate authentication: a PEM certificate and its PEM key, or
/// one PKCS#12 file (`.pfx`, the QMC's "Windows format") holding both, without `key`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ClientCert {
    pub cert: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

/// One context as stored in `contexts.toml` (no secrets here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Context {
    pub server: String,
    pub server_type: ServerType,
    pub auth: AuthKind,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `DOMAIN\user`: QEM login user, forms login user, or the `X-Qlik-User` of certificate auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtRecipe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<ClientCert>,
    /// The largest answer read into memory for this server, e.g. `1GiB` (`--max-response-size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_size: Option<String>,
}

/// The secret half of a context, in `credentials.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Secrets {
    /// QSEoW bearer token, QEM personal access token or QEM JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Opens the PKCS#12 (`.pfx`) client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_password: Option<String>,
    /// `name=value` session cookie from `qtool context login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    /// Extra request headers (kept here because they often carry credentials).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl Secrets {
    pub fn is_empty(&self) -> bool {
        *self == Secrets::default()
    }
}

/// Header names whose values are credentials and are masked on display.
pub fn is_sensitive_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "authorization",
        "cookie",
        "token",
        "key",
        "secret",
        "password",
        "session",
        "apisessionid",
    ]
    .iter()
    .any(|s| lower.contains(s))
}

/// Show the first few characters of a secret and hide the rest: `eyJh…(620 chars)`.
pub fn mask(secret: &str) -> String {
    let count = secret.chars().count();
    if count <= 8 {
        return "****".to_string();
    }
    let head: String = secret.chars().take(4).collect();
    format!("{head}****({count} chars)")
}

/// The characters of a context name besides ASCII letters and digits.
pub const NAME_PUNCTUATION: &str = "-_.@:";

/// Context names end up in file names, shell completions and scripts: ASCII letters, digits and
/// `-_.@:`, not starting with `-`, at most 128 characters.
pub fn validate_name(name: &str) -> Result<(), String> {
    let rule = format!("use ASCII letters, digits and {NAME_PUNCTUATION}");
    if name.is_empty() {
        return Err(format!("a context name cannot be empty; {rule}"));
    }
    if name.starts_with('-') {
        return Err(format!(
            "context name `{}` cannot start with `-`",
            name.escape_debug()
        ));
    }
    if name.len() > 128 {
        return Err("a context name is limited to 128 characters".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !NAME_PUNCTUATION.contains(*c))
    {
        return Err(format!(
            "context name `{}` contains {}; {rule}",
            name.escape_debug(),
            describe_char(c)
        ));
    }
    Ok(())
}

/// `a space`, `'"'`, `U+1F600`: a character named so that it shows even when invisible.
fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        c if c.is_ascii_graphic() => format!("`{c}`"),
        c => format!("U+{:04X}", u32::from(c)),
    }
}

/// A token or API key as it goes into an HTTP header: not empty, no line breaks or other
/// control characters (they would fail every request, or split the header).
pub fn validate_api_key(key: &str) -> Result<(), String> {
    if key.trim().is_empty() {
        return Err("the API key is empty".into());
    }
    if let Some(c) = key.chars().find(|c| c.is_control()) {
        let what = match c {
            '\r' | '\n' => "a line break".to_string(),
            other => format!("the control character U+{:04X}", u32::from(other)),
        };
        return Err(format!(
            "the API key contains {what}; a token is one line of printable characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_a_prefix_only() {
        assert_eq!(mask("short"), "****");
        let m = mask("eyJhbGciOiJSUzI1NiJ9.payload.sig");
        assert!(m.starts_with("eyJh****"));
        assert!(!m.contains("payload"));
    }

    #[test]
    fn names_are_validated() {
        for good in ["QSEoW", "me@qseow", "prod-qem_2.eu:443"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a b",
            "-x",
            "a/b",
            "\"quoted\"",
            "[a]",
            "café",
            "🚀",
            "tab\t",
            "a;b",
        ] {
            let err = validate_name(bad).unwrap_err();
            assert!(
                err.contains("ASCII letters, digits and -_.@:") || bad == "-x",
                "{bad}: {err}"
            );
        }
        assert!(validate_name("[a]").unwrap_err().contains("contains `[`"));
        assert!(validate_name("🚀").unwrap_err().contains("U+1F680"));
    }

    #[test]
    fn api_keys_are_one_printable_line() {
        assert!(validate_api_key("eyJhbGciOi.x.y").is_ok());
        assert!(validate_api_key("").unwrap_err().contains("empty"));
        assert!(validate_api_key("  ").unwrap_err().contains("empty"));
        assert!(
            validate_api_key("a\r\nX-Evil: 1")
                .unwrap_err()
                .contains("line break")
        );
        assert!(validate_api_key("a\u{7}").unwrap_err().contains("U+0007"));
    }

    #[test]
    fn sensitive_headers() {
        assert!(is_sensitive_header("Authorization"));
        assert!(is_sensitive_header("X-Api-Key"));
        assert!(!is_sensitive_header("X-Qlik-User"));
    }
}
