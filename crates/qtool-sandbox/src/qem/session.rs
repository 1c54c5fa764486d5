//! Login (`Authorization: Basic base64(X)`) and sessions (§2).
//!
//! X is one of:
//! - `DOMAIN\user:password` or `user@domain:password` (Active Directory; domain and user compare
//!   case-insensitively; `user@sandbox.local` matches `SANDBOX\user` by the first DNS label;
//!   a bare `user:password` matches when exactly one configured user has that name),
//! - `api-token:<PAT>` (OpenID Connect personal access token),
//! - `jwt:<JWT>` (RS256/384/512, verified against the configured certificate, `exp` required).
//!
//! GAP (JWT user): the user is `userdirectory\userid` when both Qlik claims are present, else
//! `userid`, else `sub`; a token with none of them is refused.

use std::time::Instant;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::QemConfig;
use super::api::ApiError;

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub user: String,
    pub last_seen: Instant,
}

/// Parse the JWT certificate (or public key) once at start-up.
pub(super) fn jwt_key(config: &QemConfig) -> crate::error::Result<Option<DecodingKey>> {
    match &config.jwt_certificate {
        None => Ok(None),
        Some(pem) => DecodingKey::from_rsa_pem(pem.as_bytes())
            .map(Some)
            .map_err(|e| {
                crate::error::Error::state(format!(
                    "QEM sandbox JWT certificate is not usable: {e}"
                ))
                .with_hint("give a PEM certificate or public key of an RSA key")
            }),
    }
}

fn bad_credentials() -> ApiError {
    ApiError::unauthorized("Login failed: the user name or password is incorrect")
}

/// Authenticate one `Authorization` header value; `Ok(user)` on success.
pub(super) fn authenticate(
    config: &QemConfig,
    jwt_key: Option<&DecodingKey>,
    authorization: Option<&str>,
) -> Result<String, ApiError> {
    let Some(value) = authorization else {
        return Err(ApiError::unauthorized(
            "Login requires an Authorization header (Basic credentials)",
        ));
    };
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    // `Basic: <b64>` (one public exporter's spelling) is accepted too, as QEM apparently does.
    let scheme = scheme.strip_suffix(':').unwrap_or(scheme);
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::unauthorized(format!(
            "Unsupported authorization scheme '{scheme}'; use Basic"
        )));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::unauthorized("The Basic credentials are not valid base64"))?;
    let (who, secret) = decoded
        .split_once(':')
        .ok_or_else(|| ApiError::unauthorized("The Basic credentials must be 'user:password'"))?;

    if who.eq_ignore_ascii_case("api-token") {
        return config
            .api_tokens
            .iter()
            .position(|t| !t.is_empty() && t == secret)
            .map(|i| format!("api-token#{}", i + 1))
            .ok_or_else(|| ApiError::unauthorized("Login failed: the API token is not valid"));
    }
    if who.eq_ignore_ascii_case("jwt") {
        return verify_jwt(jwt_key, secret);
    }
    ad_login(config, who, secret)
}

fn ad_login(config: &QemConfig, who: &str, password: &str) -> Result<String, ApiError> {
    let (domain, user) = if let Some((d, u)) = who.split_once('\\') {
        (Some(d.to_string()), u.to_string())
    } else if let Some((u, d)) = who.rsplit_once('@') {
        (Some(d.to_string()), u.to_string())
    } else {
        (None, who.to_string())
    };
    let matches_domain = |configured: &str, given: &str| {
        let first_label = given.split('.').next().unwrap_or(given);
        configured.eq_ignore_ascii_case(given) || configured.eq_ignore_ascii_case(first_label)
    };
    let candidates: Vec<&(String, String)> = config
        .users
        .iter()
        .filter(|(configured, _)| {
            let (cd, cu) = configured
                .split_once('\\')
                .unwrap_or(("", configured.as_str()));
            cu.eq_ignore_ascii_case(&user)
                && domain.as_deref().is_none_or(|d| matches_domain(cd, d))
        })
        .collect();
    if domain.is_none() && candidates.len() != 1 {
        return Err(bad_credentials());
    }
    candidates
        .iter()
        .find(|(_, pw)| pw == password)
        .map(|(configured, _)| configured.clone())
        .ok_or_else(bad_credentials)
}

fn verify_jwt(key: Option<&DecodingKey>, token: &str) -> Result<String, ApiError> {
    let Some(key) = key else {
        return Err(ApiError::unauthorized(
            "JWT login is not configured on this Enterprise Manager",
        ));
    };
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| ApiError::unauthorized(format!("The JWT is malformed: {e}")))?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
    ) {
        return Err(ApiError::unauthorized(format!(
            "The JWT algorithm {:?} is not accepted; use RS256, RS384 or RS512",
            header.alg
        )));
    }
    let mut validation = Validation::new(header.alg);
    validation.leeway = 0;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    let data = jsonwebtoken::decode::<Value>(token, key, &validation)
        .map_err(|e| ApiError::unauthorized(format!("The JWT was rejected: {e}")))?;
    let claim = |name: &str| -> Option<String> {
        data.claims.as_object().and_then(|m| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
    };
    match (claim("userdirectory"), claim("userid"), claim("sub")) {
        (Some(dir), Some(id), _) => Ok(format!("{dir}\\{id}")),
        (None, Some(id), _) => Ok(id),
        (_, None, Some(sub)) => Ok(sub),
        _ => Err(ApiError::unauthorized(
            "The JWT names no user (claims userid or sub)",
        )),
    }
}
