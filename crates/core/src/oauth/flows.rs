//! The provider's operations, one per CDI endpoint: load what a decision needs, call the decision
//! (the pure modules beside this one), write what it says, and return the answer's fields (the
//! handler adds the status). Single-use steps are one conditional write in storage whose result
//! decides (see `storage.rs`), so no flow holds a transaction open across a decision.

use serde_json::{Map, Value};

use super::authorize::{self, AuthAnswer, AuthInput, Step};
use super::challenges;
use super::claims::Signer;
use super::client::{self, Client, ListQuery, SecretChange};
use super::cookies::CsrfKind;
use super::errors::{BadInput, Failure, OAuthError};
use super::introspect;
use super::logout::{self, EndSession};
use super::random::Random;
use super::revoke::{self, Revocation};
use super::secret;
use super::storage::{CreateClientOutcome, RedeemOutcome};
use super::token::{self, Presented, SecretCheck, TokenInput};
use crate::crypto::jwt;
use crate::crypto::keys::Algorithm;
use crate::crypto::password::PasswordSettings;
use crate::crypto::CryptoError;
use crate::error::Error;
use crate::ids::AppKey;
use crate::services::PasswordHasher;
use crate::session::{KeyProvider, SessionError};
use crate::storage::{Storage, StorageError};

/// Why an operation did not answer `OK`: a refusal the CDI names, or an error.
#[derive(Debug)]
pub enum Stop {
    Failure(Failure),
    Error(Error),
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Stop {
        Stop::Failure(f)
    }
}

impl From<BadInput> for Stop {
    fn from(b: BadInput) -> Stop {
        Stop::Failure(Failure::BadInput(b))
    }
}

impl From<OAuthError> for Stop {
    fn from(e: OAuthError) -> Stop {
        Stop::Failure(Failure::OAuth(e))
    }
}

impl From<StorageError> for Stop {
    fn from(e: StorageError) -> Stop {
        Stop::Error(Error::Storage(e))
    }
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Error(e)
    }
}

impl From<CryptoError> for Stop {
    fn from(e: CryptoError) -> Stop {
        Stop::Failure(e.into())
    }
}

impl From<SessionError> for Stop {
    fn from(e: SessionError) -> Stop {
        match e {
            SessionError::Storage(s) => Stop::Error(Error::Storage(s)),
            other => Stop::Error(Error::Internal(other.to_string())),
        }
    }
}

pub type Answer = Result<Value, Stop>;

/// What every operation needs besides its input.
pub struct Env<'a> {
    pub storage: &'a dyn Storage,
    pub app: AppKey<'a>,
    pub keys: &'a dyn KeyProvider,
    pub hasher: &'a dyn PasswordHasher,
    pub passwords: &'a PasswordSettings,
    pub rng: &'a dyn Random,
    pub now: i64,
}

impl Env<'_> {
    async fn client(&self, id: &str) -> Result<Option<Client>, StorageError> {
        self.storage.oauth_client_get(self.app, id).await
    }

    /// Verifies a JWT signed with one of the app's keys; `None` when it does not verify.
    async fn verified_claims(&self, token: &str) -> Result<Option<Map<String, Value>>, Stop> {
        let Some(unverified) = jwt::decode(token) else { return Ok(None) };
        let Some(kid) = unverified.kid().map(str::to_owned) else { return Ok(None) };
        let Some(key) = self.keys.public_key(&kid).await? else { return Ok(None) };
        Ok(unverified.verify(&key))
    }

    /// Stores a draft's secret: a caller-chosen one is hashed on the hashing pool first.
    async fn with_secret_hash(&self, mut draft: client::ClientDraft) -> Result<(Client, Option<String>), Stop> {
        let plain = draft.secret.plain().map(str::to_owned);
        match draft.secret {
            SecretChange::Keep => {}
            SecretChange::Remove => draft.client.secret_hash = None,
            SecretChange::Generated { hash, .. } => draft.client.secret_hash = Some(hash),
            SecretChange::Supplied { plain } => draft.client.secret_hash = Some(self.hasher.hash(self.passwords, plain).await?),
        }
        Ok((draft.client, plain))
    }

    /// Client authentication at the token and revocation endpoints (RFC 6749 §2.3.1).
    async fn authenticate(&self, client: Option<&Client>, presented: &Presented) -> Result<(), Stop> {
        match token::authenticate(client, presented)? {
            SecretCheck::Public => Ok(()),
            SecretCheck::Verify { presented, stored } => {
                let ok = if secret::needs_slow_check(&stored) {
                    self.hasher.verify(self.passwords, presented, Some(stored)).await?
                } else {
                    secret::verify(&presented, &stored, &self.passwords.verifying).unwrap_or(false)
                };
                if ok {
                    Ok(())
                } else {
                    Err(token::invalid_client().into())
                }
            }
        }
    }
}

