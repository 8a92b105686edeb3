//! User-id mapping (`userid_mapping`).

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::useridmapping::storage::{blocking_tables, pick_any, IdType, UserIdMapping, UserIdMappingStorage, UserIdMappingTx};
use portcullis_core::storage::StorageError;
use tokio_postgres::error::SqlState;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::tx::PgTx;
use crate::PgStorage;

pub struct Statements {
    by_st: String,
    by_ext: String,
    by_any: String,
    lock_user: String,
    user_exists: String,
    used_by: Vec<(String, &'static str)>,
    move_ev: Vec<String>,
    insert: String,
    update_info: String,
    delete: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let map = n.table("userid_mapping")?;
        let app_users = n.table("app_id_to_user_id")?;
        let select = format!("SELECT supertokens_user_id, external_user_id, external_user_id_info FROM {map} WHERE app_id = $1 AND");
        let mut used_by = Vec::new();
        for (table, recipe) in blocking_tables() {
            used_by.push((format!("SELECT 1 FROM {} WHERE app_id = $1 AND user_id = $2 LIMIT 1", n.table(table)?), recipe));
        }
        let mut move_ev = Vec::new();
        for table in ["emailverification_verified_emails", "emailverification_tokens"] {
            move_ev.push(format!("UPDATE {} SET user_id = $3 WHERE app_id = $1 AND user_id = $2", n.table(table)?));
        }
        Ok(Statements {
            by_st: format!("{select} supertokens_user_id = $2"),
            by_ext: format!("{select} external_user_id = $2"),
            by_any: format!("{select} (supertokens_user_id = $2 OR external_user_id = $2)"),
            // FOR SHARE: the user cannot be deleted while its mapping is being written.
            lock_user: format!("SELECT 1 FROM {app_users} WHERE app_id = $1 AND user_id = $2 FOR SHARE"),
            user_exists: format!("SELECT 1 FROM {app_users} WHERE app_id = $1 AND user_id = $2"),
            used_by,
            move_ev,
            insert: format!(
                "INSERT INTO {map} (app_id, supertokens_user_id, external_user_id, external_user_id_info) VALUES ($1, $2, $3, $4)"
            ),
            update_info: format!("UPDATE {map} SET external_user_id_info = $3 WHERE app_id = $1 AND supertokens_user_id = $2"),
            delete: format!("DELETE FROM {map} WHERE app_id = $1 AND supertokens_user_id = $2"),
        })
    }
}

fn trimmed(r: &tokio_postgres::Row, i: usize) -> Result<String, WorkError> {
    // supertokens_user_id is CHAR(36): shorter ids come back space-padded.
    Ok(r.try_get::<_, String>(i)?.trim_end().to_owned())
}

pub(crate) async fn find(db: Conn<'_>, sql: &Statements, app: &str, id: &str, kind: IdType) -> Result<Option<UserIdMapping>, WorkError> {
    let statement = match kind {
        IdType::SuperTokens => &sql.by_st,
        IdType::External => &sql.by_ext,
        IdType::Any => &sql.by_any,
    };
    let mut rows = Vec::new();
    for r in db.query(statement, &[&app, &id]).await? {
        rows.push(UserIdMapping { supertokens_user_id: trimmed(&r, 0)?, external_user_id: r.try_get(1)?, external_user_id_info: r.try_get(2)? });
    }
    Ok(pick_any(id, rows))
}

async fn used_by(db: Conn<'_>, sql: &Statements, app: &str, id: &str) -> Result<Vec<&'static str>, WorkError> {
    let mut out = Vec::new();
    for (statement, recipe) in &sql.used_by {
        if !out.contains(recipe) && db.query_opt(statement, &[&app, &id]).await?.is_some() {
            out.push(*recipe);
        }
    }
    Ok(out)
}

#[async_trait]
impl UserIdMappingStorage for PgStorage {
    async fn get_user_id_mapping(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: IdType) -> Result<Option<UserIdMapping>, StorageError> {
        let ctx = (&self.sql, app_id, user_id, kind);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, id, kind)| Box::pin(find(db, &sql.useridmapping, app, id, *kind))).await
    }

}

#[async_trait]
impl UserIdMappingTx for PgTx<'_> {
    async fn uim_external_id(&mut self, AppKey { app_id }: AppKey<'_>, supertokens_user_id: &str) -> Result<Option<String>, StorageError> {
        let r = find(self.db, &self.sql.useridmapping, app_id, supertokens_user_id, IdType::SuperTokens).await;
        Ok(self.keep(r)?.map(|m| m.external_user_id))
    }

    async fn uim_find(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: IdType) -> Result<Option<UserIdMapping>, StorageError> {
        let r = find(self.db, &self.sql.useridmapping, app_id, user_id, kind).await;
        self.keep(r)
    }

    async fn uim_is_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, lock: bool) -> Result<bool, StorageError> {
        let sql = &self.sql.useridmapping;
        let statement = if lock { &sql.lock_user } else { &sql.user_exists };
        let r = self.db.query_opt(statement, &[&app_id, &user_id]).await.map(|r| r.is_some()).map_err(WorkError::from);
        self.keep(r)
    }

    async fn uim_used_by(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<&'static str>, StorageError> {
        let r = used_by(self.db, &self.sql.useridmapping, app_id, user_id).await;
        self.keep(r)
    }

    async fn uim_move_email_verification(&mut self, AppKey { app_id }: AppKey<'_>, from: &str, to: &str) -> Result<(), StorageError> {
        let (db, sql) = (self.db, &self.sql.useridmapping);
        let r = async {
            for statement in &sql.move_ev {
                db.execute(statement, &[&app_id, &from, &to]).await?;
            }
            Ok(())
        }
        .await;
        self.keep(r)
    }

    async fn uim_insert(&mut self, AppKey { app_id }: AppKey<'_>, m: &UserIdMapping) -> Result<Result<(), IdType>, StorageError> {
        let (db, sql) = (self.db, &self.sql.useridmapping);
        let r = match db.execute(&sql.insert, &[&app_id, &m.supertokens_user_id, &m.external_user_id, &m.external_user_id_info]).await {
            Ok(_) => Ok(Ok(())),
            // The transaction is aborted: the constraint's name says which id was taken.
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                let external = e.as_db_error().and_then(|d| d.constraint()).is_some_and(|c| c.contains("external_user_id"));
                Ok(Err(if external { IdType::External } else { IdType::SuperTokens }))
            }
            Err(e) => Err(WorkError::from(e)),
        };
        self.keep(r)
    }

    async fn uim_set_info(&mut self, AppKey { app_id }: AppKey<'_>, supertokens_user_id: &str, info: Option<&str>) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.useridmapping.update_info, &[&app_id, &supertokens_user_id, &info]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn uim_delete(&mut self, AppKey { app_id }: AppKey<'_>, supertokens_user_id: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.useridmapping.delete, &[&app_id, &supertokens_user_id]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }
}
