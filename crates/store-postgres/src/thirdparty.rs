//! Third-party users.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::storage::StorageError;
use portcullis_core::thirdparty::storage::{ThirdPartyAccount, ThirdPartyStorage, ThirdPartyTx};

use crate::db::{Mode, WorkError};
use crate::names::Names;
use crate::tx::PgTx;
use crate::users::unique;
use crate::PgStorage;

pub struct Statements {
    find: String,
    update_email: String,
    insert_app_user: String,
    insert_all_auth: String,
    insert_user: String,
    insert_tenant: String,
    ids_by_email: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let users = n.table("thirdparty_users")?;
        let to_tenant = n.table("thirdparty_user_to_tenant")?;
        Ok(Statements {
            // FOR UPDATE: a concurrent sign-in of the same account waits for this one's email write.
            find: format!(
                "SELECT t.user_id, u.email FROM {to_tenant} t JOIN {users} u ON u.app_id = t.app_id AND u.user_id = t.user_id \
                 WHERE t.app_id = $1 AND t.tenant_id = $2 AND t.third_party_id = $3 AND t.third_party_user_id = $4 FOR UPDATE"
            ),
            update_email: format!("UPDATE {users} SET email = $3 WHERE app_id = $1 AND user_id = $2 AND email <> $3"),
            insert_app_user: format!(
                "INSERT INTO {} (app_id, user_id, recipe_id, primary_or_recipe_user_id) VALUES ($1, $2, 'thirdparty', $2)",
                n.table("app_id_to_user_id")?
            ),
            insert_all_auth: format!(
                "INSERT INTO {} (app_id, tenant_id, user_id, primary_or_recipe_user_id, recipe_id, time_joined, \
                 primary_or_recipe_user_time_joined) VALUES ($1, $2, $3, $3, 'thirdparty', $4, $4)",
                n.table("all_auth_recipe_users")?
            ),
            insert_user: format!(
                "INSERT INTO {users} (app_id, third_party_id, third_party_user_id, user_id, email, time_joined) \
                 VALUES ($1, $2, $3, $4, $5, $6)"
            ),
            insert_tenant: format!(
                "INSERT INTO {to_tenant} (app_id, tenant_id, user_id, third_party_id, third_party_user_id) VALUES ($1, $2, $3, $4, $5)"
            ),
            ids_by_email: format!(
                "SELECT t.user_id FROM {to_tenant} t JOIN {users} u ON u.app_id = t.app_id AND u.user_id = t.user_id \
                 WHERE t.app_id = $1 AND t.tenant_id = $2 AND u.email = $3 ORDER BY u.time_joined"
            ),
        })
    }
}

#[async_trait]
impl ThirdPartyStorage for PgStorage {
    async fn tp_user_ids_by_email(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, email: &str) -> Result<Vec<String>, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, email);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, email)| {
                Box::pin(async move {
                    let rows = db.query(&sql.thirdparty.ids_by_email, &[app, tenant, email]).await?;
                    rows.iter().map(|r| Ok(r.try_get::<_, String>(0)?.trim_end().to_owned())).collect()
                })
            })
            .await
    }
}

#[async_trait]
impl ThirdPartyTx for PgTx<'_> {
    async fn tp_lock_account(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, tp_id: &str, tp_user_id: &str) -> Result<Option<(String, String)>, StorageError> {
        let (db, sql) = (self.db, &self.sql.thirdparty);
        let r = async {
            Ok(match db.query_opt(&sql.find, &[&app_id, &tenant_id, &tp_id, &tp_user_id]).await? {
                Some(row) => Some((row.try_get::<_, String>(0)?.trim_end().to_owned(), row.try_get(1)?)),
                None => None,
            })
        }
        .await;
        self.keep(r)
    }

    async fn tp_set_email(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.thirdparty.update_email, &[&app_id, &user_id, &email]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn tp_create_user(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user: &str, a: &ThirdPartyAccount, time_joined: i64) -> Result<bool, StorageError> {
        let (db, sql) = (self.db, &self.sql.thirdparty);
        let (tp, tp_user) = (&a.third_party_id, &a.third_party_user_id);
        let r = async {
            // Each insert's unique constraint may be the one a concurrent first sign-in hits.
            Ok(unique(db.execute(&sql.insert_app_user, &[&app_id, &user])).await?
                && unique(db.execute(&sql.insert_all_auth, &[&app_id, &tenant_id, &user, &time_joined])).await?
                && unique(db.execute(&sql.insert_user, &[&app_id, tp, tp_user, &user, &a.email, &time_joined])).await?
                && unique(db.execute(&sql.insert_tenant, &[&app_id, &tenant_id, &user, tp, tp_user])).await?)
        }
        .await;
        self.keep(r)
    }
}
