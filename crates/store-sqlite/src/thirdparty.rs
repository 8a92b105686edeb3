//! Third-party users in SQLite.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::thirdparty::storage::{ThirdPartyAccount, ThirdPartyStorage, ThirdPartyTx};
use portcullis_core::storage::StorageError;
use rusqlite::{params, Connection, OptionalExtension};

use crate::tx::SqliteTx;
use crate::{query_err, SqliteStorage};

fn create(tx: &Connection, (app, tenant, user): (&str, &str, &str), a: &ThirdPartyAccount, time_joined: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id) VALUES (?1, ?2, 'thirdparty', ?2)",
        params![app, user],
    )?;
    tx.execute(
        "INSERT INTO all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id, recipe_id,
             time_joined, primary_or_recipe_user_time_joined)
         VALUES (?1, ?2, ?3, ?3, 'thirdparty', ?4, ?4)",
        params![app, tenant, user, time_joined],
    )?;
    tx.execute(
        "INSERT INTO thirdparty_users (app_id, third_party_id, third_party_user_id, user_id, email, time_joined)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![app, a.third_party_id, a.third_party_user_id, user, a.email, time_joined],
    )?;
    tx.execute(
        "INSERT INTO thirdparty_user_to_tenant (app_id, tenant_id, user_id, third_party_id, third_party_user_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![app, tenant, user, a.third_party_id, a.third_party_user_id],
    )?;
    Ok(())
}

#[async_trait]
impl ThirdPartyStorage for SqliteStorage {
    async fn tp_user_ids_by_email(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, email: &str) -> Result<Vec<String>, StorageError> {
        let (app, tenant, email) = (app_id.to_owned(), tenant_id.to_owned(), email.to_owned());
        self.with_conn(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT t.user_id FROM thirdparty_user_to_tenant t
                     JOIN thirdparty_users u ON u.app_id = t.app_id AND u.user_id = t.user_id
                     WHERE t.app_id = ?1 AND t.tenant_id = ?2 AND u.email = ?3 ORDER BY u.time_joined",
                )
                .map_err(crate::query_err)?;
            let rows = st.query_map(params![app, tenant, email], |r| r.get(0)).map_err(crate::query_err)?;
            rows.collect::<Result<Vec<String>, _>>().map_err(crate::query_err)
        })
        .await
    }
}

#[async_trait]
impl ThirdPartyTx for SqliteTx<'_> {
    async fn tp_lock_account(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, tp_id: &str, tp_user_id: &str) -> Result<Option<(String, String)>, StorageError> {
        // The IMMEDIATE transaction already excludes every other writer.
        self.conn()?
            .query_row(
                "SELECT t.user_id, u.email FROM thirdparty_user_to_tenant t
                 JOIN thirdparty_users u ON u.app_id = t.app_id AND u.user_id = t.user_id
                 WHERE t.app_id = ?1 AND t.tenant_id = ?2 AND t.third_party_id = ?3 AND t.third_party_user_id = ?4",
                params![app_id, tenant_id, tp_id, tp_user_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(query_err)
    }

    async fn tp_set_email(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute("UPDATE thirdparty_users SET email = ?3 WHERE app_id = ?1 AND user_id = ?2 AND email <> ?3", params![app_id, user_id, email])
            .map(drop)
            .map_err(query_err)
    }

    async fn tp_create_user(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, account: &ThirdPartyAccount, time_joined: i64) -> Result<bool, StorageError> {
        let created = create(self.conn()?, (app_id, tenant_id, user_id), account, time_joined).map(|()| 1);
        self.unique(created)
    }
}
