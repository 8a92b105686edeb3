//! The session recipe (CDI ≤ 5.5 semantics: the parent/child refresh scheme) and access-token
//! formats, storage-agnostic: storage and keys come in through traits, time through `now`.
//!
//! Refresh without a database write: a refresh mints a *child* refresh token whose parent is the
//! stored one; the child is promoted (the stored hash replaced, compare-and-set) the first time it is
//! used — by a refresh or by a verify of an access token that names it. A refresh token that is
//! neither the stored one nor its child is a replayed old token: token theft.

pub mod access_token;
pub mod jwt;
pub mod refresh_token;
pub mod revocation;
pub mod signing_keys;
pub mod storage;
pub mod versions;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::cdi::CdiVersion;
use crate::config::Config;
use crate::crypto::keys::{Algorithm, PublicKey, SigningKey};
use crate::crypto::{random_bytes, sha256_hex, uuid_v4, CryptoError};
use crate::ids::{AppKey, TenantKey, PUBLIC};
use crate::session::storage::{SessionRow, SessionStorage, SessionUser};
use crate::storage::StorageError;
use access_token::{AccessTokenInfo, MintError, TokenError};
use refresh_token::RefreshTokenInfo;
use signing_keys::KeyTiming;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("unauthorised: {0}")]
    Unauthorised(String),
    #[error("try refresh token: {0}")]
    TryRefreshToken(String),
    #[error("token theft detected")]
    TokenTheft { handle: String, user_id: String, recipe_user_id: String },
    /// The request cannot be served as given (400).
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("crypto failure: {0}")]
    Crypto(#[from] CryptoError),
}

impl From<MintError> for SessionError {
    fn from(e: MintError) -> Self {
        match e {
            MintError::ProtectedField => SessionError::BadInput(access_token::PROTECTED_FIELD_MESSAGE.to_owned()),
            MintError::Crypto(c) => SessionError::Crypto(c),
        }
    }
}

/// Where signing keys come from (the server keeps them cached per app).
#[async_trait]
pub trait KeyProvider: Send + Sync {
    /// The key of `algorithm` that signs now, with its kid: the current dynamic key, or the app's
    /// static key. Each algorithm has its own keys, made when first needed.
    async fn signing_key(&self, algorithm: Algorithm, use_static: bool) -> Result<(String, Arc<SigningKey>), SessionError>;
    /// The public key of `kid`; an unknown kid reloads the keys from the database once.
    async fn public_key(&self, kid: &str) -> Result<Option<PublicKey>, SessionError>;
    /// Every key that verifies now, for tokens that name none (V1/V2): the valid dynamic keys,
    /// newest first, then the static keys. `reload`: read them from the database first.
    async fn all_public_keys(&self, reload: bool) -> Result<Vec<PublicKey>, SessionError>;
    /// The app's refresh-token master key.
    async fn refresh_master_key(&self) -> Result<Arc<str>, SessionError>;
}

/// A session's identity as the API reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionView {
    pub handle: String,
    pub user_id: String,
    pub recipe_user_id: String,
    pub user_data_in_jwt: Map<String, Value>,
    pub tenant_id: String,
}

