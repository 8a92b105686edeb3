//! TOTP devices and used codes in SQLite. Writes run in IMMEDIATE transactions, which serialise
//! them: a verification reads the used codes and records its attempt with no one in between.

use std::collections::HashMap;

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::totp::storage::{
    CreateDeviceOutcome, Device, NewDevice, RenameOutcome, TotpStorage, UsedCode, VerifyOutcome, VerifyRequest,
};
use portcullis_core::storage::StorageError;
use portcullis_core::totp::{decide, pick_device_name, Verdict};
use rusqlite::{params, Connection, Row, Transaction};

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

fn devices(c: &Connection, app: &str, user: &str) -> rusqlite::Result<Vec<Device>> {
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

fn create_device(tx: &Transaction<'_>, app: &str, d: &NewDevice) -> rusqlite::Result<CreateDeviceOutcome> {
    let existing = devices(tx, app, &d.user_id)?;
    let Some((name, replace)) = pick_device_name(d.name.as_deref(), &existing) else { return Ok(CreateDeviceOutcome::AlreadyExists) };
    tx.execute("INSERT INTO totp_users (app_id, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING", params![app, d.user_id])?;
    if replace {
        tx.execute(
            "DELETE FROM totp_user_devices WHERE app_id = ?1 AND user_id = ?2 AND device_name = ?3",
            params![app, d.user_id, name],
        )?;
    }
    tx.execute(
        "INSERT INTO totp_user_devices (app_id, user_id, device_name, secret_key, period, skew, verified, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![app, d.user_id, name, d.secret_key, d.period, d.skew, d.verified, d.created_at],
    )?;
    Ok(CreateDeviceOutcome::Created(name))
}

fn rename(tx: &Transaction<'_>, app: &str, user: &str, old: &str, new: &str) -> rusqlite::Result<RenameOutcome> {
    let existing = devices(tx, app, user)?;
    if !existing.iter().any(|d| d.name == old) {
        return Ok(RenameOutcome::UnknownDevice);
    }
    if old != new && existing.iter().any(|d| d.name == new) {
        return Ok(RenameOutcome::AlreadyExists);
    }
    tx.execute(
        "UPDATE totp_user_devices SET device_name = ?4 WHERE app_id = ?1 AND user_id = ?2 AND device_name = ?3",
        params![app, user, old, new],
    )?;
    Ok(RenameOutcome::Renamed)
}

fn remove(tx: &Transaction<'_>, app: &str, user: &str, name: &str) -> rusqlite::Result<bool> {
    let removed = tx.execute(
        "DELETE FROM totp_user_devices WHERE app_id = ?1 AND user_id = ?2 AND device_name = ?3",
        params![app, user, name],
    )?;
    if removed == 0 {
        return Ok(false);
    }
    if devices(tx, app, user)?.is_empty() {
        tx.execute("DELETE FROM totp_users WHERE app_id = ?1 AND user_id = ?2", params![app, user])?;
    }
    Ok(true)
}

fn verify(tx: &Transaction<'_>, app: &str, tenant: &str, req: &VerifyRequest) -> rusqlite::Result<VerifyOutcome> {
    let all = devices(tx, app, &req.user_id)?;
    let candidates = match req.candidates(all) {
        Ok(c) => c,
        Err(outcome) => return Ok(outcome),
    };
    let used = used_codes(tx, app, tenant, &req.user_id)?;
    let decision = decide(&candidates, &used, &req.code, req.now, req.limits);
    if let Some(u) = &decision.record {
        tx.execute(
            "INSERT INTO totp_used_codes (app_id, tenant_id, user_id, code, is_valid, expiry_time_ms, created_time_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![app, tenant, req.user_id, u.code, u.is_valid, u.expiry_time_ms, u.created_time_ms],
        )?;
    }
    if let (Verdict::Ok, Some(name)) = (decision.verdict, &req.device) {
        tx.execute(
            "UPDATE totp_user_devices SET verified = TRUE WHERE app_id = ?1 AND user_id = ?2 AND device_name = ?3",
            params![app, req.user_id, name],
        )?;
    }
    Ok(VerifyOutcome::Checked(decision.verdict))
}

#[async_trait]
impl TotpStorage for SqliteStorage {
    async fn totp_create_device(&self, AppKey { app_id }: AppKey<'_>, device: &NewDevice) -> Result<CreateDeviceOutcome, StorageError> {
        let (app, d) = (app_id.to_owned(), device.clone());
        self.in_transaction(move |tx| create_device(tx, &app, &d)).await
    }

    async fn totp_rename_device(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, old_name: &str, new_name: &str) -> Result<RenameOutcome, StorageError> {
        let (app, user, old, new) = (app_id.to_owned(), user_id.to_owned(), old_name.to_owned(), new_name.to_owned());
        self.in_transaction(move |tx| rename(tx, &app, &user, &old, &new)).await
    }

    async fn totp_devices(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<Device>, StorageError> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        self.with_conn(move |c| devices(c, &app, &user).map_err(query_err)).await
    }

    async fn totp_remove_device(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, name: &str) -> Result<bool, StorageError> {
        let (app, user, name) = (app_id.to_owned(), user_id.to_owned(), name.to_owned());
        self.in_transaction(move |tx| remove(tx, &app, &user, &name)).await
    }

    async fn totp_verify(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, request: &VerifyRequest) -> Result<VerifyOutcome, StorageError> {
        let (app, tenant, req) = (app_id.to_owned(), tenant_id.to_owned(), request.clone());
        self.in_transaction(move |tx| verify(tx, &app, &tenant, &req)).await
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
