//! The OAuth2 provider's tables (`schema_oauth.sql`): SQL and row mapping for
//! `portcullis_core::oauth::storage::OAuthStorage`. Units of more than one statement run in one
//! READ COMMITTED transaction; single-use steps are one conditional `UPDATE` whose row count decides.

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::oauth::authorize::{AuthRequest, Completion, ConsentOutcome, ConsentStart, Flow, LoginOutcome, RememberedConsent};
use portcullis_core::oauth::challenges::{ConsentHandled, LoginHandled};
use portcullis_core::oauth::claims::{GrantRecord, Issued};
use portcullis_core::oauth::client::{Client, ClientConfig, ListQuery};
use portcullis_core::oauth::defaults::{EXPIRED_GRANT_RETENTION_MS, LOGOUT_CHALLENGE_LIFESPAN_MS};
use portcullis_core::oauth::logout::LogoutChallenge;
use portcullis_core::oauth::split_spaces;
use portcullis_core::oauth::storage::{from_stored_json, to_stored_json, Cleaned, CreateClientOutcome, OAuthStorage, RedeemOutcome};
use portcullis_core::oauth::token::{M2mIssue, RefreshWrite};
use portcullis_core::storage::StorageError;
use tokio_postgres::Row;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::PgStorage;

pub struct Statements {
    client_get: String,
    client_has_config: String,
    client_upsert: String,
    config_insert: String,
    config_update: String,
    client_update: String,
    client_list: String,
    client_remove: String,
    flow_insert: String,
    flow_by_login_challenge: String,
    flow_by_consent_challenge: String,
    flow_by_login_verifier: String,
    flow_by_consent_verifier: String,
    flow_by_code: String,
    flow_handle_login: String,
    flow_use_login_verifier: String,
    flow_handle_consent: String,
    flow_use_consent_verifier: String,
    consent_upsert: String,
    session_upsert: String,
    grant_upsert: String,
    code_use: String,
    grant_by_refresh: String,
    refresh: String,
    m2m_record: String,
    grant_jtis: String,
    revoke_grant: String,
    revoke_access: String,
    revoke_by_client: String,
    revoke_by_session: String,
    consent_get: String,
    logout_insert: String,
    logout_take: String,
    logout_reject: String,
    clean_sessions: String,
    clean_m2m: String,
    clean_logout: String,
    clean_flows: String,
    clean_consents: String,
}

