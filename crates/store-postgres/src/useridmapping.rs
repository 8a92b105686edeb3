//! User-id mapping (`userid_mapping`).

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::useridmapping::storage::{
    blocking_tables, pick_any, CreateMappingOutcome, DeleteMappingOutcome, IdType, UserIdMapping, UserIdMappingStorage, UserIdMappingTx,
};
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

async fn create(db: Conn<'_>, sql: &Statements, app: &str, m: &UserIdMapping, force: bool) -> Result<CreateMappingOutcome, WorkError> {
    let (st, ext) = (&m.supertokens_user_id, &m.external_user_id);
    let st_mapped = db.query_opt(&sql.by_st, &[&app, st]).await?.is_some();
    let ext_mapped = db.query_opt(&sql.by_ext, &[&app, ext]).await?.is_some();
    if st_mapped || ext_mapped {
        return Ok(CreateMappingOutcome::AlreadyExists { supertokens_exists: st_mapped, external_exists: ext_mapped });
    }
    if db.query_opt(&sql.lock_user, &[&app, st]).await?.is_none() {
        return Ok(CreateMappingOutcome::UnknownSuperTokensUser);
    }
    if !force {
        if db.query_opt(&sql.user_exists, &[&app, ext]).await?.is_some() {
            return Ok(CreateMappingOutcome::ExternalIsSuperTokensId);
        }
        match used_by(db, sql, app, st).await?.as_slice() {
            [] => {}
            ["EmailVerification"] => {
                for statement in &sql.move_ev {
                    db.execute(statement, &[&app, st, ext]).await?;
                }
            }
            [first, ..] => return Ok(CreateMappingOutcome::InUse(first)),
        }
    }
    match db.execute(&sql.insert, &[&app, st, ext, &m.external_user_id_info]).await {
        Ok(_) => Ok(CreateMappingOutcome::Created),
        // A concurrent create won; the transaction is aborted, so answer from the constraint's name.
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            let external = e.as_db_error().and_then(|d| d.constraint()).is_some_and(|c| c.contains("external_user_id"));
            Ok(CreateMappingOutcome::AlreadyExists { supertokens_exists: !external, external_exists: external })
        }
        Err(e) => Err(e.into()),
    }
}

async fn update_info(db: Conn<'_>, sql: &Statements, (app, id): (&str, &str), kind: IdType, info: Option<&str>) -> Result<bool, WorkError> {
    let Some(m) = find(db, sql, app, id, kind).await? else { return Ok(false) };
    db.execute(&sql.update_info, &[&app, &m.supertokens_user_id, &info]).await?;
    Ok(true)
}

async fn delete(db: Conn<'_>, sql: &Statements, (app, id): (&str, &str), kind: IdType, force: bool) -> Result<DeleteMappingOutcome, WorkError> {
    let Some(m) = find(db, sql, app, id, kind).await? else { return Ok(DeleteMappingOutcome::Deleted { existed: false }) };
    if !force {
        if let Some(first) = used_by(db, sql, app, &m.external_user_id).await?.first() {
            return Ok(DeleteMappingOutcome::InUse(first));
        }
    }
    db.execute(&sql.delete, &[&app, &m.supertokens_user_id]).await?;
    Ok(DeleteMappingOutcome::Deleted { existed: true })
}

#[async_trait]
impl UserIdMappingStorage for PgStorage {
    async fn create_user_id_mapping(&self, AppKey { app_id }: AppKey<'_>, mapping: &UserIdMapping, force: bool) -> Result<CreateMappingOutcome, StorageError> {
        let ctx = (&self.sql, app_id, mapping, force);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, m, force)| Box::pin(create(db, &sql.useridmapping, app, m, *force))).await
    }

    async fn get_user_id_mapping(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: IdType) -> Result<Option<UserIdMapping>, StorageError> {
        let ctx = (&self.sql, app_id, user_id, kind);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, id, kind)| Box::pin(find(db, &sql.useridmapping, app, id, *kind))).await
    }

    async fn update_external_user_id_info(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: IdType, info: Option<&str>) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, user_id), kind, info);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, kind, info)| Box::pin(update_info(db, &sql.useridmapping, *key, *kind, *info)))
            .await
    }

    async fn delete_user_id_mapping(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: IdType, force: bool) -> Result<DeleteMappingOutcome, StorageError> {
        let ctx = (&self.sql, (app_id, user_id), kind, force);
        self.db.run(Mode::Write, &ctx, |db, (sql, key, kind, force)| Box::pin(delete(db, &sql.useridmapping, *key, *kind, *force))).await
    }
}

#[async_trait]
impl UserIdMappingTx for PgTx<'_> {
    async fn uim_external_id(&mut self, AppKey { app_id }: AppKey<'_>, supertokens_user_id: &str) -> Result<Option<String>, StorageError> {
        let r = find(self.db, &self.sql.useridmapping, app_id, supertokens_user_id, IdType::SuperTokens).await;
        Ok(self.keep(r)?.map(|m| m.external_user_id))
    }
}
