//! TOTP devices and used codes in SQLite. The flows (`portcullis_core::totp`) run in IMMEDIATE
//! transactions, which serialise them: a verification reads the used codes and records its attempt
//! with no one in between, so locking the user's row is only a check that it exists.

use std::collections::HashMap;

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::storage::StorageError;
use portcullis_core::totp::storage::{Device, NewDevice, TotpStorage, TotpTx, UsedCode};
use rusqlite::{params, Connection, Row};

use crate::tx::SqliteTx;
use crate::{query_err, SqliteStorage};

fn device_of(r: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        name: r.get(0)?,
        secret_key: r.get(1)?,
        period: r.get(2)?,
        skew: r.get(3)?,
        verified: r.get(4)?,
        created_at: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
    })
}

/// A user's devices, oldest first (also read by the bulk import's chunk probe).
pub(crate) fn devices(c: &Connection, app: &str, user: &str) -> rusqlite::Result<Vec<Device>> {
    let mut st = c.prepare_cached(
        "SELECT device_name, secret_key, period, skew, verified, created_at FROM totp_user_devices
         WHERE app_id = ?1 AND user_id = ?2 ORDER BY created_at, device_name",
    )?;
    let rows = st.query_map(params![app, user], device_of)?;
    rows.collect()
}

fn used_codes(c: &Connection, app: &str, tenant: &str, user: &str) -> rusqlite::Result<Vec<UsedCode>> {
    let mut st = c.prepare_cached(
        "SELECT code, is_valid, expiry_time_ms, created_time_ms FROM totp_used_codes
         WHERE app_id = ?1 AND tenant_id = ?2 AND user_id = ?3 ORDER BY created_time_ms DESC",
    )?;
    let rows = st.query_map(params![app, tenant, user], |r| {
        Ok(UsedCode { code: r.get(0)?, is_valid: r.get(1)?, expiry_time_ms: r.get(2)?, created_time_ms: r.get(3)? })
    })?;
    rows.collect()
}

#[async_trait]
impl TotpStorage for SqliteStorage {
    async fn totp_devices(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<Device>, StorageError> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        self.with_conn(move |c| devices(c, &app, &user).map_err(query_err)).await
    }

    async fn totp_device_status(&self, AppKey { app_id }: AppKey<'_>, user_ids: &[String]) -> Result<HashMap<String, bool>, StorageError> {
        let (app, users) = (app_id.to_owned(), user_ids.to_vec());
        self.with_conn(move |c| {
            let read = || -> rusqlite::Result<HashMap<String, bool>> {
                let mut st = c.prepare_cached(
                    "SELECT MAX(verified) FROM totp_user_devices WHERE app_id = ?1 AND user_id = ?2 GROUP BY user_id",
                )?;
                let mut out = HashMap::new();
                for user in users {
                    let mut rows = st.query(params![app, user])?;
                    if let Some(r) = rows.next()? {
                        let verified: bool = r.get(0)?;
                        out.insert(user, verified);
                    }
                }
                Ok(out)
            };
            read().map_err(query_err)
        })
        .await
    }

    async fn totp_delete_expired_codes(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, before: i64) -> Result<u64, StorageError> {
        let (app, tenant) = (app_id.to_owned(), tenant_id.to_owned());
        self.in_transaction(move |tx| {
            let n = tx.execute(
                "DELETE FROM totp_used_codes WHERE app_id = ?1 AND tenant_id = ?2 AND expiry_time_ms < ?3",
                params![app, tenant, before],
            )?;
            Ok(n as u64)
        })
        .await
    }
}

#[async_trait]
impl TotpTx for SqliteTx<'_> {
    async fn totp_insert_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute("INSERT INTO totp_users (app_id, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING", params![app_id, user_id])
            .map(drop)
            .map_err(query_err)
    }

    async fn totp_lock_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        self.conn()?
            .query_row("SELECT EXISTS (SELECT 1 FROM totp_users WHERE app_id = ?1 AND user_id = ?2)", params![app_id, user_id], |r| r.get(0))
            .map_err(query_err)
    }

    async fn totp_delete_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute("DELETE FROM totp_users WHERE app_id = ?1 AND user_id = ?2", params![app_id, user_id])
            .map(drop)
            .map_err(query_err)
    }

    async fn totp_user_devices(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<Device>, StorageError> {
        devices(self.conn()?, app_id, user_id).map_err(query_err)
    }

    async fn totp_insert_device(&mut self, AppKey { app_id }: AppKey<'_>, name: &str, d: &NewDevice) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "INSERT INTO totp_user_devices (app_id, user_id, device_name, secret_key, period, skew, verified, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![app_id, d.user_id, name, d.secret_key, d.period, d.skew, d.verified, d.created_at],
            )
            .map(drop)
            .map_err(query_err)
    }

    async fn totp_delete_device(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, name: &str) -> Result<bool, StorageError> {
        self.conn()?
            .execute(
                "DELETE FROM totp_user_devices WHERE app_id = ?1 AND user_id = ?2 AND device_name = ?3",
                params![app_id, user_id, name],
            )
            .map(|n| n > 0)
            .map_err(query_err)
    }

    async fn totp_rename_device(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, old_name: &str, new_name: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "UPDATE totp_user_devices SET device_name = ?4 WHERE app_id = ?1 AND user_id = ?2 AND device_name = ?3",
                params![app_id, user_id, old_name, new_name],
            )
            .map(drop)
            .map_err(query_err)
    }

    async fn totp_mark_verified(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, name: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "UPDATE totp_user_devices SET verified = TRUE WHERE app_id = ?1 AND user_id = ?2 AND device_name = ?3",
                params![app_id, user_id, name],
            )
            .map(drop)
            .map_err(query_err)
    }

    async fn totp_used_codes(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str) -> Result<Vec<UsedCode>, StorageError> {
        used_codes(self.conn()?, app_id, tenant_id, user_id).map_err(query_err)
    }

    async fn totp_insert_used_code(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, u: &UsedCode) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "INSERT INTO totp_used_codes (app_id, tenant_id, user_id, code, is_valid, expiry_time_ms, created_time_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![app_id, tenant_id, user_id, u.code, u.is_valid, u.expiry_time_ms, u.created_time_ms],
            )
            .map(drop)
            .map_err(query_err)
    }
}
