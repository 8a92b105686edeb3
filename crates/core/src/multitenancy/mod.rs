//! The multitenancy recipe: tenants' configurations (`model`) and the rules of the APIs that
//! change them.

pub mod legacy;
pub mod model;
pub mod rules;
pub mod storage;

pub use model::*;

use crate::accountlinking::association_conflict;
use crate::ids::TenantKey;
use crate::storage::{transaction, Storage, StorageError};
use crate::users::resolve_in;
use crate::users::storage::TenantJoin;

/// What associating a user with a tenant did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssociateOutcome {
    Associated { was_already_associated: bool },
    UnknownUser,
    EmailAlreadyExists,
    PhoneNumberAlreadyExists,
    ThirdPartyUserAlreadyExists,
    /// The user's group is primary and another primary user in the tenant has one of its
    /// account infos (the core's reason).
    NotAllowed { reason: String },
}

/// `POST /<t>/recipe/multitenancy/tenant/user`: adds a recipe user (any id the application uses
/// for it) to the tenant, within the tenant's uniqueness rules and account linking's.
pub async fn associate_user(storage: &dyn Storage, tenant: TenantKey<'_>, user_id: &str) -> Result<AssociateOutcome, StorageError> {
    let Some(found) = resolve_in(storage, tenant.app(), user_id).await? else { return Ok(AssociateOutcome::UnknownUser) };
    transaction(storage, (tenant.owned(), found.recipe_user_id), |tx, (tenant, user)| {
        Box::pin(async move {
            let key = tenant.key();
            if let Some(reason) = association_conflict(tx, tenant, user).await? {
                return Ok(AssociateOutcome::NotAllowed { reason });
            }
            let Some(method) = tx.users_login_method(key.app(), user).await? else { return Ok(AssociateOutcome::UnknownUser) };
            if method.tenant_ids.contains(&tenant.tenant_id) {
                return Ok(AssociateOutcome::Associated { was_already_associated: true });
            }
            let group_time = tx.users_group_time(key.app(), &method.primary_user_id).await?.unwrap_or(method.time_joined);
            Ok(match tx.users_join_tenant(key, &method, group_time).await? {
                TenantJoin::Joined => AssociateOutcome::Associated { was_already_associated: false },
                // A concurrent association of this user won.
                TenantJoin::AlreadyThere => AssociateOutcome::Associated { was_already_associated: true },
                TenantJoin::EmailTaken => AssociateOutcome::EmailAlreadyExists,
                TenantJoin::PhoneNumberTaken => AssociateOutcome::PhoneNumberAlreadyExists,
                TenantJoin::ThirdPartyTaken => AssociateOutcome::ThirdPartyUserAlreadyExists,
            })
        })
    })
    .await
}

/// `POST /<t>/recipe/multitenancy/tenant/user/remove`: `None` when the user does not exist, else
/// whether it was in the tenant. The user keeps its data.
pub async fn disassociate_user(storage: &dyn Storage, tenant: TenantKey<'_>, user_id: &str) -> Result<Option<bool>, StorageError> {
    let Some(found) = resolve_in(storage, tenant.app(), user_id).await? else { return Ok(None) };
    Ok(Some(storage.disassociate_user_from_tenant(tenant, &found.recipe_user_id).await?))
}
