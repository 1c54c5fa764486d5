//! JWT authentication of a virtual proxy: the bearer token of a request, checked against the
//! proxy's certificate, audience and time claims.

use axum::http::{HeaderMap, header};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::identity::Identity;

/// Clock skew tolerated on `exp` and `nbf`: 5 seconds. Small on purpose, so that tests of
/// expired tokens do not have to wait, yet a client whose clock is a little off still gets in.
pub const JWT_LEEWAY_SECONDS: u64 = 5;

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Verify a virtual proxy JWT: RS256/RS384/RS512 signature against the proxy's certificate,
/// `aud` equal to the proxy's audience, `exp` present and not past, `nbf` (when present) reached,
/// both with [`JWT_LEEWAY_SECONDS`] of leeway, and the user from the configured claims.
/// The error is the short reason sent back with the 401.
pub fn verify_jwt(
    token: &str,
    certificate_pem: &str,
    audience: &str,
    userid_attribute: &str,
    userdirectory_attribute: &str,
) -> Result<Identity, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| "JWT malformed".to_string())?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
    ) {
        return Err(format!(
            "JWT malformed: algorithm {:?} not accepted (RS256, RS384 or RS512)",
            header.alg
        ));
    }
    let key = decoding_key(certificate_pem).ok_or_else(|| {
        "JWT certificate of the virtual proxy is not an RSA certificate".to_string()
    })?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = JWT_LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
        token,
        &key,
        &validation,
    )
    .map_err(|e| {
        match e.kind() {
            ErrorKind::ExpiredSignature => "JWT expired",
            ErrorKind::InvalidAudience => "JWT audience mismatch",
            ErrorKind::MissingRequiredClaim(c) if c == "aud" => "JWT audience mismatch",
            ErrorKind::MissingRequiredClaim(c) if c == "exp" => "JWT malformed: no exp claim",
            ErrorKind::InvalidSignature => "JWT signature invalid",
            ErrorKind::ImmatureSignature => "JWT not valid yet (nbf is in the future)",
            _ => "JWT malformed",
        }
        .to_string()
    })?;
    let claim = |name: &str| -> Result<String, String> {
        match data.claims.get(name) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(format!("JWT malformed: no `{name}` claim")),
        }
    };
    Ok(Identity::new(
        claim(userdirectory_attribute)?,
        claim(userid_attribute)?,
    ))
}

/// The RSA public key of a PEM certificate, as a JWT decoding key.
fn decoding_key(certificate_pem: &str) -> Option<DecodingKey> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    let spki = &cert.tbs_certificate.subject_pki;
    // rsaEncryption: the BIT STRING holds the PKCS#1 RSAPublicKey.
    if spki.algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.1" {
        return None;
    }
    Some(DecodingKey::from_rsa_der(&spki.subject_public_key.data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn sign(key_pem: &str, claims: serde_json::Value) -> String {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::RS384), &claims, &key).unwrap()
    }

    #[test]
    fn jwt_claims_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let pki = crate::pki::Pki::load_or_create(dir.path()).unwrap();
        let now = jsonwebtoken::get_current_timestamp();
        let exp = now + 60;
        let verify = |t: &str| verify_jwt(t, &pki.jwt_cert, "a", "userid", "userdirectory");
        let no_user = sign(
            &pki.jwt_private_key,
            serde_json::json!({"aud": "a", "exp": exp}),
        );
        assert_eq!(
            verify(&no_user).unwrap_err(),
            "JWT malformed: no `userdirectory` claim"
        );
        let no_exp = sign(
            &pki.jwt_private_key,
            serde_json::json!({"aud": "a", "userid": "u", "userdirectory": "D"}),
        );
        assert_eq!(verify(&no_exp).unwrap_err(), "JWT malformed: no exp claim");
        let no_aud = sign(
            &pki.jwt_private_key,
            serde_json::json!({"exp": exp, "userid": "u", "userdirectory": "D"}),
        );
        assert_eq!(verify(&no_aud).unwrap_err(), "JWT audience mismatch");
        // Within the leeway an expired token still passes; beyond it, it does not.
        let just = sign(
            &pki.jwt_private_key,
            serde_json::json!({"aud": "a", "exp": exp - 62, "userid": "u", "userdirectory": "D"}),
        );
        assert_eq!(verify(&just).unwrap().display_name(), "D\\u");
        // `nbf`: a minute ahead is refused, a few seconds ahead is within the leeway.
        let early = sign(
            &pki.jwt_private_key,
            serde_json::json!({"aud": "a", "exp": exp, "nbf": now + 60, "userid": "u", "userdirectory": "D"}),
        );
        assert_eq!(
            verify(&early).unwrap_err(),
            "JWT not valid yet (nbf is in the future)"
        );
        let skewed = sign(
            &pki.jwt_private_key,
            serde_json::json!({"aud": "a", "exp": exp, "nbf": now + 2, "userid": "u", "userdirectory": "D"}),
        );
        assert!(verify(&skewed).is_ok());
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &serde_json::json!({"aud": "a", "exp": exp}),
            &jsonwebtoken::EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert!(verify(&hs).unwrap_err().contains("not accepted"));
    }

    #[test]
    fn bearer_needs_the_scheme() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer x.y.z"),
        );
        assert_eq!(bearer(&h).as_deref(), Some("x.y.z"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }
}
