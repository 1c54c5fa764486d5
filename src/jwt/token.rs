//! Tokens: build Qlik claims in the order Node's jsonwebtoken writes them (so qtool's tokens are
//! byte-for-byte shaped like the tutorial's Token.js output), sign, decode without verification,
//! and verify with one precise reason per failure.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::keys::{PrivateKey, PublicKey};
use crate::error::{Error, Result};

/// The signature algorithms Qlik's JWT virtual proxy accepts (flags take any case; contexts
/// store the upper-case name, and read lower case too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
pub enum JwtAlgorithm {
    #[default]
    #[value(name = "RS256")]
    #[serde(rename = "RS256", alias = "rs256")]
    Rs256,
    #[value(name = "RS384")]
    #[serde(rename = "RS384", alias = "rs384")]
    Rs384,
    #[value(name = "RS512")]
    #[serde(rename = "RS512", alias = "rs512")]
    Rs512,
}

impl JwtAlgorithm {
    pub const ALL: [JwtAlgorithm; 3] = [
        JwtAlgorithm::Rs256,
        JwtAlgorithm::Rs384,
        JwtAlgorithm::Rs512,
    ];

    /// The header's `alg` value.
    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::Rs256 => "RS256",
            JwtAlgorithm::Rs384 => "RS384",
            JwtAlgorithm::Rs512 => "RS512",
        }
    }

    fn signer(self) -> Algorithm {
        match self {
            JwtAlgorithm::Rs256 => Algorithm::RS256,
            JwtAlgorithm::Rs384 => Algorithm::RS384,
            JwtAlgorithm::Rs512 => Algorithm::RS512,
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Everything that goes into a Qlik token's claims.
#[derive(Debug, Clone, Default)]
pub struct ClaimSpec {
    pub userid: String,
    pub userdirectory: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// Extra claims in order (claims file first, then `--claim`); a name that already exists
    /// replaces that claim's value in place.
    pub extra: Vec<(String, Value)>,
    pub audience: Option<String>,
    pub expires_in: Duration,
    /// Absolute `nbf` (Unix seconds).
    pub not_before: Option<i64>,
}

/// The claims object, in Token.js order: payload (`userid, userdirectory, name, email, groups`,
/// extra claims), then `iat`, `nbf`, `exp`, `aud` as Node's jsonwebtoken appends them. A claim
/// given explicitly (`--claim exp=...`) wins over the computed one.
pub fn build_claims(spec: &ClaimSpec, now: i64) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("userid".into(), Value::String(spec.userid.clone()));
    claims.insert(
        "userdirectory".into(),
        Value::String(spec.userdirectory.clone()),
    );
    if let Some(name) = &spec.name {
        claims.insert("name".into(), Value::String(name.clone()));
    }
    if let Some(email) = &spec.email {
        claims.insert("email".into(), Value::String(email.clone()));
    }
    if !spec.groups.is_empty() {
        claims.insert(
            "groups".into(),
            Value::Array(spec.groups.iter().cloned().map(Value::String).collect()),
        );
    }
    for (k, v) in &spec.extra {
        // With preserve_order, insert on an existing key keeps its position.
        claims.insert(k.clone(), v.clone());
    }
    // As Node's jsonwebtoken: an explicit `iat` claim is the base for `exp`.
    let issued = claims.get("iat").and_then(Value::as_i64).unwrap_or(now);
    let exp = issued.saturating_add(i64::try_from(spec.expires_in.as_secs()).unwrap_or(i64::MAX));
    claims.entry("iat").or_insert(Value::from(now));
    if let Some(nbf) = spec.not_before {
        claims.entry("nbf").or_insert(Value::from(nbf));
    }
    claims.entry("exp").or_insert(Value::from(exp));
    if let Some(aud) = &spec.audience {
        claims
            .entry("aud")
            .or_insert_with(|| Value::String(aud.clone()));
    }
    claims
}

/// The header Node's jsonwebtoken writes: `{"alg":"RS256","typ":"JWT"}` (+ `kid`).
pub fn build_header(alg: JwtAlgorithm, kid: Option<&str>) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("alg".into(), Value::String(alg.name().into()));
    header.insert("typ".into(), Value::String("JWT".into()));
    if let Some(kid) = kid {
        header.insert("kid".into(), Value::String(kid.into()));
    }
    header
}

