//! Account linking: make a recipe user primary, link a recipe user to a primary user, unlink, and
//! the dry-run checks of the first two. App-wide, on the public tenant. Ids may be external ids;
//! replies name users by their external ids where mapped. Each handler parses its request, calls
//! `portcullis_core::accountlinking`, and renders the outcome.

use std::sync::Arc;

use axum::response::Response;
use portcullis_core::accountlinking::{self as recipe, LinkingError, UnlinkOutcome};
use portcullis_core::ids::AppKey;
use portcullis_core::session::revocation::revoke_recipe_user;
use portcullis_core::storage::Storage;
use portcullis_core::useridmapping::storage::IdType;
use portcullis_core::users::find_user;
use serde_json::{json, Map, Value};

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::reply::json;
use crate::http::status::Status;

/// The recipe user an id names, and the database that holds it; 400 when there is none.
async fn recipe_user<'a>(ctx: &'a Ctx, id: &str) -> Result<(String, &'a Arc<dyn Storage>), ApiError> {
    ctx.require_public_tenant()?;
    match find_user(&ctx.app_storages()?, ctx.id.app_key(), id).await? {
        Some((found, storage)) => Ok((found.recipe_user_id, storage)),
        None => Err(ApiError::bad("Unknown user ID provided")),
    }
}

/// The input ids: from the body (POST) or the query string (GET).
fn input(ctx: &Ctx, field: &str) -> Result<String, ApiError> {
    if ctx.method == axum::http::Method::GET {
        return Ok(ctx.query.required(field)?.to_owned());
    }
    ctx.body()?.str(field)
}

/// A SuperTokens id as clients see it: the external id when mapped.
async fn public_id(storage: &Arc<dyn Storage>, app: AppKey<'_>, st_id: &str) -> Result<String, ApiError> {
    Ok(storage.get_user_id_mapping(app, st_id, IdType::SuperTokens).await?.map_or_else(|| st_id.to_owned(), |m| m.external_user_id))
}

/// The reply for a refused operation; `with_user` adds the other primary user's whole group where
/// the core does (linking, not checking).
async fn refused(ctx: &Ctx, storage: &Arc<dyn Storage>, app: AppKey<'_>, e: LinkingError, with_user: bool) -> Result<Response, ApiError> {
    let mut o = Map::new();
    match e {
        LinkingError::UnknownUser => return Err(ApiError::bad("Unknown user ID provided")),
        LinkingError::NotAPrimaryUser => return json(json!({"status": Status::InputUserIsNotAPrimaryUser})),
        LinkingError::LinkedWithPrimary { primary_user_id } => {
            o.insert("status".into(), json!(Status::RecipeUserIdAlreadyLinkedWithPrimaryUserId));
            o.insert("primaryUserId".into(), json!(public_id(storage, app, &primary_user_id).await?));
            o.insert("description".into(), json!("This user ID is already linked to another user ID"));
        }
        LinkingError::LinkedWithAnotherPrimary { user } => {
            o.insert("status".into(), json!(Status::RecipeUserIdAlreadyLinkedWithAnotherPrimaryUserId));
            o.insert("primaryUserId".into(), json!(user.public_id()));
            o.insert("description".into(), json!("The input recipe user ID is already linked to another user ID"));
            if with_user {
                o.insert("user".into(), ctx.linked_user_json(&user));
            }
        }
        LinkingError::InfoTaken { primary_user_id, kind } => {
            o.insert("status".into(), json!(Status::AccountInfoAlreadyAssociatedWithAnotherPrimaryUserId));
            o.insert("primaryUserId".into(), json!(public_id(storage, app, &primary_user_id).await?));
            o.insert("description".into(), json!(kind.description()));
        }
    }
    json(Value::Object(o))
}

/// `GET /recipe/accountlinking/user/primary/check` and `POST /recipe/accountlinking/user/primary`.
pub async fn create_primary(ctx: &Ctx, check_only: bool) -> Result<Response, ApiError> {
    let given = input(ctx, "recipeUserId")?;
    let (user, storage) = recipe_user(ctx, &given).await?;
    let app = ctx.id.app_key();
    match recipe::create_primary_user(storage.as_ref(), app, &user, check_only).await? {
        Err(e) => refused(ctx, storage, app, e, false).await,
        Ok((_, was_already)) if check_only => json(json!({"status": Status::Ok, "wasAlreadyAPrimaryUser": was_already})),
        Ok((user, was_already)) => json(json!({"status": Status::Ok, "wasAlreadyAPrimaryUser": was_already, "user": ctx.linked_user_json(&user)})),
    }
}

/// `GET /recipe/accountlinking/user/link/check` and `POST /recipe/accountlinking/user/link`.
pub async fn link(ctx: &Ctx, check_only: bool) -> Result<Response, ApiError> {
    let (given_recipe, given_primary) = (input(ctx, "recipeUserId")?, input(ctx, "primaryUserId")?);
    let (recipe_id, recipe_storage) = recipe_user(ctx, &given_recipe).await?;
    let (primary_id, storage) = recipe_user(ctx, &given_primary).await?;
    if !Arc::ptr_eq(recipe_storage, storage) {
        return Err(ApiError::bad("Cannot link users that are parts of different databases"));
    }
    let app = ctx.id.app_key();
    match recipe::link_accounts(storage.as_ref(), app, &recipe_id, &primary_id, check_only).await? {
        Err(e) => refused(ctx, storage, app, e, !check_only).await,
        Ok((_, already)) if check_only => json(json!({"status": Status::Ok, "accountsAlreadyLinked": already})),
        Ok((user, already)) => {
            if !already {
                // The recipe user's sessions name a user that no longer exists on its own.
                let id = user.login_method(&recipe_id).map_or_else(|| recipe_id.clone(), |m| m.public_id().to_owned());
                revoke_recipe_user(ctx, app, &id, ctx.now()).await?;
            }
            json(json!({"status": Status::Ok, "accountsAlreadyLinked": already, "user": ctx.linked_user_json(&user)}))
        }
    }
}

/// `POST /recipe/accountlinking/user/unlink`.
pub async fn unlink(ctx: &Ctx) -> Result<Response, ApiError> {
    let given = input(ctx, "recipeUserId")?;
    let (user, storage) = recipe_user(ctx, &given).await?;
    let app = ctx.id.app_key();
    let public = public_id(storage, app, &user).await?;
    let outcome = recipe::unlink_account(storage.as_ref(), app, &user).await?.ok_or_else(|| ApiError::bad("Unknown user ID provided"))?;
    if outcome != UnlinkOutcome::NotLinked {
        revoke_recipe_user(ctx, app, &public, ctx.now()).await?;
    }
    json(json!({
        "status": Status::Ok,
        "wasRecipeUserDeleted": outcome == UnlinkOutcome::Deleted,
        "wasLinked": outcome != UnlinkOutcome::NotLinked,
    }))
}
