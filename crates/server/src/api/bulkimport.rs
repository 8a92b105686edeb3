//! The bulk-import queue's APIs (`/bulk-import/users…`). They are app-wide (public tenant only,
//! from CDI 5.0) and keep the queue in the app's public tenant's database. The rules and the
//! bodies are core's (`bulkimport::api`); this module parses, calls storage, and renders.

use std::collections::HashMap;
use std::sync::Arc;

use axum::response::Response;
use portcullis_core::bulkimport::api::{self, Batch};
use portcullis_core::bulkimport::runner::{self, RunInput};
use portcullis_core::bulkimport::storage::AddOutcome;
use portcullis_core::bulkimport::AppFacts;
use portcullis_core::emailpassword::Hashing;
use portcullis_core::ids::TenantIdentifier;
use portcullis_core::storage::Storage;
use serde_json::{json, Value};

use super::metadata::app_storage;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::reply::json;
use crate::http::status::Status;

/// A UUID collision among a batch's fresh ids is retried with new ids this many times (the core
/// retries until it succeeds; a second collision in a row does not happen in practice).
const ADD_ATTEMPTS: usize = 3;

/// `{"status":"OK", …body}`: core's bodies leave the status to the handler.
fn ok(body: Value) -> Result<Response, ApiError> {
    let mut out = json!({"status": Status::Ok});
    if let (Value::Object(out), Value::Object(fields)) = (&mut out, body) {
        out.extend(fields);
    }
    json(out)
}

/// What validation needs of the app: its roles, its tenants and which database each uses, and
/// whether Firebase scrypt hashes can be checked.
async fn app_facts(ctx: &Ctx, storage: &Arc<dyn Storage>) -> Result<AppFacts, ApiError> {
    let roles = storage.roles(ctx.id.app_key()).await?.into_iter().collect();
    // Tenants sharing a database share its storage object: its address names the pool.
    let tenant_pools: HashMap<String, String> = ctx
        .snapshot
        .tenants_of_app(&ctx.id.cud, &ctx.id.app_id)
        .map(|t| (t.config.id.tenant_id.clone(), format!("{:p}", Arc::as_ptr(&t.storage))))
        .collect();
    let public = ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))?;
    let firebase_signer_key_set = public.settings.passwords.verifying.firebase_signer_key.is_some();
    Ok(AppFacts { roles, tenant_pools, firebase_signer_key_set })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `POST /bulk-import/users`: validates every user, then queues all of them or none. A bad batch
/// answers 400 with the invalid users by index (as text, as the core does).
pub async fn add(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let users = match api::parse_batch(&body.0).map_err(ApiError::bad)? {
        Batch::Empty => return ok(api::queued_body(&[])),
        Batch::TooMany => return Err(ApiError::bad(api::too_many_users_body().to_string())),
        Batch::Users(users) => users,
    };
    let storage = app_storage(ctx)?;
    let facts = app_facts(ctx, storage).await?;
    for _ in 0..ADD_ATTEMPTS {
        let valid = api::validate_batch(&users, &facts, ctx.now(), &mut new_id).map_err(|errors| ApiError::bad(errors.to_string()))?;
        let rows: Vec<(String, String)> = valid.iter().map(|u| (u.id.clone(), u.to_raw_data())).collect();
        match storage.bulk_import_add(ctx.id.app_key(), &rows, ctx.now()).await? {
            AddOutcome::Added => {
                // This instance's worker starts on them at once rather than at its next interval.
                ctx.state.bulk_import_wake.now();
                return ok(api::queued_body(&valid));
            }
            AddOutcome::IdTaken => continue,
        }
    }
    Err(ApiError::Internal("bulk import: fresh user ids collided with queued ones repeatedly".into()))
}

/// `GET /bulk-import/users`: a page of the queue, newest first, optionally of one status.
pub async fn list(ctx: &Ctx) -> Result<Response, ApiError> {
    let status = api::parse_status(ctx.query.get("status")).map_err(ApiError::bad)?;
    let limit = api::parse_limit(ctx.query.get("limit")).map_err(ApiError::bad)?;
    let storage = app_storage(ctx)?;
    let from = ctx.query.get("paginationToken").map(api::decode_pagination_token).transpose().map_err(ApiError::bad)?;
    // One row more than the page: when it exists it names the next page.
    let rows = storage.bulk_import_list(ctx.id.app_key(), status, from.as_ref(), limit + 1).await?;
    ok(api::page_body(&rows, limit))
}

/// `GET /bulk-import/users/count`.
pub async fn count(ctx: &Ctx) -> Result<Response, ApiError> {
    let status = api::parse_status(ctx.query.get("status")).map_err(ApiError::bad)?;
    let count = app_storage(ctx)?.bulk_import_count(ctx.id.app_key(), status).await?;
    ok(api::count_body(count))
}

/// `POST /bulk-import/users/remove`: deletes queued users by id, whatever their status; answers
/// which ids were deleted and which were not queued (no `status`, as the core answers).
pub async fn remove(ctx: &Ctx) -> Result<Response, ApiError> {
    let ids = api::parse_remove_ids(&ctx.body()?.0).map_err(ApiError::bad)?;
    if ids.is_empty() {
        return json(api::removed_body(&[], &[]));
    }
    let deleted = app_storage(ctx)?.bulk_import_remove(ctx.id.app_key(), &ids).await?;
    json(api::removed_body(&ids, &deleted))
}

/// `POST /bulk-import/import`: validates one user (the body) and imports it at once, in one
/// transaction on the database of its tenants; answers the user as `GET /user/id` shows it. A user
/// that cannot be imported answers 400 with its error (`E0xx: …`), and nothing of it is written.
pub async fn import(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let queue = app_storage(ctx)?;
    let facts = app_facts(ctx, queue).await?;
    let user = api::validate_one(&body.0, &facts, ctx.now(), &mut new_id).map_err(|errors| ApiError::bad(errors.to_string()))?;
    // Validation puts every tenant of the user in one database: the first method's first tenant's.
    let first_tenant = user.login_methods.first().and_then(|m| m.tenant_ids.first()).map_or("public", String::as_str);
    let users_db = ctx
        .snapshot
        .get(&TenantIdentifier::new(&ctx.id.cud, &ctx.id.app_id, first_tenant))
        .map(|t| &t.storage)
        .ok_or_else(|| ApiError::tenant_not_found(&ctx.id))?;
    let public = ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))?;
    let hashing = Hashing { hasher: &ctx.state.hashing, settings: &public.settings.passwords };
    let user_id = user.id.clone();
    let input = RunInput { app_id: ctx.id.app_id.clone(), users: vec![(None, user)], failures: Vec::new(), queue_here: true, now: ctx.now() };
    let report = runner::run(users_db.as_ref(), queue.as_ref(), hashing, input).await?;
    if let Some((_, error)) = report.failed.first() {
        return Err(ApiError::bad(api::import_errors_body(&[error.to_string()]).to_string()));
    }
    if !report.released.is_empty() {
        // Concurrent writes kept taking its account info between the checks and the insert.
        return Err(ApiError::Unavailable("bulk import: the user met concurrent writes on every attempt; try again".into()));
    }
    let imported = users_db
        .get_user(ctx.id.app_key(), &user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("bulk import: a user just imported cannot be read".into()))?;
    ok(api::imported_body(ctx.linked_user_json(&imported)))
}
