//! User metadata (`user_metadata`): one JSON object per user, as text. The update flow
//! (`portcullis_core::metadata::update`) locks an existing row `FOR UPDATE` and inserts a missing
//! one `ON CONFLICT DO NOTHING`.

use std::collections::HashMap;

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::metadata::storage::{MetadataStorage, MetadataTx};
use portcullis_core::metadata::{parse_stored, to_stored};
use portcullis_core::storage::StorageError;
use serde_json::{Map, Value};

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::tx::PgTx;
use crate::PgStorage;

pub struct Statements {
    select: String,
    select_many: String,
    lock: String,
    insert_new: String,
    update: String,
    delete: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let t = n.table("user_metadata")?;
        let key = "app_id = $1 AND user_id = $2";
        Ok(Statements {
            select: format!("SELECT user_metadata FROM {t} WHERE {key}"),
            select_many: format!("SELECT user_id, user_metadata FROM {t} WHERE app_id = $1 AND user_id = ANY($2)"),
            lock: format!("SELECT user_metadata FROM {t} WHERE {key} FOR UPDATE"),
            insert_new: format!(
                "INSERT INTO {t} (app_id, user_id, user_metadata) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            ),
            update: format!("UPDATE {t} SET user_metadata = $3 WHERE {key}"),
            delete: format!("DELETE FROM {t} WHERE {key}"),
        })
    }
}

fn parsed(text: &str) -> Result<Map<String, Value>, WorkError> {
    parse_stored(text).map_err(WorkError::Invalid)
}

pub async fn get(db: Conn<'_>, sql: &Statements, app: &str, user: &str) -> Result<Option<Map<String, Value>>, WorkError> {
    match db.query_opt(&sql.select, &[&app, &user]).await? {
        Some(r) => Ok(Some(parsed(r.try_get(0)?)?)),
        None => Ok(None),
    }
}

pub async fn get_many(
    db: Conn<'_>,
    sql: &Statements,
    app: &str,
    users: &[String],
) -> Result<HashMap<String, Map<String, Value>>, WorkError> {
    let rows = db.query(&sql.select_many, &[&app, &users]).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(r.try_get(0)?, parsed(r.try_get(1)?)?);
    }
    Ok(out)
}

pub async fn delete(db: Conn<'_>, sql: &Statements, app: &str, user: &str) -> Result<bool, WorkError> {
    Ok(db.execute(&sql.delete, &[&app, &user]).await? > 0)
}

#[async_trait]
impl MetadataStorage for PgStorage {
    async fn metadata_get(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<Map<String, Value>>, StorageError> {
        let ctx = (&self.sql, app_id, user_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, user)| Box::pin(get(db, &sql.metadata, app, user))).await
    }

    async fn metadata_get_many(
        &self,
        AppKey { app_id }: AppKey<'_>,
        user_ids: &[String],
    ) -> Result<HashMap<String, Map<String, Value>>, StorageError> {
        if user_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ctx = (&self.sql, app_id, user_ids);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, users)| Box::pin(get_many(db, &sql.metadata, app, users))).await
    }

    async fn metadata_delete(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, user_id);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, user)| Box::pin(delete(db, &sql.metadata, app, user))).await
    }
}

#[async_trait]
impl MetadataTx for PgTx<'_> {
    async fn metadata_lock(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<Map<String, Value>>, StorageError> {
        let r = async {
            match self.db.query_opt(&self.sql.metadata.lock, &[&app_id, &user_id]).await? {
                Some(row) => Ok(Some(parsed(row.try_get(0)?)?)),
                None => Ok(None),
            }
        }
        .await;
        self.keep(r)
    }

    async fn metadata_insert(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, metadata: &Map<String, Value>) -> Result<bool, StorageError> {
        let r = self.db.execute(&self.sql.metadata.insert_new, &[&app_id, &user_id, &to_stored(metadata)]).await.map(|n| n == 1);
        self.keep(r.map_err(WorkError::from))
    }

    async fn metadata_replace(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, metadata: &Map<String, Value>) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.metadata.update, &[&app_id, &user_id, &to_stored(metadata)]).await.map(drop);
        self.keep(r.map_err(WorkError::from))
    }
}
