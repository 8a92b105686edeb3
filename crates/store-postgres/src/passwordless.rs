//! Passwordless devices, codes, consume (with sign-in-up) and user updates. A device row is
//! locked (`FOR UPDATE`) by every unit of work that changes it or its codes, as in the plugin, so
//! concurrent consumes of one code give one success.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::passwordless::storage::{Code, Contact, ContactKind, Device, DeviceWithCodes, PasswordlessStorage, PasswordlessTx, SetContact};
use portcullis_core::storage::StorageError;
use tokio_postgres::Row;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::users::unique;
use crate::tx::PgTx;
use crate::PgStorage;

pub struct Statements {
    insert_device: String,
    insert_code: String,
    device: String,
    device_for_update: String,
    devices_by_email: String,
    devices_by_phone: String,
    codes_of_device: String,
    code_by_link_hash: String,
    code_device: String,
    count_codes: String,
    delete_code: String,
    delete_device: String,
    delete_by_email: String,
    delete_by_phone: String,
    delete_user_tenants_by_email: String,
    delete_user_tenants_by_phone: String,
    increment_failed: String,
    user_by_email: String,
    user_by_phone: String,
    user_contact: String,
    user_contact_for_update: String,
    insert_app_user: String,
    insert_all_auth: String,
    insert_user: String,
    insert_user_tenant: String,
    email_taken: String,
    phone_taken: String,
    set_email: [String; 2],
    set_phone: [String; 2],
    expired_devices: String,
    delete_if_all_expired: String,
    /// The unique constraint on phone numbers per tenant, to name a conflict found by PostgreSQL.
    phone_constraint: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let devices = n.table("passwordless_devices")?;
        let codes = n.table("passwordless_codes")?;
        let users = n.table("passwordless_users")?;
        let to_tenant = n.table("passwordless_user_to_tenant")?;
        let all = n.table("all_auth_recipe_users")?;
        let device_cols = "device_id_hash, email, phone_number, link_code_salt, failed_attempts";
        let code_cols = "code_id, device_id_hash, link_code_hash, created_at";
        let by_device = "app_id = $1 AND tenant_id = $2 AND device_id_hash = $3";
        // The tenants of the user $3 (or $2), from all_auth_recipe_users' (app_id, user_id) index.
        let user_tenants = format!("tenant_id IN (SELECT tenant_id FROM {all} WHERE app_id = $1 AND user_id = $3)");
        let user2_tenants = format!("tenant_id IN (SELECT tenant_id FROM {all} WHERE app_id = $1 AND user_id = $2)");
        let taken = |column: &str| {
            format!("SELECT 1 FROM {to_tenant} WHERE app_id = $1 AND {column} = $2 AND user_id <> $3 AND {user_tenants} LIMIT 1")
        };
        let code_of_device = |cmp: &str| {
            format!(
                "SELECT 1 FROM {codes} c WHERE c.app_id = d.app_id AND c.tenant_id = d.tenant_id \
                 AND c.device_id_hash = d.device_id_hash AND c.created_at {cmp} $3"
            )
        };
        Ok(Statements {
            insert_device: format!(
                "INSERT INTO {devices} (app_id, tenant_id, device_id_hash, email, phone_number, link_code_salt, failed_attempts) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0)"
            ),
            insert_code: format!(
                "INSERT INTO {codes} (app_id, tenant_id, code_id, device_id_hash, link_code_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
            ),
            device: format!("SELECT {device_cols} FROM {devices} WHERE {by_device}"),
            device_for_update: format!("SELECT {device_cols} FROM {devices} WHERE {by_device} FOR UPDATE"),
            devices_by_email: format!(
                "SELECT {device_cols} FROM {devices} WHERE app_id = $1 AND tenant_id = $2 AND email = $3 ORDER BY device_id_hash"
            ),
            devices_by_phone: format!(
                "SELECT {device_cols} FROM {devices} WHERE app_id = $1 AND tenant_id = $2 AND phone_number = $3 ORDER BY device_id_hash"
            ),
            codes_of_device: format!("SELECT {code_cols} FROM {codes} WHERE {by_device} ORDER BY created_at, code_id"),
            code_by_link_hash: format!("SELECT {code_cols} FROM {codes} WHERE app_id = $1 AND tenant_id = $2 AND link_code_hash = $3"),
            code_device: format!("SELECT device_id_hash FROM {codes} WHERE app_id = $1 AND tenant_id = $2 AND code_id = $3"),
            count_codes: format!("SELECT COUNT(*) FROM {codes} WHERE {by_device}"),
            delete_code: format!("DELETE FROM {codes} WHERE app_id = $1 AND tenant_id = $2 AND code_id = $3"),
            delete_device: format!("DELETE FROM {devices} WHERE {by_device}"),
            delete_by_email: format!("DELETE FROM {devices} WHERE app_id = $1 AND tenant_id = $2 AND email = $3"),
            delete_by_phone: format!("DELETE FROM {devices} WHERE app_id = $1 AND tenant_id = $2 AND phone_number = $3"),
            delete_user_tenants_by_email: format!("DELETE FROM {devices} WHERE app_id = $1 AND email = $2 AND {user_tenants}"),
            delete_user_tenants_by_phone: format!("DELETE FROM {devices} WHERE app_id = $1 AND phone_number = $2 AND {user_tenants}"),
            increment_failed: format!("UPDATE {devices} SET failed_attempts = failed_attempts + 1 WHERE {by_device}"),
            user_by_email: format!("SELECT user_id FROM {to_tenant} WHERE app_id = $1 AND tenant_id = $2 AND email = $3"),
            user_by_phone: format!("SELECT user_id FROM {to_tenant} WHERE app_id = $1 AND tenant_id = $2 AND phone_number = $3"),
            user_contact: format!("SELECT email, phone_number FROM {users} WHERE app_id = $1 AND user_id = $2"),
            user_contact_for_update: format!("SELECT email, phone_number FROM {users} WHERE app_id = $1 AND user_id = $2 FOR UPDATE"),
            insert_app_user: format!(
                "INSERT INTO {} (app_id, user_id, recipe_id, primary_or_recipe_user_id) VALUES ($1, $2, 'passwordless', $2)",
                n.table("app_id_to_user_id")?
            ),
            insert_all_auth: format!(
                "INSERT INTO {all} (app_id, tenant_id, user_id, primary_or_recipe_user_id, recipe_id, time_joined, \
                 primary_or_recipe_user_time_joined) VALUES ($1, $2, $3, $3, 'passwordless', $4, $4)"
            ),
            insert_user: format!("INSERT INTO {users} (app_id, user_id, email, phone_number, time_joined) VALUES ($1, $2, $3, $4, $5)"),
            insert_user_tenant: format!(
                "INSERT INTO {to_tenant} (app_id, tenant_id, user_id, email, phone_number) VALUES ($1, $2, $3, $4, $5)"
            ),
            email_taken: taken("email"),
            phone_taken: taken("phone_number"),
            // The user's tenants come from the index on all_auth_recipe_users (whose rows
            // passwordless_user_to_tenant references), so the tenant rows are found by their key
            // (app_id, tenant_id, user_id) rather than by reading every row of the app.
            set_email: [
                format!("UPDATE {to_tenant} SET email = $3 WHERE app_id = $1 AND user_id = $2 AND {user2_tenants}"),
                format!("UPDATE {users} SET email = $3 WHERE app_id = $1 AND user_id = $2"),
            ],
            set_phone: [
                format!("UPDATE {to_tenant} SET phone_number = $3 WHERE app_id = $1 AND user_id = $2 AND {user2_tenants}"),
                format!("UPDATE {users} SET phone_number = $3 WHERE app_id = $1 AND user_id = $2"),
            ],
            expired_devices: format!(
                "SELECT d.device_id_hash FROM {devices} d WHERE d.app_id = $1 AND d.tenant_id = $2 AND EXISTS ({}) FOR UPDATE",
                code_of_device("<")
            ),
            // Run after the lock, so a code added meanwhile is seen (READ COMMITTED takes a new snapshot).
            delete_if_all_expired: format!(
                "DELETE FROM {devices} d WHERE d.app_id = $1 AND d.tenant_id = $2 AND d.device_id_hash = $4 AND NOT EXISTS ({})",
                code_of_device(">=")
            ),
            phone_constraint: n.constraint("passwordless_user_to_tenant", "phone_number_key")?,
        })
    }
}