fn with_key<T>(key: &(String, std::sync::Arc<crate::crypto::keys::SigningKey>), f: impl FnOnce(&Signer) -> T) -> T {
    f(&Signer { kid: &key.0, key: &key.1 })
}

// --- clients ---

pub async fn client_get(env: &Env<'_>, client_id: Option<&str>) -> Answer {
    let id = client::get_client_id(client_id)?;
    Ok(client::get_json(env.client(id).await?.as_ref())?)
}

pub async fn client_create(env: &Env<'_>, body: &Map<String, Value>) -> Answer {
    let draft = client::create(body, env.now, env.rng)?;
    let (client, plain) = env.with_secret_hash(draft).await?;
    match env.storage.oauth_client_create(env.app, &client).await? {
        CreateClientOutcome::Created => Ok(client::ok_json(&client, plain.as_deref())),
        CreateClientOutcome::AlreadyExists => Err(client::already_exists().into()),
    }
}

pub async fn client_update(env: &Env<'_>, body: &Map<String, Value>) -> Answer {
    let id = client::update_client_id(body)?;
    let existing = env.client(id).await?.ok_or(Failure::ClientNotFound)?;
    let draft = client::update(&existing, body, env.now, env.rng)?;
    let (client, plain) = env.with_secret_hash(draft).await?;
    if !env.storage.oauth_client_update(env.app, &client).await? {
        return Err(Failure::ClientNotFound.into());
    }
    Ok(client::ok_json(&client, plain.as_deref()))
}

pub async fn client_list(env: &Env<'_>, page_size: Option<&str>, client_name: Option<&str>, page_token: Option<&str>) -> Answer {
    let query = ListQuery::parse(page_size, client_name, page_token)?;
    let clients = env.storage.oauth_client_list(env.app, &query).await?;
    Ok(query.page_json(clients))
}

pub async fn client_remove(env: &Env<'_>, body: &Map<String, Value>) -> Answer {
    let id = client::remove_client_id(body)?;
    Ok(client::removed_json(env.storage.oauth_client_remove(env.app, id).await?))
}

// --- the authorization endpoint ---

/// `POST /recipe/oauth/auth`: `{redirectTo, cookies}` or a failure.
pub async fn auth(env: &Env<'_>, body: &Map<String, Value>) -> Answer {
    let input = AuthInput::from_body(body)?;
    let client_id = input.params.get("client_id").map(str::to_owned);
    let client = match &client_id {
        Some(id) => Some(env.client(id).await?.ok_or(Failure::ClientNotFound)?),
        None => None,
    };
    let answer = auth_step(env, &input, client.as_ref()).await?;
    match answer {
        AuthAnswer::Failed(f) => Err(f.into()),
        redirect => Ok(redirect.redirect_json().unwrap_or(Value::Null)),
    }
}

async fn auth_step(env: &Env<'_>, input: &AuthInput, client: Option<&Client>) -> Result<AuthAnswer, Stop> {
    let req = match authorize::validate(input, client) {
        Ok(r) => r,
        Err(a) => return Ok(a),
    };
    let cookies = input.cookies.as_deref();
    let (app, now) = (env.app, env.now);
    match input.step() {
        Step::Start => match authorize::start(req, now, env.rng) {
            Ok((flow, answer)) => {
                env.storage.oauth_flow_insert(app, &flow).await?;
                Ok(answer)
            }
            Err(a) => Ok(a),
        },
        step @ Step::LoginVerifier(_) => {
            let Some(hash) = step.verifier_hash() else { return Ok(authorize::verifier_already_used(&req, CsrfKind::Login)) };
            let flow = env.storage.oauth_flow_by_login_verifier(app, &hash).await?;
            let login = match authorize::check_login_verifier(flow.as_ref(), &req, cookies, now) {
                Ok(l) => l.clone(),
                Err(a) => return Ok(a),
            };
            let Some(flow) = flow else { return Ok(authorize::verifier_already_used(&req, CsrfKind::Login)) };
            let remembered = env.storage.oauth_consent_get(app, &flow.client_id, &login.subject).await?;
            let (start, answer) = authorize::begin_consent(&flow, remembered.as_ref(), now, env.rng)?;
            if !env.storage.oauth_flow_use_login_verifier(app, &flow.login_challenge, &start).await? {
                return Ok(authorize::verifier_already_used(&req, CsrfKind::Login));
            }
            Ok(answer)
        }
        step @ Step::ConsentVerifier(_) => {
            let Some(hash) = step.verifier_hash() else { return Ok(authorize::verifier_already_used(&req, CsrfKind::Consent)) };
            let flow = env.storage.oauth_flow_by_consent_verifier(app, &hash).await?;
            let (login, consent) = match authorize::check_consent_verifier(flow.as_ref(), &req, cookies, now) {
                Ok((l, c)) => (l.clone(), c.clone()),
                Err(a) => return Ok(a),
            };
            let (Some(flow), Some(client)) = (flow, client) else {
                return Ok(authorize::verifier_already_used(&req, CsrfKind::Consent));
            };
            let key = env.keys.signing_key(Algorithm::Rs256, true).await?;
            let (completion, answer) =
                with_key(&key, |signer| authorize::complete(&flow, &login, &consent, client, input, signer, now, env.rng))?;
            if !env.storage.oauth_flow_use_consent_verifier(app, &flow.login_challenge, &completion).await? {
                return Ok(authorize::verifier_already_used(&req, CsrfKind::Consent));
            }
            Ok(answer)
        }
    }
}