impl SessionView {
    pub fn to_json(&self) -> Value {
        json!({
            "handle": self.handle,
            "userId": self.user_id,
            "recipeUserId": self.recipe_user_id,
            "userDataInJWT": self.user_data_in_jwt,
            "tenantId": self.tenant_id,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TokenOut {
    pub token: String,
    pub expiry: i64,
    pub created_time: i64,
}

impl TokenOut {
    pub fn to_json(&self) -> Value {
        json!({"token": self.token, "expiry": self.expiry, "createdTime": self.created_time})
    }
}

/// What create and refresh return.
#[derive(Clone, Debug)]
pub struct Issued {
    pub session: SessionView,
    pub access_token: TokenOut,
    pub refresh_token: TokenOut,
    pub anti_csrf_token: Option<String>,
}

/// What verify returns: the session, and a new access token when one was minted.
#[derive(Clone, Debug)]
pub struct Verified {
    pub session: SessionView,
    pub access_token: Option<TokenOut>,
}

/// The session recipe's settings, derived once from a tenant's effective config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// `access_token_validity`, in milliseconds.
    pub access_validity_ms: i64,
    /// `refresh_token_validity` (minutes), in milliseconds.
    pub refresh_validity_ms: i64,
    /// `access_token_validity_jitter`.
    pub access_validity_jitter: f64,
    /// When the dynamic signing keys rotate.
    pub key_timing: KeyTiming,
    /// `access_token_blacklisting`: whether verify consults the database below CDI 2.21 (later
    /// versions say it per request).
    pub legacy_check_database: bool,
    /// `access_token_signing_key_dynamic`: whether sessions created below CDI 2.21 sign with the
    /// rotating keys (later versions say it per request).
    pub legacy_dynamic_key: bool,
    /// `access_token_signing_algorithm`: what signs new V3+ access tokens (V1/V2 tokens have a
    /// fixed RS256 header and are always RS256).
    pub signing_algorithm: Algorithm,
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Settings {
        Settings {
            access_validity_ms: cfg.access_token_validity() * 1000,
            refresh_validity_ms: (cfg.refresh_token_validity() * 60_000.0) as i64,
            access_validity_jitter: cfg.access_token_validity_jitter(),
            key_timing: KeyTiming::from_config(cfg),
            legacy_check_database: cfg.access_token_blacklisting(),
            legacy_dynamic_key: cfg.access_token_signing_key_dynamic(),
            signing_algorithm: signing_algorithm(cfg),
        }
    }
}

/// The app's `access_token_signing_algorithm` (validated when the config was loaded, so an unknown
/// name cannot reach here; it would mean the core's RS256).
pub fn signing_algorithm(cfg: &Config) -> Algorithm {
    cfg.access_token_signing_algorithm().and_then(Algorithm::from_name).unwrap_or_default()
}

/// Everything one session operation needs.
pub struct SessionCtx<'a> {
    pub app: AppKey<'a>,
    pub storage: &'a dyn SessionStorage,
    pub keys: &'a dyn KeyProvider,
    /// The settings of the session's tenant.
    pub settings: &'a Settings,
    pub now: i64,
    /// The request's CDI version: which token version create and refresh mint, and which
    /// protected-claim lists apply (`versions`).
    pub cdi: CdiVersion,
}

/// The user a new session names: the id the application uses, so the external one when the given
/// id is mapped (either side of the mapping may be given), and the primary user of its account
/// group, read together in one statement.
pub async fn session_user(storage: &dyn SessionStorage, app: AppKey<'_>, given: &str) -> Result<SessionUser, StorageError> {
    let mut user = storage.session_user(app, given).await?;
    // The session's user is its own primary: only another user is worth naming.
    if user.primary_user_id.as_deref() == Some(user.user_id.as_str()) {
        user.primary_user_id = None;
    }
    Ok(user)
}

/// Which of a session's stored objects an API reads or replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionData {
    /// `userDataInDatabase`.
    Database,
    /// The custom access-token claims (`userDataInJWT`).
    Claims,
}

/// Stored JSON text as the APIs show it: the object, or `{}` for anything else.
pub fn stored_object(text: &str) -> Value {
    Value::Object(parse_object(text))
}

impl SessionRow {
    /// One of the session's stored objects, as the APIs show it.
    pub fn data(&self, which: SessionData) -> Value {
        stored_object(match which {
            SessionData::Database => &self.session_data,
            SessionData::Claims => &self.jwt_user_payload,
        })
    }
}

/// The session of a handle, unless there is none or it has expired (its refresh token has).
pub async fn live_session(storage: &dyn SessionStorage, tenant: TenantKey<'_>, handle: &str, now: i64) -> Result<Option<SessionRow>, StorageError> {
    Ok(storage.session_get(tenant, handle).await?.filter(|r| r.expires_at >= now))
}

/// Replaces one of the session's stored objects; false when there is no such session. New claims
/// must have passed [`access_token::check_custom_claims`].
pub async fn update_data(storage: &dyn SessionStorage, tenant: TenantKey<'_>, handle: &str, which: SessionData, value: Map<String, Value>) -> Result<bool, StorageError> {
    let text = Value::Object(value).to_string();
    match which {
        SessionData::Database => storage.session_update_data(tenant, handle, &text).await,
        SessionData::Claims => storage.session_update_jwt_payload(tenant, handle, &text).await,
    }
}

/// The tenant a session handle belongs to: handles of non-public tenants end in `_<tenantId>`.
pub fn tenant_of_handle(handle: &str) -> &str {
    match handle.split_once('_') {
        Some((_, tenant)) if !tenant.is_empty() => tenant,
        _ => PUBLIC,
    }
}

/// Stored JSON text as an object; anything else reads as an empty one.
fn parse_object(text: &str) -> Map<String, Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// A uniform value in [0, 1) from the secure random source.
fn unit_random() -> Result<f64, CryptoError> {
    let b = random_bytes(8)?;
    let n = u64::from_le_bytes(b.try_into().map_err(|_| CryptoError::Random)?);
    Ok((n >> 11) as f64 / (1u64 << 53) as f64)
}

impl SessionCtx<'_> {
    fn access_validity_ms(&self) -> i64 {
        self.settings.access_validity_ms
    }

