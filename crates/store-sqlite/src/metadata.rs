//! User metadata in SQLite. The update flow (`portcullis_core::metadata::update`) runs in an
//! IMMEDIATE transaction, which takes SQLite's one write lock first: read-merge-write of one user is
//! therefore never interleaved with another.

use std::collections::HashMap;

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::metadata::storage::{MetadataStorage, MetadataTx};
use portcullis_core::metadata::{parse_stored, to_stored};
use portcullis_core::storage::StorageError;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};

use crate::tx::SqliteTx;
use crate::{query_err, SqliteStorage};

const SELECT: &str = "SELECT user_metadata FROM user_metadata WHERE app_id = ?1 AND user_id = ?2";

/// Stored text that is not a JSON object is reported, not silently replaced.
fn parsed(text: String) -> Result<Map<String, Value>, StorageError> {
    parse_stored(&text).map_err(StorageError::Query)
}

fn read(c: &Connection, app: &str, user: &str) -> Result<Option<Map<String, Value>>, StorageError> {
    let text: Option<String> =
        c.prepare_cached(SELECT).and_then(|mut st| st.query_row(params![app, user], |r| r.get(0)).optional()).map_err(query_err)?;
    text.map(parsed).transpose()
}

#[async_trait]
impl MetadataStorage for SqliteStorage {
    async fn metadata_get(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<Map<String, Value>>, StorageError> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        self.with_conn(move |c| read(c, &app, &user)).await
    }

    async fn metadata_get_many(
        &self,
        AppKey { app_id }: AppKey<'_>,
        user_ids: &[String],
    ) -> Result<HashMap<String, Map<String, Value>>, StorageError> {
        let (app, users) = (app_id.to_owned(), user_ids.to_vec());
        self.with_conn(move |c| {
            let mut out = HashMap::new();
            for user in users {
                if out.contains_key(&user) {
                    continue;
                }
                if let Some(m) = read(c, &app, &user)? {
                    out.insert(user, m);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn metadata_delete(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        self.with_conn(move |c| {
            c.execute("DELETE FROM user_metadata WHERE app_id = ?1 AND user_id = ?2", params![app, user])
                .map(|n| n > 0)
                .map_err(query_err)
        })
        .await
    }
}

#[async_trait]
impl MetadataTx for SqliteTx<'_> {
    async fn metadata_lock(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<Map<String, Value>>, StorageError> {
        read(self.conn()?, app_id, user_id)
    }

    async fn metadata_insert(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, metadata: &Map<String, Value>) -> Result<bool, StorageError> {
        self.conn()?
            .execute(
                "INSERT INTO user_metadata (app_id, user_id, user_metadata) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![app_id, user_id, to_stored(metadata)],
            )
            .map(|n| n > 0)
            .map_err(query_err)
    }

    async fn metadata_replace(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, metadata: &Map<String, Value>) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "UPDATE user_metadata SET user_metadata = ?3 WHERE app_id = ?1 AND user_id = ?2",
                params![app_id, user_id, to_stored(metadata)],
            )
            .map(drop)
            .map_err(query_err)
    }
}
