//! The recipe's operations, one per API: load what a rule needs, decide with the pure rules
//! ([`super::options`], [`super::verify`], [`super::recovery`]), write what was decided. Each returns
//! `Ok(Err(WebauthnError))` for the CDI's business outcomes and `Err(Error)` for a 400 or a
//! failure.
//!
//! Ceremonies verify outside any transaction (signatures are checked on rows read before), then
//! write in one guarded unit that consumes the options: of two concurrent uses of the same
//! options one wins and the other finds them gone (OPTIONS_NOT_FOUND), and a counter moved by a
//! concurrent sign-in makes the slower one stale. An email change runs as one transaction
//! ([`update_email`]) because account linking's rule reads other users under their locks.

use std::sync::Arc;

use serde_json::Value;

use super::options::{OptionsError, RegisterOptions, RegisterOptionsRequest, SignInConsumption, SignInOptions, SignInOptionsRequest, Fresh};
use super::recovery::{self, RecoveryToken};
use super::storage::{
    AddRecoveryTokenOutcome, CounterUpdate, FinishSignInOutcome, GeneratedOptions, NewWebauthnUser, OptionsRef, RecoveryTokenRow,
    RegisterCredentialOutcome, SaveOptionsOutcome, SignUpOutcome, StoredCredential,
};
use super::verify::{self, VerifiedRegistration};
use super::{WebauthnError, MAX_COLUMN_CHARS};
use crate::accountlinking::change_conflict;
use crate::accountlinking::rules::Info;
use crate::crypto::uuid_v4;
use crate::error::Error;
use crate::ids::{AppKey, TenantKey};
use crate::input::fits;
use crate::services::ActivityLog;
use crate::storage::tx::{Tx, TxFuture};
use crate::storage::{transaction, Storage};
use crate::users::storage::AccountInfo;
use crate::users::{find_user, RecipeId, User};

/// A business outcome (OK's value, or the status the CDI answers with).
pub type Outcome<T> = Result<T, WebauthnError>;

/// How many fresh ids an insert may try when the one drawn is taken (a UUID clash: never, in practice).
const ID_ATTEMPTS: usize = 3;

fn options_outcome(e: OptionsError) -> Result<WebauthnError, Error> {
    match e {
        OptionsError::BadInput(bad) => Err(bad.into()),
        OptionsError::Invalid(status) => Ok(status),
    }
}

/// Stores options made by `make` from fresh random values, drawing again when the id is taken.
async fn save_options(
    storage: &dyn Storage,
    tenant: TenantKey<'_>,
    make: impl Fn(&Fresh) -> (GeneratedOptions, Value),
) -> Result<Value, Error> {
    for _ in 0..ID_ATTEMPTS {
        let fresh = Fresh::generate()?;
        let (row, body) = make(&fresh);
        match storage.wa_save_options(tenant.app(), &row).await? {
            SaveOptionsOutcome::Saved => return Ok(body),
            SaveOptionsOutcome::DuplicateId => continue,
            SaveOptionsOutcome::UnknownTenant => return Err(Error::BadInput("Tenant not found".into())),
        }
    }
    Err(Error::Internal("no free webauthn options id".into()))
}

/// `POST /<t>/recipe/webauthn/options/register`. The WebAuthn user handle is the id of the tenant's
/// oldest user with this email (any recipe), else the options id. `status` is the OK status,
/// placed where the core puts it.
pub async fn register_options(
    storage: &dyn Storage,
    tenant: TenantKey<'_>,
    request: RegisterOptionsRequest,
    now: i64,
    status: Value,
) -> Result<Outcome<Value>, Error> {
    let options = match RegisterOptions::validate(request) {
        Ok(o) => o,
        Err(e) => return Ok(Err(options_outcome(e)?)),
    };
    let ids = storage.user_ids_by_account_info(tenant, &AccountInfo::Email(options.email().to_owned())).await?;
    let handle = if ids.is_empty() {
        None
    } else {
        let users = storage.get_users(tenant.app(), &ids).await?;
        users.into_iter().min_by(|a, b| (a.time_joined(), &a.id).cmp(&(b.time_joined(), &b.id))).map(|u| u.id)
    };
    let body = save_options(storage, tenant, |fresh| options.generate(tenant.tenant_id, fresh, handle.as_deref(), now, status.clone())).await?;
    Ok(Ok(body))
}

