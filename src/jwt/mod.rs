//! JWT and key toolkit for QSEoW JWT virtual proxies: RSA keys, the self-signed certificate for
//! the virtual proxy, RS256/384/512 tokens with Qlik claims, decode/verify, and the virtual proxy
//! settings. One crypto backend (aws-lc-rs) under jsonwebtoken, rcgen and the key code.

pub(crate) mod cert;
pub(crate) mod commands;
pub(crate) mod encrypted;
pub mod keys;
pub(crate) mod pem;
pub mod token;

use std::sync::Once;
use std::time::Duration;

use serde_json::Value;

use crate::context::model::JwtRecipe;
use crate::error::{Error, Result};

/// Lifetime of tokens minted per run from a context's recipe when it names none.
pub const DEFAULT_RECIPE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Install jsonwebtoken's aws-lc-rs provider as the process default. Naming the provider makes a
/// build without the `aws_lc_rs` feature a compile error, and installing it explicitly means a
/// feature-unification accident (both backends on) cannot turn into a panic at the first sign.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only when a provider is already installed; that one then serves.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    });
}

/// Sign a fresh short-lived token from a context's recipe (`auth = jwt-sign`): loads the key,
/// builds the Qlik claims (plus the recipe's extra claims, stored as JSON text) and signs.
/// Synchronous and fast: no runtime, one key parse, one RSA signature. `passphrase` opens an
/// encrypted key (`QTOOL_KEY_PASSPHRASE`).
pub fn mint_from_recipe(recipe: &JwtRecipe, passphrase: Option<&str>) -> Result<String> {
    let expires_in = match &recipe.expires_in {
        Some(text) => crate::duration::parse(text).map_err(|e| {
            Error::config(format!("the context's JWT expires-in: {e}"))
                .with_hint("fix it with `qtool context update NAME --jwt-expires-in 5m`")
        })?,
        None => DEFAULT_RECIPE_EXPIRY,
    };
    let alg = recipe.alg.unwrap_or_default();
    let mut extra = Vec::with_capacity(recipe.claims.len());
    for (name, json) in &recipe.claims {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            Error::config(format!(
                "the context's JWT claim `{name}` is not JSON text ({e})"
            ))
            .with_hint("set it again with `--jwt-claim NAME=VALUE`")
        })?;
        extra.push((name.clone(), value));
    }
    let spec = token::ClaimSpec {
        userid: recipe.userid.clone(),
        userdirectory: recipe.userdirectory.clone(),
        name: recipe.name.clone(),
        email: recipe.email.clone(),
        groups: recipe.groups.clone(),
        extra,
        audience: recipe.audience.clone(),
        expires_in,
        not_before: None,
    };
    let key = keys::load_private_key_with(&recipe.key, passphrase)?;
    let claims = token::build_claims(&spec, token::now());
    let header = token::build_header(alg, recipe.kid.as_deref());
    token::sign(&header, &claims, &key, alg)
}

/// Verify a bearer token against a certificate or public key PEM (what a JWT virtual proxy
/// does): signature, expiry with `leeway`, and the audience when one is configured. The error
/// says why the token was refused (class `Failed`).
pub fn verify_bearer(
    token: &str,
    cert_pem: &[u8],
    audience: Option<&str>,
    leeway: Duration,
) -> Result<token::Decoded> {
    let key =
        keys::parse_public_key(cert_pem).map_err(|e| keys::about(e, "the JWT certificate"))?;
    let options = token::VerifyOptions {
        alg: None,
        audience: audience.filter(|a| !a.is_empty()).map(str::to_string),
        leeway,
    };
    token::verify(token::clean(token), &key, &options).map_err(|e| Error::failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_mints_a_verifiable_short_lived_token() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("k.pem");
        let der = keys::generate(2048).unwrap();
        std::fs::write(&key_path, pem::encode("PRIVATE KEY", &der)).unwrap();
        let mut recipe = JwtRecipe {
            key: key_path.clone(),
            userid: "sa_api".into(),
            userdirectory: "INTERNAL".into(),
            audience: Some("qlik".into()),
            ..Default::default()
        };
        recipe.claims.insert("role".into(), "\"admin\"".into());
        let token = mint_from_recipe(&recipe, None).unwrap();
        let public = keys::load_public_key(&key_path).unwrap();
        let options = token::VerifyOptions {
            audience: Some("qlik".into()),
            ..Default::default()
        };
        let decoded = token::verify(&token, &public, &options).unwrap();
        assert_eq!(decoded.claims["userid"], "sa_api");
        assert_eq!(decoded.claims["role"], "admin");
        let lifetime =
            decoded.claims["exp"].as_i64().unwrap() - decoded.claims["iat"].as_i64().unwrap();
        assert_eq!(lifetime, 300);

        recipe.claims.insert("bad".into(), "not json".into());
        let err = mint_from_recipe(&recipe, None).unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::Config);
        recipe.claims.clear();
        recipe.key = dir.path().join("missing.pem");
        let err = mint_from_recipe(&recipe, None).unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::NotFound);
    }
}
