//! User-id mapping in SQLite.

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::useridmapping::storage::{blocking_tables, pick_any, IdType, UserIdMapping, UserIdMappingStorage, UserIdMappingTx};
use portcullis_core::storage::StorageError;
use rusqlite::{params, Connection, OptionalExtension};

use crate::SqliteStorage;

const COLUMNS: &str = "supertokens_user_id, external_user_id, external_user_id_info";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserIdMapping> {
    Ok(UserIdMapping { supertokens_user_id: r.get(0)?, external_user_id: r.get(1)?, external_user_id_info: r.get(2)? })
}

pub(crate) fn find(c: &Connection, app: &str, id: &str, kind: IdType) -> rusqlite::Result<Option<UserIdMapping>> {
    let clause = match kind {
        IdType::SuperTokens => "supertokens_user_id = ?2",
        IdType::External => "external_user_id = ?2",
        IdType::Any => "(supertokens_user_id = ?2 OR external_user_id = ?2)",
    };
    let mut st = c.prepare_cached(&format!("SELECT {COLUMNS} FROM userid_mapping WHERE app_id = ?1 AND {clause}"))?;
    let rows = st.query_map(params![app, id], row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(pick_any(id, rows))
}

/// The external id of a SuperTokens user id, when mapped.
pub(crate) fn external_of(c: &Connection, app: &str, st_id: &str) -> rusqlite::Result<Option<String>> {
    c.prepare_cached("SELECT external_user_id FROM userid_mapping WHERE app_id = ?1 AND supertokens_user_id = ?2")?
        .query_row(params![app, st_id], |r| r.get(0))
        .optional()
}

/// The recipes whose data is keyed by `id`, in the order of `NON_AUTH_TABLES`.
fn used_by(c: &Connection, app: &str, id: &str) -> rusqlite::Result<Vec<&'static str>> {
    let mut out = Vec::new();
    for (table, recipe) in blocking_tables() {
        let used: bool = c.query_row(
            &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE app_id = ?1 AND user_id = ?2)"),
            params![app, id],
            |r| r.get(0),
        )?;
        if used && !out.contains(&recipe) {
            out.push(recipe);
        }
    }
    Ok(out)
}

#[async_trait]
impl UserIdMappingStorage for SqliteStorage {
    async fn get_user_id_mapping(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: IdType) -> Result<Option<UserIdMapping>, StorageError> {
        let (app, id) = (app_id.to_owned(), user_id.to_owned());
        self.with_conn(move |c| find(c, &app, &id, kind).map_err(crate::query_err)).await
    }

}

#[async_trait]
impl UserIdMappingTx for crate::tx::SqliteTx<'_> {
    async fn uim_external_id(&mut self, AppKey { app_id }: AppKey<'_>, supertokens_user_id: &str) -> Result<Option<String>, StorageError> {
        external_of(self.conn()?, app_id, supertokens_user_id).map_err(crate::query_err)
    }

    async fn uim_find(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: IdType) -> Result<Option<UserIdMapping>, StorageError> {
        find(self.conn()?, app_id, user_id, kind).map_err(crate::query_err)
    }

    async fn uim_is_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, _lock: bool) -> Result<bool, StorageError> {
        // The IMMEDIATE transaction already excludes every other writer.
        self.conn()?
            .query_row("SELECT EXISTS (SELECT 1 FROM app_id_to_user_id WHERE app_id = ?1 AND user_id = ?2)", params![app_id, user_id], |r| r.get(0))
            .map_err(crate::query_err)
    }

    async fn uim_used_by(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<&'static str>, StorageError> {
        used_by(self.conn()?, app_id, user_id).map_err(crate::query_err)
    }

    async fn uim_move_email_verification(&mut self, AppKey { app_id }: AppKey<'_>, from: &str, to: &str) -> Result<(), StorageError> {
        let c = self.conn()?;
        for table in ["emailverification_verified_emails", "emailverification_tokens"] {
            c.execute(&format!("UPDATE {table} SET user_id = ?3 WHERE app_id = ?1 AND user_id = ?2"), params![app_id, from, to])
                .map_err(crate::query_err)?;
        }
        Ok(())
    }

    async fn uim_insert(&mut self, AppKey { app_id }: AppKey<'_>, m: &UserIdMapping) -> Result<Result<(), IdType>, StorageError> {
        let inserted = self.conn()?.execute(
            &format!("INSERT INTO userid_mapping (app_id, {COLUMNS}) VALUES (?1, ?2, ?3, ?4)"),
            params![app_id, m.supertokens_user_id, m.external_user_id, m.external_user_id_info],
        );
        // SQLite names the column whose constraint failed in its message.
        let external = matches!(&inserted, Err(e) if e.to_string().contains("external_user_id"));
        Ok(if self.unique(inserted)? { Ok(()) } else if external { Err(IdType::External) } else { Err(IdType::SuperTokens) })
    }

    async fn uim_set_info(&mut self, AppKey { app_id }: AppKey<'_>, supertokens_user_id: &str, info: Option<&str>) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "UPDATE userid_mapping SET external_user_id_info = ?3 WHERE app_id = ?1 AND supertokens_user_id = ?2",
                params![app_id, supertokens_user_id, info],
            )
            .map(drop)
            .map_err(crate::query_err)
    }

    async fn uim_delete(&mut self, AppKey { app_id }: AppKey<'_>, supertokens_user_id: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute("DELETE FROM userid_mapping WHERE app_id = ?1 AND supertokens_user_id = ?2", params![app_id, supertokens_user_id])
            .map(drop)
            .map_err(crate::query_err)
    }
}