fn device_of(r: &Row) -> Result<Device, WorkError> {
    Ok(Device {
        id_hash: r.try_get::<_, String>(0)?.trim_end().to_owned(),
        email: r.try_get(1)?,
        phone_number: r.try_get(2)?,
        link_code_salt: r.try_get::<_, String>(3)?.trim_end().to_owned(),
        failed_attempts: r.try_get(4)?,
    })
}

fn code_of(r: &Row) -> Result<Code, WorkError> {
    Ok(Code {
        id: r.try_get::<_, String>(0)?.trim_end().to_owned(),
        device_id_hash: r.try_get::<_, String>(1)?.trim_end().to_owned(),
        link_code_hash: r.try_get::<_, String>(2)?.trim_end().to_owned(),
        created_at: r.try_get(3)?,
    })
}

type Key<'a> = (&'a str, &'a str);

async fn with_codes(db: Conn<'_>, sql: &Statements, (app, tenant): Key<'_>, device: Device) -> Result<DeviceWithCodes, WorkError> {
    let rows = db.query(&sql.codes_of_device, &[&app, &tenant, &device.id_hash]).await?;
    let codes = rows.iter().map(code_of).collect::<Result<Vec<_>, _>>()?;
    Ok(DeviceWithCodes { device, codes })
}