/// Parse `--claim k=v`: `v` as JSON when it is JSON, else as a string.
pub fn parse_claim_arg(text: &str) -> Result<(String, Value)> {
    let (k, v) = text.split_once('=').ok_or_else(|| {
        Error::usage(format!("--claim `{text}` is not NAME=VALUE"))
            .with_hint("e.g. --claim role=admin or --claim 'tags=[\"a\",\"b\"]'")
    })?;
    let k = k.trim();
    if k.is_empty() {
        return Err(Error::usage(format!("--claim `{text}` has no claim name")));
    }
    let value = serde_json::from_str::<Value>(v).unwrap_or_else(|_| Value::String(v.to_string()));
    Ok((k.to_string(), value))
}

/// Sign `claims` under `header` (whose `alg` must be `alg`) with `key`.
pub fn sign(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    key: &PrivateKey,
    alg: JwtAlgorithm,
) -> Result<String> {
    super::install_crypto_provider();
    let encode = |v: &Map<String, Value>| -> Result<String> {
        let json = serde_json::to_vec(v)
            .map_err(|e| Error::failed(format!("cannot serialise the token: {e}")))?;
        Ok(URL_SAFE_NO_PAD.encode(json))
    };
    let mut token = encode(header)?;
    token.push('.');
    token.push_str(&encode(claims)?);
    let signature = jsonwebtoken::crypto::sign(
        token.as_bytes(),
        &EncodingKey::from_rsa_der(&key.pkcs1),
        alg.signer(),
    )
    .map_err(|e| Error::failed(format!("signing failed: {e}")))?;
    token.push('.');
    token.push_str(&signature);
    Ok(token)
}

/// A token split and decoded, signature not checked.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

/// Take a token from an argument or stdin text: trims whitespace and a `Bearer ` prefix.
pub fn clean(text: &str) -> &str {
    let t = text.trim();
    let t = t
        .strip_prefix("Bearer ")
        .or_else(|| t.strip_prefix("bearer "))
        .unwrap_or(t);
    t.trim()
}

/// Split and decode a compact JWS. The error is the reason it is malformed.
pub fn decode_unverified(token: &str) -> std::result::Result<Decoded, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    if parts.len() != 3 {
        return Err(format!(
            "a JWT has 3 dot-separated parts, this has {}",
            parts.len()
        ));
    }
    let part = |text: &str, what: &str| -> std::result::Result<Map<String, Value>, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| format!("the {what} is not base64url"))?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(format!("the {what} is not a JSON object")),
            Err(_) => Err(format!("the {what} is not JSON")),
        }
    };
    let header = part(parts[0], "header")?;
    let claims = part(parts[1], "claims part")?;
    if URL_SAFE_NO_PAD
        .decode(parts[2].trim_end_matches('='))
        .is_err()
    {
        return Err("the signature is not base64url".into());
    }
    Ok(Decoded { header, claims })
}

/// Verification settings.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Required algorithm; `None` accepts RS256, RS384 and RS512.
    pub alg: Option<JwtAlgorithm>,
    pub audience: Option<String>,
    pub leeway: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            alg: None,
            audience: None,
            leeway: Duration::from_secs(60),
        }
    }
}