// --- login and consent requests ---

pub async fn login_request(env: &Env<'_>, challenge: &str) -> Answer {
    let flow = env.storage.oauth_flow_by_login_challenge(env.app, challenge).await?;
    let client = match &flow {
        Some(f) => env.client(&f.client_id).await?,
        None => None,
    };
    Ok(challenges::login_request(flow.as_ref(), client.as_ref(), env.now)?)
}

pub async fn login_handle(env: &Env<'_>, challenge: &str, body: &Map<String, Value>, accept: bool) -> Answer {
    let flow = env.storage.oauth_flow_by_login_challenge(env.app, challenge).await?;
    let (handled, answer) = if accept {
        challenges::accept_login(flow.as_ref(), body, env.now, env.rng)?
    } else {
        challenges::reject_login(flow.as_ref(), body, env.now, env.rng)?
    };
    if !env.storage.oauth_flow_handle_login(env.app, challenge, &handled).await? {
        return Err(challenges::handled_meanwhile().into());
    }
    Ok(answer)
}

pub async fn consent_request(env: &Env<'_>, challenge: &str) -> Answer {
    let flow = env.storage.oauth_flow_by_consent_challenge(env.app, challenge).await?;
    let client = match &flow {
        Some(f) => env.client(&f.client_id).await?,
        None => None,
    };
    Ok(challenges::consent_request(flow.as_ref(), client.as_ref(), env.now)?)
}

pub async fn consent_handle(env: &Env<'_>, challenge: &str, body: &Map<String, Value>, accept: bool) -> Answer {
    let flow = env.storage.oauth_flow_by_consent_challenge(env.app, challenge).await?;
    let (handled, answer) = if accept {
        let client = match &flow {
            Some(f) => env.client(&f.client_id).await?,
            None => None,
        };
        challenges::accept_consent(flow.as_ref(), client.as_ref(), body, env.now, env.rng)?
    } else {
        challenges::reject_consent(flow.as_ref(), body, env.now, env.rng)?
    };
    if !env.storage.oauth_flow_handle_consent(env.app, challenge, &handled).await? {
        return Err(challenges::handled_meanwhile().into());
    }
    Ok(answer)
}

// --- the token endpoint ---

pub async fn token(env: &Env<'_>, body: &Map<String, Value>) -> Answer {
    let t = TokenInput::from_body(body)?;
    let presented = token::presented(t.authorization_header.as_deref(), t.client_id.as_deref(), t.client_secret.as_deref())?;
    let client = env.client(&presented.client_id).await?;
    env.authenticate(client.as_ref(), &presented).await?;
    let Some(client) = client else { return Err(token::invalid_client().into()) };
    let grant = token::grant_type(&t, &client)?;
    let key = env.keys.signing_key(Algorithm::Rs256, true).await?;
    let (app, now) = (env.app, env.now);
    match grant {
        client::Grant::AuthorizationCode => {
            let hash = token::code_hash(&t).unwrap_or_default();
            // No code at all finds no flow, which check_code refuses.
            let flow = if hash.is_empty() { None } else { env.storage.oauth_flow_by_code(app, &hash).await? };
            let mut record = match token::check_code(&t, &client, flow.as_ref(), now) {
                Ok(g) => g,
                Err(refused) => {
                    if let Some(gid) = &refused.revoke_gid {
                        env.storage.oauth_revoke_grant(app, gid).await?;
                    }
                    return Err(refused.error.into());
                }
            };
            // check_code accepted, so there was a flow.
            let Some(flow) = flow else { return Err(token::invalid_client().into()) };
            let issued = with_key(&key, |signer| token::code_tokens(&t, &client, &flow, &mut record, signer, now, env.rng))?;
            match env.storage.oauth_redeem_code(app, &hash, &record, &issued).await? {
                RedeemOutcome::Redeemed => Ok(issued.to_json()),
                RedeemOutcome::AlreadyUsed => {
                    let refused = token::code_reused(&flow);
                    if let Some(gid) = &refused.revoke_gid {
                        env.storage.oauth_revoke_grant(app, gid).await?;
                    }
                    Err(refused.error.into())
                }
            }
        }
        client::Grant::RefreshToken => {
            let record = match token::refresh_hash(&t) {
                Some(h) => env.storage.oauth_grant_by_refresh_hash(app, &h).await?,
                None => None,
            };
            let (issued, write) = with_key(&key, |signer| token::refresh(&t, &client, record.as_ref(), signer, now, env.rng))?;
            if !env.storage.oauth_refresh(app, &write, now).await? {
                return Err(token::token_inactive().into());
            }
            Ok(issued.to_json())
        }
        client::Grant::ClientCredentials => {
            let (issued, m2m) = with_key(&key, |signer| token::client_credentials(&t, &client, signer, now, env.rng))?;
            env.storage.oauth_record_m2m(app, &m2m).await?;
            Ok(issued.to_json())
        }
        client::Grant::Implicit => Err(OAuthError::new(super::errors::Kind::UnsupportedGrantType).into()),
    }
}

