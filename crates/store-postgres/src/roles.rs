//! User roles: `roles` and `role_permissions` (the app's, in its public tenant's database) and
//! `user_roles` (a tenant's, in that tenant's database).
//!
//! `user_roles` has no foreign key to `roles`, so a flow that writes a row naming a role
//! (`portcullis_core::roles`) first takes a share lock on the role's row (`FOR SHARE`): a concurrent role deletion then waits for it, and one that went
//! first leaves no row to lock. Deleting a role deletes its row before its associations, so an
//! association added just before the deletion is committed in time to be deleted with it.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::roles::storage::{RoleStorage, RolesTx};
use portcullis_core::storage::StorageError;
use tokio_postgres::types::ToSql;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::tx::PgTx;
use crate::PgStorage;

pub struct Statements {
    insert_role: String,
    lock_role: String,
    role_exists: String,
    insert_permissions: String,
    permissions: String,
    delete_permissions: String,
    delete_all_permissions: String,
    delete_role: String,
    delete_associations: String,
    roles: String,
    roles_with_permission: String,
    add_user_role: String,
    remove_user_role: String,
    user_roles: String,
    role_users: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let r = n.table("roles")?;
        let p = n.table("role_permissions")?;
        let u = n.table("user_roles")?;
        let role = "app_id = $1 AND role = $2";
        // Byte order, as SQLite sorts: lists come back in the same order from either adapter.
        let c = "COLLATE \"C\"";
        Ok(Statements {
            insert_role: format!("INSERT INTO {r} (app_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING"),
            lock_role: format!("SELECT 1 FROM {r} WHERE {role} FOR SHARE"),
            role_exists: format!("SELECT 1 FROM {r} WHERE {role}"),
            insert_permissions: format!(
                "INSERT INTO {p} (app_id, role, permission) SELECT $1, $2, x FROM unnest($3::VARCHAR[]) AS x \
                 ON CONFLICT DO NOTHING"
            ),
            permissions: format!("SELECT permission FROM {p} WHERE {role} ORDER BY permission {c}"),
            delete_permissions: format!("DELETE FROM {p} WHERE {role} AND permission = ANY($3::VARCHAR[])"),
            delete_all_permissions: format!("DELETE FROM {p} WHERE {role}"),
            delete_role: format!("DELETE FROM {r} WHERE {role}"),
            delete_associations: format!("DELETE FROM {u} WHERE {role}"),
            roles: format!("SELECT role FROM {r} WHERE app_id = $1 ORDER BY role {c}"),
            roles_with_permission: format!("SELECT role FROM {p} WHERE app_id = $1 AND permission = $2 ORDER BY role {c}"),
            add_user_role: format!(
                "INSERT INTO {u} (app_id, tenant_id, user_id, role) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
            ),
            remove_user_role: format!("DELETE FROM {u} WHERE app_id = $1 AND tenant_id = $2 AND user_id = $3 AND role = $4"),
            user_roles: format!("SELECT role FROM {u} WHERE app_id = $1 AND tenant_id = $2 AND user_id = $3 ORDER BY role {c}"),
            role_users: format!(
                "SELECT user_id FROM {u} WHERE app_id = $1 AND tenant_id = $2 AND role = $3 ORDER BY user_id {c}"
            ),
        })
    }
}