/// `POST /<t>/recipe/webauthn/options/signin`.
pub async fn sign_in_options(
    storage: &dyn Storage,
    tenant: TenantKey<'_>,
    request: SignInOptionsRequest,
    now: i64,
    status: Value,
) -> Result<Outcome<Value>, Error> {
    let options = match SignInOptions::validate(request) {
        Ok(o) => o,
        Err(e) => return Ok(Err(options_outcome(e)?)),
    };
    let body = save_options(storage, tenant, |fresh| options.generate(tenant.tenant_id, fresh, now, status.clone())).await?;
    Ok(Ok(body))
}

/// A user signed up or in through a passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub user: User,
    /// The login method's id as the application sees it (external when mapped).
    pub recipe_user_id: String,
}

async fn read_user(storage: &dyn Storage, app: AppKey<'_>, user_id: &str) -> Result<SignedIn, Error> {
    let user = storage.get_user(app, user_id).await?.ok_or_else(|| Error::Internal("a webauthn user just written cannot be read".into()))?;
    let recipe_user_id = user.login_method(user_id).map_or_else(|| user_id.to_owned(), |m| m.public_id().to_owned());
    Ok(SignedIn { user, recipe_user_id })
}

/// `POST /<t>/recipe/webauthn/signup`: verifies the registration against the tenant's options,
/// then creates the user and its credential while consuming the options.
pub async fn sign_up(
    storage: &dyn Storage,
    activity: &dyn ActivityLog,
    tenant: TenantKey<'_>,
    options_id: &str,
    credential: &Value,
    now: i64,
) -> Result<Outcome<(SignedIn, VerifiedRegistration)>, Error> {
    let options = storage.wa_options(tenant, options_id).await?;
    let registration = match verify::registration(options.as_ref(), credential, now) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let options = OptionsRef { tenant_id: tenant.tenant_id, id: options_id };
    for _ in 0..ID_ATTEMPTS {
        let user_id = uuid_v4()?;
        let user = NewWebauthnUser { user_id: user_id.clone(), email: registration.email.clone(), rp_id: registration.rp_id.clone(), time_joined: now };
        let row = registration.credential_row(&user_id, now);
        let refusal = match storage.wa_sign_up(tenant, options, &user, &row).await? {
            SignUpOutcome::Created => None,
            SignUpOutcome::DuplicateUserId => continue,
            SignUpOutcome::EmailAlreadyExists => Some(WebauthnError::EmailAlreadyExists),
            // The SDKs' sign-up knows no "credential already exists": the authenticator is refused.
            SignUpOutcome::CredentialAlreadyExists => Some(WebauthnError::InvalidAuthenticator("Credential ID already registered".into())),
            SignUpOutcome::OptionsGone => Some(WebauthnError::OptionsNotFound),
        };
        if let Some(refusal) = refusal {
            return Ok(Err(refusal));
        }
        activity.record(storage, tenant.app(), &user_id, now).await;
        return Ok(Ok((read_user(storage, tenant.app(), &user_id).await?, registration)));
    }
    Err(Error::Internal("no free user id".into()))
}

/// `POST /<t>/recipe/webauthn/signin`: verifies the assertion against the tenant's options and the
/// stored credential (whose user must be in the tenant), then consumes the options and moves the
/// counter.
pub async fn sign_in(
    storage: &dyn Storage,
    activity: &dyn ActivityLog,
    tenant: TenantKey<'_>,
    options_id: &str,
    credential: &Value,
    now: i64,
    consumption: SignInConsumption,
) -> Result<Outcome<SignedIn>, Error> {
    let options = storage.wa_options(tenant, options_id).await?;
    let credential_id = match verify::sign_in_credential_id(options.as_ref(), credential) {
        Ok(id) => id,
        Err(e) => return Ok(Err(e)),
    };
    let Some(options) = options else { return Ok(Err(WebauthnError::OptionsNotFound)) };
    let stored = storage.wa_credential_for_sign_in(tenant.app(), &options.rp_id, &credential_id).await?;
    let assertion = match verify::sign_in(&options, credential, stored.as_ref(), now) {
        Ok(a) => a,
        Err(e) => return Ok(Err(e)),
    };
    let counter = CounterUpdate {
        rp_id: &assertion.rp_id,
        credential_id: &assertion.credential_id,
        old_counter: assertion.old_counter,
        new_counter: assertion.new_counter,
        now,
    };
    let finished = storage.wa_finish_sign_in(tenant.app(), OptionsRef { tenant_id: tenant.tenant_id, id: options_id }, consumption, &counter).await?;
    match finished {
        FinishSignInOutcome::Done => {}
        // A concurrent sign-in that won the options makes this one a replay; one that moved the
        // counter first makes this counter stale.
        FinishSignInOutcome::OptionsGone => return Ok(Err(WebauthnError::OptionsNotFound)),
        FinishSignInOutcome::CounterMoved => return Ok(Err(verify::counter_went_backwards())),
    }
    activity.record(storage, tenant.app(), &assertion.user_id, now).await;
    Ok(Ok(read_user(storage, tenant.app(), &assertion.user_id).await?))
}