async fn get_device(db: Conn<'_>, sql: &Statements, key: Key<'_>, hash: &str) -> Result<Option<DeviceWithCodes>, WorkError> {
    let Some(row) = db.query_opt(&sql.device, &[&key.0, &key.1, &hash]).await? else { return Ok(None) };
    Ok(Some(with_codes(db, sql, key, device_of(&row)?).await?))
}

async fn by_contact(db: Conn<'_>, sql: &Statements, key: Key<'_>, contact: Contact<'_>) -> Result<Vec<DeviceWithCodes>, WorkError> {
    let (query, value) = match contact {
        Contact::Email(e) => (&sql.devices_by_email, e),
        Contact::Phone(p) => (&sql.devices_by_phone, p),
    };
    let mut out = Vec::new();
    for row in db.query(query, &[&key.0, &key.1, &value]).await? {
        out.push(with_codes(db, sql, key, device_of(&row)?).await?);
    }
    Ok(out)
}

async fn delete_by_contact(db: Conn<'_>, sql: &Statements, (app, tenant): Key<'_>, contact: Contact<'_>) -> Result<(), WorkError> {
    let (query, value) = match contact {
        Contact::Email(e) => (&sql.delete_by_email, e),
        Contact::Phone(p) => (&sql.delete_by_phone, p),
    };
    db.execute(query, &[&app, &tenant, &value]).await?;
    Ok(())
}

/// The rows of a passwordless sign-up (algorithms.md §4.3); false when a unique constraint refused them.
async fn create_user(db: Conn<'_>, sql: &Statements, (app, tenant): Key<'_>, user: &str, d: &Device, now: i64) -> Result<bool, WorkError> {
    Ok(unique(db.execute(&sql.insert_app_user, &[&app, &user])).await?
        && unique(db.execute(&sql.insert_all_auth, &[&app, &tenant, &user, &now])).await?
        && unique(db.execute(&sql.insert_user, &[&app, &user, &d.email, &d.phone_number, &now])).await?
        && unique(db.execute(&sql.insert_user_tenant, &[&app, &tenant, &user, &d.email, &d.phone_number])).await?)
}