const FLOW_COLUMNS: &str = "login_challenge, client_id, request, requested_at, login_csrf, login_verifier_hash, login_outcome, \
     login_verifier_used, consent_challenge, consent_csrf, consent_skip, consent_verifier_hash, consent_outcome, \
     consent_verifier_used, gid, code_hash, code_expires_at, code_used, expires_at";

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let clients = n.table("oauth_clients")?;
        let configs = n.table("oauth_client_configs")?;
        let sessions = n.table("oauth_sessions")?;
        let m2m = n.table("oauth_m2m_tokens")?;
        let logout = n.table("oauth_logout_challenges")?;
        let flows = n.table("oauth_flows")?;
        let grants = n.table("oauth_grants")?;
        let consents = n.table("oauth_consents")?;
        let client_select = format!(
            "SELECT c.client_id, c.client_secret, c.enable_refresh_token_rotation, g.config, g.created_at, g.updated_at \
             FROM {clients} c JOIN {configs} g ON g.app_id = c.app_id AND g.client_id = c.client_id"
        );
        let flow_by = |column: &str| format!("SELECT {FLOW_COLUMNS} FROM {flows} WHERE app_id = $1 AND {column} = $2");
        let grant_select = format!(
            "SELECT s.gid, s.client_id, g.subject, g.granted_scope, g.granted_audience, g.access_token_ext, g.id_token_claims, \
             g.created_at, s.exp FROM {sessions} s JOIN {grants} g ON g.gid = s.gid"
        );
        Ok(Statements {
            client_get: format!("{client_select} WHERE c.app_id = $1 AND c.client_id = $2"),
            client_has_config: format!("SELECT 1 FROM {configs} WHERE app_id = $1 AND client_id = $2"),
            client_upsert: format!(
                "INSERT INTO {clients} (app_id, client_id, client_secret, enable_refresh_token_rotation, is_client_credentials_only) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (app_id, client_id) DO UPDATE SET client_secret = EXCLUDED.client_secret, \
                 enable_refresh_token_rotation = EXCLUDED.enable_refresh_token_rotation, \
                 is_client_credentials_only = EXCLUDED.is_client_credentials_only"
            ),
            config_insert: format!(
                "INSERT INTO {configs} (app_id, client_id, client_name, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT DO NOTHING"
            ),
            config_update: format!(
                "UPDATE {configs} SET client_name = $3, config = $4, updated_at = $5 WHERE app_id = $1 AND client_id = $2"
            ),
            client_update: format!(
                "UPDATE {clients} SET client_secret = $3, enable_refresh_token_rotation = $4, is_client_credentials_only = $5 \
                 WHERE app_id = $1 AND client_id = $2"
            ),
            client_list: format!(
                "{client_select} WHERE c.app_id = $1 AND ($2::VARCHAR IS NULL OR c.client_id > $2) \
                 AND ($3::TEXT IS NULL OR g.client_name = $3) ORDER BY c.client_id LIMIT $4"
            ),
            client_remove: format!("DELETE FROM {clients} WHERE app_id = $1 AND client_id = $2"),
            flow_insert: format!(
                "INSERT INTO {flows} (app_id, {FLOW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                 $16, $17, $18, $19, $20)"
            ),
            flow_by_login_challenge: flow_by("login_challenge"),
            flow_by_consent_challenge: flow_by("consent_challenge"),
            flow_by_login_verifier: flow_by("login_verifier_hash"),
            flow_by_consent_verifier: flow_by("consent_verifier_hash"),
            flow_by_code: flow_by("code_hash"),
            flow_handle_login: format!(
                "UPDATE {flows} SET login_verifier_hash = $3, login_outcome = $4 \
                 WHERE app_id = $1 AND login_challenge = $2 AND login_verifier_used = FALSE"
            ),
            flow_use_login_verifier: format!(
                "UPDATE {flows} SET login_verifier_used = TRUE, consent_challenge = $3, consent_csrf = $4, consent_skip = $5 \
                 WHERE app_id = $1 AND login_challenge = $2 AND login_verifier_used = FALSE"
            ),
            flow_handle_consent: format!(
                "UPDATE {flows} SET consent_verifier_hash = $3, consent_outcome = $4, gid = $5 \
                 WHERE app_id = $1 AND consent_challenge = $2 AND consent_verifier_used = FALSE"
            ),
            flow_use_consent_verifier: format!(
                "UPDATE {flows} SET consent_verifier_used = TRUE, code_hash = $3, code_expires_at = $4, expires_at = $5 \
                 WHERE app_id = $1 AND login_challenge = $2 AND consent_verifier_used = FALSE"
            ),
            consent_upsert: format!(
                "INSERT INTO {consents} (app_id, client_id, subject, granted_scope, granted_audience, remember_until, time_created) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (app_id, client_id, subject) DO UPDATE SET \
                 granted_scope = EXCLUDED.granted_scope, granted_audience = EXCLUDED.granted_audience, \
                 remember_until = EXCLUDED.remember_until, time_created = EXCLUDED.time_created"
            ),
            session_upsert: format!(
                "INSERT INTO {sessions} AS s (gid, app_id, client_id, session_handle, external_refresh_token, jti, exp) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (gid) DO UPDATE SET \
                 external_refresh_token = COALESCE(EXCLUDED.external_refresh_token, s.external_refresh_token), \
                 jti = s.jti || EXCLUDED.jti, exp = EXCLUDED.exp"
            ),
            grant_upsert: format!(
                "INSERT INTO {grants} (gid, app_id, subject, granted_scope, granted_audience, access_token_ext, id_token_claims, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (gid) DO UPDATE SET created_at = EXCLUDED.created_at"
            ),
            code_use: format!("UPDATE {flows} SET code_used = TRUE WHERE app_id = $1 AND code_hash = $2 AND code_used = FALSE"),
            grant_by_refresh: format!("{grant_select} WHERE s.app_id = $1 AND s.external_refresh_token = $2"),
            // One round trip: the grant's row and its refresh time move together.
            refresh: format!(
                "WITH r AS (UPDATE {sessions} SET external_refresh_token = COALESCE($3, external_refresh_token), jti = jti || $4, exp = $5 \
                 WHERE app_id = $1 AND external_refresh_token = $2 AND exp >= $6 RETURNING gid) \
                 UPDATE {grants} g SET created_at = $7 FROM r WHERE g.gid = r.gid RETURNING g.gid"
            ),
            m2m_record: format!(
                "WITH s AS (INSERT INTO {sessions} (gid, app_id, client_id, jti, exp) VALUES ($1, $2, $3, $4, $6)) \
                 INSERT INTO {m2m} (app_id, client_id, iat, exp) VALUES ($2, $3, $5, $6) ON CONFLICT DO NOTHING"
            ),
            grant_jtis: format!("SELECT jti FROM {sessions} WHERE gid = $2 AND app_id = $1"),
            revoke_grant: format!("DELETE FROM {sessions} WHERE gid = $2 AND app_id = $1"),
            revoke_access: format!(
                "UPDATE {sessions} SET jti = REPLACE(jti, $3, '') WHERE gid = $2 AND app_id = $1 AND strpos(jti, $3) > 0"
            ),
            revoke_by_client: format!("DELETE FROM {sessions} WHERE app_id = $1 AND client_id = $2"),
            revoke_by_session: format!("DELETE FROM {sessions} WHERE app_id = $1 AND session_handle = $2"),
            consent_get: format!(
                "SELECT client_id, subject, granted_scope, granted_audience, remember_until, time_created FROM {consents} \
                 WHERE app_id = $1 AND client_id = $2 AND subject = $3"
            ),
            logout_insert: format!(
                "INSERT INTO {logout} (app_id, challenge, client_id, post_logout_redirect_uri, session_handle, state, time_created) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ),
            logout_take: format!(
                "DELETE FROM {logout} WHERE app_id = $1 AND challenge = $2 AND time_created >= $3 \
                 RETURNING challenge, client_id, post_logout_redirect_uri, session_handle, state, time_created"
            ),
            logout_reject: format!("DELETE FROM {logout} WHERE app_id = $1 AND challenge = $2"),
            clean_sessions: format!("DELETE FROM {sessions} WHERE app_id = $1 AND exp < $2"),
            clean_m2m: format!("DELETE FROM {m2m} WHERE app_id = $1 AND exp < $2"),
            clean_logout: format!("DELETE FROM {logout} WHERE app_id = $1 AND time_created < $2"),
            clean_flows: format!("DELETE FROM {flows} WHERE app_id = $1 AND expires_at < $2"),
            clean_consents: format!("DELETE FROM {consents} WHERE app_id = $1 AND remember_until < $2"),
        })
    }
}