/// The first column of every row. The parameters come by value so the future owns them.
async fn strings<const N: usize>(
    db: Conn<'_>,
    statement: &str,
    params: [&(dyn ToSql + Sync); N],
) -> Result<Vec<String>, WorkError> {
    db.query(statement, &params).await?.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

pub async fn exists(db: Conn<'_>, sql: &Statements, app: &str, role: &str) -> Result<bool, WorkError> {
    Ok(db.query_opt(&sql.role_exists, &[&app, &role]).await?.is_some())
}

pub async fn permissions(db: Conn<'_>, sql: &Statements, app: &str, role: &str) -> Result<Option<Vec<String>>, WorkError> {
    if !exists(db, sql, app, role).await? {
        return Ok(None);
    }
    Ok(Some(strings(db, &sql.permissions, [&app, &role]).await?))
}

pub async fn delete(db: Conn<'_>, sql: &Statements, app: &str, role: &str) -> Result<bool, WorkError> {
    // The row first (the permissions cascade): it waits for writers holding the role's share lock.
    let role_existed = db.execute(&sql.delete_role, &[&app, &role]).await? > 0;
    let had_users = delete_associations(db, sql, app, role).await?;
    Ok(role_existed || had_users)
}

pub async fn delete_associations(db: Conn<'_>, sql: &Statements, app: &str, role: &str) -> Result<bool, WorkError> {
    Ok(db.execute(&sql.delete_associations, &[&app, &role]).await? > 0)
}

#[async_trait]
impl RoleStorage for PgStorage {
    async fn role_exists(&self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, role);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, role)| Box::pin(exists(db, &sql.roles, app, role))).await
    }

    async fn role_permissions(&self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<Option<Vec<String>>, StorageError> {
        let ctx = (&self.sql, app_id, role);
        self.db.run(Mode::Snapshot, &ctx, |db, (sql, app, role)| Box::pin(permissions(db, &sql.roles, app, role))).await
    }

    async fn role_delete(&self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, role);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, role)| Box::pin(delete(db, &sql.roles, app, role))).await
    }

    async fn role_delete_user_associations(&self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, role);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, role)| Box::pin(delete_associations(db, &sql.roles, app, role)))
            .await
    }

    async fn roles(&self, AppKey { app_id }: AppKey<'_>) -> Result<Vec<String>, StorageError> {
        let ctx = (&self.sql, app_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app)| Box::pin(strings(db, &sql.roles.roles, [app]))).await
    }

    async fn roles_with_permission(&self, AppKey { app_id }: AppKey<'_>, permission: &str) -> Result<Vec<String>, StorageError> {
        let ctx = (&self.sql, app_id, permission);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, perm)| Box::pin(strings(db, &sql.roles.roles_with_permission, [app, perm])))
            .await
    }

    async fn user_roles(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str) -> Result<Vec<String>, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, user_id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, user)| {
                Box::pin(strings(db, &sql.roles.user_roles, [app, tenant, user]))
            })
            .await
    }

    async fn role_users(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, role: &str) -> Result<Vec<String>, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, role);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, role)| {
                Box::pin(strings(db, &sql.roles.role_users, [app, tenant, role]))
            })
            .await
    }
}

#[async_trait]
impl RolesTx for PgTx<'_> {
    async fn roles_insert_role(&mut self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<bool, StorageError> {
        let r = self.db.execute(&self.sql.roles.insert_role, &[&app_id, &role]).await.map(|n| n == 1);
        self.keep(r.map_err(WorkError::from))
    }

    async fn roles_lock_role(&mut self, AppKey { app_id }: AppKey<'_>, role: &str) -> Result<bool, StorageError> {
        let r = self.db.query_opt(&self.sql.roles.lock_role, &[&app_id, &role]).await.map(|r| r.is_some());
        self.keep(r.map_err(WorkError::from))
    }

    async fn roles_insert_permissions(&mut self, AppKey { app_id }: AppKey<'_>, role: &str, permissions: &[String]) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.roles.insert_permissions, &[&app_id, &role, &permissions]).await.map(drop);
        self.keep(r.map_err(WorkError::from))
    }

    async fn roles_delete_permissions(&mut self, AppKey { app_id }: AppKey<'_>, role: &str, permissions: Option<&[String]>) -> Result<(), StorageError> {
        let sql = &self.sql.roles;
        let r = match permissions {
            None => self.db.execute(&sql.delete_all_permissions, &[&app_id, &role]).await,
            Some(list) => self.db.execute(&sql.delete_permissions, &[&app_id, &role, &list]).await,
        };
        self.keep(r.map(drop).map_err(WorkError::from))
    }

    async fn roles_insert_user_role(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, role: &str) -> Result<bool, StorageError> {
        let r = self.db.execute(&self.sql.roles.add_user_role, &[&app_id, &tenant_id, &user_id, &role]).await.map(|n| n > 0);
        self.keep(r.map_err(WorkError::from))
    }

    async fn roles_delete_user_role(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, role: &str) -> Result<bool, StorageError> {
        let r = self.db.execute(&self.sql.roles.remove_user_role, &[&app_id, &tenant_id, &user_id, &role]).await.map(|n| n > 0);
        self.keep(r.map_err(WorkError::from))
    }
}
