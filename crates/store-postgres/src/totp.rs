//! TOTP devices and used codes. The flows (`portcullis_core::totp`) first lock the user's
//! `totp_users` row (`FOR UPDATE`): the row exists while the user has devices, so locking it
//! serialises every change to the user's devices and codes.

use std::collections::HashMap;

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::storage::StorageError;
use portcullis_core::totp::storage::{Device, NewDevice, TotpStorage, TotpTx, UsedCode};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::tx::PgTx;
use crate::PgStorage;

pub struct Statements {
    insert_user: String,
    lock_user: String,
    delete_user: String,
    devices: String,
    insert_device: String,
    delete_device: String,
    rename_device: String,
    mark_verified: String,
    used_codes: String,
    insert_used_code: String,
    device_status: String,
    delete_expired: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let users = n.table("totp_users")?;
        let devices = n.table("totp_user_devices")?;
        let used = n.table("totp_used_codes")?;
        let by_user = "app_id = $1 AND user_id = $2";
        Ok(Statements {
            insert_user: format!("INSERT INTO {users} (app_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"),
            lock_user: format!("SELECT 1 FROM {users} WHERE {by_user} FOR UPDATE"),
            delete_user: format!("DELETE FROM {users} WHERE {by_user}"),
            devices: format!(
                "SELECT device_name, secret_key, period, skew, verified, created_at FROM {devices} WHERE {by_user} \
                 ORDER BY created_at, device_name"
            ),
            insert_device: format!(
                "INSERT INTO {devices} (app_id, user_id, device_name, secret_key, period, skew, verified, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            delete_device: format!("DELETE FROM {devices} WHERE {by_user} AND device_name = $3"),
            rename_device: format!("UPDATE {devices} SET device_name = $4 WHERE {by_user} AND device_name = $3"),
            mark_verified: format!("UPDATE {devices} SET verified = TRUE WHERE {by_user} AND device_name = $3"),
            used_codes: format!(
                "SELECT code, is_valid, expiry_time_ms, created_time_ms FROM {used} \
                 WHERE app_id = $1 AND tenant_id = $2 AND user_id = $3 ORDER BY created_time_ms DESC"
            ),
            insert_used_code: format!(
                "INSERT INTO {used} (app_id, tenant_id, user_id, code, is_valid, expiry_time_ms, created_time_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ),
            device_status: format!(
                "SELECT user_id, bool_or(verified) FROM {devices} WHERE app_id = $1 AND user_id = ANY($2) GROUP BY user_id"
            ),
            delete_expired: format!("DELETE FROM {used} WHERE app_id = $1 AND tenant_id = $2 AND expiry_time_ms < $3"),
        })
    }
}

fn device_of(r: &Row) -> Result<Device, WorkError> {
    Ok(Device {
        name: r.try_get(0)?,
        secret_key: r.try_get(1)?,
        period: r.try_get(2)?,
        skew: r.try_get(3)?,
        verified: r.try_get(4)?,
        created_at: r.try_get::<_, Option<i64>>(5)?.unwrap_or(0),
    })
}

async fn devices(db: Conn<'_>, sql: &Statements, app: &str, user: &str) -> Result<Vec<Device>, WorkError> {
    db.query(&sql.devices, &[&app, &user]).await?.iter().map(device_of).collect()
}

#[async_trait]
impl TotpStorage for PgStorage {
    async fn totp_devices(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<Device>, StorageError> {
        let ctx = (&self.sql, app_id, user_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, user)| Box::pin(devices(db, &sql.totp, app, user))).await
    }

    async fn totp_device_status(&self, AppKey { app_id }: AppKey<'_>, user_ids: &[String]) -> Result<HashMap<String, bool>, StorageError> {
        let ctx = (&self.sql, app_id, user_ids);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, users)| {
                Box::pin(async move {
                    let rows = db.query(&sql.totp.device_status, &[app, users]).await?;
                    rows.iter().map(|r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, bool>(1)?))).collect()
                })
            })
            .await
    }

    async fn totp_delete_expired_codes(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, before: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, before);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant, before)| {
                Box::pin(async move { Ok(db.execute(&sql.totp.delete_expired, &[app, tenant, before]).await?) })
            })
            .await
    }
}

#[async_trait]
impl TotpTx for PgTx<'_> {
    async fn totp_insert_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.totp.insert_user, &[&app_id, &user_id]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn totp_lock_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        let r = self.db.query_opt(&self.sql.totp.lock_user, &[&app_id, &user_id]).await.map(|r| r.is_some()).map_err(WorkError::from);
        self.keep(r)
    }

    async fn totp_delete_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.totp.delete_user, &[&app_id, &user_id]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn totp_user_devices(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<Device>, StorageError> {
        let r = devices(self.db, &self.sql.totp, app_id, user_id).await;
        self.keep(r)
    }

    async fn totp_insert_device(&mut self, AppKey { app_id }: AppKey<'_>, name: &str, d: &NewDevice) -> Result<(), StorageError> {
        let params: [&(dyn ToSql + Sync); 8] = [&app_id, &d.user_id, &name, &d.secret_key, &d.period, &d.skew, &d.verified, &d.created_at];
        let r = self.db.execute(&self.sql.totp.insert_device, &params).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn totp_delete_device(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, name: &str) -> Result<bool, StorageError> {
        let r = self.db.execute(&self.sql.totp.delete_device, &[&app_id, &user_id, &name]).await.map(|n| n > 0).map_err(WorkError::from);
        self.keep(r)
    }

    async fn totp_rename_device(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, old_name: &str, new_name: &str) -> Result<(), StorageError> {
        let r = self
            .db
            .execute(&self.sql.totp.rename_device, &[&app_id, &user_id, &old_name, &new_name])
            .await
            .map(drop)
            .map_err(WorkError::from);
        self.keep(r)
    }

    async fn totp_mark_verified(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, name: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.totp.mark_verified, &[&app_id, &user_id, &name]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn totp_used_codes(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str) -> Result<Vec<UsedCode>, StorageError> {
        let r = async {
            self.db
                .query(&self.sql.totp.used_codes, &[&app_id, &tenant_id, &user_id])
                .await?
                .iter()
                .map(|r| {
                    Ok(UsedCode { code: r.try_get(0)?, is_valid: r.try_get(1)?, expiry_time_ms: r.try_get(2)?, created_time_ms: r.try_get(3)? })
                })
                .collect::<Result<Vec<_>, WorkError>>()
        }
        .await;
        self.keep(r)
    }

    async fn totp_insert_used_code(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, u: &UsedCode) -> Result<(), StorageError> {
        let params: [&(dyn ToSql + Sync); 7] = [&app_id, &tenant_id, &user_id, &u.code, &u.is_valid, &u.expiry_time_ms, &u.created_time_ms];
        let r = self.db.execute(&self.sql.totp.insert_used_code, &params).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }
}
