//! The OAuth2 provider's tables in SQLite (`schema_oauth.sql`): SQL and row mapping for
//! `portcullis_core::oauth::storage::OAuthStorage`. Units of more than one statement run in one
//! IMMEDIATE transaction; single-use steps are one conditional `UPDATE` whose row count decides.

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::oauth::authorize::{AuthRequest, Completion, ConsentOutcome, ConsentStart, Flow, LoginOutcome, RememberedConsent};
use portcullis_core::oauth::challenges::{ConsentHandled, LoginHandled};
use portcullis_core::oauth::claims::{GrantRecord, IdClaims, Issued, TokenExt};
use portcullis_core::oauth::client::{Client, ClientConfig, ListQuery};
use portcullis_core::oauth::defaults::{EXPIRED_GRANT_RETENTION_MS, LOGOUT_CHALLENGE_LIFESPAN_MS};
use portcullis_core::oauth::logout::LogoutChallenge;
use portcullis_core::oauth::split_spaces;
use portcullis_core::oauth::storage::{from_stored_json, to_stored_json, Cleaned, CreateClientOutcome, OAuthStorage, RedeemOutcome};
use portcullis_core::oauth::token::{M2mIssue, RefreshWrite};
use portcullis_core::storage::StorageError;
use rusqlite::{params, OptionalExtension, Row, Transaction};

use crate::{query_err, SqliteStorage};

/// A stored JSON document that does not parse: reported as a query error (never its content).
fn bad(what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
}

fn from_json<T: for<'de> portcullis_core::oauth::storage::Deserialize<'de>>(text: &str, what: &str) -> rusqlite::Result<T> {
    from_stored_json(text, what).map_err(bad)
}

const CLIENT_COLUMNS: &str = "c.client_id, c.client_secret, c.enable_refresh_token_rotation, g.config, g.created_at, g.updated_at";
const CLIENT_FROM: &str = "oauth_clients c JOIN oauth_client_configs g ON g.app_id = c.app_id AND g.client_id = c.client_id";