/// The SuperTokens id of a webauthn login method named by an id the application uses, and the
/// database holding it; `None` when the id names no webauthn login method.
async fn webauthn_user<'s>(
    storages: &[&'s Arc<dyn Storage>],
    app: AppKey<'_>,
    user_id: &str,
) -> Result<Option<(String, &'s Arc<dyn Storage>)>, Error> {
    let Some((found, storage)) = find_user(storages, app, user_id).await? else { return Ok(None) };
    let is_webauthn = found.login_method().is_some_and(|m| m.recipe_id == RecipeId::WebAuthn);
    Ok(is_webauthn.then_some((found.recipe_user_id, storage)))
}

/// `POST /recipe/webauthn/user/credential/register`: a new credential for a webauthn user, with
/// options made on any tenant of the app (the SDKs call this on the public path).
pub async fn register_credential(
    storages: &[&Arc<dyn Storage>],
    app: AppKey<'_>,
    recipe_user_id: &str,
    options_id: &str,
    credential: &Value,
    now: i64,
) -> Result<Outcome<VerifiedRegistration>, Error> {
    let Some(first) = storages.first() else { return Err(Error::Internal("no storage".into())) };
    let options = first.wa_options_in_app(app, options_id).await?;
    let registration = match verify::registration(options.as_ref(), credential, now) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let Some(options) = options else { return Ok(Err(WebauthnError::OptionsNotFound)) };
    let Some((user_id, storage)) = webauthn_user(storages, app, recipe_user_id).await? else {
        return Ok(Err(WebauthnError::UnknownUserId));
    };
    let row = registration.credential_row(&user_id, now);
    Ok(match storage.wa_register_credential(app, OptionsRef { tenant_id: &options.tenant_id, id: options_id }, &row).await? {
        RegisterCredentialOutcome::Registered => Ok(registration),
        RegisterCredentialOutcome::CredentialAlreadyExists => Err(WebauthnError::CredentialAlreadyExists),
        RegisterCredentialOutcome::UnknownUser => Err(WebauthnError::UnknownUserId),
        RegisterCredentialOutcome::OptionsGone => Err(WebauthnError::OptionsNotFound),
    })
}

/// `GET /recipe/webauthn/user/credential`.
pub async fn credential(
    storages: &[&Arc<dyn Storage>],
    app: AppKey<'_>,
    recipe_user_id: &str,
    credential_id: &str,
) -> Result<Outcome<StoredCredential>, Error> {
    let Some((user_id, storage)) = webauthn_user(storages, app, recipe_user_id).await? else {
        return Ok(Err(WebauthnError::CredentialNotFound));
    };
    Ok(storage.wa_credential_of_user(app, &user_id, credential_id).await?.ok_or(WebauthnError::CredentialNotFound))
}

/// `GET /recipe/webauthn/user/credential/list`: an unknown user has none.
pub async fn credentials(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, recipe_user_id: &str) -> Result<Vec<StoredCredential>, Error> {
    match webauthn_user(storages, app, recipe_user_id).await? {
        Some((user_id, storage)) => Ok(storage.wa_credentials_of_user(app, &user_id).await?),
        None => Ok(Vec::new()),
    }
}

/// `DELETE /recipe/webauthn/user/credential/remove`.
pub async fn remove_credential(
    storages: &[&Arc<dyn Storage>],
    app: AppKey<'_>,
    recipe_user_id: &str,
    credential_id: &str,
) -> Result<Outcome<()>, Error> {
    let Some((user_id, storage)) = webauthn_user(storages, app, recipe_user_id).await? else {
        return Ok(Err(WebauthnError::CredentialNotFound));
    };
    let removed = storage.wa_remove_credential(app, &user_id, credential_id).await?;
    Ok(if removed { Ok(()) } else { Err(WebauthnError::CredentialNotFound) })
}

/// `PUT /<t>/recipe/webauthn/user/email`: the email as given (the core does not normalise it),
/// checked against account linking's rule, then written to the user's rows in every tenant.
pub async fn update_email(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, recipe_user_id: &str, email: &str) -> Result<Outcome<()>, Error> {
    fits("email", email, MAX_COLUMN_CHARS)?;
    let Some((user_id, storage)) = webauthn_user(storages, app, recipe_user_id).await? else {
        return Ok(Err(WebauthnError::UnknownUserId));
    };
    let input = (app.app_id.to_owned(), user_id, email.to_owned());
    Ok(transaction(storage.as_ref(), input, update_email_in).await?)
}

