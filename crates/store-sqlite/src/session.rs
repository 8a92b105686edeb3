//! Sessions, signing keys and last-active times in SQLite.

use std::sync::LazyLock;

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::session::signing_keys::DynamicKey;
use portcullis_core::session::storage::{SessionRow, SessionStorage, SessionUser, StaticKey, TenantScope};
use portcullis_core::storage::StorageError;
use rusqlite::{params, OptionalExtension};

use crate::{query_err, SqliteStorage};

const SESSION_COLUMNS: &str = "tenant_id, session_handle, user_id, refresh_token_hash_2, session_data, expires_at,
     created_at_time, jwt_user_payload, use_static_key";

/// The primary user of the session's user (external when mapped), as a correlated subquery on
/// `session_info s`: the stored id may be external, so it is mapped back first.
const PRIMARY_OF_SESSION_USER: &str = "(SELECT COALESCE(pm.external_user_id, a.primary_or_recipe_user_id)
     FROM app_id_to_user_id a
     LEFT JOIN userid_mapping pm ON pm.app_id = a.app_id AND pm.supertokens_user_id = a.primary_or_recipe_user_id
     WHERE a.app_id = s.app_id AND a.user_id = COALESCE(
         (SELECT m.supertokens_user_id FROM userid_mapping m WHERE m.app_id = s.app_id AND m.external_user_id = s.user_id),
         s.user_id))";

fn user_id_of(r: &rusqlite::Row<'_>) -> String {
    r.get(2).unwrap_or_default()
}

fn session_row(r: &rusqlite::Row<'_>) -> Result<SessionRow, rusqlite::Error> {
    Ok(SessionRow {
        tenant_id: r.get(0)?,
        handle: r.get(1)?,
        user_id: r.get(2)?,
        refresh_token_hash_2: r.get(3)?,
        session_data: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        expires_at: r.get(5)?,
        created_at: r.get(6)?,
        jwt_user_payload: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        use_static_key: r.get(8)?,
        primary_user_id: r.get::<_, Option<String>>(9).ok().flatten().filter(|p| p != &user_id_of(r)),
    })
}

const INSERT_SESSION: &str = "INSERT INTO session_info (app_id, tenant_id, session_handle, user_id, refresh_token_hash_2,
     session_data, expires_at, created_at_time, jwt_user_payload, use_static_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// The mapping of the given id (the SuperTokens side first, as `pick_any`), and the primary user of
/// its group, external when mapped.
const SESSION_USER: &str = "WITH m AS (SELECT supertokens_user_id, external_user_id FROM userid_mapping
         WHERE app_id = ?1 AND (supertokens_user_id = ?2 OR external_user_id = ?2)
         ORDER BY supertokens_user_id = ?2 DESC LIMIT 1)
     SELECT (SELECT external_user_id FROM m),
         (SELECT COALESCE(pm.external_user_id, a.primary_or_recipe_user_id)
          FROM app_id_to_user_id a
          LEFT JOIN userid_mapping pm ON pm.app_id = a.app_id AND pm.supertokens_user_id = a.primary_or_recipe_user_id
          WHERE a.app_id = ?1 AND a.user_id = COALESCE((SELECT supertokens_user_id FROM m), ?2))";

const PROMOTE: &str = "UPDATE session_info SET refresh_token_hash_2 = ?5, expires_at = ?6
     WHERE app_id = ?1 AND tenant_id = ?2 AND session_handle = ?3 AND refresh_token_hash_2 = ?4 AND expires_at >= ?7";

/// A session with its primary user.
fn select_session(c: &rusqlite::Connection, app: &str, tenant: &str, handle: &str) -> Result<Option<SessionRow>, StorageError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {SESSION_COLUMNS}, {PRIMARY_OF_SESSION_USER} FROM session_info s WHERE app_id = ?1 AND tenant_id = ?2 AND session_handle = ?3")
    });
    c.prepare_cached(&SQL).and_then(|mut st| st.query_row(params![app, tenant, handle], session_row).optional()).map_err(query_err)
}

fn owned(s: &str) -> String {
    s.to_owned()
}

#[async_trait]
impl SessionStorage for SqliteStorage {
    async fn session_insert(&self, AppKey { app_id }: AppKey<'_>, row: &SessionRow) -> Result<(), StorageError> {
        let (app, r) = (owned(app_id), row.clone());
        self.with_conn(move |c| {
            c.prepare_cached(INSERT_SESSION)
                .and_then(|mut st| {
                    st.execute(params![
                        app,
                        r.tenant_id,
                        r.handle,
                        r.user_id,
                        r.refresh_token_hash_2,
                        r.session_data,
                        r.expires_at,
                        r.created_at,
                        r.jwt_user_payload,
                        r.use_static_key
                    ])
                })
                .map(|_| ())
                .map_err(query_err)
        })
        .await
    }

