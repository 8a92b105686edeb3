//! Account linking's statements in PostgreSQL, at READ COMMITTED: every linking decision of an app
//! first takes a row lock on the app's `apps` row (FOR NO KEY UPDATE, which sign-ups' foreign-key
//! checks do not wait for), so two decisions that could together break uniqueness never
//! interleave; the users involved are locked too, so a concurrent delete either waits or is seen.

use async_trait::async_trait;
use portcullis_core::accountlinking::storage::{AccountLinkingTx, Shared};
use portcullis_core::ids::AppKey;
use portcullis_core::storage::StorageError;
use tokio_postgres::types::ToSql;

use crate::db::WorkError;
use crate::names::Names;
use crate::tx::PgTx;

pub struct Statements {
    lock_app: String,
    lock_users: String,
    by_email: String,
    by_phone: String,
    by_third_party: String,
    set_linked: Vec<String>,
    group_time: String,
    own_time: String,
    forget_active: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let app_users = n.table("app_id_to_user_id")?;
        let all = n.table("all_auth_recipe_users")?;
        let ep = n.table("emailpassword_users")?;
        let tp = n.table("thirdparty_users")?;
        let pl = n.table("passwordless_users")?;
        // The primary ids of the users whose login methods match, app-wide ($1 the app id).
        let primary_ids = |matching: String| {
            format!("SELECT DISTINCT primary_or_recipe_user_id FROM {app_users} WHERE app_id = $1 AND user_id IN ({matching})")
        };
        Ok(Statements {
            lock_app: format!("SELECT 1 FROM {} WHERE app_id = $1 FOR NO KEY UPDATE", n.table("apps")?),
            lock_users: format!("SELECT user_id FROM {app_users} WHERE app_id = $1 AND user_id = ANY($2) ORDER BY user_id FOR UPDATE"),
            by_email: primary_ids(format!(
                "SELECT user_id FROM {ep} WHERE app_id = $1 AND email = $2 \
                 UNION SELECT user_id FROM {tp} WHERE app_id = $1 AND email = $2 \
                 UNION SELECT user_id FROM {pl} WHERE app_id = $1 AND email = $2 \
                 UNION SELECT user_id FROM {} WHERE app_id = $1 AND email = $2",
                n.table("webauthn_users")?
            )),
            by_phone: primary_ids(format!("SELECT user_id FROM {pl} WHERE app_id = $1 AND phone_number = $2")),
            by_third_party: primary_ids(format!(
                "SELECT user_id FROM {tp} WHERE app_id = $1 AND third_party_id = $2 AND third_party_user_id = $3"
            )),
            set_linked: [app_users, all]
                .iter()
                .map(|t| {
                    format!(
                        "UPDATE {t} SET primary_or_recipe_user_id = $3, is_linked_or_is_a_primary_user = $4 \
                         WHERE app_id = $1 AND user_id = $2"
                    )
                })
                .collect(),
            group_time: format!(
                "UPDATE {all} SET primary_or_recipe_user_time_joined = \
                 (SELECT MIN(time_joined) FROM {all} WHERE app_id = $1 AND primary_or_recipe_user_id = $2) \
                 WHERE app_id = $1 AND primary_or_recipe_user_id = $2"
            ),
            own_time: format!("UPDATE {all} SET primary_or_recipe_user_time_joined = time_joined WHERE app_id = $1 AND user_id = $2"),
            forget_active: format!("DELETE FROM {} WHERE app_id = $1 AND user_id = $2", n.table("user_last_active")?),
        })
    }
}

#[async_trait]
impl AccountLinkingTx for PgTx<'_> {
    async fn al_lock(&mut self, AppKey { app_id }: AppKey<'_>, user_ids: &[&str]) -> Result<(), StorageError> {
        let (db, sql) = (self.db, &self.sql.accountlinking);
        let r = async {
            db.query(&sql.lock_app, &[&app_id]).await?;
            db.query(&sql.lock_users, &[&app_id, &user_ids]).await?;
            Ok(())
        }
        .await;
        self.keep(r)
    }

    async fn al_primary_ids_with(&mut self, AppKey { app_id }: AppKey<'_>, info: Shared<'_>) -> Result<Vec<String>, StorageError> {
        let (db, sql) = (self.db, &self.sql.accountlinking);
        let (statement, values): (&str, Vec<&str>) = match info {
            Shared::Email(e) => (&sql.by_email, vec![e]),
            Shared::PhoneNumber(p) => (&sql.by_phone, vec![p]),
            Shared::ThirdParty(id, user) => (&sql.by_third_party, vec![id, user]),
        };
        let r = async {
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&app_id];
            params.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
            let rows = db.query(statement, &params).await?;
            rows.iter().map(|r| Ok(r.try_get::<_, String>(0)?.trim_end().to_owned())).collect()
        }
        .await;
        self.keep(r)
    }

    async fn al_set_linked(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, primary_user_id: &str, linked: bool) -> Result<(), StorageError> {
        let (db, sql) = (self.db, &self.sql.accountlinking);
        let r = async {
            for statement in &sql.set_linked {
                db.execute(statement, &[&app_id, &user_id, &primary_user_id, &linked]).await?;
            }
            Ok(())
        }
        .await;
        self.keep(r)
    }

    async fn al_refresh_group_time(&mut self, AppKey { app_id }: AppKey<'_>, primary_user_id: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.accountlinking.group_time, &[&app_id, &primary_user_id]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn al_reset_own_time(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.accountlinking.own_time, &[&app_id, &user_id]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn al_forget_activity(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.accountlinking.forget_active, &[&app_id, &user_id]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }
}