    fn refresh_expiry(&self) -> i64 {
        self.now.saturating_add(self.settings.refresh_validity_ms)
    }

    /// Access-token lifetime at issue: shortened by a random fraction up to the configured jitter.
    fn jittered_validity_ms(&self) -> Result<i64, CryptoError> {
        let jitter = self.settings.access_validity_jitter;
        let validity = self.access_validity_ms() as f64;
        Ok((validity * (1.0 - unit_random()? * jitter)).max(1000.0) as i64)
    }

    async fn mint_access(&self, mut info: AccessTokenInfo, use_static: bool) -> Result<TokenOut, SessionError> {
        let algorithm = if access_token::is_legacy(info.version) { Algorithm::Rs256 } else { self.settings.signing_algorithm };
        let (kid, key) = self.keys.signing_key(algorithm, use_static).await?;
        // V1/V2 tokens name no key.
        info.kid = if access_token::is_legacy(info.version) { String::new() } else { kid };
        let token = access_token::mint(&info, &key)?;
        let (expiry, created_time) = info.reported_times();
        Ok(TokenOut { token, expiry, created_time })
    }

    /// A new refresh token and the access token that goes with it.
    async fn issue(
        &self,
        row: &SessionRow,
        parent_refresh_token: Option<&str>,
        anti_csrf_token: Option<String>,
        user_data: Map<String, Value>,
    ) -> Result<Issued, SessionError> {
        let master = self.keys.refresh_master_key().await?;
        let parent_hash_1 = parent_refresh_token.map(sha256_hex);
        let refresh = refresh_token::create(
            &master,
            &RefreshTokenInfo {
                session_handle: row.handle.clone(),
                user_id: row.user_id.clone(),
                parent_refresh_token_hash_1: parent_hash_1.clone(),
                anti_csrf_token: anti_csrf_token.clone(),
                tenant_id: row.tenant_id.clone(),
            },
        )?;
        let refresh_expiry = if parent_refresh_token.is_some() { self.refresh_expiry() } else { row.expires_at };
        let session = self.view(row, user_data.clone());
        let access = self
            .mint_access(
                AccessTokenInfo {
                    version: versions::access_token_version_for_cdi(self.cdi),
                    kid: String::new(),
                    session_handle: row.handle.clone(),
                    user_id: session.user_id.clone(),
                    recipe_user_id: session.recipe_user_id.clone(),
                    tenant_id: row.tenant_id.clone(),
                    refresh_token_hash_1: sha256_hex(&refresh),
                    parent_refresh_token_hash_1: parent_hash_1,
                    anti_csrf_token: anti_csrf_token.clone(),
                    expiry_ms: self.now.saturating_add(self.jittered_validity_ms()?),
                    created_ms: self.now,
                    user_data,
                },
                row.use_static_key,
            )
            .await?;
        Ok(Issued {
            session,
            access_token: access,
            refresh_token: TokenOut { token: refresh, expiry: refresh_expiry, created_time: self.now },
            anti_csrf_token,
        })
    }

    /// The session's user is its recipe user's primary user (the recipe user itself unless linked).
    fn view(&self, row: &SessionRow, user_data: Map<String, Value>) -> SessionView {
        SessionView {
            handle: row.handle.clone(),
            user_id: row.primary_user_id.clone().unwrap_or_else(|| row.user_id.clone()),
            recipe_user_id: row.user_id.clone(),
            user_data_in_jwt: user_data,
            tenant_id: row.tenant_id.clone(),
        }
    }

