//! TOTP devices and used codes. Every unit of work that changes a user's devices or codes first
//! locks the user's `totp_users` row (`FOR UPDATE`). The plugin locks the used-code rows instead,
//! which locks nothing for a user without any yet: two first verifications of one code could both
//! succeed. The user row always exists while the user has devices, so locking it serialises them.

use std::collections::HashMap;

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::totp::storage::{
    CreateDeviceOutcome, Device, NewDevice, RenameOutcome, TotpStorage, UsedCode, VerifyOutcome, VerifyRequest,
};
use portcullis_core::storage::StorageError;
use portcullis_core::totp::{decide, pick_device_name, Verdict};
use tokio_postgres::Row;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
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

/// Locks the user's row; false when the user has no row (and so no devices).
async fn lock_user(db: Conn<'_>, sql: &Statements, app: &str, user: &str) -> Result<bool, WorkError> {
    Ok(db.query_opt(&sql.lock_user, &[&app, &user]).await?.is_some())
}

async fn create_device(db: Conn<'_>, sql: &Statements, app: &str, d: &NewDevice) -> Result<CreateDeviceOutcome, WorkError> {
    let user = d.user_id.as_str();
    // The user row may be removed (with the user's last device) between the insert that found it
    // and the lock: insert again until the lock holds a row, or the device's foreign key fails.
    for _ in 0..3 {
        db.execute(&sql.insert_user, &[&app, &user]).await?;
        if lock_user(db, sql, app, user).await? {
            break;
        }
    }
    let existing = devices(db, sql, app, user).await?;
    let Some((name, replace)) = pick_device_name(d.name.as_deref(), &existing) else { return Ok(CreateDeviceOutcome::AlreadyExists) };
    if replace {
        db.execute(&sql.delete_device, &[&app, &user, &name]).await?;
    }
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] =
        [&app, &user, &name, &d.secret_key, &d.period, &d.skew, &d.verified, &d.created_at];
    db.execute(&sql.insert_device, &params).await?;
    Ok(CreateDeviceOutcome::Created(name))
}

async fn rename(db: Conn<'_>, sql: &Statements, (app, user): (&str, &str), old: &str, new: &str) -> Result<RenameOutcome, WorkError> {
    if !lock_user(db, sql, app, user).await? {
        return Ok(RenameOutcome::UnknownDevice);
    }
    let existing = devices(db, sql, app, user).await?;
    if !existing.iter().any(|d| d.name == old) {
        return Ok(RenameOutcome::UnknownDevice);
    }
    if old != new && existing.iter().any(|d| d.name == new) {
        return Ok(RenameOutcome::AlreadyExists);
    }
    db.execute(&sql.rename_device, &[&app, &user, &old, &new]).await?;
    Ok(RenameOutcome::Renamed)
}

async fn remove(db: Conn<'_>, sql: &Statements, (app, user): (&str, &str), name: &str) -> Result<bool, WorkError> {
    if !lock_user(db, sql, app, user).await? {
        return Ok(false);
    }
    if db.execute(&sql.delete_device, &[&app, &user, &name]).await? == 0 {
        return Ok(false);
    }
    if devices(db, sql, app, user).await?.is_empty() {
        db.execute(&sql.delete_user, &[&app, &user]).await?;
    }
    Ok(true)
}

async fn verify(db: Conn<'_>, sql: &Statements, (app, tenant): (&str, &str), req: &VerifyRequest) -> Result<VerifyOutcome, WorkError> {
    let user = req.user_id.as_str();
    let all = if lock_user(db, sql, app, user).await? { devices(db, sql, app, user).await? } else { Vec::new() };
    let candidates = match req.candidates(all) {
        Ok(c) => c,
        Err(outcome) => return Ok(outcome),
    };
    let used = db
        .query(&sql.used_codes, &[&app, &tenant, &user])
        .await?
        .iter()
        .map(|r| {
            Ok(UsedCode { code: r.try_get(0)?, is_valid: r.try_get(1)?, expiry_time_ms: r.try_get(2)?, created_time_ms: r.try_get(3)? })
        })
        .collect::<Result<Vec<_>, WorkError>>()?;
    let decision = decide(&candidates, &used, &req.code, req.now, req.limits);
    if let Some(u) = &decision.record {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
            [&app, &tenant, &user, &u.code, &u.is_valid, &u.expiry_time_ms, &u.created_time_ms];
        db.execute(&sql.insert_used_code, &params).await?;
    }
    if let (Verdict::Ok, Some(name)) = (decision.verdict, &req.device) {
        db.execute(&sql.mark_verified, &[&app, &user, name]).await?;
    }
    Ok(VerifyOutcome::Checked(decision.verdict))
}

#[async_trait]
impl TotpStorage for PgStorage {
    async fn totp_create_device(&self, AppKey { app_id }: AppKey<'_>, device: &NewDevice) -> Result<CreateDeviceOutcome, StorageError> {
        let ctx = (&self.sql, app_id, device);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, d)| Box::pin(create_device(db, &sql.totp, app, d))).await
    }

    async fn totp_rename_device(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, old_name: &str, new_name: &str) -> Result<RenameOutcome, StorageError> {
        let ctx = (&self.sql, (app_id, user_id), old_name, new_name);
        self.db.run(Mode::Write, &ctx, |db, (sql, key, old, new)| Box::pin(rename(db, &sql.totp, *key, old, new))).await
    }

    async fn totp_devices(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<Device>, StorageError> {
        let ctx = (&self.sql, app_id, user_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, user)| Box::pin(devices(db, &sql.totp, app, user))).await
    }

    async fn totp_remove_device(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, name: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, user_id), name);
        self.db.run(Mode::Write, &ctx, |db, (sql, key, name)| Box::pin(remove(db, &sql.totp, *key, name))).await
    }

    async fn totp_verify(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, request: &VerifyRequest) -> Result<VerifyOutcome, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id), request);
        self.db.run(Mode::Write, &ctx, |db, (sql, key, req)| Box::pin(verify(db, &sql.totp, *key, req))).await
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
