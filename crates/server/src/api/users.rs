//! The users APIs: get, list, count, delete, find by account info; and associating users with
//! tenants. Each handler parses its request, calls `portcullis_core::users` (or the multitenancy
//! recipe, for associations), and renders the outcome.

use axum::response::Response;
use portcullis_core::multitenancy::{associate_user, disassociate_user, AssociateOutcome};
use portcullis_core::users::legacy;
use portcullis_core::users::storage::{AccountInfo, SearchTags, UserFilter};
use portcullis_core::users::{self as recipe, find_user, normalise_email, parse_pagination_token};
use serde_json::{json, Value};

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::reply::json;
use crate::http::status::Status;

/// The dashboard's search tags (`email`, `phone`, `provider`), each a `;`-separated list of prefixes.
fn search_tags(ctx: &Ctx) -> Option<SearchTags> {
    let list = |name: &str| -> Vec<String> {
        ctx.query.get(name).map_or_else(Vec::new, |v| v.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
    };
    let tags = SearchTags { emails: list("email").iter().map(|e| normalise_email(e)).collect(), phones: list("phone"), providers: list("provider") };
    (!tags.emails.is_empty() || !tags.phones.is_empty() || !tags.providers.is_empty()).then_some(tags)
}

pub async fn get_by_id(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.require_public_tenant()?;
    let user_id = ctx.query.required("userId")?.to_owned();
    json(match find_user(&ctx.app_storages()?, ctx.id.app_key(), &user_id).await? {
        Some((found, _)) => json!({"status": Status::Ok, "user": ctx.linked_user_json(&found.user)}),
        None => json!({"status": Status::UnknownUserId}),
    })
}

pub async fn list(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let search = search_tags(ctx);
    if let Some(tags) = &search {
        portcullis_core::users::check_search_tags(tags).map_err(|e| ApiError::bad(e.0))?;
    }
    let limit = recipe::page_size(ctx.query.get("limit"), search.is_some())?;
    let ascending = match ctx.query.get("timeJoinedOrder") {
        None => false,
        Some("ASC") => true,
        Some("DESC") => false,
        Some(_) => return Err(ApiError::bad("timeJoinedOrder can be either ASC OR DESC")),
    };
    let after = ctx.query.get("paginationToken").map(parse_pagination_token).transpose()?;
    let filter = UserFilter { tenant_id: Some(ctx.id.tenant_id.clone()), recipe_ids: recipe::recipe_filter(ctx.query.get("includeRecipeIds"))?, search };
    let page = recipe::list(tenant.storage.as_ref(), ctx.id.app_key(), &filter, ascending, limit, after).await?;
    let users: Vec<Value> = page.users.iter().map(|u| legacy::users_list_entry(u, ctx.version)).collect();
    let mut out = json!({"status": Status::Ok, "users": users});
    if let (Some(token), Value::Object(o)) = (page.next, &mut out) {
        o.insert("nextPaginationToken".into(), json!(token));
    }
    json(out)
}

pub async fn count(ctx: &Ctx) -> Result<Response, ApiError> {
    let all_tenants = ctx.query.get("includeAllTenants").is_some_and(|v| v == "true");
    let recipe_ids = recipe::recipe_filter(ctx.query.get("includeRecipeIds"))?;
    let count = if all_tenants {
        ctx.require_public_tenant()?;
        let filter = UserFilter { tenant_id: None, recipe_ids, search: None };
        recipe::count(&ctx.app_storages()?, ctx.id.app_key(), &filter).await?
    } else {
        let tenant = ctx.tenant()?;
        let filter = UserFilter { tenant_id: Some(ctx.id.tenant_id.clone()), recipe_ids, search: None };
        recipe::count(&[&tenant.storage], ctx.id.app_key(), &filter).await?
    };
    json(json!({"status": Status::Ok, "count": count}))
}

pub async fn remove(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.require_public_tenant()?;
    let body = ctx.body()?;
    let user_id = body.str("userId")?;
    let all_linked = body.opt_bool("removeAllLinkedAccounts")?.unwrap_or(true);
    recipe::remove_user(&ctx.app_storages()?, ctx.id.app_key(), &user_id, all_linked).await?;
    json(json!({"status": Status::Ok}))
}

/// `GET /users/by-accountinfo`: the tenant's users with the given email, phone number and/or
/// third-party account; all of them must match unless `doUnionOfAccountInfo=true`.
pub async fn by_account_info(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let q = &ctx.query;
    let mut infos = Vec::new();
    if let Some(email) = q.get("email") {
        infos.push(AccountInfo::Email(normalise_email(email)));
    }
    if let Some(phone) = q.get("phoneNumber") {
        infos.push(AccountInfo::PhoneNumber(phone.trim().to_owned()));
    }
    match (q.get("thirdPartyId"), q.get("thirdPartyUserId")) {
        (Some(id), Some(user_id)) => infos.push(AccountInfo::ThirdParty { id: id.trim().to_owned(), user_id: user_id.trim().to_owned() }),
        (None, None) => {}
        _ => return Err(ApiError::bad("If thirdPartyId is provided, thirdPartyUserId must also be provided, and vice versa")),
    }
    if let Some(credential_id) = q.get("webauthnCredentialId") {
        infos.push(AccountInfo::WebauthnCredentialId(credential_id.trim().to_owned()));
    }
    let union = q.get("doUnionOfAccountInfo").is_some_and(|v| v == "true");
    let users = recipe::by_account_info(tenant.storage.as_ref(), ctx.id.key(), &infos, union).await?;
    json(json!({"status": Status::Ok, "users": users.iter().map(|u| ctx.linked_user_json(u)).collect::<Vec<Value>>()}))
}

pub async fn associate(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let given = ctx.body()?.str(ctx.recipe_user_id_field())?;
    json(match associate_user(tenant.storage.as_ref(), ctx.id.key(), &given).await? {
        AssociateOutcome::Associated { was_already_associated } => {
            json!({"status": Status::Ok, "wasAlreadyAssociated": was_already_associated})
        }
        AssociateOutcome::UnknownUser => json!({"status": Status::UnknownUserId}),
        AssociateOutcome::EmailAlreadyExists => json!({"status": Status::EmailAlreadyExists}),
        AssociateOutcome::PhoneNumberAlreadyExists => json!({"status": Status::PhoneNumberAlreadyExists}),
        AssociateOutcome::ThirdPartyUserAlreadyExists => json!({"status": Status::ThirdPartyUserAlreadyExists}),
        AssociateOutcome::NotAllowed { reason } => json!({"status": Status::AssociationNotAllowed, "reason": reason}),
    })
}

pub async fn disassociate(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let given = ctx.body()?.str(ctx.recipe_user_id_field())?;
    json(match disassociate_user(tenant.storage.as_ref(), ctx.id.key(), &given).await? {
        Some(was) => json!({"status": Status::Ok, "wasAssociated": was}),
        None => json!({"status": Status::UnknownUserId}),
    })
}