fn client_row(r: &Row) -> Result<Client, WorkError> {
    Ok(Client {
        client_id: r.try_get(0)?,
        secret_hash: r.try_get(1)?,
        enable_refresh_token_rotation: r.try_get(2)?,
        config: ClientConfig::from_stored(r.try_get(3)?).map_err(WorkError::Invalid)?,
        created_at: r.try_get(4)?,
        updated_at: r.try_get(5)?,
    })
}

fn flow_row(r: &Row) -> Result<Flow, WorkError> {
    let login: Option<&str> = r.try_get(6)?;
    let consent: Option<&str> = r.try_get(12)?;
    Ok(Flow {
        login_challenge: r.try_get(0)?,
        client_id: r.try_get(1)?,
        request: AuthRequest::from_stored(r.try_get(2)?).map_err(WorkError::Invalid)?,
        requested_at: r.try_get(3)?,
        login_csrf: r.try_get(4)?,
        login_verifier_hash: r.try_get(5)?,
        login: login.map(LoginOutcome::from_stored).transpose().map_err(WorkError::Invalid)?,
        login_verifier_used: r.try_get(7)?,
        consent_challenge: r.try_get(8)?,
        consent_csrf: r.try_get(9)?,
        consent_skip: r.try_get(10)?,
        consent_verifier_hash: r.try_get(11)?,
        consent: consent.map(ConsentOutcome::from_stored).transpose().map_err(WorkError::Invalid)?,
        consent_verifier_used: r.try_get(13)?,
        gid: r.try_get(14)?,
        code_hash: r.try_get(15)?,
        code_expires_at: r.try_get(16)?,
        code_used: r.try_get(17)?,
        expires_at: r.try_get(18)?,
    })
}

