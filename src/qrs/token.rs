//! Per-run token minting for `auth = jwt-sign` contexts. Delegates to the JWT toolkit's
//! `mint_from_recipe` when it is part of the build; this module is the single call site.

use crate::context::model::JwtRecipe;
use crate::error::{Error, Result};

/// Sign a short-lived token from the context's recipe.
pub fn mint(recipe: &JwtRecipe) -> Result<String> {
    local::mint_from_recipe(recipe)
}

mod local {
    use std::time::{SystemTime, UNIX_EPOCH};

    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::{Map, Value};

    use super::*;

    pub fn mint_from_recipe(recipe: &JwtRecipe) -> Result<String> {
        let pem = std::fs::read(&recipe.key).map_err(|e| {
            Error::io(
                format!("reading JWT signing key {}", recipe.key.display()),
                e,
            )
        })?;
        let key = EncodingKey::from_rsa_pem(&pem).map_err(|_| {
            Error::input(format!(
                "{} is not an RSA private key (PEM)",
                recipe.key.display()
            ))
            .with_hint("the context's --jwt-key must be the PEM private key that signs tokens")
        })?;
        let alg = match recipe
            .alg
            .as_deref()
            .unwrap_or("RS256")
            .to_ascii_uppercase()
            .as_str()
        {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            other => {
                return Err(
                    Error::config(format!("unsupported JWT algorithm `{other}`"))
                        .with_hint("use RS256, RS384 or RS512"),
                );
            }
        };
        let lifetime = match &recipe.expires_in {
            Some(text) => crate::duration::parse(text)
                .map_err(|e| Error::config(format!("JWT recipe expires-in `{text}`: {e}")))?,
            None => std::time::Duration::from_secs(300),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut claims = Map::new();
        claims.insert("userid".into(), Value::String(recipe.userid.clone()));
        claims.insert(
            "userdirectory".into(),
            Value::String(recipe.userdirectory.clone()),
        );
        if let Some(name) = &recipe.name {
            claims.insert("name".into(), Value::String(name.clone()));
        }
        if let Some(email) = &recipe.email {
            claims.insert("email".into(), Value::String(email.clone()));
        }
        if !recipe.groups.is_empty() {
            claims.insert("groups".into(), serde_json::json!(recipe.groups));
        }
        if let Some(aud) = &recipe.audience {
            claims.insert("aud".into(), Value::String(aud.clone()));
        }
        claims.insert("iat".into(), Value::from(now));
        claims.insert("exp".into(), Value::from(now + lifetime.as_secs()));
        for (name, text) in &recipe.claims {
            let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()));
            claims.insert(name.clone(), value);
        }
        let mut header = Header::new(alg);
        header.kid = recipe.kid.clone();
        jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|e| Error::failed(format!("cannot sign the JWT: {e}")))
    }
}
