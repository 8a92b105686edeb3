//! Account linking's statements in SQLite. Writes are serialised (IMMEDIATE transactions), so each
//! decision is made on what the database holds when it is written: locking is already done.

use async_trait::async_trait;
use portcullis_core::accountlinking::storage::{AccountLinkingTx, Shared};
use portcullis_core::ids::AppKey;
use portcullis_core::storage::StorageError;
use rusqlite::{params, params_from_iter};

use crate::query_err;
use crate::tx::SqliteTx;

/// The primary ids of every user with one piece of account info, app-wide (`?1` the app id).
pub(crate) fn primary_ids_sql(info: Shared<'_>) -> &'static str {
    match info {
        Shared::Email(_) => {
            "SELECT DISTINCT primary_or_recipe_user_id FROM app_id_to_user_id WHERE app_id = ?1 AND user_id IN (
                 SELECT user_id FROM emailpassword_users WHERE app_id = ?1 AND email = ?2
                 UNION SELECT user_id FROM thirdparty_users WHERE app_id = ?1 AND email = ?2
                 UNION SELECT user_id FROM passwordless_users WHERE app_id = ?1 AND email = ?2
                 UNION SELECT user_id FROM webauthn_users WHERE app_id = ?1 AND email = ?2)"
        }
        Shared::PhoneNumber(_) => {
            "SELECT DISTINCT primary_or_recipe_user_id FROM app_id_to_user_id WHERE app_id = ?1 AND user_id IN (
                 SELECT user_id FROM passwordless_users WHERE app_id = ?1 AND phone_number = ?2)"
        }
        Shared::ThirdParty(..) => {
            "SELECT DISTINCT primary_or_recipe_user_id FROM app_id_to_user_id WHERE app_id = ?1 AND user_id IN (
                 SELECT user_id FROM thirdparty_users WHERE app_id = ?1 AND third_party_id = ?2 AND third_party_user_id = ?3)"
        }
    }
}

#[async_trait]
impl AccountLinkingTx for SqliteTx<'_> {
    async fn al_lock(&mut self, _: AppKey<'_>, _: &[&str]) -> Result<(), StorageError> {
        // The IMMEDIATE transaction already excludes every other writer.
        self.conn().map(drop)
    }

    async fn al_primary_ids_with(&mut self, AppKey { app_id }: AppKey<'_>, info: Shared<'_>) -> Result<Vec<String>, StorageError> {
        let values: Vec<&str> = match info {
            Shared::Email(v) | Shared::PhoneNumber(v) => vec![app_id, v],
            Shared::ThirdParty(id, user) => vec![app_id, id, user],
        };
        let c = self.conn()?;
        let read = || -> rusqlite::Result<Vec<String>> {
            let mut st = c.prepare_cached(primary_ids_sql(info))?;
            let ids = st.query_map(params_from_iter(values), |r| r.get(0))?;
            ids.collect()
        };
        read().map_err(query_err)
    }

    async fn al_set_linked(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, primary_user_id: &str, linked: bool) -> Result<(), StorageError> {
        let c = self.conn()?;
        for sql in [
            "UPDATE app_id_to_user_id SET primary_or_recipe_user_id = ?3, is_linked_or_is_a_primary_user = ?4 WHERE app_id = ?1 AND user_id = ?2",
            "UPDATE all_auth_recipe_users SET primary_or_recipe_user_id = ?3, is_linked_or_is_a_primary_user = ?4 WHERE app_id = ?1 AND user_id = ?2",
        ] {
            c.execute(sql, params![app_id, user_id, primary_user_id, linked]).map_err(query_err)?;
        }
        Ok(())
    }

    async fn al_refresh_group_time(&mut self, AppKey { app_id }: AppKey<'_>, primary_user_id: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "UPDATE all_auth_recipe_users SET primary_or_recipe_user_time_joined =
                    (SELECT MIN(time_joined) FROM all_auth_recipe_users WHERE app_id = ?1 AND primary_or_recipe_user_id = ?2)
                 WHERE app_id = ?1 AND primary_or_recipe_user_id = ?2",
                params![app_id, primary_user_id],
            )
            .map(drop)
            .map_err(query_err)
    }

    async fn al_reset_own_time(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "UPDATE all_auth_recipe_users SET primary_or_recipe_user_time_joined = time_joined WHERE app_id = ?1 AND user_id = ?2",
                params![app_id, user_id],
            )
            .map(drop)
            .map_err(query_err)
    }

    async fn al_forget_activity(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute("DELETE FROM user_last_active WHERE app_id = ?1 AND user_id = ?2", params![app_id, user_id])
            .map(drop)
            .map_err(query_err)
    }
}