fn grant_row(r: &Row) -> Result<GrantRecord, WorkError> {
    Ok(GrantRecord {
        gid: r.try_get(0)?,
        client_id: r.try_get(1)?,
        subject: r.try_get(2)?,
        scopes: split_spaces(r.try_get(3)?),
        audience: from_stored_json(r.try_get(4)?, "grant audience").map_err(WorkError::Invalid)?,
        ext: from_stored_json(r.try_get(5)?, "grant claims").map_err(WorkError::Invalid)?,
        id_claims: from_stored_json(r.try_get(6)?, "grant ID token claims").map_err(WorkError::Invalid)?,
        created_at: r.try_get(7)?,
        exp_s: r.try_get(8)?,
    })
}

fn logout_row(r: &Row) -> Result<LogoutChallenge, WorkError> {
    Ok(LogoutChallenge {
        challenge: r.try_get(0)?,
        client_id: r.try_get(1)?,
        post_logout_redirect_uri: r.try_get(2)?,
        session_handle: r.try_get(3)?,
        state: r.try_get(4)?,
        time_created: r.try_get(5)?,
    })
}

async fn client_create(db: Conn<'_>, sql: &Statements, app: &str, c: &Client) -> Result<CreateClientOutcome, WorkError> {
    if db.query_opt(&sql.client_has_config, &[&app, &c.client_id]).await?.is_some() {
        return Ok(CreateClientOutcome::AlreadyExists);
    }
    // A config-less row can only be the Java core's: adopted (see the trait's module doc).
    db.execute(
        &sql.client_upsert,
        &[&app, &c.client_id, &c.secret_hash, &c.enable_refresh_token_rotation, &c.is_client_credentials_only()],
    )
    .await?;
    let n = db
        .execute(&sql.config_insert, &[&app, &c.client_id, &c.config.client_name, &c.config.to_stored(), &c.created_at, &c.updated_at])
        .await?;
    // A concurrent create of the same id won the config row.
    Ok(if n == 1 { CreateClientOutcome::Created } else { CreateClientOutcome::AlreadyExists })
}

async fn client_update(db: Conn<'_>, sql: &Statements, app: &str, c: &Client) -> Result<bool, WorkError> {
    let n = db.execute(&sql.config_update, &[&app, &c.client_id, &c.config.client_name, &c.config.to_stored(), &c.updated_at]).await?;
    if n == 0 {
        return Ok(false);
    }
    db.execute(&sql.client_update, &[&app, &c.client_id, &c.secret_hash, &c.enable_refresh_token_rotation, &c.is_client_credentials_only()])
        .await?;
    Ok(true)
}

