//! Passwordless devices, codes, consume (with sign-in-up) and user updates in SQLite. Writes run
//! in IMMEDIATE transactions, so they are serialised: checking before writing is exact here.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::passwordless::storage::{Code, Contact, ContactKind, Device, DeviceWithCodes, PasswordlessStorage, PasswordlessTx, SetContact};
use portcullis_core::storage::StorageError;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::tx::SqliteTx;
use crate::{query_err, SqliteStorage};

const DEVICE_COLUMNS: &str = "device_id_hash, email, phone_number, link_code_salt, failed_attempts";
const CODE_COLUMNS: &str = "code_id, device_id_hash, link_code_hash, created_at";

fn device_of(r: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id_hash: r.get::<_, String>(0)?.trim_end().to_owned(),
        email: r.get(1)?,
        phone_number: r.get(2)?,
        link_code_salt: r.get::<_, String>(3)?.trim_end().to_owned(),
        failed_attempts: r.get(4)?,
    })
}

fn code_of(r: &Row<'_>) -> rusqlite::Result<Code> {
    Ok(Code {
        id: r.get::<_, String>(0)?.trim_end().to_owned(),
        device_id_hash: r.get::<_, String>(1)?.trim_end().to_owned(),
        link_code_hash: r.get::<_, String>(2)?.trim_end().to_owned(),
        created_at: r.get(3)?,
    })
}

fn device(c: &Connection, app: &str, tenant: &str, hash: &str) -> rusqlite::Result<Option<Device>> {
    c.query_row(
        &format!("SELECT {DEVICE_COLUMNS} FROM passwordless_devices WHERE app_id = ?1 AND tenant_id = ?2 AND device_id_hash = ?3"),
        params![app, tenant, hash],
        device_of,
    )
    .optional()
}

fn codes_of(c: &Connection, app: &str, tenant: &str, hash: &str) -> rusqlite::Result<Vec<Code>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {CODE_COLUMNS} FROM passwordless_codes WHERE app_id = ?1 AND tenant_id = ?2 AND device_id_hash = ?3
         ORDER BY created_at, code_id"
    ))?;
    let rows = st.query_map(params![app, tenant, hash], code_of)?;
    rows.collect()
}

/// The column and value a contact selects by.
fn contact_column<'a>(contact: Contact<'a>) -> (&'static str, &'a str) {
    match contact {
        Contact::Email(e) => ("email", e),
        Contact::Phone(p) => ("phone_number", p),
    }
}

fn delete_devices_by(c: &Connection, app: &str, tenant: &str, contact: Contact<'_>) -> rusqlite::Result<usize> {
    let (column, value) = contact_column(contact);
    c.execute(
        &format!("DELETE FROM passwordless_devices WHERE app_id = ?1 AND tenant_id = ?2 AND {column} = ?3"),
        params![app, tenant, value],
    )
}

/// The rows of a passwordless sign-up (algorithms.md §4.3).
fn create_user(tx: &Connection, app: &str, tenant: &str, user: &str, device: &Device, now: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id) VALUES (?1, ?2, 'passwordless', ?2)",
        params![app, user],
    )?;
    tx.execute(
        "INSERT INTO all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id, recipe_id,
             time_joined, primary_or_recipe_user_time_joined)
         VALUES (?1, ?2, ?3, ?3, 'passwordless', ?4, ?4)",
        params![app, tenant, user, now],
    )?;
    tx.execute(
        "INSERT INTO passwordless_users (app_id, user_id, email, phone_number, time_joined) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![app, user, device.email, device.phone_number, now],
    )?;
    tx.execute(
        "INSERT INTO passwordless_user_to_tenant (app_id, tenant_id, user_id, email, phone_number) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![app, tenant, user, device.email, device.phone_number],
    )?;
    Ok(())
}

/// Removes the devices with this contact in every tenant of the user.
fn delete_devices_of_user(tx: &Connection, app: &str, user: &str, contact: Contact<'_>) -> rusqlite::Result<usize> {
    let (column, value) = contact_column(contact);
    tx.execute(
        &format!(
            "DELETE FROM passwordless_devices WHERE app_id = ?1 AND {column} = ?2
             AND tenant_id IN (SELECT tenant_id FROM all_auth_recipe_users WHERE app_id = ?1 AND user_id = ?3)"
        ),
        params![app, value, user],
    )
}

#[async_trait]
impl PasswordlessStorage for SqliteStorage {
    async fn pl_device(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, device_id_hash: &str) -> Result<Option<DeviceWithCodes>, StorageError> {
        let (app, tenant, hash) = (app_id.to_owned(), tenant_id.to_owned(), device_id_hash.to_owned());
        self.with_conn(move |c| {
            let Some(device) = device(c, &app, &tenant, &hash).map_err(query_err)? else { return Ok(None) };
            let codes = codes_of(c, &app, &tenant, &device.id_hash).map_err(query_err)?;
            Ok(Some(DeviceWithCodes { device, codes }))
        })
        .await
    }

