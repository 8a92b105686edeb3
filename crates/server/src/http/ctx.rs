//! What an API handler gets: the request as the pipeline checked and read it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::Method;
use async_trait::async_trait;
use portcullis_core::ids::TenantIdentifier;
use portcullis_core::multitenancy::legacy::{login_allowed, Recipe as LoginRecipe};
use portcullis_core::session::revocation::AppTenants;
use portcullis_core::storage::Storage;
use portcullis_core::users::legacy;
use portcullis_core::users::model::User;
use serde_json::Value;

use super::error::ApiError;
use super::input::{Body, Query};
use super::version::Version;
use crate::state::AppState;
use crate::tenancy::{Registry, Snapshot, Tenant};

/// Everything an API needs to know about the request it serves.
pub struct Ctx {
    pub state: Arc<AppState>,
    pub method: Method,
    /// The tenant the host and path name (it may not exist).
    pub id: TenantIdentifier,
    pub version: Version,
    /// The `rid` header: which recipe an endpoint shared by several recipes serves.
    pub rid: Option<String>,
    pub query: Query,
    pub body: Bytes,
    pub snapshot: Arc<Snapshot>,
    /// Hide and protect database settings and protected keys (a SaaS secret is set and was not used).
    pub protect_configs: bool,
    /// The `Authorization` header (the SAML legacy userinfo's bearer token).
    pub authorization: Option<String>,
}

impl Ctx {
    pub fn now(&self) -> i64 {
        self.state.clock.now()
    }

    pub fn registry(&self) -> &Registry {
        &self.state.registry
    }

    /// The tenant of the request, or the core's 400 when it does not exist.
    pub fn tenant(&self) -> Result<&Arc<Tenant>, ApiError> {
        self.snapshot.get(&self.id).ok_or_else(|| ApiError::tenant_not_found(&self.id))
    }

    /// The distinct databases of the request's app (its tenants may live in several), or the
    /// core's 400 when the app does not exist.
    pub fn app_storages(&self) -> Result<Vec<&Arc<dyn Storage>>, ApiError> {
        if !self.snapshot.app_exists(&self.id.cud, &self.id.app_id) {
            return Err(ApiError::tenant_not_found(&self.id));
        }
        Ok(self.snapshot.storages_of_app(&self.id.cud, &self.id.app_id))
    }

    /// A tenant of the request's app named by a token or session handle. It may have been created
    /// through another instance after this request's snapshot was taken: a miss checks for that
    /// first.
    pub async fn tenant_named(&self, tenant_id: &str) -> Option<Arc<Tenant>> {
        let id = TenantIdentifier::new(&self.id.cud, &self.id.app_id, tenant_id);
        if let Some(t) = self.snapshot.get(&id) {
            return Some(Arc::clone(t));
        }
        self.registry().reload_on_miss().await;
        self.registry().snapshot().get(&id).cloned()
    }

    pub fn body(&self) -> Result<Body, ApiError> {
        Body::parse(&self.body)
    }

    /// A user as the request's CDI version shows it (the pre-4.0 object below 4.0; `webauthn` from 5.3).
    pub fn user_json(&self, user: &User) -> Value {
        legacy::user_json(user, self.version)
    }

    /// A user as the account-linking APIs show it at the request's version (`webauthn` from 5.3).
    pub fn linked_user_json(&self, user: &User) -> Value {
        legacy::linked_user_json(user, self.version)
    }

    /// A sign-in/up answer at the request's version: its `recipeUserId` exists from 4.0 (account
    /// linking), a passwordless sign-in's `consumedDevice` from 5.0.
    pub fn sign_in_json(&self, mut body: Value) -> Value {
        if let Value::Object(o) = &mut body {
            if self.version < Version::V4_0 {
                o.shift_remove("recipeUserId");
            }
            if self.version < Version::V5_0 && o.contains_key("user") {
                o.shift_remove("consumedDevice");
            }
        }
        body
    }

    /// Who may call the request's app, and the CDI versions it answers.
    pub fn app_access(&self) -> &super::access::Access {
        self.snapshot.get(&self.id.app_public()).map(|a| &a.access).unwrap_or(&self.state.base_access)
    }

    /// The body member that names a recipe user in `PUT /recipe/user` and `…/tenant/user(/remove)`:
    /// `userId` before account linking (CDI 4.0), `recipeUserId` from then; the other is not read.
    pub fn recipe_user_id_field(&self) -> &'static str {
        if self.version >= Version::V4_0 {
            "recipeUserId"
        } else {
            "userId"
        }
    }

    /// Below CDI 5.1 a recipe's sign-in/up APIs answer 403 on a tenant that has the recipe off (from
    /// 5.1 the SDKs decide with first factors).
    pub fn require_login_enabled(&self, tenant: &Tenant, recipe: LoginRecipe) -> Result<(), ApiError> {
        if login_allowed(&tenant.config, recipe, self.version) {
            return Ok(());
        }
        Err(ApiError::Forbidden(recipe.not_enabled_message().into()))
    }

    /// App-wide APIs are callable only on the public tenant (from CDI 5.0).
    pub fn require_public_tenant(&self) -> Result<(), ApiError> {
        if !self.id.is_public_tenant() && self.version >= Version::V5_0 {
            return Err(ApiError::Forbidden("Only public tenantId can call this app specific API".into()));
        }
        Ok(())
    }
}

/// The request's app, as the session recipe sees it.
#[async_trait]
impl AppTenants for Ctx {
    fn storages(&self) -> Vec<Arc<dyn Storage>> {
        self.snapshot.storages_of_app(&self.id.cud, &self.id.app_id).into_iter().map(Arc::clone).collect()
    }

    async fn storage_of(&self, tenant_id: &str) -> Option<Arc<dyn Storage>> {
        self.tenant_named(tenant_id).await.map(|t| Arc::clone(&t.storage))
    }
}
