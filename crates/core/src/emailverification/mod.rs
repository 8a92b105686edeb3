//! The email-verification recipe: verification tokens and verified (user, email) pairs. Users are
//! named by the ids the application uses (external ones when mapped); a pair is verified in
//! whichever of the app's databases holds it.
//!
//! The rules: a token is the core's form (48 random bytes, hex, then unpadded base64url), stored
//! hashed, valid for `email_verification_token_lifetime`; consuming a token ends every token of
//! its (user, email), and an expired token verifies nothing.

pub mod storage;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::crypto::{hex, random_bytes, sha256_hex};
use crate::error::Error;
use crate::ids::{AppKey, TenantKey};
use crate::ratelimit::{self, Counter, Kind, Limit};
use crate::storage::{transaction, Storage, StorageError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateTokenOutcome {
    Created { token: String },
    EmailAlreadyVerified,
    /// Refused by `email_verification_max_tokens_created`.
    Limited,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyOutcome {
    Verified { user_id: String, email: String },
    /// No such token, or it expired (an expired token is removed all the same).
    InvalidToken,
}

/// Whether the email is verified for the user in any of the app's databases.
pub async fn is_verified(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, user_id: &str, email: &str) -> Result<bool, StorageError> {
    for storage in storages {
        if storage.ev_is_verified(app, user_id, email).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `POST /<t>/recipe/user/email/verify/token`: a new token, unless the email is verified already.
/// With `limit` on, tokens are counted per user (an email already verified costs no count).
#[allow(clippy::too_many_arguments)]
pub async fn create_token(
    storages: &[&Arc<dyn Storage>],
    storage: &dyn Storage,
    tenant: TenantKey<'_>,
    lifetime_ms: i64,
    now: i64,
    user_id: &str,
    email: &str,
    limit: Limit,
) -> Result<CreateTokenOutcome, Error> {
    if is_verified(storages, tenant.app(), user_id, email).await? {
        return Ok(CreateTokenOutcome::EmailAlreadyVerified);
    }
    let counter = Counter::new(Kind::EmailVerificationTokens, tenant.tenant_id, user_id);
    if !ratelimit::hit(storage, tenant.app(), &counter, limit, now).await? {
        return Ok(CreateTokenOutcome::Limited);
    }
    let token = URL_SAFE_NO_PAD.encode(hex(&random_bytes(48)?));
    storage.ev_token_create(tenant, user_id, email, &sha256_hex(&token), now.saturating_add(lifetime_ms)).await?;
    Ok(CreateTokenOutcome::Created { token })
}

/// `POST /<t>/recipe/user/email/verify`: consumes a token and marks its email verified.
pub async fn verify(storage: &dyn Storage, tenant: TenantKey<'_>, token: &str, now: i64) -> Result<VerifyOutcome, Error> {
    let input = (tenant.owned(), sha256_hex(token), now);
    Ok(transaction(storage, input, |tx, (tenant, hash, now)| {
        Box::pin(async move {
            let key = tenant.key();
            let Some(token) = tx.ev_lock_token(key, hash).await? else { return Ok(VerifyOutcome::InvalidToken) };
            tx.ev_remove_tokens(key, &token.user_id, &token.email).await?;
            if token.expiry < *now {
                return Ok(VerifyOutcome::InvalidToken);
            }
            tx.ev_set_verified(key.app(), &token.user_id, &token.email).await?;
            Ok(VerifyOutcome::Verified { user_id: token.user_id, email: token.email })
        })
    })
    .await?)
}

/// `POST /recipe/user/email/verify/remove`: the email is no longer verified, in any database.
pub async fn unverify(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
    for storage in storages {
        storage.ev_unverify(app, user_id, email).await?;
    }
    Ok(())
}