    async fn pl_devices_by_contact(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, contact: Contact<'_>) -> Result<Vec<DeviceWithCodes>, StorageError> {
        let (column, value) = contact_column(contact);
        let (app, tenant, value) = (app_id.to_owned(), tenant_id.to_owned(), value.to_owned());
        self.with_conn(move |c| {
            let read = || -> rusqlite::Result<Vec<DeviceWithCodes>> {
                let mut st = c.prepare_cached(&format!(
                    "SELECT {DEVICE_COLUMNS} FROM passwordless_devices WHERE app_id = ?1 AND tenant_id = ?2 AND {column} = ?3
                     ORDER BY device_id_hash"
                ))?;
                let devices = st.query_map(params![app, tenant, value], device_of)?.collect::<rusqlite::Result<Vec<_>>>()?;
                devices
                    .into_iter()
                    .map(|device| Ok(DeviceWithCodes { codes: codes_of(c, &app, &tenant, &device.id_hash)?, device }))
                    .collect()
            };
            read().map_err(query_err)
        })
        .await
    }

    async fn pl_code_by_link_code_hash(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, link_code_hash: &str) -> Result<Option<Code>, StorageError> {
        let (app, tenant, hash) = (app_id.to_owned(), tenant_id.to_owned(), link_code_hash.to_owned());
        self.with_conn(move |c| {
            c.query_row(
                &format!("SELECT {CODE_COLUMNS} FROM passwordless_codes WHERE app_id = ?1 AND tenant_id = ?2 AND link_code_hash = ?3"),
                params![app, tenant, hash],
                code_of,
            )
            .optional()
            .map_err(query_err)
        })
        .await
    }

    async fn pl_delete_device(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, device_id_hash: &str) -> Result<(), StorageError> {
        let (app, tenant, hash) = (app_id.to_owned(), tenant_id.to_owned(), device_id_hash.to_owned());
        self.in_transaction(move |tx| {
            tx.execute("DELETE FROM passwordless_devices WHERE app_id = ?1 AND tenant_id = ?2 AND device_id_hash = ?3", params![app, tenant, hash])?;
            Ok(())
        })
        .await
    }

    async fn pl_delete_devices_by_contact(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, contact: Contact<'_>) -> Result<(), StorageError> {
        let (column, value) = contact_column(contact);
        let (app, tenant, value) = (app_id.to_owned(), tenant_id.to_owned(), value.to_owned());
        self.in_transaction(move |tx| {
            tx.execute(
                &format!("DELETE FROM passwordless_devices WHERE app_id = ?1 AND tenant_id = ?2 AND {column} = ?3"),
                params![app, tenant, value],
            )?;
            Ok(())
        })
        .await
    }

    async fn pl_delete_expired_devices(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, cutoff: i64) -> Result<u64, StorageError> {
        let (app, tenant) = (app_id.to_owned(), tenant_id.to_owned());
        self.in_transaction(move |tx| {
            let n = tx.execute(
                "DELETE FROM passwordless_devices AS d WHERE d.app_id = ?1 AND d.tenant_id = ?2
                 AND EXISTS (SELECT 1 FROM passwordless_codes c WHERE c.app_id = d.app_id AND c.tenant_id = d.tenant_id
                             AND c.device_id_hash = d.device_id_hash AND c.created_at < ?3)
                 AND NOT EXISTS (SELECT 1 FROM passwordless_codes c WHERE c.app_id = d.app_id AND c.tenant_id = d.tenant_id
                                 AND c.device_id_hash = d.device_id_hash AND c.created_at >= ?3)",
                params![app, tenant, cutoff],
            )?;
            Ok(n as u64)
        })
        .await
    }
}

