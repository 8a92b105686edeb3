//! The users APIs: get, list, count, delete, find by account info; and associating users with tenants.

use std::sync::Arc;

use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use portcullis_core::storage::useridmapping::IdType;
use portcullis_core::storage::users::{AccountInfo, AssociateOutcome, SearchTags, UserFilter};
use portcullis_core::storage::Storage;
use portcullis_core::users::{normalise_email, RecipeId, User};
use serde_json::{json, Value};

use crate::http::error::ApiError;
use crate::http::{json, not_found_error, Ctx};

/// The page size when none is asked for, and the largest allowed.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 500;
const MAX_SEARCH_LIMIT: usize = 1000;

/// The dashboard's search tags (`email`, `phone`, `provider`), each a `;`-separated list of prefixes.
fn search_tags(ctx: &Ctx) -> Option<SearchTags> {
    let list = |name: &str| -> Vec<String> {
        ctx.query.get(name).map_or_else(Vec::new, |v| v.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
    };
    let tags = SearchTags { emails: list("email").iter().map(|e| normalise_email(e)).collect(), phones: list("phone"), providers: list("provider") };
    (!tags.emails.is_empty() || !tags.phones.is_empty() || !tags.providers.is_empty()).then_some(tags)
}

/// The distinct databases the request's app uses (tenants may live in different ones).
fn app_storages(ctx: &Ctx) -> Result<Vec<&Arc<dyn Storage>>, ApiError> {
    if !ctx.snapshot.app_exists(&ctx.id.cud, &ctx.id.app_id) {
        return Err(not_found_error(&ctx.id));
    }
    Ok(ctx.snapshot.storages_of_app(&ctx.id.cud, &ctx.id.app_id))
}

/// A user found by an id the application gave: the user and the SuperTokens id of the login
/// method the id names.
pub struct Found {
    pub user: User,
    pub recipe_user_id: String,
}

/// Finds a user in one database by a SuperTokens id or, failing that, by an external id, as
/// every endpoint that takes a user id does.
pub async fn resolve_in(storage: &dyn Storage, app_id: &str, user_id: &str) -> Result<Option<Found>, ApiError> {
    if let Some(user) = storage.get_user(app_id, user_id).await? {
        return Ok(Some(Found { user, recipe_user_id: user_id.to_owned() }));
    }
    let Some(m) = storage.get_user_id_mapping(app_id, user_id, IdType::External).await? else { return Ok(None) };
    Ok(storage.get_user(app_id, &m.supertokens_user_id).await?.map(|user| Found { user, recipe_user_id: m.supertokens_user_id }))
}

/// Finds a user in whichever of the app's databases holds it.
pub async fn find_user<'a>(ctx: &'a Ctx, user_id: &str) -> Result<Option<(Found, &'a Arc<dyn Storage>)>, ApiError> {
    for storage in app_storages(ctx)? {
        if let Some(found) = resolve_in(storage.as_ref(), &ctx.id.app_id, user_id).await? {
            return Ok(Some((found, storage)));
        }
    }
    Ok(None)
}

pub async fn get_by_id(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.require_public_tenant()?;
    let user_id = ctx.query.required("userId")?.to_owned();
    match find_user(ctx, &user_id).await? {
        Some((found, _)) => json(json!({"status": "OK", "user": found.user.to_json()})),
        None => json(json!({"status": "UNKNOWN_USER_ID_ERROR"})),
    }
}

fn recipe_filter(ctx: &Ctx) -> Result<Vec<RecipeId>, ApiError> {
    let Some(raw) = ctx.query.get("includeRecipeIds") else { return Ok(vec![]) };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| RecipeId::parse(s).ok_or_else(|| ApiError::bad(format!("Unknown recipe ID: {s}"))))
        .collect()
}

fn parse_token(token: &str) -> Result<(i64, String), ApiError> {
    let invalid = || ApiError::bad("invalid pagination token");
    // As the core reads it: Java's base64 decoder, untrimmed, bytes read leniently as UTF-8.
    let bytes = portcullis_core::crypto::java_base64::decode_basic(token).map_err(|_| invalid())?;
    let text = String::from_utf8_lossy(&bytes);
    let parts: Vec<&str> = text.split(';').collect();
    match parts.as_slice() {
        [id, time] => Ok((time.parse().map_err(|_| invalid())?, (*id).to_owned())),
        _ => Err(invalid()),
    }
}

pub async fn list(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let search = search_tags(ctx);
    // The core does not cap the page size of a search; Portcullis bounds it to keep a search cheap.
    let max_limit = if search.is_some() { MAX_SEARCH_LIMIT } else { MAX_LIMIT };
    let limit = match ctx.query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => {
            let n: i64 = l.trim().parse().map_err(|_| ApiError::bad("Field name 'limit' must be an int in the GET request"))?;
            if n < 1 {
                return Err(ApiError::bad("limit must a positive integer with min value 1"));
            }
            if n as u64 > max_limit as u64 {
                return Err(ApiError::bad(format!("max limit allowed is {max_limit}")));
            }
            n as usize
        }
    };
    let ascending = match ctx.query.get("timeJoinedOrder") {
        None => false,
        Some("ASC") => true,
        Some("DESC") => false,
        Some(_) => return Err(ApiError::bad("timeJoinedOrder can be either ASC OR DESC")),
    };
    let after = ctx.query.get("paginationToken").map(parse_token).transpose()?;
    let filter = UserFilter { tenant_id: Some(ctx.id.tenant_id.clone()), recipe_ids: recipe_filter(ctx)?, search };
    let mut page = tenant.storage.list_users(&ctx.id.app_id, &filter, ascending, limit + 1, after).await?;
    let next = if page.len() > limit { page.pop().map(|(id, time)| STANDARD.encode(format!("{id};{time}"))) } else { None };
    let ids: Vec<String> = page.into_iter().map(|(id, _)| id).collect();
    let users: Vec<Value> = tenant.storage.get_users(&ctx.id.app_id, &ids).await?.iter().map(User::to_json).collect();
    let mut out = json!({"status": "OK", "users": users});
    if let (Some(token), Value::Object(o)) = (next, &mut out) {
        o.insert("nextPaginationToken".into(), json!(token));
    }
    json(out)
}

