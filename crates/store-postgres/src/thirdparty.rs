//! Third-party users.

use async_trait::async_trait;
use portcullis_core::ids::TenantKey;
use portcullis_core::thirdparty::storage::{SignInUpOutcome, ThirdPartyAccount, ThirdPartyStorage};
use portcullis_core::storage::StorageError;
use tokio_postgres::error::SqlState;

use portcullis_core::accountlinking::Info;

use crate::accountlinking::change_conflict;
use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
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

/// `None` when a concurrent first sign-in of the account created the user first (the
/// transaction is then aborted; the caller runs the whole unit again and finds that user).
async fn sign_in_up(
    db: Conn<'_>,
    all: &crate::Statements,
    (app, tenant, user): (&str, &str, &str),
    a: &ThirdPartyAccount,
    time_joined: i64,
) -> Result<Option<SignInUpOutcome>, WorkError> {
    let sql = &all.thirdparty;
    let (tp, tp_user) = (&a.third_party_id, &a.third_party_user_id);
    if let Some(row) = db.query_opt(&sql.find, &[&app, &tenant, tp, tp_user]).await? {
        let user_id = row.try_get::<_, String>(0)?.trim_end().to_owned();
        let email: String = row.try_get(1)?;
        if email != a.email {
            let new = Info { email: Some(&a.email), ..Default::default() };
            if change_conflict(db, &all.accountlinking, &all.users, (app, &user_id), new).await?.is_some() {
                return Ok(Some(SignInUpOutcome::EmailChangeNotAllowed));
            }
        }
        db.execute(&sql.update_email, &[&app, &user_id, &a.email]).await?;
        return Ok(Some(SignInUpOutcome::Existing { user_id }));
    }
    db.execute(&sql.insert_app_user, &[&app, &user]).await?;
    db.execute(&sql.insert_all_auth, &[&app, &tenant, &user, &time_joined]).await?;
    db.execute(&sql.insert_user, &[&app, tp, tp_user, &user, &a.email, &time_joined]).await?;
    match db.execute(&sql.insert_tenant, &[&app, &tenant, &user, tp, tp_user]).await {
        Ok(_) => Ok(Some(SignInUpOutcome::Created)),
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl ThirdPartyStorage for PgStorage {
    async fn tp_sign_in_up(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        new_user_id: &str,
        account: &ThirdPartyAccount,
        time_joined: i64,
    ) -> Result<SignInUpOutcome, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, new_user_id), account, time_joined);
        for _ in 0..3 {
            let outcome = self
                .db
                .run(Mode::Write, &ctx, |db, (sql, key, a, t)| Box::pin(sign_in_up(db, sql, *key, a, *t)))
                .await?;
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
        }
        Err(StorageError::Query("third-party sign-in-up kept conflicting with concurrent sign-ins".into()))
    }

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