async fn upsert_grant(db: Conn<'_>, sql: &Statements, app: &str, g: &GrantRecord, issued: &Issued) -> Result<(), WorkError> {
    let refresh = issued.refresh.as_ref().map(|r| r.hash.as_str());
    let jti = format!("{},", issued.jti);
    db.execute(&sql.session_upsert, &[&g.gid, &app, &g.client_id, &g.ext.session_handle, &refresh, &jti, &issued.session_exp_s()])
        .await?;
    db.execute(
        &sql.grant_upsert,
        &[
            &g.gid,
            &app,
            &g.subject,
            &g.scopes.join(" "),
            &to_stored_json(&g.audience),
            &to_stored_json(&g.ext),
            &to_stored_json(&g.id_claims),
            &g.created_at,
        ],
    )
    .await?;
    Ok(())
}

async fn use_consent_verifier(db: Conn<'_>, sql: &Statements, app: &str, challenge: &str, done: &Completion) -> Result<bool, WorkError> {
    let code = done.code.as_ref();
    let n = db
        .execute(
            &sql.flow_use_consent_verifier,
            &[&app, &challenge, &code.map(|c| c.hash.as_str()), &code.map(|c| c.expires_at), &done.flow_expires_at],
        )
        .await?;
    if n == 0 {
        return Ok(false);
    }
    if let Some(r) = &done.remember {
        db.execute(
            &sql.consent_upsert,
            &[&app, &r.client_id, &r.subject, &r.scopes.join(" "), &to_stored_json(&r.audience), &r.remember_until, &r.time_created],
        )
        .await?;
    }
    if let Some((grant, issued)) = &done.grant {
        upsert_grant(db, sql, app, grant, issued).await?;
    }
    Ok(true)
}

async fn redeem_code(db: Conn<'_>, sql: &Statements, app: &str, code: &str, g: &GrantRecord, issued: &Issued) -> Result<RedeemOutcome, WorkError> {
    if db.execute(&sql.code_use, &[&app, &code]).await? == 0 {
        return Ok(RedeemOutcome::AlreadyUsed);
    }
    upsert_grant(db, sql, app, g, issued).await?;
    Ok(RedeemOutcome::Redeemed)
}

async fn logout_accept(db: Conn<'_>, sql: &Statements, app: &str, challenge: &str, after: i64) -> Result<Option<LogoutChallenge>, WorkError> {
    let taken = match db.query_opt(&sql.logout_take, &[&app, &challenge, &after]).await? {
        Some(r) => logout_row(&r)?,
        None => return Ok(None),
    };
    if let Some(handle) = &taken.session_handle {
        db.execute(&sql.revoke_by_session, &[&app, handle]).await?;
    }
    Ok(Some(taken))
}

async fn cleanup(db: Conn<'_>, sql: &Statements, app: &str, now: i64) -> Result<Cleaned, WorkError> {
    let grant_cutoff_s = (now - EXPIRED_GRANT_RETENTION_MS).div_euclid(1000);
    Ok(Cleaned {
        grants: db.execute(&sql.clean_sessions, &[&app, &grant_cutoff_s]).await?,
        m2m_tokens: db.execute(&sql.clean_m2m, &[&app, &grant_cutoff_s]).await?,
        logout_challenges: db.execute(&sql.clean_logout, &[&app, &(now - LOGOUT_CHALLENGE_LIFESPAN_MS)]).await?,
        flows: db.execute(&sql.clean_flows, &[&app, &now]).await?,
        consents: db.execute(&sql.clean_consents, &[&app, &now]).await?,
    })
}

