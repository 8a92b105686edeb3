//! The registry of apps and tenants: their configurations (kept in the base database), their
//! effective configs (base ⊕ connection-URI domain ⊕ app ⊕ tenant), and their storages (one per
//! distinct database, shared by every tenant that names it).
//!
//! Reads take an immutable snapshot (an `Arc` swap), so requests never wait on a lock held across
//! I/O. Changes are written to the database first, then the snapshot is rebuilt.
//!
//! Several instances may share the base database. Every change also writes a new random version
//! into one `key_value` row; an instance whose snapshot was loaded at another version reloads.
//! The version is checked (one primary-key read) before a change, when a request names a tenant
//! this instance has not seen, before the multitenancy APIs answer, and every second in the
//! background; everything is re-read every `tenant_sync_interval_sec` regardless, for edits made
//! to the tables by hand.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use portcullis_core::config::Config;
use portcullis_core::crypto::uuid_v4;
use portcullis_core::ids::{TenantIdentifier, TenantKey, PUBLIC};
use portcullis_core::multitenancy::TenantConfig;
use portcullis_core::now_ms;
use portcullis_core::settings::TenantSettings;
use portcullis_core::storage::{Storage, StorageError};

use crate::http::access::Access;
use crate::storage_open::open_storage;

/// One tenant as requests see it.
pub struct Tenant {
    pub config: Arc<TenantConfig>,
    pub effective: Config,
    /// What the recipes read from `effective`, derived once.
    pub settings: TenantSettings,
    /// Who may call: IP filters, API keys, CDI versions, derived once.
    pub access: Access,
    pub storage: Arc<dyn Storage>,
}

#[derive(Default)]
pub struct Snapshot {
    pub tenants: BTreeMap<TenantIdentifier, Arc<Tenant>>,
}

impl Snapshot {
    pub fn get(&self, id: &TenantIdentifier) -> Option<&Arc<Tenant>> {
        self.tenants.get(id)
    }

    pub fn cud_exists(&self, cud: &str) -> bool {
        self.tenants.contains_key(&TenantIdentifier::new(cud, "public", "public"))
    }

    pub fn app_exists(&self, cud: &str, app_id: &str) -> bool {
        self.tenants.contains_key(&TenantIdentifier::new(cud, app_id, "public"))
    }