/// Why a token did not verify.
#[derive(Debug, Clone, PartialEq)]
pub enum VerifyError {
    Malformed(String),
    AlgorithmMismatch {
        token: String,
        expected: String,
    },
    BadSignature,
    Expired {
        exp: i64,
        now: i64,
        leeway: u64,
    },
    NotYetValid {
        nbf: i64,
        now: i64,
        leeway: u64,
    },
    WrongAudience {
        expected: String,
        got: Option<Value>,
    },
    MissingClaim(String),
    /// A `crit` header listing extensions qtool does not implement (RFC 7515 §4.1.11).
    UnsupportedCritical(Vec<String>),
    Other(String),
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::Malformed(why) => write!(f, "malformed token: {why}"),
            VerifyError::AlgorithmMismatch { token, expected } => write!(
                f,
                "algorithm mismatch: the token is signed with {token}, expected {expected}"
            ),
            VerifyError::BadSignature => f.write_str(
                "bad signature: the token was not signed by this key, or it was altered",
            ),
            VerifyError::Expired { exp, now, leeway } => write!(
                f,
                "token expired at {} ({} ago{})",
                human_time(*exp),
                human_span(now.saturating_sub(*exp)),
                leeway_note(*leeway)
            ),
            VerifyError::NotYetValid { nbf, now, leeway } => write!(
                f,
                "token not yet valid: nbf is {} (in {}{})",
                human_time(*nbf),
                human_span(nbf.saturating_sub(*now)),
                leeway_note(*leeway)
            ),
            VerifyError::WrongAudience { expected, got } => write!(
                f,
                "wrong audience: expected `{expected}`, the token has {}",
                match got {
                    None => "no aud claim".to_string(),
                    Some(Value::String(s)) => format!("`{s}`"),
                    Some(other) => other.to_string(),
                }
            ),
            VerifyError::MissingClaim(c) => write!(f, "the token has no `{c}` claim"),
            VerifyError::UnsupportedCritical(names) => write!(
                f,
                "the token's header marks extensions as critical that qtool does not support: {}",
                if names.is_empty() {
                    "(an empty or malformed `crit` list)".to_string()
                } else {
                    names.join(", ")
                }
            ),
            VerifyError::Other(why) => write!(f, "verification failed: {why}"),
        }
    }
}

fn leeway_note(leeway: u64) -> String {
    if leeway == 0 {
        String::new()
    } else {
        format!(
            ", beyond the {} leeway",
            crate::duration::format(Duration::from_secs(leeway))
        )
    }
}

/// `2026-11-23T08:05:00Z`.
pub fn human_time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// `3m12s` for a non-negative span of seconds.
pub fn human_span(secs: i64) -> String {
    crate::duration::format(Duration::from_secs(u64::try_from(secs.max(0)).unwrap_or(0)))
        .replace("0ms", "0s")
}

/// A NumericDate claim (`exp`, `nbf`): absent, or whole seconds (a fraction is cut off). Any
/// other JSON is malformed, never "missing".
fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
) -> std::result::Result<Option<i64>, VerifyError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e18)
            .map(|f| f.floor() as i64)
    });
    seconds.map(Some).ok_or_else(|| {
        VerifyError::Malformed(format!(
            "the `{name}` claim is {}, not a number of seconds",
            json_kind(value)
        ))
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number out of range",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// RFC 7515 §4.1.11: a `crit` header names extensions the recipient must understand. qtool
/// implements none, so any `crit` makes the token invalid.
fn check_critical(header: &Map<String, Value>) -> std::result::Result<(), VerifyError> {
    match header.get("crit") {
        None => Ok(()),
        Some(Value::Array(names)) => Err(VerifyError::UnsupportedCritical(
            names
                .iter()
                .map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_string))
                .collect(),
        )),
        Some(_) => Err(VerifyError::UnsupportedCritical(Vec::new())),
    }
}