    pub async fn create(
        &self,
        tenant_id: &str,
        user: SessionUser,
        user_data_in_jwt: Map<String, Value>,
        user_data_in_database: Value,
        enable_anti_csrf: bool,
        use_dynamic_key: bool,
    ) -> Result<Issued, SessionError> {
        if let Some(version) = versions::create_protected_check(self.cdi) {
            access_token::check_custom_claims_for(version, &user_data_in_jwt).map_err(SessionError::BadInput)?;
        }
        let mut handle = uuid_v4()?;
        if tenant_id != PUBLIC {
            handle = format!("{handle}_{tenant_id}");
        }
        let anti_csrf = if enable_anti_csrf { Some(uuid_v4()?) } else { None };
        let mut row = SessionRow {
            tenant_id: tenant_id.to_owned(),
            handle,
            user_id: user.user_id,
            refresh_token_hash_2: String::new(),
            session_data: user_data_in_database.to_string(),
            expires_at: self.refresh_expiry(),
            created_at: self.now,
            jwt_user_payload: Value::Object(user_data_in_jwt.clone()).to_string(),
            use_static_key: !use_dynamic_key,
            primary_user_id: user.primary_user_id,
        };
        // The row stores the refresh token's hash, so the tokens come first; then one INSERT.
        let issued = self.issue(&row, None, anti_csrf, user_data_in_jwt).await?;
        row.refresh_token_hash_2 = sha256_hex(&sha256_hex(&issued.refresh_token.token));
        self.storage.session_insert(self.app, &row).await?;
        Ok(issued)
    }

    /// Verifies an access token's signature and expiry with the app's keys.
    pub async fn read_access_token(&self, token: &str, check_expiry: bool) -> Result<AccessTokenInfo, SessionError> {
        let try_refresh = |m: &str| SessionError::TryRefreshToken(m.to_owned());
        let parsed = access_token::parse(token).map_err(|e| match e {
            TokenError::Invalid(m) => try_refresh(m),
            _ => try_refresh("invalid access token"),
        })?;
        let verified = match &parsed.kid {
            Some(kid) => {
                let key = self.keys.public_key(kid).await?.ok_or_else(|| try_refresh("access token signed by an unknown key"))?;
                parsed.verify(&key)
            }
            // V1/V2 name no key: every key is tried, and once more after reading them again (a key
            // made by another instance since this one loaded them).
            None => match parsed.verify_any(&self.keys.all_public_keys(false).await?) {
                Err(TokenError::UnknownKey) => parsed.verify_any(&self.keys.all_public_keys(true).await?),
                first => first,
            },
        };
        let info = verified.map_err(|e| match e {
            TokenError::Invalid(m) => try_refresh(m),
            TokenError::UnknownKey => try_refresh("access token signed by an unknown key"),
            TokenError::Expired => try_refresh("Access token expired"),
        })?;
        if check_expiry && info.expiry_ms < self.now {
            return Err(try_refresh("Access token expired"));
        }
        Ok(info)
    }

    pub async fn verify(
        &self,
        token: &str,
        anti_csrf_token: Option<&str>,
        do_anti_csrf_check: bool,
        enable_anti_csrf: bool,
        check_database: bool,
    ) -> Result<Verified, SessionError> {
        let info = self.read_access_token(token, true).await?;
        self.verify_read(info, anti_csrf_token, do_anti_csrf_check, enable_anti_csrf, check_database).await
    }