#[async_trait]
impl PasswordlessTx for SqliteTx<'_> {
    async fn pl_insert_device(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, d: &Device) -> Result<bool, StorageError> {
        let inserted = self.conn()?.execute(
            "INSERT INTO passwordless_devices (app_id, tenant_id, device_id_hash, email, phone_number, link_code_salt, failed_attempts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
            params![app_id, tenant_id, d.id_hash, d.email, d.phone_number, d.link_code_salt],
        );
        self.unique(inserted)
    }

    async fn pl_insert_code(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, c: &Code) -> Result<bool, StorageError> {
        let inserted = self.conn()?.execute(
            "INSERT INTO passwordless_codes (app_id, tenant_id, code_id, device_id_hash, link_code_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![app_id, tenant_id, c.id, c.device_id_hash, c.link_code_hash, c.created_at],
        );
        self.unique(inserted)
    }

    async fn pl_lock_device(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<Option<Device>, StorageError> {
        // The IMMEDIATE transaction already excludes every other writer.
        device(self.conn()?, app_id, tenant_id, hash).map_err(query_err)
    }

    async fn pl_find_code(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<Option<Code>, StorageError> {
        self.conn()?
            .query_row(
                &format!("SELECT {CODE_COLUMNS} FROM passwordless_codes WHERE app_id = ?1 AND tenant_id = ?2 AND link_code_hash = ?3"),
                params![app_id, tenant_id, hash],
                code_of,
            )
            .optional()
            .map_err(query_err)
    }

    async fn pl_device_of_code(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, code_id: &str) -> Result<Option<String>, StorageError> {
        self.conn()?
            .query_row(
                "SELECT device_id_hash FROM passwordless_codes WHERE app_id = ?1 AND tenant_id = ?2 AND code_id = ?3",
                params![app_id, tenant_id, code_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(query_err)
    }

    async fn pl_count_codes(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<i64, StorageError> {
        self.conn()?
            .query_row(
                "SELECT COUNT(*) FROM passwordless_codes WHERE app_id = ?1 AND tenant_id = ?2 AND device_id_hash = ?3",
                params![app_id, tenant_id, hash],
                |r| r.get(0),
            )
            .map_err(query_err)
    }

    async fn pl_remove_code(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, code_id: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute("DELETE FROM passwordless_codes WHERE app_id = ?1 AND tenant_id = ?2 AND code_id = ?3", params![app_id, tenant_id, code_id])
            .map(drop)
            .map_err(query_err)
    }

    async fn pl_remove_device(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute("DELETE FROM passwordless_devices WHERE app_id = ?1 AND tenant_id = ?2 AND device_id_hash = ?3", params![app_id, tenant_id, hash])
            .map(drop)
            .map_err(query_err)
    }

    async fn pl_add_failed_attempt(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "UPDATE passwordless_devices SET failed_attempts = failed_attempts + 1 WHERE app_id = ?1 AND tenant_id = ?2 AND device_id_hash = ?3",
                params![app_id, tenant_id, hash],
            )
            .map(drop)
            .map_err(query_err)
    }

    async fn pl_remove_devices_of(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, contact: Contact<'_>) -> Result<(), StorageError> {
        delete_devices_by(self.conn()?, app_id, tenant_id, contact).map(drop).map_err(query_err)
    }

    async fn pl_user_by_contact(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, contact: Contact<'_>) -> Result<Option<String>, StorageError> {
        let (column, value) = contact_column(contact);
        let id: Option<String> = self
            .conn()?
            .query_row(
                &format!("SELECT user_id FROM passwordless_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND {column} = ?3"),
                params![app_id, tenant_id, value],
                |r| r.get(0),
            )
            .optional()
            .map_err(query_err)?;
        Ok(id.map(|id| id.trim_end().to_owned()))
    }

    async fn pl_user_contact(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<(Option<String>, Option<String>)>, StorageError> {
        self.conn()?
            .query_row(
                "SELECT email, phone_number FROM passwordless_users WHERE app_id = ?1 AND user_id = ?2",
                params![app_id, user_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(query_err)
    }

    async fn pl_create_user(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, device: &Device, time_joined: i64) -> Result<bool, StorageError> {
        let created = create_user(self.conn()?, app_id, tenant_id, user_id, device, time_joined).map(|()| 1);
        self.unique(created)
    }

    async fn pl_lock_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<(Option<String>, Option<String>)>, StorageError> {
        // The IMMEDIATE transaction already excludes every other writer.
        self.pl_user_contact(AppKey { app_id }, user_id).await
    }

    async fn pl_contact_taken(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, contact: Contact<'_>) -> Result<bool, StorageError> {
        let (column, value) = contact_column(contact);
        self.conn()?
            .query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM passwordless_user_to_tenant WHERE app_id = ?1 AND {column} = ?2 AND user_id <> ?3
                     AND tenant_id IN (SELECT tenant_id FROM all_auth_recipe_users WHERE app_id = ?1 AND user_id = ?3))"
                ),
                params![app_id, value, user_id],
                |r| r.get(0),
            )
            .map_err(query_err)
    }

    async fn pl_set_contact(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: ContactKind, value: Option<&str>) -> Result<SetContact, StorageError> {
        let (column, taken) = match kind {
            ContactKind::Email => ("email", SetContact::EmailTaken),
            ContactKind::Phone => ("phone_number", SetContact::PhoneNumberTaken),
        };
        let c = self.conn()?;
        // The tenant rows by their key (app_id, tenant_id, user_id), the user's tenants from
        // all_auth_recipe_users, rather than a scan of every row of the app.
        let changed = c
            .execute(
                &format!(
                    "UPDATE passwordless_user_to_tenant SET {column} = ?3 WHERE app_id = ?1 AND user_id = ?2 \
                     AND tenant_id IN (SELECT tenant_id FROM all_auth_recipe_users WHERE app_id = ?1 AND user_id = ?2)"
                ),
                params![app_id, user_id, value],
            )
            .and_then(|_| {
                c.execute(&format!("UPDATE passwordless_users SET {column} = ?3 WHERE app_id = ?1 AND user_id = ?2"), params![app_id, user_id, value])
            });
        Ok(if self.unique(changed)? { SetContact::Set } else { taken })
    }

    async fn pl_remove_user_devices_of(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, contact: Contact<'_>) -> Result<(), StorageError> {
        delete_devices_of_user(self.conn()?, app_id, user_id, contact).map(drop).map_err(query_err)
    }
}