/// `exp` (required) and `nbf` (optional) against `now`, with `leeway` seconds either way; the
/// sums are done wide, so a leeway larger than the current time never wraps around.
fn check_dates(
    claims: &Map<String, Value>,
    now: i64,
    leeway: u64,
) -> std::result::Result<(), VerifyError> {
    let (now_wide, leeway_wide) = (i128::from(now), i128::from(leeway));
    let exp =
        numeric_date(claims, "exp")?.ok_or_else(|| VerifyError::MissingClaim("exp".into()))?;
    if i128::from(exp) + leeway_wide < now_wide {
        return Err(VerifyError::Expired { exp, now, leeway });
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && i128::from(nbf) - leeway_wide > now_wide
    {
        return Err(VerifyError::NotYetValid { nbf, now, leeway });
    }
    Ok(())
}

/// The `aud` claim (a string or a list of strings) must hold `expected`.
fn check_audience(
    claims: &Map<String, Value>,
    expected: &str,
) -> std::result::Result<(), VerifyError> {
    let holds = match claims.get("aud") {
        Some(Value::String(aud)) => aud == expected,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(expected)),
        _ => false,
    };
    if holds {
        Ok(())
    } else {
        Err(VerifyError::WrongAudience {
            expected: expected.to_string(),
            got: claims.get("aud").cloned(),
        })
    }
}

/// Verify `token` with `key`: a `crit` header first, then the signature, then `exp`/`nbf`,
/// then the audience.
pub fn verify(
    token: &str,
    key: &PublicKey,
    options: &VerifyOptions,
) -> std::result::Result<Decoded, VerifyError> {
    verify_at(token, key, options, now())
}