    /// The distinct databases of the given tenants (tenants sharing a database share its storage).
    pub fn distinct_storages<'a>(tenants: impl Iterator<Item = &'a Arc<Tenant>>) -> Vec<&'a Arc<dyn Storage>> {
        let mut out: Vec<&Arc<dyn Storage>> = Vec::new();
        for t in tenants {
            if !out.iter().any(|s| Arc::ptr_eq(s, &t.storage)) {
                out.push(&t.storage);
            }
        }
        out
    }

    /// The distinct databases an app's tenants use.
    pub fn storages_of_app(&self, cud: &str, app_id: &str) -> Vec<&Arc<dyn Storage>> {
        let app = self.tenants.values().filter(|t| t.config.id.cud == cud && t.config.id.app_id == app_id);
        Self::distinct_storages(app)
    }

    /// Tenants of one app, public first then by id.
    pub fn tenants_of_app<'a>(&'a self, cud: &'a str, app_id: &'a str) -> impl Iterator<Item = &'a Arc<Tenant>> + 'a {
        self.tenants.values().filter(move |t| t.config.id.cud == cud && t.config.id.app_id == app_id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("{0}")]
    InvalidConfig(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The tenant a change was requested through was removed before the change could be made.
    #[error("tenant {0} not found")]
    NotFound(TenantIdentifier),
}

/// The `key_value` row (of the base database's public app) naming the tenant configs' version.
pub const VERSION_KEY: &str = "portcullis.tenant_configs_version";

/// Every stored tenant config; `Arc`s so that copying the map for a change is cheap.
type Configs = BTreeMap<TenantIdentifier, Arc<TenantConfig>>;

pub struct Registry {
    pub base: Config,
    base_storage: Arc<dyn Storage>,
    storages: tokio::sync::Mutex<HashMap<String, Arc<dyn Storage>>>,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Serialises changes so that two concurrent updates do not lose each other.
    writer: tokio::sync::Mutex<()>,
    /// The version (`VERSION_KEY`) the snapshot was loaded at; `None` before the first load.
    loaded_version: Mutex<Option<String>>,
}

/// The effective config of `id` given every stored tenant config.
fn effective_config(base: &Config, configs: &Configs, id: &TenantIdentifier) -> Result<Config, String> {
    let mut layers = vec![id.cud_public(), id.app_public(), id.clone()];
    layers.dedup();
    let mut cfg = base.clone();
    for layer in layers {
        if let Some(t) = configs.get(&layer) {
            cfg = cfg.overlay(&t.core_config)?;
        }
    }
    Ok(cfg)
}

impl Registry {
    /// Opens the base storage, makes sure the base tenant exists, and loads every tenant.
    pub async fn start(base: Config) -> Result<Arc<Registry>, TenancyError> {
        let base_storage = open_storage(&base).await?;
        let mut storages = HashMap::new();
        storages.insert(base.database_identity(), Arc::clone(&base_storage));
        let registry = Arc::new(Registry {
            base,
            base_storage,
            storages: tokio::sync::Mutex::new(storages),
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            writer: tokio::sync::Mutex::new(()),
            loaded_version: Mutex::new(None),
        });
        let configs = registry.base_storage.load_tenant_configs().await?;
        if !configs.iter().any(|t| t.id.is_base()) {
            registry.base_storage.upsert_tenant_config(&TenantConfig::new_v2(TenantIdentifier::base())).await?;
        }
        registry.reload().await?;
        // Every tenant's rows exist in its own database (the core does the same at start).
        let snapshot = registry.snapshot();
        for t in snapshot.tenants.values() {
            t.storage.add_tenant_rows(t.config.id.key(), now_ms()).await?;
        }
        Ok(registry)
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => Arc::clone(&s),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub fn base_storage(&self) -> &Arc<dyn Storage> {
        &self.base_storage
    }

    /// Re-reads every tenant config from the base database and rebuilds the snapshot.
    pub async fn reload(&self) -> Result<(), TenancyError> {
        // Under the writer lock, so that a reload cannot install a snapshot older than a change.
        let _guard = self.writer.lock().await;
        self.reload_locked(None).await
    }

    /// Reloads when the stored version differs from the loaded one (another instance changed a
    /// tenant). Returns whether this call reloaded.
    pub async fn refresh(&self) -> Result<bool, TenancyError> {
        if self.stored_version().await? == self.loaded_version() {
            return Ok(false);
        }
        let _guard = self.writer.lock().await;
        // Boxed: the reload (which may open a storage) is a large future, and every request's
        // future would otherwise reserve room for it and be copied with it on each move.
        Box::pin(self.refresh_locked()).await
    }

    /// `refresh` for the request path: a failure is logged and the snapshot kept, so the request
    /// is answered from what this instance knows (and fails on its own if the database is down).
    /// The caller takes a new snapshot afterwards in any case: a concurrent refresh may have
    /// installed a newer one while this call waited for the lock.
    pub async fn refresh_or_keep(&self) {
        if let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "tenant version check failed");
        }
    }

    async fn refresh_locked(&self) -> Result<bool, TenancyError> {
        let stored = self.stored_version().await?;
        if stored == self.loaded_version() {
            return Ok(false);
        }
        self.reload_locked(Some(stored)).await?;
        Ok(true)
    }

    /// Loads the configs; the version is read before them, so a change landing in between makes
    /// the next check reload again rather than being missed.
    async fn reload_locked(&self, version: Option<Option<String>>) -> Result<(), TenancyError> {
        let version = match version {
            Some(v) => v,
            None => self.stored_version().await?,
        };
        let configs = self.base_storage.load_tenant_configs().await?;
        let map = configs.into_iter().map(|t| (t.id.clone(), Arc::new(t))).collect();
        self.rebuild(map).await?;
        self.set_loaded_version(version);
        Ok(())
    }

    async fn stored_version(&self) -> Result<Option<String>, TenancyError> {
        Ok(self.base_storage.key_value_get(TenantKey::new(PUBLIC, PUBLIC), VERSION_KEY).await?)
    }

    fn loaded_version(&self) -> Option<String> {
        match self.loaded_version.lock() {
            Ok(v) => v.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_loaded_version(&self, version: Option<String>) {
        match self.loaded_version.lock() {
            Ok(mut v) => *v = version,
            Err(p) => *p.into_inner() = version,
        }
    }

    /// Announces a change to the other instances. The loaded version is left as it was: this
    /// instance rebuilt from its own snapshot, so its next check re-reads the database and picks up
    /// any other instance's change that landed meanwhile.
    async fn bump_version(&self) -> Result<(), TenancyError> {
        let version = uuid_v4().map_err(|e| TenancyError::Storage(StorageError::Unavailable(e.to_string())))?;
        self.base_storage.key_value_set(TenantKey::new(PUBLIC, PUBLIC), VERSION_KEY, &version, now_ms()).await?;
        Ok(())
    }

    /// Called when a request names a tenant this instance has not seen: reloads if another
    /// instance changed the tenants, so that a tenant created there is usable here at once.
    /// Unknown ids cost one primary-key read each, never a reload. Take a new snapshot afterwards.
    pub async fn reload_on_miss(&self) {
        self.refresh_or_keep().await;
    }

    async fn storage_for(&self, cfg: &Config) -> Result<Arc<dyn Storage>, TenancyError> {
        let identity = cfg.database_identity();
        let mut storages = self.storages.lock().await;
        if let Some(s) = storages.get(&identity) {
            return Ok(Arc::clone(s));
        }
        let storage = open_storage(cfg).await?;
        storages.insert(identity, Arc::clone(&storage));
        Ok(storage)
    }

    async fn build(&self, configs: &Configs) -> Result<Snapshot, TenancyError> {
        let old = self.snapshot();
        // Only tenants whose own config or an inherited layer (their app's or domain's public
        // tenant) changed are rebuilt; the rest are reused, so adding the 900th app costs one
        // tenant's work, not 900.
        let edited = |id: &TenantIdentifier, c: &Arc<TenantConfig>| {
            old.get(id).is_none_or(|t| !Arc::ptr_eq(&t.config, c) && *t.config != **c)
        };
        let removed = old.tenants.keys().filter(|id| !configs.contains_key(*id));
        let changed: Vec<&TenantIdentifier> =
            configs.iter().filter(|(id, c)| edited(id, c)).map(|(id, _)| id).chain(removed).collect();
        let changed_apps: HashSet<(&str, &str)> =
            changed.iter().filter(|id| id.is_public_tenant()).map(|id| (id.cud.as_str(), id.app_id.as_str())).collect();
        let changed_cuds: HashSet<&str> =
            changed.iter().filter(|id| id.is_public_tenant() && id.app_id == PUBLIC).map(|id| id.cud.as_str()).collect();
        let changed: HashSet<&TenantIdentifier> = changed.into_iter().collect();

        let mut tenants = old.tenants.clone();
        tenants.retain(|id, _| configs.contains_key(id));
        for (id, config) in configs {
            let affected = changed.contains(id)
                || changed_apps.contains(&(id.cud.as_str(), id.app_id.as_str()))
                || changed_cuds.contains(id.cud.as_str());
            if !affected {
                continue;
            }
            let effective = match effective_config(&self.base, configs, id) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(tenant = %id, error = %e, "stored tenant config is invalid; using the base config");
                    self.base.clone()
                }
            };
            let storage = self.storage_for(&effective).await?;
            let tenant = Tenant {
                settings: TenantSettings::from_config(&effective),
                access: Access::from_config(&effective),
                config: Arc::clone(config),
                effective,
                storage,
            };
            tenants.insert(id.clone(), Arc::new(tenant));
        }
        Ok(Snapshot { tenants })
    }

    async fn rebuild(&self, configs: Configs) -> Result<(), TenancyError> {
        let snapshot = Arc::new(self.build(&configs).await?);
        match self.snapshot.write() {
            Ok(mut s) => *s = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
        Ok(())
    }

    fn current_configs(&self) -> Configs {
        self.snapshot().tenants.iter().map(|(k, t)| (k.clone(), Arc::clone(&t.config))).collect()
    }

    /// Checks a changed set of configs: every effective config valid, app-wide keys equal across an
    /// app's tenants. Returns the effective config of `changed`.
    fn check(&self, configs: &Configs, changed: &TenantIdentifier) -> Result<Config, TenancyError> {
        let invalid = TenancyError::InvalidConfig;
        let effective = effective_config(&self.base, configs, changed).map_err(invalid)?;
        effective.validate(false).map_err(invalid)?;
        // Tenants of the changed app (all apps of the domain when a domain's config changed).
        let affected = configs.keys().filter(|id| {
            id.cud == changed.cud && (changed.app_id == "public" && changed.is_public_tenant() || id.app_id == changed.app_id)
        });
        let mut app_values: HashMap<(&str, &str), Config> = HashMap::new();
        for id in affected {
            let cfg = effective_config(&self.base, configs, id).map_err(invalid)?;
            cfg.validate(false).map_err(invalid)?;
            match app_values.get(&(id.cud.as_str(), id.app_id.as_str())) {
                None => {
                    app_values.insert((&id.cud, &id.app_id), cfg);
                }
                Some(first) => {
                    for ((key, a), (_, b)) in first.app_level_values().zip(cfg.app_level_values()) {
                        if a != b {
                            return Err(invalid(format!("You cannot set different values for {key} for the same appId")));
                        }
                    }
                }
            }
        }
        Ok(effective)
    }

    /// Creates or updates a tenant config; `edit` receives the current config (or a fresh one).
    /// `via` is the tenant the request came through (the app's public tenant when creating a
    /// tenant, the tenant itself when editing its providers): it must still exist once the change
    /// holds the writer lock, or a removal that ran meanwhile would be undone by a config written
    /// from scratch. Returns whether the tenant was created.
    pub async fn create_or_update<F>(&self, via: &TenantIdentifier, id: &TenantIdentifier, edit: F) -> Result<bool, TenancyError>
    where
        F: FnOnce(&mut TenantConfig) -> Result<(), String>,
    {
        self.create_or_update_from(via, id, TenantConfig::new_v2, edit).await
    }

    /// As [`Registry::create_or_update`], with `fresh` making the config of a tenant that does not
    /// exist yet (the deprecated non-v2 APIs create tenants of another shape).
    pub async fn create_or_update_from<F>(
        &self,
        via: &TenantIdentifier,
        id: &TenantIdentifier,
        fresh: impl FnOnce(TenantIdentifier) -> TenantConfig,
        edit: F,
    ) -> Result<bool, TenancyError>
    where
        F: FnOnce(&mut TenantConfig) -> Result<(), String>,
    {
        let _guard = self.writer.lock().await;
        // Edit what the database holds, not a snapshot older than another instance's change.
        self.refresh_locked().await?;
        let mut configs = self.current_configs();
        if !configs.contains_key(via) {
            return Err(TenancyError::NotFound(via.clone()));
        }
        let mut config = configs.get(id).map(|c| (**c).clone()).unwrap_or_else(|| fresh(id.clone()));
        edit(&mut config).map_err(TenancyError::InvalidConfig)?;
        configs.insert(id.clone(), Arc::new(config.clone()));
        let effective = self.check(&configs, id)?;
        // Opening the tenant's database first: a bad URI is refused before anything is written.
        let storage = self.storage_for(&effective).await.map_err(|e| match e {
            TenancyError::Storage(s) => TenancyError::InvalidConfig(s.to_string()),
            other => other,
        })?;
        let created = self.base_storage.upsert_tenant_config(&config).await?;
        storage.add_tenant_rows(id.key(), now_ms()).await?;
        self.bump_version().await?;
        self.rebuild(configs).await?;
        Ok(created)
    }

    /// Removes tenants (their data in their databases first, then their configs). `which` picks them.
    /// Returns whether any existed.
    pub async fn remove<F>(&self, which: F) -> Result<bool, TenancyError>
    where
        F: Fn(&TenantIdentifier) -> bool,
    {
        let _guard = self.writer.lock().await;
        self.refresh_locked().await?;
        let snapshot = self.snapshot();
        let (doomed, kept): (Vec<&Arc<Tenant>>, Vec<&Arc<Tenant>>) =
            snapshot.tenants.values().partition(|t| which(&t.config.id));
        // Rows are keyed by app and tenant id only, so tenants of another connection-URI domain
        // with the same ids in the same database share them: those rows stay.
        let shared = |t: &Tenant, whole_app: bool| {
            kept.iter().any(|k| {
                Arc::ptr_eq(&k.storage, &t.storage)
                    && k.config.id.app_id == t.config.id.app_id
                    && (whole_app || k.config.id.tenant_id == t.config.id.tenant_id)
            })
        };
        for t in &doomed {
            let id = &t.config.id;
            if id.is_public_tenant() {
                if !shared(t, true) {
                    t.storage.delete_app_rows(id.app_key()).await?;
                }
            } else if !shared(t, false) {
                t.storage.delete_tenant_rows(id.key()).await?;
            }
        }
        for t in &doomed {
            self.base_storage.delete_tenant_config(&t.config.id).await?;
        }
        if !doomed.is_empty() {
            self.bump_version().await?;
        }
        let mut configs = self.current_configs();
        configs.retain(|id, _| !which(id));
        self.rebuild(configs).await?;
        Ok(!doomed.is_empty())
    }

    /// Pings every distinct storage the given tenants use.
    pub async fn ping<'a>(&self, tenants: impl Iterator<Item = &'a Arc<Tenant>>) -> Result<(), StorageError> {
        for storage in Snapshot::distinct_storages(tenants) {
            storage.ping().await?;
        }
        Ok(())
    }
}