fn client_row(r: &Row<'_>) -> rusqlite::Result<Client> {
    let config: String = r.get(3)?;
    Ok(Client {
        client_id: r.get(0)?,
        secret_hash: r.get(1)?,
        enable_refresh_token_rotation: r.get(2)?,
        config: ClientConfig::from_stored(&config).map_err(bad)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

const FLOW_COLUMNS: &str = "login_challenge, client_id, request, requested_at, login_csrf, login_verifier_hash, login_outcome, \
     login_verifier_used, consent_challenge, consent_csrf, consent_skip, consent_verifier_hash, consent_outcome, \
     consent_verifier_used, gid, code_hash, code_expires_at, code_used, expires_at";

fn flow_row(r: &Row<'_>) -> rusqlite::Result<Flow> {
    let request: String = r.get(2)?;
    let login: Option<String> = r.get(6)?;
    let consent: Option<String> = r.get(12)?;
    Ok(Flow {
        login_challenge: r.get(0)?,
        client_id: r.get(1)?,
        request: AuthRequest::from_stored(&request).map_err(bad)?,
        requested_at: r.get(3)?,
        login_csrf: r.get(4)?,
        login_verifier_hash: r.get(5)?,
        login: login.as_deref().map(LoginOutcome::from_stored).transpose().map_err(bad)?,
        login_verifier_used: r.get(7)?,
        consent_challenge: r.get(8)?,
        consent_csrf: r.get(9)?,
        consent_skip: r.get(10)?,
        consent_verifier_hash: r.get(11)?,
        consent: consent.as_deref().map(ConsentOutcome::from_stored).transpose().map_err(bad)?,
        consent_verifier_used: r.get(13)?,
        gid: r.get(14)?,
        code_hash: r.get(15)?,
        code_expires_at: r.get(16)?,
        code_used: r.get(17)?,
        expires_at: r.get(18)?,
    })
}

const GRANT_COLUMNS: &str = "s.gid, s.client_id, g.subject, g.granted_scope, g.granted_audience, g.access_token_ext, \
     g.id_token_claims, g.created_at, s.exp";
const GRANT_FROM: &str = "oauth_sessions s JOIN oauth_grants g ON g.gid = s.gid";

fn grant_row(r: &Row<'_>) -> rusqlite::Result<GrantRecord> {
    let scope: String = r.get(3)?;
    let audience: String = r.get(4)?;
    let ext: String = r.get(5)?;
    let id: String = r.get(6)?;
    Ok(GrantRecord {
        gid: r.get(0)?,
        client_id: r.get(1)?,
        subject: r.get(2)?,
        scopes: split_spaces(&scope),
        audience: from_json(&audience, "grant audience")?,
        ext: from_json::<TokenExt>(&ext, "grant claims")?,
        id_claims: from_json::<IdClaims>(&id, "grant ID token claims")?,
        created_at: r.get(7)?,
        exp_s: r.get(8)?,
    })
}

/// Records the grant of issued user tokens: the `oauth_sessions` row (appending the token's jti to an
/// existing one) and its `oauth_grants` row.
fn upsert_grant(tx: &Transaction<'_>, app: &str, grant: &GrantRecord, issued: &Issued) -> rusqlite::Result<()> {
    let refresh = issued.refresh.as_ref().map(|r| r.hash.as_str());
    tx.prepare_cached(
        "INSERT INTO oauth_sessions (gid, app_id, client_id, session_handle, external_refresh_token, jti, exp) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (gid) DO UPDATE SET \
         external_refresh_token = COALESCE(excluded.external_refresh_token, oauth_sessions.external_refresh_token), \
         jti = oauth_sessions.jti || excluded.jti, exp = excluded.exp",
    )?
    .execute(params![
        grant.gid,
        app,
        grant.client_id,
        grant.ext.session_handle,
        refresh,
        format!("{},", issued.jti),
        issued.session_exp_s()
    ])?;
    tx.prepare_cached(
        "INSERT INTO oauth_grants (gid, app_id, subject, granted_scope, granted_audience, access_token_ext, id_token_claims, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (gid) DO UPDATE SET created_at = excluded.created_at",
    )?
    .execute(params![
        grant.gid,
        app,
        grant.subject,
        grant.scopes.join(" "),
        to_stored_json(&grant.audience),
        to_stored_json(&grant.ext),
        to_stored_json(&grant.id_claims),
        grant.created_at
    ])?;
    Ok(())
}

fn flow_by(c: &rusqlite::Connection, column: &str, app: &str, value: &str) -> rusqlite::Result<Option<Flow>> {
    c.prepare_cached(&format!("SELECT {FLOW_COLUMNS} FROM oauth_flows WHERE app_id = ?1 AND {column} = ?2"))?
        .query_row(params![app, value], flow_row)
        .optional()
}

impl SqliteStorage {
    async fn oauth_flow_by(&self, column: &'static str, app: AppKey<'_>, value: &str) -> Result<Option<Flow>, StorageError> {
        let (app, value) = (app.app_id.to_owned(), value.to_owned());
        self.with_conn(move |c| flow_by(c, column, &app, &value).map_err(query_err)).await
    }

    /// One statement; returns the number of rows it changed.
    async fn oauth_execute(&self, sql: &'static str, values: Vec<rusqlite::types::Value>) -> Result<usize, StorageError> {
        self.with_conn(move |c| {
            c.prepare_cached(sql).and_then(|mut st| st.execute(rusqlite::params_from_iter(values))).map_err(query_err)
        })
        .await
    }
}

fn text(s: &str) -> rusqlite::types::Value {
    rusqlite::types::Value::Text(s.to_owned())
}

fn opt_text(s: Option<&str>) -> rusqlite::types::Value {
    s.map_or(rusqlite::types::Value::Null, text)
}

fn int(i: i64) -> rusqlite::types::Value {
    rusqlite::types::Value::Integer(i)
}

#[async_trait]
impl OAuthStorage for SqliteStorage {
    async fn oauth_client_get(&self, app: AppKey<'_>, client_id: &str) -> Result<Option<Client>, StorageError> {
        let (app, id) = (app.app_id.to_owned(), client_id.to_owned());
        self.with_conn(move |c| {
            c.prepare_cached(&format!("SELECT {CLIENT_COLUMNS} FROM {CLIENT_FROM} WHERE c.app_id = ?1 AND c.client_id = ?2"))
                .and_then(|mut st| st.query_row(params![app, id], client_row).optional())
                .map_err(query_err)
        })
        .await
    }

    async fn oauth_client_create(&self, app: AppKey<'_>, client: &Client) -> Result<CreateClientOutcome, StorageError> {
        let (app, client) = (app.app_id.to_owned(), client.clone());
        self.in_transaction(move |tx| {
            let has_config = tx
                .prepare_cached("SELECT 1 FROM oauth_client_configs WHERE app_id = ?1 AND client_id = ?2")?
                .exists(params![app, client.client_id])?;
            if has_config {
                return Ok(CreateClientOutcome::AlreadyExists);
            }
            // A config-less row can only be the Java core's: adopted (see the trait's module doc).
            tx.prepare_cached(
                "INSERT INTO oauth_clients (app_id, client_id, client_secret, enable_refresh_token_rotation, is_client_credentials_only) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (app_id, client_id) DO UPDATE SET client_secret = excluded.client_secret, \
                 enable_refresh_token_rotation = excluded.enable_refresh_token_rotation, \
                 is_client_credentials_only = excluded.is_client_credentials_only",
            )?
            .execute(params![
                app,
                client.client_id,
                client.secret_hash,
                client.enable_refresh_token_rotation,
                client.is_client_credentials_only()
            ])?;
            tx.prepare_cached(
                "INSERT INTO oauth_client_configs (app_id, client_id, client_name, config, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                app,
                client.client_id,
                client.config.client_name,
                client.config.to_stored(),
                client.created_at,
                client.updated_at
            ])?;
            Ok(CreateClientOutcome::Created)
        })
        .await
    }

    async fn oauth_client_update(&self, app: AppKey<'_>, client: &Client) -> Result<bool, StorageError> {
        let (app, client) = (app.app_id.to_owned(), client.clone());
        self.in_transaction(move |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE oauth_client_configs SET client_name = ?3, config = ?4, updated_at = ?5 WHERE app_id = ?1 AND client_id = ?2",
                )?
                .execute(params![app, client.client_id, client.config.client_name, client.config.to_stored(), client.updated_at])?;
            if n == 0 {
                return Ok(false);
            }
            tx.prepare_cached(
                "UPDATE oauth_clients SET client_secret = ?3, enable_refresh_token_rotation = ?4, is_client_credentials_only = ?5 \
                 WHERE app_id = ?1 AND client_id = ?2",
            )?
            .execute(params![
                app,
                client.client_id,
                client.secret_hash,
                client.enable_refresh_token_rotation,
                client.is_client_credentials_only()
            ])?;
            Ok(true)
        })
        .await
    }

    async fn oauth_client_list(&self, app: AppKey<'_>, query: &ListQuery) -> Result<Vec<Client>, StorageError> {
        let (app, q) = (app.app_id.to_owned(), query.clone());
        self.with_conn(move |c| {
            let limit = i64::try_from(q.page_size).unwrap_or(i64::MAX).saturating_add(1);
            c.prepare_cached(&format!(
                "SELECT {CLIENT_COLUMNS} FROM {CLIENT_FROM} WHERE c.app_id = ?1 AND (?2 IS NULL OR c.client_id > ?2) \
                 AND (?3 IS NULL OR g.client_name = ?3) ORDER BY c.client_id LIMIT ?4"
            ))
            .and_then(|mut st| st.query_map(params![app, q.after, q.client_name, limit], client_row)?.collect())
            .map_err(query_err)
        })
        .await
    }

    async fn oauth_client_remove(&self, app: AppKey<'_>, client_id: &str) -> Result<bool, StorageError> {
        let n = self
            .oauth_execute("DELETE FROM oauth_clients WHERE app_id = ?1 AND client_id = ?2", vec![text(app.app_id), text(client_id)])
            .await?;
        Ok(n > 0)
    }

    async fn oauth_flow_insert(&self, app: AppKey<'_>, flow: &Flow) -> Result<(), StorageError> {
        let (app, f) = (app.app_id.to_owned(), flow.clone());
        self.with_conn(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO oauth_flows (app_id, {FLOW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ))
            .and_then(|mut st| {
                st.execute(params![
                    app,
                    f.login_challenge,
                    f.client_id,
                    f.request.to_stored(),
                    f.requested_at,
                    f.login_csrf,
                    f.login_verifier_hash,
                    f.login.as_ref().map(LoginOutcome::to_stored),
                    f.login_verifier_used,
                    f.consent_challenge,
                    f.consent_csrf,
                    f.consent_skip,
                    f.consent_verifier_hash,
                    f.consent.as_ref().map(ConsentOutcome::to_stored),
                    f.consent_verifier_used,
                    f.gid,
                    f.code_hash,
                    f.code_expires_at,
                    f.code_used,
                    f.expires_at
                ])
            })
            .map(|_| ())
            .map_err(query_err)
        })
        .await
    }

    async fn oauth_flow_by_login_challenge(&self, app: AppKey<'_>, challenge: &str) -> Result<Option<Flow>, StorageError> {
        self.oauth_flow_by("login_challenge", app, challenge).await
    }

    async fn oauth_flow_by_consent_challenge(&self, app: AppKey<'_>, challenge: &str) -> Result<Option<Flow>, StorageError> {
        self.oauth_flow_by("consent_challenge", app, challenge).await
    }

    async fn oauth_flow_by_login_verifier(&self, app: AppKey<'_>, verifier_hash: &str) -> Result<Option<Flow>, StorageError> {
        self.oauth_flow_by("login_verifier_hash", app, verifier_hash).await
    }

    async fn oauth_flow_by_consent_verifier(&self, app: AppKey<'_>, verifier_hash: &str) -> Result<Option<Flow>, StorageError> {
        self.oauth_flow_by("consent_verifier_hash", app, verifier_hash).await
    }

    async fn oauth_flow_by_code(&self, app: AppKey<'_>, code_hash: &str) -> Result<Option<Flow>, StorageError> {
        self.oauth_flow_by("code_hash", app, code_hash).await
    }

    async fn oauth_flow_handle_login(&self, app: AppKey<'_>, login_challenge: &str, handled: &LoginHandled) -> Result<bool, StorageError> {
        let n = self
            .oauth_execute(
                "UPDATE oauth_flows SET login_verifier_hash = ?3, login_outcome = ?4 \
                 WHERE app_id = ?1 AND login_challenge = ?2 AND login_verifier_used = FALSE",
                vec![text(app.app_id), text(login_challenge), text(&handled.verifier_hash), text(&handled.outcome.to_stored())],
            )
            .await?;
        Ok(n > 0)
    }

    async fn oauth_flow_use_login_verifier(&self, app: AppKey<'_>, login_challenge: &str, start: &ConsentStart) -> Result<bool, StorageError> {
        let n = self
            .oauth_execute(
                "UPDATE oauth_flows SET login_verifier_used = TRUE, consent_challenge = ?3, consent_csrf = ?4, consent_skip = ?5 \
                 WHERE app_id = ?1 AND login_challenge = ?2 AND login_verifier_used = FALSE",
                vec![
                    text(app.app_id),
                    text(login_challenge),
                    text(&start.consent_challenge),
                    text(&start.consent_csrf),
                    int(i64::from(start.skip)),
                ],
            )
            .await?;
        Ok(n > 0)
    }

    async fn oauth_flow_handle_consent(&self, app: AppKey<'_>, consent_challenge: &str, handled: &ConsentHandled) -> Result<bool, StorageError> {
        let n = self
            .oauth_execute(
                "UPDATE oauth_flows SET consent_verifier_hash = ?3, consent_outcome = ?4, gid = ?5 \
                 WHERE app_id = ?1 AND consent_challenge = ?2 AND consent_verifier_used = FALSE",
                vec![
                    text(app.app_id),
                    text(consent_challenge),
                    text(&handled.verifier_hash),
                    text(&handled.outcome.to_stored()),
                    opt_text(handled.gid.as_deref()),
                ],
            )
            .await?;
        Ok(n > 0)
    }

    async fn oauth_flow_use_consent_verifier(&self, app: AppKey<'_>, login_challenge: &str, completion: &Completion) -> Result<bool, StorageError> {
        let (app, challenge, done) = (app.app_id.to_owned(), login_challenge.to_owned(), completion.clone());
        self.in_transaction(move |tx| {
            let code = done.code.as_ref();
            let n = tx
                .prepare_cached(
                    "UPDATE oauth_flows SET consent_verifier_used = TRUE, code_hash = ?3, code_expires_at = ?4, expires_at = ?5 \
                     WHERE app_id = ?1 AND login_challenge = ?2 AND consent_verifier_used = FALSE",
                )?
                .execute(params![app, challenge, code.map(|c| &c.hash), code.map(|c| c.expires_at), done.flow_expires_at])?;
            if n == 0 {
                return Ok(false);
            }
            if let Some(r) = &done.remember {
                tx.prepare_cached(
                    "INSERT INTO oauth_consents (app_id, client_id, subject, granted_scope, granted_audience, remember_until, time_created) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (app_id, client_id, subject) DO UPDATE SET \
                     granted_scope = excluded.granted_scope, granted_audience = excluded.granted_audience, \
                     remember_until = excluded.remember_until, time_created = excluded.time_created",
                )?
                .execute(params![app, r.client_id, r.subject, r.scopes.join(" "), to_stored_json(&r.audience), r.remember_until, r.time_created])?;
            }
            if let Some((grant, issued)) = &done.grant {
                upsert_grant(tx, &app, grant, issued)?;
            }
            Ok(true)
        })
        .await
    }

    async fn oauth_redeem_code(&self, app: AppKey<'_>, code_hash: &str, grant: &GrantRecord, issued: &Issued) -> Result<RedeemOutcome, StorageError> {
        let (app, code, grant, issued) = (app.app_id.to_owned(), code_hash.to_owned(), grant.clone(), issued.clone());
        self.in_transaction(move |tx| {
            let n = tx
                .prepare_cached("UPDATE oauth_flows SET code_used = TRUE WHERE app_id = ?1 AND code_hash = ?2 AND code_used = FALSE")?
                .execute(params![app, code])?;
            if n == 0 {
                return Ok(RedeemOutcome::AlreadyUsed);
            }
            upsert_grant(tx, &app, &grant, &issued)?;
            Ok(RedeemOutcome::Redeemed)
        })
        .await
    }

    async fn oauth_grant_by_refresh_hash(&self, app: AppKey<'_>, refresh_hash: &str) -> Result<Option<GrantRecord>, StorageError> {
        let (app, hash) = (app.app_id.to_owned(), refresh_hash.to_owned());
        self.with_conn(move |c| {
            c.prepare_cached(&format!("SELECT {GRANT_COLUMNS} FROM {GRANT_FROM} WHERE s.app_id = ?1 AND s.external_refresh_token = ?2"))
                .and_then(|mut st| st.query_row(params![app, hash], grant_row).optional())
                .map_err(query_err)
        })
        .await
    }

    async fn oauth_refresh(&self, app: AppKey<'_>, write: &RefreshWrite, now_ms: i64) -> Result<bool, StorageError> {
        let (app, w) = (app.app_id.to_owned(), write.clone());
        self.in_transaction(move |tx| {
            let gid: Option<String> = tx
                .prepare_cached(
                    "UPDATE oauth_sessions SET external_refresh_token = COALESCE(?3, external_refresh_token), jti = jti || ?4, exp = ?5 \
                     WHERE app_id = ?1 AND external_refresh_token = ?2 AND exp >= ?6 RETURNING gid",
                )?
                .query_row(params![app, w.old_hash, w.new_hash, format!("{},", w.jti), w.exp_s, now_ms.div_euclid(1000)], |r| r.get(0))
                .optional()?;
            let Some(gid) = gid else { return Ok(false) };
            tx.prepare_cached("UPDATE oauth_grants SET created_at = ?2 WHERE gid = ?1")?.execute(params![gid, now_ms])?;
            Ok(true)
        })
        .await
    }

    async fn oauth_record_m2m(&self, app: AppKey<'_>, issue: &M2mIssue) -> Result<(), StorageError> {
        let (app, m) = (app.app_id.to_owned(), issue.clone());
        self.in_transaction(move |tx| {
            tx.prepare_cached("INSERT INTO oauth_sessions (gid, app_id, client_id, jti, exp) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![m.gid, app, m.client_id, format!("{},", m.jti), m.exp_s])?;
            tx.prepare_cached("INSERT INTO oauth_m2m_tokens (app_id, client_id, iat, exp) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")?
                .execute(params![app, m.client_id, m.iat_s, m.exp_s])?;
            Ok(())
        })
        .await
    }

    async fn oauth_grant_jtis(&self, app: AppKey<'_>, gid: &str) -> Result<Option<String>, StorageError> {
        let (app, gid) = (app.app_id.to_owned(), gid.to_owned());
        self.with_conn(move |c| {
            c.prepare_cached("SELECT jti FROM oauth_sessions WHERE gid = ?2 AND app_id = ?1")
                .and_then(|mut st| st.query_row(params![app, gid], |r| r.get(0)).optional())
                .map_err(query_err)
        })
        .await
    }

    async fn oauth_revoke_grant(&self, app: AppKey<'_>, gid: &str) -> Result<bool, StorageError> {
        let n = self.oauth_execute("DELETE FROM oauth_sessions WHERE gid = ?2 AND app_id = ?1", vec![text(app.app_id), text(gid)]).await?;
        Ok(n > 0)
    }

    async fn oauth_revoke_access_token(&self, app: AppKey<'_>, gid: &str, jti: &str) -> Result<bool, StorageError> {
        let n = self
            .oauth_execute(
                "UPDATE oauth_sessions SET jti = REPLACE(jti, ?3, '') WHERE gid = ?2 AND app_id = ?1 AND instr(jti, ?3) > 0",
                vec![text(app.app_id), text(gid), text(&format!("{jti},"))],
            )
            .await?;
        Ok(n > 0)
    }

    async fn oauth_revoke_by_client(&self, app: AppKey<'_>, client_id: &str) -> Result<u64, StorageError> {
        let n = self
            .oauth_execute("DELETE FROM oauth_sessions WHERE app_id = ?1 AND client_id = ?2", vec![text(app.app_id), text(client_id)])
            .await?;
        Ok(n as u64)
    }

    async fn oauth_revoke_by_session_handle(&self, app: AppKey<'_>, session_handle: &str) -> Result<u64, StorageError> {
        let n = self
            .oauth_execute(
                "DELETE FROM oauth_sessions WHERE app_id = ?1 AND session_handle = ?2",
                vec![text(app.app_id), text(session_handle)],
            )
            .await?;
        Ok(n as u64)
    }

    async fn oauth_consent_get(&self, app: AppKey<'_>, client_id: &str, subject: &str) -> Result<Option<RememberedConsent>, StorageError> {
        let (app, client, subject) = (app.app_id.to_owned(), client_id.to_owned(), subject.to_owned());
        self.with_conn(move |c| {
            c.prepare_cached(
                "SELECT client_id, subject, granted_scope, granted_audience, remember_until, time_created FROM oauth_consents \
                 WHERE app_id = ?1 AND client_id = ?2 AND subject = ?3",
            )
            .and_then(|mut st| {
                st.query_row(params![app, client, subject], |r| {
                    let scope: String = r.get(2)?;
                    let audience: String = r.get(3)?;
                    Ok(RememberedConsent {
                        client_id: r.get(0)?,
                        subject: r.get(1)?,
                        scopes: split_spaces(&scope),
                        audience: from_json(&audience, "consent audience")?,
                        remember_until: r.get(4)?,
                        time_created: r.get(5)?,
                    })
                })
                .optional()
            })
            .map_err(query_err)
        })
        .await
    }

    async fn oauth_logout_challenge_insert(&self, app: AppKey<'_>, challenge: &LogoutChallenge) -> Result<(), StorageError> {
        let l = challenge;
        self.oauth_execute(
            "INSERT INTO oauth_logout_challenges (app_id, challenge, client_id, post_logout_redirect_uri, session_handle, state, time_created) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            vec![
                text(app.app_id),
                text(&l.challenge),
                text(&l.client_id),
                opt_text(l.post_logout_redirect_uri.as_deref()),
                opt_text(l.session_handle.as_deref()),
                opt_text(l.state.as_deref()),
                int(l.time_created),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn oauth_logout_accept(&self, app: AppKey<'_>, challenge: &str, created_after: i64) -> Result<Option<LogoutChallenge>, StorageError> {
        let (app, challenge) = (app.app_id.to_owned(), challenge.to_owned());
        self.in_transaction(move |tx| {
            let taken = tx
                .prepare_cached(
                    "DELETE FROM oauth_logout_challenges WHERE app_id = ?1 AND challenge = ?2 AND time_created >= ?3 \
                     RETURNING challenge, client_id, post_logout_redirect_uri, session_handle, state, time_created",
                )?
                .query_row(params![app, challenge, created_after], |r| {
                    Ok(LogoutChallenge {
                        challenge: r.get(0)?,
                        client_id: r.get(1)?,
                        post_logout_redirect_uri: r.get(2)?,
                        session_handle: r.get(3)?,
                        state: r.get(4)?,
                        time_created: r.get(5)?,
                    })
                })
                .optional()?;
            if let Some(handle) = taken.as_ref().and_then(|l| l.session_handle.as_deref()) {
                tx.prepare_cached("DELETE FROM oauth_sessions WHERE app_id = ?1 AND session_handle = ?2")?.execute(params![app, handle])?;
            }
            Ok(taken)
        })
        .await
    }

    async fn oauth_logout_reject(&self, app: AppKey<'_>, challenge: &str) -> Result<bool, StorageError> {
        let n = self
            .oauth_execute("DELETE FROM oauth_logout_challenges WHERE app_id = ?1 AND challenge = ?2", vec![text(app.app_id), text(challenge)])
            .await?;
        Ok(n > 0)
    }

    async fn oauth_cleanup(&self, app: AppKey<'_>, now_ms: i64) -> Result<Cleaned, StorageError> {
        let app = app.app_id.to_owned();
        self.in_transaction(move |tx| {
            let grant_cutoff_s = (now_ms - EXPIRED_GRANT_RETENTION_MS).div_euclid(1000);
            let run = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<u64> { Ok(tx.prepare_cached(sql)?.execute(p)? as u64) };
            Ok(Cleaned {
                grants: run("DELETE FROM oauth_sessions WHERE app_id = ?1 AND exp < ?2", &[&app, &grant_cutoff_s])?,
                m2m_tokens: run("DELETE FROM oauth_m2m_tokens WHERE app_id = ?1 AND exp < ?2", &[&app, &grant_cutoff_s])?,
                logout_challenges: run(
                    "DELETE FROM oauth_logout_challenges WHERE app_id = ?1 AND time_created < ?2",
                    &[&app, &(now_ms - LOGOUT_CHALLENGE_LIFESPAN_MS)],
                )?,
                flows: run("DELETE FROM oauth_flows WHERE app_id = ?1 AND expires_at < ?2", &[&app, &now_ms])?,
                consents: run("DELETE FROM oauth_consents WHERE app_id = ?1 AND remember_until < ?2", &[&app, &now_ms])?,
            })
        })
        .await
    }
}