    async fn session_user(&self, AppKey { app_id }: AppKey<'_>, given: &str) -> Result<SessionUser, StorageError> {
        let (a, g) = (owned(app_id), owned(given));
        self.with_conn(move |c| {
            let (mapped, primary): (Option<String>, Option<String>) = c
                .prepare_cached(SESSION_USER)
                .and_then(|mut st| st.query_row(params![a, g], |r| Ok((r.get(0)?, r.get(1)?))))
                .map_err(query_err)?;
            Ok(SessionUser { user_id: mapped.unwrap_or(g), primary_user_id: primary })
        })
        .await
    }

    async fn session_get(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, handle: &str) -> Result<Option<SessionRow>, StorageError> {
        let (a, t, h) = (owned(app_id), owned(tenant_id), owned(handle));
        self.with_conn(move |c| select_session(c, &a, &t, &h)).await
    }

    async fn session_promote(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        handle: &str,
        parent_hash_2: &str,
        new_hash_2: &str,
        new_expires_at: i64,
        live_at: i64,
    ) -> Result<Option<(SessionRow, bool)>, StorageError> {
        let (a, t, h, parent, new) = (owned(app_id), owned(tenant_id), owned(handle), owned(parent_hash_2), owned(new_hash_2));
        // The one connection is held for both statements, so nothing runs between them.
        self.with_conn(move |c| {
            let moved = c
                .prepare_cached(PROMOTE)
                .and_then(|mut st| st.execute(params![a, t, h, parent, new, new_expires_at, live_at]))
                .map_err(query_err)?
                == 1;
            Ok(select_session(c, &a, &t, &h)?.map(|row| (row, moved)))
        })
        .await
    }

    async fn session_replace_refresh_hash(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        handle: &str,
        expected_hash_2: &str,
        new_hash_2: &str,
        new_expires_at: i64,
    ) -> Result<bool, StorageError> {
        let (a, t, h, old, new) = (owned(app_id), owned(tenant_id), owned(handle), owned(expected_hash_2), owned(new_hash_2));
        self.with_conn(move |c| {
            c.execute(
                "UPDATE session_info SET refresh_token_hash_2 = ?5, expires_at = ?6
                 WHERE app_id = ?1 AND tenant_id = ?2 AND session_handle = ?3 AND refresh_token_hash_2 = ?4",
                params![a, t, h, old, new, new_expires_at],
            )
            .map(|n| n == 1)
            .map_err(query_err)
        })
        .await
    }

    async fn session_set_use_static_key(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, handle: &str, value: bool) -> Result<(), StorageError> {
        let (a, t, h) = (owned(app_id), owned(tenant_id), owned(handle));
        self.with_conn(move |c| {
            c.execute(
                "UPDATE session_info SET use_static_key = ?4 WHERE app_id = ?1 AND tenant_id = ?2 AND session_handle = ?3",
                params![a, t, h, value],
            )
            .map(|_| ())
            .map_err(query_err)
        })
        .await
    }

    async fn session_update_data(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, handle: &str, data: &str) -> Result<bool, StorageError> {
        let (a, t, h, d) = (owned(app_id), owned(tenant_id), owned(handle), owned(data));
        self.with_conn(move |c| {
            c.execute(
                "UPDATE session_info SET session_data = ?4 WHERE app_id = ?1 AND tenant_id = ?2 AND session_handle = ?3",
                params![a, t, h, d],
            )
            .map(|n| n == 1)
            .map_err(query_err)
        })
        .await
    }

    async fn session_update_jwt_payload(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, handle: &str, payload: &str) -> Result<bool, StorageError> {
        let (a, t, h, p) = (owned(app_id), owned(tenant_id), owned(handle), owned(payload));
        self.with_conn(move |c| {
            c.execute(
                "UPDATE session_info SET jwt_user_payload = ?4 WHERE app_id = ?1 AND tenant_id = ?2 AND session_handle = ?3",
                params![a, t, h, p],
            )
            .map(|n| n == 1)
            .map_err(query_err)
        })
        .await
    }

    async fn session_delete(&self, AppKey { app_id }: AppKey<'_>, sessions: &[(String, String)]) -> Result<Vec<String>, StorageError> {
        let (app, sessions) = (owned(app_id), sessions.to_vec());
        self.in_transaction(move |tx| {
            let mut deleted = Vec::new();
            for (tenant, handle) in &sessions {
                let n = tx.execute(
                    "DELETE FROM session_info WHERE app_id = ?1 AND tenant_id = ?2 AND session_handle = ?3",
                    params![app, tenant, handle],
                )?;
                if n > 0 {
                    deleted.push(handle.clone());
                }
            }
            Ok(deleted)
        })
        .await
    }