fn verify_at(
    token: &str,
    key: &PublicKey,
    options: &VerifyOptions,
    now: i64,
) -> std::result::Result<Decoded, VerifyError> {
    super::install_crypto_provider();
    let decoded = decode_unverified(token).map_err(VerifyError::Malformed)?;
    check_critical(&decoded.header)?;
    let token_alg = match decoded.header.get("alg") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => return Err(VerifyError::Malformed("the header has no `alg`".into())),
    };
    let allowed: Vec<JwtAlgorithm> = match options.alg {
        Some(alg) => vec![alg],
        None => JwtAlgorithm::ALL.to_vec(),
    };
    let alg = allowed
        .iter()
        .copied()
        .find(|a| a.name() == token_alg)
        .ok_or_else(|| VerifyError::AlgorithmMismatch {
            token: token_alg.clone(),
            expected: allowed
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(" or "),
        })?;
    // The signature only, over `header.claims`; the claims are checked below, where a
    // malformed date is told apart from a missing one and the arithmetic cannot wrap.
    let (signed_part, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| VerifyError::Malformed("the token has no signature".into()))?;
    let decoding_key = DecodingKey::from_rsa_der(&key.pkcs1);
    match jsonwebtoken::crypto::verify(
        signature,
        signed_part.as_bytes(),
        &decoding_key,
        alg.signer(),
    ) {
        Ok(true) => {}
        Ok(false) => return Err(VerifyError::BadSignature),
        Err(e) => {
            return Err(match e.kind() {
                ErrorKind::InvalidSignature => VerifyError::BadSignature,
                ErrorKind::Base64(_) => VerifyError::Malformed(e.to_string()),
                _ => VerifyError::Other(e.to_string()),
            });
        }
    }
    check_dates(&decoded.claims, now, options.leeway.as_secs())?;
    if let Some(aud) = &options.audience {
        check_audience(&decoded.claims, aud)?;
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_spec() -> ClaimSpec {
        ClaimSpec {
            userid: "harry".into(),
            userdirectory: "qsefw".into(),
            name: Some("Hardcore Harry".into()),
            email: Some("harry@example.com".into()),
            groups: vec!["Adminstrators".into(), "Sales".into(), "Marketing".into()],
            extra: Vec::new(),
            audience: Some("112adams".into()),
            expires_in: Duration::from_secs(365 * 86_400),
            not_before: None,
        }
    }

    /// The claim names in order, space-separated.
    fn claim_names(claims: &Map<String, Value>) -> String {
        claims
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn claims_match_token_js_order_and_values() {
        let claims = build_claims(&seed_spec(), 1_603_819_629);
        assert_eq!(
            claim_names(&claims),
            "userid userdirectory name email groups iat exp aud"
        );
        // The tutorial's token: iat 1603819629, exp 1635355629 (365 days later).
        assert_eq!(claims["exp"], Value::from(1_635_355_629));
        let json = serde_json::to_string(&claims).unwrap();
        let seed_claims = "eyJ1c2VyaWQiOiJoYXJyeSIsInVzZXJkaXJlY3RvcnkiOiJxc2VmdyIsIm5hbWUiOiJIYXJkY29yZSBIYXJyeSIsImVtYWlsIjoiaGFycnlAZXhhbXBsZS5jb20iLCJncm91cHMiOlsiQWRtaW5zdHJhdG9ycyIsIlNhbGVzIiwiTWFya2V0aW5nIl0sImlhdCI6MTYwMzgxOTYyOSwiZXhwIjoxNjM1MzU1NjI5LCJhdWQiOiIxMTJhZGFtcyJ9";
        assert_eq!(URL_SAFE_NO_PAD.encode(json), seed_claims);
    }

    #[test]
    fn header_matches_node() {
        let h = serde_json::to_string(&build_header(JwtAlgorithm::Rs256, None)).unwrap();
        assert_eq!(h, r#"{"alg":"RS256","typ":"JWT"}"#);
        let h = serde_json::to_string(&build_header(JwtAlgorithm::Rs512, Some("k1"))).unwrap();
        assert_eq!(h, r#"{"alg":"RS512","typ":"JWT","kid":"k1"}"#);
    }

    #[test]
    fn extra_claims_override_in_place_and_append() {
        let mut spec = seed_spec();
        spec.extra = vec![
            ("userid".into(), Value::String("sally".into())),
            ("admin".into(), Value::Bool(true)),
            ("exp".into(), Value::from(42)),
        ];
        spec.not_before = Some(100);
        let claims = build_claims(&spec, 1000);
        assert_eq!(
            claim_names(&claims),
            "userid userdirectory name email groups admin exp iat nbf aud"
        );
        assert_eq!(claims["userid"], "sally");
        assert_eq!(claims["exp"], 42);
    }

    #[test]
    fn claim_args_parse_json_or_string() {
        assert_eq!(parse_claim_arg("a=true").unwrap().1, Value::Bool(true));
        assert_eq!(parse_claim_arg("n=5").unwrap().1, Value::from(5));
        assert_eq!(parse_claim_arg("s=hello").unwrap().1, Value::from("hello"));
        assert_eq!(parse_claim_arg("z=007").unwrap().1, Value::from("007"));
        assert_eq!(
            parse_claim_arg(r#"g=["a","b"]"#).unwrap().1,
            serde_json::json!(["a", "b"])
        );
        assert_eq!(parse_claim_arg("eq=a=b").unwrap().1, Value::from("a=b"));
        assert!(parse_claim_arg("novalue").is_err());
        assert!(parse_claim_arg("=x").is_err());
    }

    #[test]
    fn malformed_tokens_have_reasons() {
        assert!(
            decode_unverified("abc")
                .unwrap_err()
                .contains("3 dot-separated")
        );
        assert!(decode_unverified("a.b.c").unwrap_err().contains("header"));
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(b"[1]");
        assert!(
            decode_unverified(&format!("{header}.{claims}.AA"))
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert_eq!(clean("  Bearer a.b.c \n"), "a.b.c");
    }

    /// A token signed by a fresh key with `header` and `claims` as given, and the public key.
    fn signed(
        header: serde_json::Value,
        claims: serde_json::Value,
    ) -> (String, crate::jwt::keys::PublicKey) {
        let der = crate::jwt::keys::generate(2048).unwrap();
        let key = crate::jwt::keys::parse_private_key(&der).unwrap();
        let public = crate::jwt::keys::parse_public_key(&der).unwrap();
        let (Value::Object(header), Value::Object(claims)) = (header, claims) else {
            panic!("objects expected");
        };
        (
            sign(&header, &claims, &key, JwtAlgorithm::Rs256).unwrap(),
            public,
        )
    }

    #[test]
    fn critical_extensions_dates_and_leeway_are_checked_exactly() {
        use serde_json::json;
        let now = 1_700_000_000;
        let rs256 = json!({"alg": "RS256", "typ": "JWT"});
        let options = |leeway: u64| VerifyOptions {
            leeway: Duration::from_secs(leeway),
            ..VerifyOptions::default()
        };

        // RFC 7515 §4.1.11: an extension listed in `crit` that we do not implement.
        let (token, key) = signed(
            json!({"alg": "RS256", "crit": ["b64"], "b64": false}),
            json!({"exp": now + 60}),
        );
        let err = verify_at(&token, &key, &options(0), now).unwrap_err();
        assert_eq!(err, VerifyError::UnsupportedCritical(vec!["b64".into()]));
        assert!(err.to_string().contains("b64"), "{err}");

        // Not a number is malformed, not missing.
        let (token, key) = signed(rs256.clone(), json!({"exp": "tomorrow"}));
        let err = verify_at(&token, &key, &options(0), now).unwrap_err();
        assert!(
            matches!(&err, VerifyError::Malformed(why) if why.contains("`exp` claim is a string")),
            "{err:?}"
        );
        let (token, key) = signed(rs256.clone(), json!({"exp": now + 60, "nbf": [1]}));
        let err = verify_at(&token, &key, &options(0), now).unwrap_err();
        assert!(
            matches!(&err, VerifyError::Malformed(why) if why.contains("`nbf` claim is a list")),
            "{err:?}"
        );
        let (token, key) = signed(rs256.clone(), json!({"sub": "x"}));
        assert_eq!(
            verify_at(&token, &key, &options(0), now).unwrap_err(),
            VerifyError::MissingClaim("exp".into())
        );

        // A leeway beyond the current Unix time does not wrap around: everything is in time.
        let (token, key) = signed(rs256.clone(), json!({"exp": now - 10, "nbf": now + 10}));
        let century = 100 * 366 * 86_400;
        assert!(verify_at(&token, &key, &options(century), now).is_ok());
        assert!(matches!(
            verify_at(&token, &key, &options(5), now).unwrap_err(),
            VerifyError::Expired { .. }
        ));
        let (token, key) = signed(rs256.clone(), json!({"exp": now + 60, "nbf": now + 10}));
        assert!(matches!(
            verify_at(&token, &key, &options(5), now).unwrap_err(),
            VerifyError::NotYetValid { .. }
        ));
        assert!(verify_at(&token, &key, &options(10), now).is_ok());
        // Fractional NumericDates are seconds too.
        let (token, key) = signed(rs256, json!({"exp": 1.7e9 + 30.5, "aud": ["a", "b"]}));
        let with_aud = VerifyOptions {
            audience: Some("b".into()),
            ..options(0)
        };
        assert!(verify_at(&token, &key, &with_aud, now).is_ok());
        let wrong = VerifyOptions {
            audience: Some("c".into()),
            ..options(0)
        };
        assert!(matches!(
            verify_at(&token, &key, &wrong, now).unwrap_err(),
            VerifyError::WrongAudience { .. }
        ));
    }

    #[test]
    fn algorithms() {
        use clap::ValueEnum;
        assert_eq!(
            JwtAlgorithm::from_str("rs384", true).unwrap(),
            JwtAlgorithm::Rs384
        );
        assert!(JwtAlgorithm::from_str("HS256", true).is_err());
        for alg in JwtAlgorithm::ALL {
            assert_eq!(alg.to_possible_value().unwrap().get_name(), alg.name());
        }
        assert_eq!(human_time(1_603_819_629), "2020-10-27T17:27:09Z");
        assert_eq!(human_span(0), "0s");
        assert_eq!(human_span(192), "3m12s");
    }
}