impl PgStorage {
    async fn oauth_flow_by(&self, which: fn(&Statements) -> &str, app: AppKey<'_>, value: &str) -> Result<Option<Flow>, StorageError> {
        let ctx = (&self.sql.oauth, which, app.app_id, value);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, which, app, value)| {
                Box::pin(async move { db.query_opt(which(sql), &[app, value]).await?.as_ref().map(flow_row).transpose() })
            })
            .await
    }

    /// One statement with the app id as `$1`; returns how many rows it changed.
    async fn oauth_execute(
        &self,
        which: fn(&Statements) -> &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StorageError> {
        let ctx = (&self.sql.oauth, which, params);
        self.db.run(Mode::Write, &ctx, |db, (sql, which, params)| Box::pin(async move { Ok(db.execute(which(sql), params).await?) })).await
    }
}

#[async_trait]
impl OAuthStorage for PgStorage {
    async fn oauth_client_get(&self, app: AppKey<'_>, client_id: &str) -> Result<Option<Client>, StorageError> {
        let ctx = (&self.sql.oauth, app.app_id, client_id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, id)| {
                Box::pin(async move { db.query_opt(&sql.client_get, &[app, id]).await?.as_ref().map(client_row).transpose() })
            })
            .await
    }

    async fn oauth_client_create(&self, app: AppKey<'_>, client: &Client) -> Result<CreateClientOutcome, StorageError> {
        let ctx = (&self.sql.oauth, app.app_id, client);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, c)| Box::pin(client_create(db, sql, app, c))).await
    }

    async fn oauth_client_update(&self, app: AppKey<'_>, client: &Client) -> Result<bool, StorageError> {
        let ctx = (&self.sql.oauth, app.app_id, client);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, c)| Box::pin(client_update(db, sql, app, c))).await
    }

    async fn oauth_client_list(&self, app: AppKey<'_>, query: &ListQuery) -> Result<Vec<Client>, StorageError> {
        let limit = i64::try_from(query.page_size).unwrap_or(i64::MAX).saturating_add(1);
        let ctx = (&self.sql.oauth, app.app_id, query, limit);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, q, limit)| {
                Box::pin(async move {
                    let rows = db.query(&sql.client_list, &[app, &q.after, &q.client_name, limit]).await?;
                    rows.iter().map(client_row).collect()
                })
            })
            .await
    }

    async fn oauth_client_remove(&self, app: AppKey<'_>, client_id: &str) -> Result<bool, StorageError> {
        Ok(self.oauth_execute(|s| &s.client_remove, &[&app.app_id, &client_id]).await? > 0)
    }

    async fn oauth_flow_insert(&self, app: AppKey<'_>, flow: &Flow) -> Result<(), StorageError> {
        let f = flow;
        let (request, login, consent) =
            (f.request.to_stored(), f.login.as_ref().map(LoginOutcome::to_stored), f.consent.as_ref().map(ConsentOutcome::to_stored));
        self.oauth_execute(
            |s| &s.flow_insert,
            &[
                &app.app_id,
                &f.login_challenge,
                &f.client_id,
                &request,
                &f.requested_at,
                &f.login_csrf,
                &f.login_verifier_hash,
                &login,
                &f.login_verifier_used,
                &f.consent_challenge,
                &f.consent_csrf,
                &f.consent_skip,
                &f.consent_verifier_hash,
                &consent,
                &f.consent_verifier_used,
                &f.gid,
                &f.code_hash,
                &f.code_expires_at,
                &f.code_used,
                &f.expires_at,
            ],
        )
        .await
        .map(drop)
    }

    async fn oauth_flow_by_login_challenge(&self, app: AppKey<'_>, challenge: &str) -> Result<Option<Flow>, StorageError> {
        self.oauth_flow_by(|s| &s.flow_by_login_challenge, app, challenge).await
    }

    async fn oauth_flow_by_consent_challenge(&self, app: AppKey<'_>, challenge: &str) -> Result<Option<Flow>, StorageError> {
        self.oauth_flow_by(|s| &s.flow_by_consent_challenge, app, challenge).await
    }

    async fn oauth_flow_by_login_verifier(&self, app: AppKey<'_>, verifier_hash: &str) -> Result<Option<Flow>, StorageError> {
        self.oauth_flow_by(|s| &s.flow_by_login_verifier, app, verifier_hash).await
    }

    async fn oauth_flow_by_consent_verifier(&self, app: AppKey<'_>, verifier_hash: &str) -> Result<Option<Flow>, StorageError> {
        self.oauth_flow_by(|s| &s.flow_by_consent_verifier, app, verifier_hash).await
    }

    async fn oauth_flow_by_code(&self, app: AppKey<'_>, code_hash: &str) -> Result<Option<Flow>, StorageError> {
        self.oauth_flow_by(|s| &s.flow_by_code, app, code_hash).await
    }

    async fn oauth_flow_handle_login(&self, app: AppKey<'_>, login_challenge: &str, handled: &LoginHandled) -> Result<bool, StorageError> {
        let outcome = handled.outcome.to_stored();
        let n = self.oauth_execute(|s| &s.flow_handle_login, &[&app.app_id, &login_challenge, &handled.verifier_hash, &outcome]).await?;
        Ok(n > 0)
    }

    async fn oauth_flow_use_login_verifier(&self, app: AppKey<'_>, login_challenge: &str, start: &ConsentStart) -> Result<bool, StorageError> {
        let n = self
            .oauth_execute(
                |s| &s.flow_use_login_verifier,
                &[&app.app_id, &login_challenge, &start.consent_challenge, &start.consent_csrf, &start.skip],
            )
            .await?;
        Ok(n > 0)
    }

    async fn oauth_flow_handle_consent(&self, app: AppKey<'_>, consent_challenge: &str, handled: &ConsentHandled) -> Result<bool, StorageError> {
        let outcome = handled.outcome.to_stored();
        let n = self
            .oauth_execute(
                |s| &s.flow_handle_consent,
                &[&app.app_id, &consent_challenge, &handled.verifier_hash, &outcome, &handled.gid],
            )
            .await?;
        Ok(n > 0)
    }

    async fn oauth_flow_use_consent_verifier(&self, app: AppKey<'_>, login_challenge: &str, completion: &Completion) -> Result<bool, StorageError> {
        let ctx = (&self.sql.oauth, app.app_id, login_challenge, completion);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, ch, done)| Box::pin(use_consent_verifier(db, sql, app, ch, done))).await
    }

    async fn oauth_redeem_code(&self, app: AppKey<'_>, code_hash: &str, grant: &GrantRecord, issued: &Issued) -> Result<RedeemOutcome, StorageError> {
        let ctx = (&self.sql.oauth, app.app_id, code_hash, grant, issued);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, code, g, i)| Box::pin(redeem_code(db, sql, app, code, g, i))).await
    }

    async fn oauth_grant_by_refresh_hash(&self, app: AppKey<'_>, refresh_hash: &str) -> Result<Option<GrantRecord>, StorageError> {
        let ctx = (&self.sql.oauth, app.app_id, refresh_hash);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, hash)| {
                Box::pin(async move { db.query_opt(&sql.grant_by_refresh, &[app, hash]).await?.as_ref().map(grant_row).transpose() })
            })
            .await
    }

    async fn oauth_refresh(&self, app: AppKey<'_>, write: &RefreshWrite, now_ms: i64) -> Result<bool, StorageError> {
        let jti = format!("{},", write.jti);
        let now_s = now_ms.div_euclid(1000);
        let ctx = (&self.sql.oauth, app.app_id, write, jti, now_s, now_ms);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, w, jti, now_s, now_ms)| {
                Box::pin(async move {
                    let row = db.query_opt(&sql.refresh, &[app, &w.old_hash, &w.new_hash, jti, &w.exp_s, now_s, now_ms]).await?;
                    Ok(row.is_some())
                })
            })
            .await
    }

    async fn oauth_record_m2m(&self, app: AppKey<'_>, issue: &M2mIssue) -> Result<(), StorageError> {
        let jti = format!("{},", issue.jti);
        self.oauth_execute(|s| &s.m2m_record, &[&issue.gid, &app.app_id, &issue.client_id, &jti, &issue.iat_s, &issue.exp_s]).await.map(drop)
    }

    async fn oauth_grant_jtis(&self, app: AppKey<'_>, gid: &str) -> Result<Option<String>, StorageError> {
        let ctx = (&self.sql.oauth, app.app_id, gid);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, gid)| {
                Box::pin(async move { Ok(db.query_opt(&sql.grant_jtis, &[app, gid]).await?.map(|r| r.try_get(0)).transpose()?) })
            })
            .await
    }

    async fn oauth_revoke_grant(&self, app: AppKey<'_>, gid: &str) -> Result<bool, StorageError> {
        Ok(self.oauth_execute(|s| &s.revoke_grant, &[&app.app_id, &gid]).await? > 0)
    }

    async fn oauth_revoke_access_token(&self, app: AppKey<'_>, gid: &str, jti: &str) -> Result<bool, StorageError> {
        let needle = format!("{jti},");
        Ok(self.oauth_execute(|s| &s.revoke_access, &[&app.app_id, &gid, &needle]).await? > 0)
    }

    async fn oauth_revoke_by_client(&self, app: AppKey<'_>, client_id: &str) -> Result<u64, StorageError> {
        self.oauth_execute(|s| &s.revoke_by_client, &[&app.app_id, &client_id]).await
    }

    async fn oauth_revoke_by_session_handle(&self, app: AppKey<'_>, session_handle: &str) -> Result<u64, StorageError> {
        self.oauth_execute(|s| &s.revoke_by_session, &[&app.app_id, &session_handle]).await
    }

    async fn oauth_consent_get(&self, app: AppKey<'_>, client_id: &str, subject: &str) -> Result<Option<RememberedConsent>, StorageError> {
        let ctx = (&self.sql.oauth, app.app_id, client_id, subject);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, client, subject)| {
                Box::pin(async move {
                    let Some(r) = db.query_opt(&sql.consent_get, &[app, client, subject]).await? else { return Ok(None) };
                    Ok(Some(RememberedConsent {
                        client_id: r.try_get(0)?,
                        subject: r.try_get(1)?,
                        scopes: split_spaces(r.try_get(2)?),
                        audience: from_stored_json(r.try_get(3)?, "consent audience").map_err(WorkError::Invalid)?,
                        remember_until: r.try_get(4)?,
                        time_created: r.try_get(5)?,
                    }))
                })
            })
            .await
    }

    async fn oauth_logout_challenge_insert(&self, app: AppKey<'_>, l: &LogoutChallenge) -> Result<(), StorageError> {
        self.oauth_execute(
            |s| &s.logout_insert,
            &[&app.app_id, &l.challenge, &l.client_id, &l.post_logout_redirect_uri, &l.session_handle, &l.state, &l.time_created],
        )
        .await
        .map(drop)
    }

    async fn oauth_logout_accept(&self, app: AppKey<'_>, challenge: &str, created_after: i64) -> Result<Option<LogoutChallenge>, StorageError> {
        let ctx = (&self.sql.oauth, app.app_id, challenge, created_after);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, ch, after)| Box::pin(logout_accept(db, sql, app, ch, *after))).await
    }

    async fn oauth_logout_reject(&self, app: AppKey<'_>, challenge: &str) -> Result<bool, StorageError> {
        Ok(self.oauth_execute(|s| &s.logout_reject, &[&app.app_id, &challenge]).await? > 0)
    }

    async fn oauth_cleanup(&self, app: AppKey<'_>, now_ms: i64) -> Result<Cleaned, StorageError> {
        let ctx = (&self.sql.oauth, app.app_id, now_ms);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, now)| Box::pin(cleanup(db, sql, app, *now))).await
    }
}
