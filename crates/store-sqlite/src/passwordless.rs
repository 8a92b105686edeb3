//! Passwordless devices, codes, consume (with sign-in-up) and user updates in SQLite. Writes run
//! in IMMEDIATE transactions, so they are serialised: checking before writing is exact here.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::passwordless::storage::{
    Code, ConsumeOutcome, ConsumeRequest, Contact, CreateCodeOutcome, Device, DeviceWithCodes, FieldUpdate, PasswordlessStorage,
    UpdateUserOutcome,
};
use portcullis_core::storage::StorageError;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::users::is_unique_violation;
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

/// Runs `work` in an IMMEDIATE transaction that commits only when `work` says so.
fn in_tx<T>(c: &mut Connection, work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<(T, bool)>) -> Result<T, StorageError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(query_err)?;
    let (out, commit) = work(&tx).map_err(query_err)?;
    if commit {
        tx.commit().map_err(query_err)?;
    }
    Ok(out)
}

fn consume(tx: &Transaction<'_>, app: &str, tenant: &str, req: &ConsumeRequest) -> rusqlite::Result<ConsumeOutcome> {
    let Some(device) = device(tx, app, tenant, &req.device_id_hash)? else { return Ok(ConsumeOutcome::RestartFlow) };
    let delete_device = || {
        tx.execute(
            "DELETE FROM passwordless_devices WHERE app_id = ?1 AND tenant_id = ?2 AND device_id_hash = ?3",
            params![app, tenant, device.id_hash],
        )
    };
    // Possible when the configured maximum was lowered.
    if i64::from(device.failed_attempts) >= req.max_attempts {
        delete_device()?;
        return Ok(ConsumeOutcome::RestartFlow);
    }
    let code = tx
        .query_row(
            &format!("SELECT {CODE_COLUMNS} FROM passwordless_codes WHERE app_id = ?1 AND tenant_id = ?2 AND link_code_hash = ?3"),
            params![app, tenant, req.link_code_hash],
            code_of,
        )
        .optional()?
        .filter(|c| c.device_id_hash == device.id_hash);
    let fresh = code.as_ref().is_some_and(|c| c.created_at >= req.now - req.code_lifetime_ms);
    if !fresh {
        if !req.by_user_input_code {
            return Ok(ConsumeOutcome::RestartFlow);
        }
        let failed = device.failed_attempts + 1;
        if i64::from(failed) >= req.max_attempts {
            delete_device()?;
            return Ok(ConsumeOutcome::RestartFlow);
        }
        tx.execute(
            "UPDATE passwordless_devices SET failed_attempts = failed_attempts + 1 WHERE app_id = ?1 AND tenant_id = ?2 AND device_id_hash = ?3",
            params![app, tenant, device.id_hash],
        )?;
        return Ok(match code {
            Some(_) => ConsumeOutcome::ExpiredUserInputCode { failed_attempts: failed },
            None => ConsumeOutcome::IncorrectUserInputCode { failed_attempts: failed },
        });
    }
    let Some(sign) = &req.sign_in_up else { return Ok(ConsumeOutcome::Ok { device, user: None }) };
    let contact = match (&device.email, &device.phone_number) {
        (Some(e), _) => Contact::Email(e),
        (None, Some(p)) => Contact::Phone(p),
        (None, None) => return Ok(ConsumeOutcome::RestartFlow),
    };
    delete_devices_by(tx, app, tenant, contact)?;
    let (column, value) = contact_column(contact);
    let existing: Option<String> = tx
        .query_row(
            &format!("SELECT user_id FROM passwordless_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND {column} = ?3"),
            params![app, tenant, value],
            |r| r.get(0),
        )
        .optional()?;
    let (user_id, created) = match existing {
        Some(user_id) => {
            let user_id = user_id.trim_end().to_owned();
            // The user's other contact's pending sign-ins end too, as in the core.
            let (email, phone): (Option<String>, Option<String>) = tx.query_row(
                "SELECT email, phone_number FROM passwordless_users WHERE app_id = ?1 AND user_id = ?2",
                params![app, user_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if let Some(e) = email.filter(|e| Some(e) != device.email.as_ref()) {
                delete_devices_by(tx, app, tenant, Contact::Email(&e))?;
            }
            if let Some(p) = phone.filter(|p| Some(p) != device.phone_number.as_ref()) {
                delete_devices_by(tx, app, tenant, Contact::Phone(&p))?;
            }
            (user_id, false)
        }
        None => {
            create_user(tx, app, tenant, &sign.new_user_id, &device, req.now)?;
            (sign.new_user_id.clone(), true)
        }
    };
    if let (true, Some(email)) = (sign.verify_email, &device.email) {
        // Verification is keyed by the id the application uses: the external one when mapped.
        let id = crate::useridmapping::external_of(tx, app, &user_id)?.unwrap_or_else(|| user_id.clone());
        tx.execute(
            "INSERT INTO emailverification_verified_emails (app_id, user_id, email) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![app, id, email],
        )?;
    }
    Ok(ConsumeOutcome::Ok { device, user: Some((user_id, created)) })
}

/// The rows of a passwordless sign-up (algorithms.md §4.3).
fn create_user(tx: &Transaction<'_>, app: &str, tenant: &str, user: &str, device: &Device, now: i64) -> rusqlite::Result<()> {
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
fn delete_devices_of_user(tx: &Transaction<'_>, app: &str, user: &str, contact: Contact<'_>) -> rusqlite::Result<usize> {
    let (column, value) = contact_column(contact);
    tx.execute(
        &format!(
            "DELETE FROM passwordless_devices WHERE app_id = ?1 AND {column} = ?2
             AND tenant_id IN (SELECT tenant_id FROM all_auth_recipe_users WHERE app_id = ?1 AND user_id = ?3)"
        ),
        params![app, value, user],
    )
}

fn update_user(tx: &Transaction<'_>, app: &str, user: &str, email: FieldUpdate<'_>, phone: FieldUpdate<'_>) -> rusqlite::Result<UpdateUserOutcome> {
    let row: Option<(Option<String>, Option<String>)> = tx
        .query_row(
            "SELECT email, phone_number FROM passwordless_users WHERE app_id = ?1 AND user_id = ?2",
            params![app, user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((old_email, old_phone)) = row else { return Ok(UpdateUserOutcome::UnknownUser) };
    let new_email = email.map_or(old_email.as_deref(), |e| e);
    let new_phone = phone.map_or(old_phone.as_deref(), |p| p);
    if new_email.is_none() && new_phone.is_none() {
        return Ok(UpdateUserOutcome::NoContactLeft);
    }
    // Another passwordless user of one of this user's tenants with the value: the constraint's answer, named.
    let taken = |column: &str, value: &str| -> rusqlite::Result<bool> {
        tx.query_row(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM passwordless_user_to_tenant WHERE app_id = ?1 AND {column} = ?2 AND user_id <> ?3
                 AND tenant_id IN (SELECT tenant_id FROM passwordless_user_to_tenant WHERE app_id = ?1 AND user_id = ?3))"
            ),
            params![app, value, user],
            |r| r.get(0),
        )
    };
    if let Some(Some(e)) = email {
        if taken("email", e)? {
            return Ok(UpdateUserOutcome::EmailAlreadyExists);
        }
    }
    if let Some(Some(p)) = phone {
        if taken("phone_number", p)? {
            return Ok(UpdateUserOutcome::PhoneNumberAlreadyExists);
        }
    }
    for (column, update, old) in [("email", email, &old_email), ("phone_number", phone, &old_phone)] {
        let Some(value) = update else { continue };
        for table in ["passwordless_user_to_tenant", "passwordless_users"] {
            tx.execute(&format!("UPDATE {table} SET {column} = ?3 WHERE app_id = ?1 AND user_id = ?2"), params![app, user, value])?;
        }
        if value == old.as_deref() {
            continue;
        }
        // Sign-ins in progress for the old or the new value would now lead elsewhere.
        for v in [old.as_deref(), value].into_iter().flatten() {
            let contact = if column == "email" { Contact::Email(v) } else { Contact::Phone(v) };
            delete_devices_of_user(tx, app, user, contact)?;
        }
    }
    Ok(UpdateUserOutcome::Updated)
}

#[async_trait]
impl PasswordlessStorage for SqliteStorage {
    async fn pl_create_device_with_code(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, device: &Device, code: &Code) -> Result<bool, StorageError> {
        let (app, tenant, d, code) = (app_id.to_owned(), tenant_id.to_owned(), device.clone(), code.clone());
        self.with_conn(move |c| {
            in_tx(c, |tx| {
                let write = || -> rusqlite::Result<()> {
                    tx.execute(
                        "INSERT INTO passwordless_devices (app_id, tenant_id, device_id_hash, email, phone_number, link_code_salt, failed_attempts)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
                        params![app, tenant, d.id_hash, d.email, d.phone_number, d.link_code_salt],
                    )?;
                    insert_code(tx, &app, &tenant, &code)
                };
                match write() {
                    Ok(()) => Ok((true, true)),
                    Err(e) if is_unique_violation(&e) => Ok((false, false)),
                    Err(e) => Err(e),
                }
            })
        })
        .await
    }

    async fn pl_create_code(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, code: &Code) -> Result<CreateCodeOutcome, StorageError> {
        let (app, tenant, code) = (app_id.to_owned(), tenant_id.to_owned(), code.clone());
        self.with_conn(move |c| {
            in_tx(c, |tx| {
                if device(tx, &app, &tenant, &code.device_id_hash)?.is_none() {
                    return Ok((CreateCodeOutcome::UnknownDevice, false));
                }
                match insert_code(tx, &app, &tenant, &code) {
                    Ok(()) => Ok((CreateCodeOutcome::Created, true)),
                    Err(e) if is_unique_violation(&e) => Ok((CreateCodeOutcome::Duplicate, false)),
                    Err(e) => Err(e),
                }
            })
        })
        .await
    }

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

    async fn pl_consume(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, request: &ConsumeRequest) -> Result<ConsumeOutcome, StorageError> {
        let (app, tenant, req) = (app_id.to_owned(), tenant_id.to_owned(), request.clone());
        self.with_conn(move |c| {
            in_tx(c, |tx| match consume(tx, &app, &tenant, &req) {
                Ok(outcome) => Ok((outcome, true)),
                // Another user took the email or phone number meanwhile: nothing is kept, as in the core.
                Err(e) if is_unique_violation(&e) => Ok((ConsumeOutcome::RestartFlow, false)),
                Err(e) => Err(e),
            })
        })
        .await
    }

    async fn pl_delete_code(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, code_id: &str) -> Result<(), StorageError> {
        let (app, tenant, id) = (app_id.to_owned(), tenant_id.to_owned(), code_id.to_owned());
        self.in_transaction(move |tx| {
            let hash: Option<String> = tx
                .query_row(
                    "SELECT device_id_hash FROM passwordless_codes WHERE app_id = ?1 AND tenant_id = ?2 AND code_id = ?3",
                    params![app, tenant, id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(hash) = hash else { return Ok(()) };
            let count: i64 = tx.query_row(
                "SELECT COUNT(*) FROM passwordless_codes WHERE app_id = ?1 AND tenant_id = ?2 AND device_id_hash = ?3",
                params![app, tenant, hash],
                |r| r.get(0),
            )?;
            if count <= 1 {
                tx.execute("DELETE FROM passwordless_devices WHERE app_id = ?1 AND tenant_id = ?2 AND device_id_hash = ?3", params![app, tenant, hash])?;
            } else {
                tx.execute("DELETE FROM passwordless_codes WHERE app_id = ?1 AND tenant_id = ?2 AND code_id = ?3", params![app, tenant, id])?;
            }
            Ok(())
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

    async fn pl_update_user(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: FieldUpdate<'_>, phone_number: FieldUpdate<'_>) -> Result<UpdateUserOutcome, StorageError> {
        let own = |f: FieldUpdate<'_>| f.map(|v| v.map(str::to_owned));
        let (app, user, email, phone) = (app_id.to_owned(), user_id.to_owned(), own(email), own(phone_number));
        self.with_conn(move |c| {
            in_tx(c, |tx| {
                let new = portcullis_core::accountlinking::Info {
                    email: email.as_ref().and_then(|v| v.as_deref()),
                    phone_number: phone.as_ref().and_then(|v| v.as_deref()),
                    third_party: None,
                };
                match crate::accountlinking::change_conflict(tx, &app, &user, new)? {
                    Some((_, portcullis_core::accountlinking::InfoKind::PhoneNumber)) => return Ok((UpdateUserOutcome::PhoneNumberChangeNotAllowed, false)),
                    Some(_) => return Ok((UpdateUserOutcome::EmailChangeNotAllowed, false)),
                    None => {}
                }
                let outcome = update_user(tx, &app, &user, email.as_ref().map(|v| v.as_deref()), phone.as_ref().map(|v| v.as_deref()))?;
                let commit = outcome == UpdateUserOutcome::Updated;
                Ok((outcome, commit))
            })
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

fn insert_code(tx: &Transaction<'_>, app: &str, tenant: &str, code: &Code) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO passwordless_codes (app_id, tenant_id, code_id, device_id_hash, link_code_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![app, tenant, code.id, code.device_id_hash, code.link_code_hash, code.created_at],
    )?;
    Ok(())
}
