//! User roles in SQLite. The flows (`portcullis_core::roles`) run in IMMEDIATE transactions
//! (SQLite's one write lock), so checking that a role exists and writing a row that names it cannot
//! be split by a concurrent delete.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::roles::storage::{RoleStorage, RolesTx};
use portcullis_core::storage::StorageError;
use rusqlite::{params, Connection, ToSql};

use crate::tx::SqliteTx;
use crate::{query_err, SqliteStorage};

fn exists(c: &Connection, app: &str, role: &str) -> Result<bool, rusqlite::Error> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM roles WHERE app_id = ?1 AND role = ?2)")?
        .query_row(params![app, role], |r| r.get(0))
}

/// The first column of every row of a query, as strings.
fn strings(c: &Connection, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<String>, rusqlite::Error> {
    let mut st = c.prepare_cached(sql)?;
    let rows = st.query_map(params, |r| r.get(0))?;
    rows.collect()
}

fn owned(s: &str) -> String {
    s.to_owned()
}

#[async_trait]
impl RoleStorage for SqliteStorage {
    async fn role_exists(&self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<bool, StorageError> {
        let (app, role) = (owned(app_id), owned(role));
        self.with_conn(move |c| exists(c, &app, &role).map_err(query_err)).await
    }

    async fn role_permissions(&self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<Option<Vec<String>>, StorageError> {
        let (app, role) = (owned(app_id), owned(role));
        // One connection behind a mutex: both reads see the same state.
        self.with_conn(move |c| {
            if !exists(c, &app, &role).map_err(query_err)? {
                return Ok(None);
            }
            strings(
                c,
                "SELECT permission FROM role_permissions WHERE app_id = ?1 AND role = ?2 ORDER BY permission",
                &[&app, &role],
            )
            .map(Some)
            .map_err(query_err)
        })
        .await
    }

    async fn role_delete(&self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<bool, StorageError> {
        let (app, role) = (owned(app_id), owned(role));
        self.in_transaction(move |tx| {
            // The permissions cascade; the associations have no foreign key and go explicitly.
            let role_existed = tx.execute("DELETE FROM roles WHERE app_id = ?1 AND role = ?2", params![app, role])? > 0;
            let had_users = tx.execute("DELETE FROM user_roles WHERE app_id = ?1 AND role = ?2", params![app, role])? > 0;
            Ok(role_existed || had_users)
        })
        .await
    }

    async fn role_delete_user_associations(&self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<bool, StorageError> {
        let (app, role) = (owned(app_id), owned(role));
        self.in_transaction(move |tx| {
            Ok(tx.execute("DELETE FROM user_roles WHERE app_id = ?1 AND role = ?2", params![app, role])? > 0)
        })
        .await
    }

    async fn roles(&self, AppKey { app_id }: AppKey<'_>) -> Result<Vec<String>, StorageError> {
        let app = owned(app_id);
        self.with_conn(move |c| strings(c, "SELECT role FROM roles WHERE app_id = ?1 ORDER BY role", &[&app]).map_err(query_err))
            .await
    }

    async fn roles_with_permission(&self, AppKey { app_id }: AppKey<'_>, permission: &str) -> Result<Vec<String>, StorageError> {
        let (app, permission) = (owned(app_id), owned(permission));
        self.with_conn(move |c| {
            strings(
                c,
                "SELECT role FROM role_permissions WHERE app_id = ?1 AND permission = ?2 ORDER BY role",
                &[&app, &permission],
            )
            .map_err(query_err)
        })
        .await
    }

    async fn user_roles(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str) -> Result<Vec<String>, StorageError> {
        let (app, tenant, user) = (owned(app_id), owned(tenant_id), owned(user_id));
        self.with_conn(move |c| {
            strings(
                c,
                "SELECT role FROM user_roles WHERE app_id = ?1 AND tenant_id = ?2 AND user_id = ?3 ORDER BY role",
                &[&app, &tenant, &user],
            )
            .map_err(query_err)
        })
        .await
    }

    async fn role_users(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, role: &str) -> Result<Vec<String>, StorageError> {
        let (app, tenant, role) = (owned(app_id), owned(tenant_id), owned(role));
        self.with_conn(move |c| {
            strings(
                c,
                "SELECT user_id FROM user_roles WHERE app_id = ?1 AND tenant_id = ?2 AND role = ?3 ORDER BY user_id",
                &[&app, &tenant, &role],
            )
            .map_err(query_err)
        })
        .await
    }
}

#[async_trait]
impl RolesTx for SqliteTx<'_> {
    async fn roles_insert_role(&mut self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<bool, StorageError> {
        self.conn()?
            .execute("INSERT INTO roles (app_id, role) VALUES (?1, ?2) ON CONFLICT DO NOTHING", params![app_id, role])
            .map(|n| n > 0)
            .map_err(query_err)
    }

    async fn roles_lock_role(&mut self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<bool, StorageError> {
        exists(self.conn()?, app_id, role).map_err(query_err)
    }

    async fn roles_insert_permissions(&mut self, AppKey { app_id }: AppKey<'_>, role: &str, permissions: &[String]) -> Result<(), StorageError> {
        let c = self.conn()?;
        let insert = || -> rusqlite::Result<()> {
            let mut st = c.prepare_cached(
                "INSERT INTO role_permissions (app_id, role, permission) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            )?;
            for p in permissions {
                st.execute(params![app_id, role, p])?;
            }
            Ok(())
        };
        insert().map_err(query_err)
    }

    async fn roles_delete_permissions(&mut self, AppKey { app_id }: AppKey<'_>, role: &str, permissions: Option<&[String]>) -> Result<(), StorageError> {
        let c = self.conn()?;
        let delete = || -> rusqlite::Result<()> {
            match permissions {
                None => {
                    c.execute("DELETE FROM role_permissions WHERE app_id = ?1 AND role = ?2", params![app_id, role])?;
                }
                Some(list) => {
                    let mut st = c.prepare_cached("DELETE FROM role_permissions WHERE app_id = ?1 AND role = ?2 AND permission = ?3")?;
                    for p in list {
                        st.execute(params![app_id, role, p])?;
                    }
                }
            }
            Ok(())
        };
        delete().map_err(query_err)
    }

    async fn roles_insert_user_role(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, role: &str) -> Result<bool, StorageError> {
        self.conn()?
            .execute(
                "INSERT INTO user_roles (app_id, tenant_id, user_id, role) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![app_id, tenant_id, user_id, role],
            )
            .map(|n| n > 0)
            .map_err(query_err)
    }

    async fn roles_delete_user_role(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, role: &str) -> Result<bool, StorageError> {
        self.conn()?
            .execute(
                "DELETE FROM user_roles WHERE app_id = ?1 AND tenant_id = ?2 AND user_id = ?3 AND role = ?4",
                params![app_id, tenant_id, user_id, role],
            )
            .map(|n| n > 0)
            .map_err(query_err)
    }
}