// --- introspection and revocation ---

pub async fn introspect(env: &Env<'_>, body: &Map<String, Value>) -> Answer {
    let (token, scopes) = introspect::parse(body)?;
    if let Some(hash) = introspect::refresh_token_hash(&token) {
        let grant = env.storage.oauth_grant_by_refresh_hash(env.app, &hash).await?;
        return Ok(introspect::refresh_answer(grant.as_ref(), env.now, &scopes));
    }
    let Some(claims) = env.verified_claims(&token).await? else { return Ok(introspect::inactive()) };
    let Some((gid, _)) = introspect::access_lookup(&claims, env.now, &scopes) else { return Ok(introspect::inactive()) };
    let jtis = env.storage.oauth_grant_jtis(env.app, gid).await?;
    Ok(introspect::access_answer(claims.clone(), jtis.as_deref()))
}

pub async fn revoke_token(env: &Env<'_>, body: &Map<String, Value>) -> Answer {
    let input = revoke::parse(body)?;
    let client = env.client(&input.client.client_id).await?;
    env.authenticate(client.as_ref(), &input.client).await?;
    let action = match introspect::refresh_token_hash(&input.token) {
        Some(hash) => {
            let grant = env.storage.oauth_grant_by_refresh_hash(env.app, &hash).await?;
            revoke::of_refresh_token(grant.as_ref(), &input.client.client_id)
        }
        None => {
            let claims = env.verified_claims(&input.token).await?;
            revoke::of_access_token(claims.as_ref(), &input.client.client_id)
        }
    };
    match action {
        Revocation::Nothing => {}
        Revocation::Grant { gid } => {
            env.storage.oauth_revoke_grant(env.app, &gid).await?;
        }
        Revocation::AccessToken { gid, jti } => {
            env.storage.oauth_revoke_access_token(env.app, &gid, &jti).await?;
        }
    }
    Ok(revoke::ok())
}

pub async fn revoke_by_client(env: &Env<'_>, body: &Map<String, Value>) -> Answer {
    let client_id = revoke::parse_by_client(body)?;
    env.storage.oauth_revoke_by_client(env.app, &client_id).await?;
    Ok(revoke::ok())
}

pub async fn revoke_by_session(env: &Env<'_>, body: &Map<String, Value>) -> Answer {
    let handle = revoke::parse_by_session(body)?;
    env.storage.oauth_revoke_by_session_handle(env.app, &handle).await?;
    Ok(revoke::ok())
}

// --- RP-initiated logout ---

pub async fn end_session(env: &Env<'_>, request: &EndSession) -> Answer {
    logout::check_request(request)?;
    let hint = match &request.id_token_hint {
        // The signature only: an expired hint is accepted (D18).
        Some(t) => Some(logout::hint_of(env.verified_claims(t).await?.as_ref())?),
        None => None,
    };
    let client_id = logout::client_of(request, hint.as_ref())?;
    let client = env.client(&client_id).await?;
    let (row, answer) = logout::end_session(request, hint.as_ref(), client.as_ref(), env.now, env.rng)?;
    env.storage.oauth_logout_challenge_insert(env.app, &row).await?;
    Ok(answer)
}

pub async fn logout_accept(env: &Env<'_>, challenge: &str) -> Answer {
    let consumed = env.storage.oauth_logout_accept(env.app, challenge, logout::oldest_acceptable(env.now)).await?;
    Ok(logout::accept_answer(consumed.as_ref())?)
}

pub async fn logout_reject(env: &Env<'_>, challenge: &str) -> Answer {
    env.storage.oauth_logout_reject(env.app, challenge).await?;
    Ok(revoke::ok())
}