pub async fn count(ctx: &Ctx) -> Result<Response, ApiError> {
    let all_tenants = ctx.query.get("includeAllTenants").is_some_and(|v| v == "true");
    let recipe_ids = recipe_filter(ctx)?;
    let count = if all_tenants {
        ctx.require_public_tenant()?;
        let filter = UserFilter { tenant_id: None, recipe_ids, search: None };
        let mut n = 0;
        for storage in app_storages(ctx)? {
            n += storage.count_users(&ctx.id.app_id, &filter).await?;
        }
        n
    } else {
        let tenant = ctx.tenant()?;
        let filter = UserFilter { tenant_id: Some(ctx.id.tenant_id.clone()), recipe_ids, search: None };
        tenant.storage.count_users(&ctx.id.app_id, &filter).await?
    };
    json(json!({"status": "OK", "count": count}))
}

pub async fn remove(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.require_public_tenant()?;
    let body = ctx.body()?;
    let user_id = body.str("userId")?;
    let all_linked = body.opt_bool("removeAllLinkedAccounts")?.unwrap_or(true);
    if let Some((found, storage)) = find_user(ctx, &user_id).await? {
        if all_linked {
            // The primary id's row goes last: linked users' rows reference it.
            let mut ids: Vec<String> = found.user.login_methods.iter().map(|m| m.recipe_user_id.clone()).filter(|id| id != &found.user.id).collect();
            ids.push(found.user.id.clone());
            storage.delete_users(&ctx.id.app_id, &ids).await?;
        } else {
            storage.remove_login_method(&ctx.id.app_id, &found.recipe_user_id).await?;
        }
    }
    json(json!({"status": "OK"}))
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
    let union = q.get("doUnionOfAccountInfo").is_some_and(|v| v == "true");
    let mut matched: Option<Vec<String>> = None;
    for info in &infos {
        let ids = tenant.storage.user_ids_by_account_info(&ctx.id.app_id, &ctx.id.tenant_id, info).await?;
        matched = Some(match matched {
            None => ids,
            Some(mut so_far) if union => {
                so_far.extend(ids.into_iter().filter(|id| !so_far.contains(id)).collect::<Vec<_>>());
                so_far
            }
            Some(so_far) => so_far.into_iter().filter(|id| ids.contains(id)).collect(),
        });
    }
    let mut users = tenant.storage.get_users(&ctx.id.app_id, &matched.unwrap_or_default()).await?;
    users.sort_by_key(|u| u.time_joined());
    json(json!({"status": "OK", "users": users.iter().map(User::to_json).collect::<Vec<Value>>()}))
}

pub async fn associate(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let given = ctx.body()?.str("recipeUserId")?;
    let Some(found) = resolve_in(tenant.storage.as_ref(), &ctx.id.app_id, &given).await? else {
        return json(json!({"status": "UNKNOWN_USER_ID_ERROR"}));
    };
    let outcome = tenant.storage.associate_user_with_tenant(&ctx.id.app_id, &ctx.id.tenant_id, &found.recipe_user_id).await?;
    json(match outcome {
        AssociateOutcome::Associated { was_already_associated } => {
            json!({"status": "OK", "wasAlreadyAssociated": was_already_associated})
        }
        AssociateOutcome::UnknownUser => json!({"status": "UNKNOWN_USER_ID_ERROR"}),
        AssociateOutcome::EmailAlreadyExists => json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}),
        AssociateOutcome::PhoneNumberAlreadyExists => json!({"status": "PHONE_NUMBER_ALREADY_EXISTS_ERROR"}),
        AssociateOutcome::ThirdPartyUserAlreadyExists => json!({"status": "THIRD_PARTY_USER_ALREADY_EXISTS_ERROR"}),
        AssociateOutcome::NotAllowed { reason } => json!({"status": "ASSOCIATION_NOT_ALLOWED_ERROR", "reason": reason}),
    })
}

pub async fn disassociate(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let given = ctx.body()?.str("recipeUserId")?;
    let Some(found) = resolve_in(tenant.storage.as_ref(), &ctx.id.app_id, &given).await? else {
        return json(json!({"status": "UNKNOWN_USER_ID_ERROR"}));
    };
    let was = tenant.storage.disassociate_user_from_tenant(&ctx.id.app_id, &ctx.id.tenant_id, &found.recipe_user_id).await?;
    json(json!({"status": "OK", "wasAssociated": was}))
}