fn update_email_in<'t>(tx: &'t mut dyn Tx, (app, user, email): &'t (String, String, String)) -> TxFuture<'t, Outcome<()>> {
    Box::pin(async move {
        let app = AppKey::new(app);
        let new = Info { email: Some(email), ..Default::default() };
        if change_conflict(tx, app, user, new).await?.is_some() {
            return Ok(Err(WebauthnError::UserWithEmailAlreadyExists));
        }
        if !tx.wa_lock_user(app, user).await? {
            return Ok(Err(WebauthnError::UnknownUserId));
        }
        if !tx.wa_set_email(app, user, email).await? {
            return Ok(Err(WebauthnError::EmailAlreadyExists));
        }
        Ok(Ok(()))
    })
}

/// `POST /<t>/recipe/webauthn/user/recover/token`: a token for any user of the app (a primary user
/// without a webauthn login method recovers by signing up); the email is not compared with the user's.
pub async fn create_recovery_token(
    storages: &[&Arc<dyn Storage>],
    tenant: TenantKey<'_>,
    user_id: &str,
    email: &str,
    now: i64,
    lifetime_ms: i64,
) -> Result<Outcome<String>, Error> {
    let Some((found, storage)) = find_user(storages, tenant.app(), user_id).await? else {
        return Ok(Err(WebauthnError::UnknownUserId));
    };
    for _ in 0..ID_ATTEMPTS {
        let token = RecoveryToken::generate()?;
        let row = recovery::token_row(tenant.tenant_id, &found.recipe_user_id, email, &token, now, lifetime_ms)?;
        match storage.wa_add_recovery_token(tenant.app(), &row).await? {
            AddRecoveryTokenOutcome::Added => return Ok(Ok(token.token)),
            AddRecoveryTokenOutcome::Duplicate => continue,
            AddRecoveryTokenOutcome::UnknownUser => return Ok(Err(WebauthnError::UnknownUserId)),
        }
    }
    Err(Error::Internal("no free recovery token".into()))
}

/// The id the application uses for a token's user: the external id when mapped.
async fn public_user_id(storage: &dyn Storage, app: AppKey<'_>, row: &RecoveryTokenRow) -> Result<Option<(String, User)>, Error> {
    let Some(user) = storage.get_user(app, &row.user_id).await? else { return Ok(None) };
    let id = user.login_method(&row.user_id).map_or_else(|| row.user_id.clone(), |m| m.public_id().to_owned());
    Ok(Some((id, user)))
}

/// `POST /<t>/recipe/webauthn/user/recover/token/consume`: the token's user id (as the application
/// uses it) and email; the token and every other of its email in the tenant are used up.
pub async fn consume_recovery_token(storage: &dyn Storage, tenant: TenantKey<'_>, token: &str, now: i64) -> Result<Outcome<(String, String)>, Error> {
    let Some(row) = storage.wa_consume_recovery_token(tenant, &recovery::hash_token(token), now).await? else {
        return Ok(Err(WebauthnError::RecoverAccountTokenInvalid));
    };
    let user_id = match public_user_id(storage, tenant.app(), &row).await? {
        Some((id, _)) => id,
        None => row.user_id.clone(),
    };
    Ok(Ok((user_id, row.email)))
}

/// `GET /<t>/recipe/webauthn/user/recover`: the token's user, and its last joined webauthn login
/// method in the tenant (`None` when it has none: recovery then signs up).
pub async fn recovery_user(storage: &dyn Storage, tenant: TenantKey<'_>, token: &str, now: i64) -> Result<Outcome<(Option<String>, User)>, Error> {
    let row = storage.wa_recovery_token(tenant, &recovery::hash_token(token)).await?;
    let row = match recovery::valid(row, now) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let Some((_, user)) = public_user_id(storage, tenant.app(), &row).await? else {
        return Ok(Err(WebauthnError::RecoverAccountTokenInvalid));
    };
    let methods: Vec<_> = user.login_methods.iter().filter(|m| m.recipe_id == RecipeId::WebAuthn).collect();
    let recipe_user_id = recovery::recipe_user_for_recovery(&methods, tenant.tenant_id).map(|m| m.public_id().to_owned());
    Ok(Ok((recipe_user_id, user)))
}