async fn delete_expired(db: Conn<'_>, sql: &Statements, (app, tenant): Key<'_>, cutoff: i64) -> Result<u64, WorkError> {
    let rows = db.query(&sql.expired_devices, &[&app, &tenant, &cutoff]).await?;
    let mut removed = 0;
    for r in rows {
        let hash: String = r.try_get(0)?;
        removed += db.execute(&sql.delete_if_all_expired, &[&app, &tenant, &cutoff, &hash]).await?;
    }
    Ok(removed)
}

#[async_trait]
impl PasswordlessStorage for PgStorage {
    async fn pl_device(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, device_id_hash: &str) -> Result<Option<DeviceWithCodes>, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id), device_id_hash);
        self.db.run(Mode::Snapshot, &ctx, |db, (sql, key, hash)| Box::pin(get_device(db, &sql.passwordless, *key, hash))).await
    }

    async fn pl_devices_by_contact(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, contact: Contact<'_>) -> Result<Vec<DeviceWithCodes>, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id), contact);
        self.db.run(Mode::Snapshot, &ctx, |db, (sql, key, contact)| Box::pin(by_contact(db, &sql.passwordless, *key, *contact))).await
    }

    async fn pl_code_by_link_code_hash(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, link_code_hash: &str) -> Result<Option<Code>, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id), link_code_hash);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, (app, tenant), hash)| {
                Box::pin(async move {
                    match db.query_opt(&sql.passwordless.code_by_link_hash, &[app, tenant, hash]).await? {
                        Some(r) => Ok(Some(code_of(&r)?)),
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn pl_delete_device(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, device_id_hash: &str) -> Result<(), StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id), device_id_hash);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, (app, tenant), hash)| {
                Box::pin(async move {
                    db.execute(&sql.passwordless.delete_device, &[app, tenant, hash]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn pl_delete_devices_by_contact(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, contact: Contact<'_>) -> Result<(), StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id), contact);
        self.db.run(Mode::Write, &ctx, |db, (sql, key, contact)| Box::pin(delete_by_contact(db, &sql.passwordless, *key, *contact))).await
    }

    async fn pl_delete_expired_devices(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, cutoff: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id), cutoff);
        self.db.run(Mode::Write, &ctx, |db, (sql, key, cutoff)| Box::pin(delete_expired(db, &sql.passwordless, *key, *cutoff))).await
    }
}

/// A contact's column value.
fn value_of(contact: Contact<'_>) -> &str {
    match contact {
        Contact::Email(v) | Contact::Phone(v) => v,
    }
}

#[async_trait]
impl PasswordlessTx for PgTx<'_> {
    async fn pl_insert_device(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, d: &Device) -> Result<bool, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let params = [&app_id as &(dyn tokio_postgres::types::ToSql + Sync), &tenant_id, &d.id_hash, &d.email, &d.phone_number, &d.link_code_salt];
        let r = unique(db.execute(&sql.insert_device, &params)).await;
        self.keep(r)
    }

    async fn pl_insert_code(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, c: &Code) -> Result<bool, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let params = [&app_id as &(dyn tokio_postgres::types::ToSql + Sync), &tenant_id, &c.id, &c.device_id_hash, &c.link_code_hash, &c.created_at];
        let r = unique(db.execute(&sql.insert_code, &params)).await;
        self.keep(r)
    }

    async fn pl_lock_device(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<Option<Device>, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let r = async { db.query_opt(&sql.device_for_update, &[&app_id, &tenant_id, &hash]).await?.map(|r| device_of(&r)).transpose() }.await;
        self.keep(r)
    }

    async fn pl_find_code(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<Option<Code>, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let r = async { db.query_opt(&sql.code_by_link_hash, &[&app_id, &tenant_id, &hash]).await?.map(|r| code_of(&r)).transpose() }.await;
        self.keep(r)
    }

    async fn pl_device_of_code(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, code_id: &str) -> Result<Option<String>, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let r = async {
            Ok(match db.query_opt(&sql.code_device, &[&app_id, &tenant_id, &code_id]).await? {
                Some(r) => Some(r.try_get::<_, String>(0)?.trim_end().to_owned()),
                None => None,
            })
        }
        .await;
        self.keep(r)
    }

    async fn pl_count_codes(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<i64, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let r = async { Ok(db.query_opt(&sql.count_codes, &[&app_id, &tenant_id, &hash]).await?.map_or(Ok(0), |r| r.try_get(0))?) }.await;
        self.keep(r)
    }

    async fn pl_remove_code(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, code_id: &str) -> Result<(), StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let r = db.execute(&sql.delete_code, &[&app_id, &tenant_id, &code_id]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn pl_remove_device(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<(), StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let r = db.execute(&sql.delete_device, &[&app_id, &tenant_id, &hash]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn pl_add_failed_attempt(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<(), StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let r = db.execute(&sql.increment_failed, &[&app_id, &tenant_id, &hash]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn pl_remove_devices_of(&mut self, tenant: TenantKey<'_>, contact: Contact<'_>) -> Result<(), StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let r = delete_by_contact(db, sql, (tenant.app_id, tenant.tenant_id), contact).await;
        self.keep(r)
    }

    async fn pl_user_by_contact(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, contact: Contact<'_>) -> Result<Option<String>, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let statement = match contact {
            Contact::Email(_) => &sql.user_by_email,
            Contact::Phone(_) => &sql.user_by_phone,
        };
        let value = value_of(contact);
        let r = async {
            Ok(match db.query_opt(statement, &[&app_id, &tenant_id, &value]).await? {
                Some(r) => Some(r.try_get::<_, String>(0)?.trim_end().to_owned()),
                None => None,
            })
        }
        .await;
        self.keep(r)
    }

    async fn pl_user_contact(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<(Option<String>, Option<String>)>, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let r = async {
            Ok(match db.query_opt(&sql.user_contact, &[&app_id, &user_id]).await? {
                Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
                None => None,
            })
        }
        .await;
        self.keep(r)
    }

    async fn pl_create_user(&mut self, tenant: TenantKey<'_>, user_id: &str, device: &Device, time_joined: i64) -> Result<bool, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let r = create_user(db, sql, (tenant.app_id, tenant.tenant_id), user_id, device, time_joined).await;
        self.keep(r)
    }

    async fn pl_lock_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<(Option<String>, Option<String>)>, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let r = async {
            Ok(match db.query_opt(&sql.user_contact_for_update, &[&app_id, &user_id]).await? {
                Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
                None => None,
            })
        }
        .await;
        self.keep(r)
    }

    async fn pl_contact_taken(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, contact: Contact<'_>) -> Result<bool, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let statement = match contact {
            Contact::Email(_) => &sql.email_taken,
            Contact::Phone(_) => &sql.phone_taken,
        };
        let value = value_of(contact);
        let r = db.query_opt(statement, &[&app_id, &value, &user_id]).await.map(|r| r.is_some()).map_err(WorkError::from);
        self.keep(r)
    }

    async fn pl_set_contact(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, kind: ContactKind, value: Option<&str>) -> Result<SetContact, StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let (statements, taken) = match kind {
            ContactKind::Email => (&sql.set_email, SetContact::EmailTaken),
            ContactKind::Phone => (&sql.set_phone, SetContact::PhoneNumberTaken),
        };
        let r = async {
            for statement in statements {
                match db.execute(statement, &[&app_id, &user_id, &value]).await {
                    Ok(_) => {}
                    // The transaction is aborted: the unique constraint that refused the value says which.
                    Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                        let on_phone = e.as_db_error().and_then(|d| d.constraint()) == Some(sql.phone_constraint.as_str());
                        return Ok(if on_phone { SetContact::PhoneNumberTaken } else { taken });
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(SetContact::Set)
        }
        .await;
        self.keep(r)
    }

    async fn pl_remove_user_devices_of(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, contact: Contact<'_>) -> Result<(), StorageError> {
        let (db, sql) = (self.db, &self.sql.passwordless);
        let statement = match contact {
            Contact::Email(_) => &sql.delete_user_tenants_by_email,
            Contact::Phone(_) => &sql.delete_user_tenants_by_phone,
        };
        let value = value_of(contact);
        let r = db.execute(statement, &[&app_id, &value, &user_id]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }
}
