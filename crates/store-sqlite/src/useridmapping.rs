//! User-id mapping in SQLite.

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::useridmapping::storage::{
    blocking_tables, pick_any, CreateMappingOutcome, DeleteMappingOutcome, IdType, UserIdMapping, UserIdMappingStorage, UserIdMappingTx,
};
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

fn create(c: &Connection, app: &str, m: &UserIdMapping, force: bool) -> rusqlite::Result<CreateMappingOutcome> {
    let exists = |sql: &str, id: &str| -> rusqlite::Result<bool> {
        c.query_row(&format!("SELECT EXISTS ({sql})"), params![app, id], |r| r.get(0))
    };
    let st = &m.supertokens_user_id;
    let ext = &m.external_user_id;
    let st_mapped = exists("SELECT 1 FROM userid_mapping WHERE app_id = ?1 AND supertokens_user_id = ?2", st)?;
    let ext_mapped = exists("SELECT 1 FROM userid_mapping WHERE app_id = ?1 AND external_user_id = ?2", ext)?;
    if st_mapped || ext_mapped {
        return Ok(CreateMappingOutcome::AlreadyExists { supertokens_exists: st_mapped, external_exists: ext_mapped });
    }
    if !exists("SELECT 1 FROM app_id_to_user_id WHERE app_id = ?1 AND user_id = ?2", st)? {
        return Ok(CreateMappingOutcome::UnknownSuperTokensUser);
    }
    if !force {
        if exists("SELECT 1 FROM app_id_to_user_id WHERE app_id = ?1 AND user_id = ?2", ext)? {
            return Ok(CreateMappingOutcome::ExternalIsSuperTokensId);
        }
        match used_by(c, app, st)?.as_slice() {
            [] => {}
            ["EmailVerification"] => {
                for table in ["emailverification_verified_emails", "emailverification_tokens"] {
                    c.execute(&format!("UPDATE {table} SET user_id = ?3 WHERE app_id = ?1 AND user_id = ?2"), params![app, st, ext])?;
                }
            }
            [first, ..] => return Ok(CreateMappingOutcome::InUse(first)),
        }
    }
    c.execute(
        &format!("INSERT INTO userid_mapping (app_id, {COLUMNS}) VALUES (?1, ?2, ?3, ?4)"),
        params![app, st, ext, m.external_user_id_info],
    )?;
    Ok(CreateMappingOutcome::Created)
}

#[async_trait]
impl UserIdMappingStorage for SqliteStorage {
    async fn create_user_id_mapping(&self, AppKey { app_id }: AppKey<'_>, mapping: &UserIdMapping, force: bool) -> Result<CreateMappingOutcome, StorageError> {
        let (app, m) = (app_id.to_owned(), mapping.clone());
        self.in_transaction(move |tx| create(tx, &app, &m, force)).await
    }

    async fn get_user_id_mapping(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: IdType) -> Result<Option<UserIdMapping>, StorageError> {
        let (app, id) = (app_id.to_owned(), user_id.to_owned());
        self.with_conn(move |c| find(c, &app, &id, kind).map_err(crate::query_err)).await
    }

    async fn update_external_user_id_info(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: IdType, info: Option<&str>) -> Result<bool, StorageError> {
        let (app, id, info) = (app_id.to_owned(), user_id.to_owned(), info.map(str::to_owned));
        self.in_transaction(move |tx| {
            let Some(m) = find(tx, &app, &id, kind)? else { return Ok(false) };
            tx.execute(
                "UPDATE userid_mapping SET external_user_id_info = ?3 WHERE app_id = ?1 AND supertokens_user_id = ?2",
                params![app, m.supertokens_user_id, info],
            )?;
            Ok(true)
        })
        .await
    }

    async fn delete_user_id_mapping(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: IdType, force: bool) -> Result<DeleteMappingOutcome, StorageError> {
        let (app, id) = (app_id.to_owned(), user_id.to_owned());
        self.in_transaction(move |tx| {
            let Some(m) = find(tx, &app, &id, kind)? else { return Ok(DeleteMappingOutcome::Deleted { existed: false }) };
            if !force {
                if let Some(first) = used_by(tx, &app, &m.external_user_id)?.first() {
                    return Ok(DeleteMappingOutcome::InUse(first));
                }
            }
            tx.execute(
                "DELETE FROM userid_mapping WHERE app_id = ?1 AND supertokens_user_id = ?2",
                params![app, m.supertokens_user_id],
            )?;
            Ok(DeleteMappingOutcome::Deleted { existed: true })
        })
        .await
    }
}

#[async_trait]
impl UserIdMappingTx for crate::tx::SqliteTx<'_> {
    async fn uim_external_id(&mut self, AppKey { app_id }: AppKey<'_>, supertokens_user_id: &str) -> Result<Option<String>, StorageError> {
        external_of(self.conn()?, app_id, supertokens_user_id).map_err(crate::query_err)
    }
}