    /// [`SessionCtx::verify`] for a token already read (and its signature checked) with
    /// [`SessionCtx::read_access_token`], so that a caller that needed its claims first does not
    /// check the signature twice.
    pub async fn verify_read(
        &self,
        info: AccessTokenInfo,
        anti_csrf_token: Option<&str>,
        do_anti_csrf_check: bool,
        enable_anti_csrf: bool,
        check_database: bool,
    ) -> Result<Verified, SessionError> {
        if enable_anti_csrf && do_anti_csrf_check {
            let ok = match (&info.anti_csrf_token, anti_csrf_token) {
                (Some(expected), Some(given)) => crate::crypto::secrets_equal(expected.as_bytes(), given.as_bytes()),
                _ => false,
            };
            if !ok {
                return Err(SessionError::TryRefreshToken("anti-csrf check failed".into()));
            }
        }
        let from_token = SessionView {
            handle: info.session_handle.clone(),
            user_id: info.user_id.clone(),
            recipe_user_id: info.recipe_user_id.clone(),
            user_data_in_jwt: info.user_data.clone(),
            tenant_id: info.tenant_id.clone(),
        };
        if info.parent_refresh_token_hash_1.is_none() && !check_database {
            return Ok(Verified { session: from_token, access_token: None });
        }
        let ended = || SessionError::Unauthorised("Either the session has ended or has been blacklisted".into());
        let tenant = self.app.tenant(&info.tenant_id);
        let own_hash_2 = sha256_hex(&info.refresh_token_hash_1);
        let mut promoted = false;
        let row = if let Some(parent) = &info.parent_refresh_token_hash_1 {
            // The token's refresh token is a child not yet promoted, or already promoted: promote it
            // and read the row in one statement (no write unless the parent is still stored).
            let parent_hash_2 = sha256_hex(parent);
            let (row, moved) = self
                .storage
                .session_promote(tenant, &info.session_handle, &parent_hash_2, &own_hash_2, self.refresh_expiry(), i64::MIN)
                .await?
                .ok_or_else(ended)?;
            promoted = moved;
            if !moved && row.refresh_token_hash_2 != own_hash_2 {
                if row.refresh_token_hash_2 != parent_hash_2 {
                    return Err(ended());
                }
                // Someone else promoted or rotated it while this statement waited for the row:
                // judge against what is stored now.
                let now_stored = self.storage.session_get(tenant, &info.session_handle).await?.ok_or_else(ended)?;
                if now_stored.refresh_token_hash_2 != own_hash_2 {
                    return Err(ended());
                }
            }
            row
        } else {
            self.storage.session_get(tenant, &info.session_handle).await?.ok_or_else(ended)?
        };
        if info.parent_refresh_token_hash_1.is_none() && own_hash_2 != row.refresh_token_hash_2 {
            // A token from before a refresh that has since been completed.
            return Err(ended());
        }
        let stored_payload = parse_object(&row.jwt_user_payload);
        let payload_changed = stored_payload != info.user_data;
        if !(promoted || payload_changed || info.parent_refresh_token_hash_1.is_some()) {
            return Ok(Verified { session: from_token, access_token: None });
        }
        // A fresh token of the presented token's version, without the parent hash, carrying the
        // stored claims, at full validity.
        let new_token = self
            .mint_access(
                AccessTokenInfo {
                    parent_refresh_token_hash_1: None,
                    user_data: stored_payload.clone(),
                    expiry_ms: self.now.saturating_add(self.access_validity_ms()),
                    created_ms: self.now,
                    ..info.clone()
                },
                versions::remint_uses_static_key(info.version, row.use_static_key),
            )
            .await?;
        Ok(Verified { session: SessionView { user_data_in_jwt: stored_payload, ..from_token }, access_token: Some(new_token) })
    }

