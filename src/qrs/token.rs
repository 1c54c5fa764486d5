//! Per-run token minting for `auth = jwt-sign` contexts: the single call site of the JWT
//! toolkit from the QRS client.

use crate::context::model::JwtRecipe;
use crate::error::Result;

/// Sign a short-lived token from the context's recipe.
pub(super) fn mint(recipe: &JwtRecipe, passphrase: Option<&str>) -> Result<String> {
    crate::jwt::mint_from_recipe(recipe, passphrase)
}