    async fn session_handles_for_user(
        &self,
        AppKey { app_id }: AppKey<'_>,
        scope: TenantScope<'_>,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let (app, user) = (owned(app_id), owned(user_id));
        let tenant = match scope {
            TenantScope::One(t) => Some(owned(t)),
            TenantScope::AllTenants => None,
        };
        self.with_conn(move |c| {
            let mut st = c
                .prepare(
                    "SELECT tenant_id, session_handle FROM session_info
                     WHERE app_id = ?1 AND user_id = ?2 AND expires_at >= ?3 AND (?4 IS NULL OR tenant_id = ?4)
                     ORDER BY created_at_time",
                )
                .map_err(query_err)?;
            let rows = st.query_map(params![app, user, now, tenant], |r| Ok((r.get(0)?, r.get(1)?))).map_err(query_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
        })
        .await
    }

    async fn session_delete_expired(&self, now: i64) -> Result<u64, StorageError> {
        self.with_conn(move |c| {
            c.execute("DELETE FROM session_info WHERE expires_at <= ?1", params![now]).map(|n| n as u64).map_err(query_err)
        })
        .await
    }

    async fn dynamic_keys(&self, AppKey { app_id }: AppKey<'_>) -> Result<Vec<DynamicKey>, StorageError> {
        let app = owned(app_id);
        self.with_conn(move |c| {
            let mut st = c
                .prepare(
                    "SELECT created_at_time, value FROM session_access_token_signing_keys WHERE app_id = ?1
                     ORDER BY created_at_time DESC",
                )
                .map_err(query_err)?;
            let rows = st
                .query_map(params![app], |r| {
                    Ok(DynamicKey { created_at: r.get(0)?, value: r.get::<_, Option<String>>(1)?.unwrap_or_default() })
                })
                .map_err(query_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
        })
        .await
    }

    async fn dynamic_key_insert(&self, AppKey { app_id }: AppKey<'_>, key: &DynamicKey) -> Result<(), StorageError> {
        let (app, k) = (owned(app_id), key.clone());
        self.with_conn(move |c| {
            c.execute(
                "INSERT INTO session_access_token_signing_keys (app_id, created_at_time, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![app, k.created_at, k.value],
            )
            .map(|_| ())
            .map_err(query_err)
        })
        .await
    }

    async fn dynamic_keys_delete_before(&self, AppKey { app_id }: AppKey<'_>, before: i64) -> Result<u64, StorageError> {
        let app = owned(app_id);
        self.with_conn(move |c| {
            let rsa = c
                .execute("DELETE FROM session_access_token_signing_keys WHERE app_id = ?1 AND created_at_time < ?2", params![app, before])
                .map_err(query_err)?;
            let es256 = c
                .execute(
                    "DELETE FROM jwt_signing_keys WHERE app_id = ?1 AND algorithm = 'ES256' AND key_id LIKE 'd-%' AND created_at < ?2",
                    params![app, before],
                )
                .map_err(query_err)?;
            Ok((rsa + es256) as u64)
        })
        .await
    }

    async fn static_keys(&self, AppKey { app_id }: AppKey<'_>) -> Result<Vec<StaticKey>, StorageError> {
        let app = owned(app_id);
        self.with_conn(move |c| {
            let mut st = c
                .prepare(
                    "SELECT key_id, key_string, algorithm, created_at FROM jwt_signing_keys
                     WHERE app_id = ?1 AND algorithm IN ('RS256', 'ES256') ORDER BY created_at ASC, key_id ASC",
                )
                .map_err(query_err)?;
            let rows = st
                .query_map(params![app], |r| {
                    Ok(StaticKey {
                        key_id: r.get(0)?,
                        key_string: r.get(1)?,
                        algorithm: r.get(2)?,
                        created_at: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                    })
                })
                .map_err(query_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
        })
        .await
    }

    async fn static_key_insert(&self, AppKey { app_id }: AppKey<'_>, key: &StaticKey) -> Result<(), StorageError> {
        let (app, k) = (owned(app_id), key.clone());
        self.with_conn(move |c| {
            c.execute(
                "INSERT INTO jwt_signing_keys (app_id, key_id, key_string, algorithm, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
                params![app, k.key_id, k.key_string, k.algorithm, k.created_at],
            )
            .map(|_| ())
            .map_err(query_err)
        })
        .await
    }

    async fn user_last_active_upsert(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, now: i64) -> Result<(), StorageError> {
        let (app, user) = (owned(app_id), owned(user_id));
        self.with_conn(move |c| {
            c.execute(
                "INSERT INTO user_last_active (app_id, user_id, last_active_time) VALUES (?1, ?2, ?3)
                 ON CONFLICT (app_id, user_id) DO UPDATE SET last_active_time = excluded.last_active_time",
                params![app, user, now],
            )
            .map(|_| ())
            .map_err(query_err)
        })
        .await
    }
}