    /// Refreshes the session of `refresh_token`, which the caller has decrypted into `info` with
    /// the app's master key (`refresh_token::parse`; the caller needs its tenant first, and the
    /// decryption's key derivation is the costly part, so it is done once).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        info: &RefreshTokenInfo,
        anti_csrf_token: Option<&str>,
        enable_anti_csrf: bool,
        use_dynamic_key: Option<bool>,
    ) -> Result<Issued, SessionError> {
        if enable_anti_csrf {
            if let Some(expected) = &info.anti_csrf_token {
                let ok = anti_csrf_token.is_some_and(|given| crate::crypto::secrets_equal(expected.as_bytes(), given.as_bytes()));
                if !ok {
                    return Err(SessionError::Unauthorised("Anti CSRF token missing, or not matching".into()));
                }
            }
        }
        let presented_hash_2 = sha256_hex(&sha256_hex(refresh_token));
        let parent_hash_2 = info.parent_refresh_token_hash_1.as_deref().map(sha256_hex);
        let tenant = self.app.tenant(&info.tenant_id);
        // A lost compare-and-set means another request moved the session; look again (bounded).
        for _ in 0..5 {
            // A child token (every token but a session's first) promotes itself and reads the row
            // in one statement; the stored token itself is only read.
            let found = match &parent_hash_2 {
                Some(parent) => {
                    self.storage.session_promote(tenant, &info.session_handle, parent, &presented_hash_2, self.refresh_expiry(), self.now).await?
                }
                None => self.storage.session_get(tenant, &info.session_handle).await?.map(|row| (row, false)),
            };
            let (row, promoted) = found
                .filter(|(r, promoted)| *promoted || r.expires_at >= self.now)
                .ok_or_else(|| SessionError::Unauthorised("Session missing in db or has expired".into()))?;
            if promoted || presented_hash_2 == row.refresh_token_hash_2 {
                return self.issue_refreshed(row, refresh_token, enable_anti_csrf, use_dynamic_key).await;
            }
            if parent_hash_2.as_deref() != Some(row.refresh_token_hash_2.as_str()) {
                return Err(SessionError::TokenTheft {
                    handle: row.handle.clone(),
                    user_id: row.primary_user_id.clone().unwrap_or_else(|| row.user_id.clone()),
                    recipe_user_id: row.user_id.clone(),
                });
            }
            // The parent is still stored but this statement did not move it: a concurrent
            // refresh or verify of the same token held the row; the next round sees its outcome.
        }
        Err(SessionError::Unauthorised("The session changed concurrently; try again".into()))
    }

    /// New tokens for `row`, whose refresh token is the one presented.
    async fn issue_refreshed(
        &self,
        row: SessionRow,
        refresh_token: &str,
        enable_anti_csrf: bool,
        use_dynamic_key: Option<bool>,
    ) -> Result<Issued, SessionError> {
        let use_static = use_dynamic_key.map(|d| !d).unwrap_or(row.use_static_key);
        if use_static != row.use_static_key {
            self.storage.session_set_use_static_key(self.app.tenant(&row.tenant_id), &row.handle, use_static).await?;
        }
        let anti_csrf = if enable_anti_csrf { Some(uuid_v4()?) } else { None };
        let row = SessionRow { use_static_key: use_static, ..row };
        let payload = parse_object(&row.jwt_user_payload);
        // A payload stored under an older version may hold a name the new token's version protects:
        // the core answers UNAUTHORISED with the message then, not 400.
        self.issue(&row, Some(refresh_token), anti_csrf, payload).await.map_err(|e| match e {
            SessionError::BadInput(m) => SessionError::Unauthorised(m),
            other => other,
        })
    }

    /// Replaces the custom claims of a session, and of the given token when it is current (in the
    /// token's own version; without new claims, the stored ones are re-issued).
    pub async fn regenerate(&self, token: &str, new_user_data: Option<Map<String, Value>>) -> Result<Verified, SessionError> {
        let info = self.read_access_token(token, false).await.map_err(|e| match e {
            SessionError::TryRefreshToken(m) => SessionError::Unauthorised(m),
            other => other,
        })?;
        let ended = || SessionError::Unauthorised("Session does not exist.".into());
        let row = self.storage.session_get(self.app.tenant(&info.tenant_id), &info.session_handle).await?.ok_or_else(ended)?;
        let user_data = match new_user_data {
            Some(d) => {
                if let Some(version) = versions::regenerate_protected_check(self.cdi, info.version) {
                    access_token::check_custom_claims_for(version, &d).map_err(SessionError::BadInput)?;
                }
                if !self
                    .storage
                    .session_update_jwt_payload(self.app.tenant(&row.tenant_id), &row.handle, &Value::Object(d.clone()).to_string())
                    .await?
                {
                    return Err(ended());
                }
                d
            }
            None => parse_object(&row.jwt_user_payload),
        };
        let session = SessionView {
            handle: info.session_handle.clone(),
            user_id: info.user_id.clone(),
            recipe_user_id: info.recipe_user_id.clone(),
            user_data_in_jwt: user_data.clone(),
            tenant_id: info.tenant_id.clone(),
        };
        // A token whose child refresh token is not yet promoted gets its new claims at the next verify;
        // an expired one is not renewed (the claims are stored for the next refresh).
        if info.parent_refresh_token_hash_1.is_some() || info.expiry_ms < self.now {
            return Ok(Verified { session, access_token: None });
        }
        // Issued now, expiring when the old token did.
        let token = self.mint_access(AccessTokenInfo { user_data, created_ms: self.now, ..info }, row.use_static_key).await?;
        Ok(Verified { session, access_token: Some(token) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_from_handle() {
        assert_eq!(tenant_of_handle("0c6d1f5e-aaaa-4bbb-8ccc-123456789abc"), "public");
        assert_eq!(tenant_of_handle("0c6d1f5e-aaaa-4bbb-8ccc-123456789abc_t1"), "t1");
        assert_eq!(tenant_of_handle("x_"), "public");
    }

    #[test]
    fn unit_random_is_in_range() {
        for _ in 0..100 {
            let r = unit_random().unwrap();
            assert!((0.0..1.0).contains(&r));
        }
    }
}
