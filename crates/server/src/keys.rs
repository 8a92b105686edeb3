//! Signing keys and refresh-token master keys, cached per app. Keys live in the app's database
//! (its public tenant's storage); the cache is reloaded when a key is due to rotate or a token
//! names a key this instance has not seen, so instances sharing a database converge.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use portcullis_core::crypto::keys::{generate_es256_key_string, generate_key_string, Algorithm, PublicKey, SigningKey};
use portcullis_core::crypto::{refresh, uuid_v4, CryptoError};
use portcullis_core::ids::{AppKey, TenantIdentifier, TenantKey, PUBLIC};
use portcullis_core::session::signing_keys::{self, DynamicKey, KeyTiming};
use portcullis_core::session::versions::{LegacyKeys, PublishedKey};
use portcullis_core::session::{KeyProvider, SessionError, Settings};
use portcullis_core::session::storage::{SessionStorage, StaticKey};
use portcullis_core::storage::{Storage, StorageError};
use serde_json::Value;

const REFRESH_KEY_NAME: &str = "refresh_token_key";

/// How old a node's copy of the keys may be when it serves the JWKS. Another node may have made a
/// key this one has not loaded (two nodes making an app's first key at once each make one, and
/// the newer signs once published); SDKs verify against the JWKS of whichever node answers.
const JWKS_STALENESS: Duration = Duration::from_millis(500);

/// A key with its parsed forms, so that signing does not re-parse DER.
struct LoadedKey {
    kid: String,
    created_at: i64,
    algorithm: Algorithm,
    signer: Arc<SigningKey>,
    public: PublicKey,
}

fn load(kid: String, created_at: i64, key_string: &str) -> Option<LoadedKey> {
    let signer = SigningKey::from_key_string(key_string).ok()?;
    let public = signer.public_key().ok()?;
    Some(LoadedKey { kid, created_at, algorithm: signer.algorithm(), signer: Arc::new(signer), public })
}

/// Where the keys of each algorithm live, all in the seed's tables:
/// - RS256 dynamic keys in `session_access_token_signing_keys`, as the core keeps them;
/// - every static key, and ES256 dynamic keys (`key_id` `d-<created_at>`), in `jwt_signing_keys`
///   with their algorithm in its `algorithm` column. ES256 dynamic keys stay out of the dynamic
///   table because a Java core takes every row there for an RSA key (it would fail on them),
///   whereas it skips `jwt_signing_keys` rows whose string is not RSA-shaped.
fn is_es256_dynamic_row(row: &StaticKey) -> bool {
    row.algorithm == Algorithm::Es256.name() && row.key_id.starts_with("d-")
}

#[derive(Default)]
struct AppKeys {
    /// Dynamic keys of both algorithms, newest first (those valid when read; validity is checked
    /// again on use).
    dynamic: Vec<LoadedKey>,
    /// Static keys of both algorithms, oldest first.
    static_keys: Vec<LoadedKey>,
    /// When they were read from the database (`None`: never).
    loaded_at: Option<Instant>,
}

impl AppKeys {
    fn static_key(&self, algorithm: Algorithm) -> Option<&LoadedKey> {
        self.static_keys.iter().find(|k| k.algorithm == algorithm)
    }
}

/// Every app's keys. One async mutex per app serialises key creation within this process.
#[derive(Default)]
pub struct KeyCache {
    apps: Mutex<HashMap<TenantIdentifier, Arc<AppEntry>>>,
    spare: Arc<SpareKey>,
}

/// One RSA key made ahead of need, so that a rotation or an app's first key costs a request an
/// insert, not a key generation (up to a second, more on a loaded machine: long enough for an
/// SDK's JWKS fetch to time out). Refilled in the background after each use. (P-256 keys take
/// microseconds to make and are made when needed.)
#[derive(Default)]
struct SpareKey {
    key: Mutex<Option<String>>,
    refilling: AtomicBool,
}

impl SpareKey {
    async fn take(self: &Arc<Self>, algorithm: Algorithm) -> Result<String, SessionError> {
        if algorithm == Algorithm::Es256 {
            return generate_es256_key_string().map_err(SessionError::Crypto);
        }
        let spare = self.key.lock().unwrap_or_else(PoisonError::into_inner).take();
        let key = match spare {
            Some(k) => k,
            None => crypto_blocking(generate_key_string).await?,
        };
        self.refill();
        Ok(key)
    }

    fn refill(self: &Arc<Self>) {
        if self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            if let Ok(k) = generate_key_string() {
                *this.key.lock().unwrap_or_else(PoisonError::into_inner) = Some(k);
            }
            this.refilling.store(false, Ordering::Release);
        });
    }
}

#[derive(Default)]
struct AppEntry {
    keys: RwLock<Arc<AppKeys>>,
    /// Never changes once created, so it is cached for good.
    refresh_master: RwLock<Option<Arc<str>>>,
    reload: tokio::sync::Mutex<()>,
    /// A background reload is under way (see `AppKeyProvider::usable`).
    reloading: AtomicBool,
}

impl KeyCache {
    fn entry(&self, app: &TenantIdentifier) -> Arc<AppEntry> {
        let mut apps = match self.apps.lock() {
            Ok(a) => a,
            Err(p) => p.into_inner(),
        };
        Arc::clone(apps.entry(app.clone()).or_default())
    }

    /// Forgets an app's keys (after the app was removed).
    pub fn forget(&self, app: &TenantIdentifier) {
        if let Ok(mut apps) = self.apps.lock() {
            apps.remove(app);
        }
    }

    /// A key provider for one app at one instant; `settings` are the app's session settings (key
    /// timing, and the algorithm whose keys it keeps current).
    pub fn provider<'a>(&self, app: &TenantIdentifier, storage: &'a Arc<dyn Storage>, settings: &Settings, now: i64) -> AppKeyProvider<'a> {
        AppKeyProvider {
            entry: self.entry(app),
            spare: Arc::clone(&self.spare),
            app_id: app.app_id.clone(),
            storage,
            timing: settings.key_timing,
            algorithm: settings.signing_algorithm,
            now,
        }
    }
}

pub struct AppKeyProvider<'a> {
    entry: Arc<AppEntry>,
    spare: Arc<SpareKey>,
    app_id: String,
    storage: &'a Arc<dyn Storage>,
    timing: KeyTiming,
    /// The app's `access_token_signing_algorithm`: the keys that verification and the JWKS keep
    /// current. The other algorithm's keys are made (and rotated) only when something signs with them.
    algorithm: Algorithm,
    now: i64,
}

async fn crypto_blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, CryptoError> + Send + 'static) -> Result<T, SessionError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SessionError::Storage(StorageError::Unavailable(e.to_string())))?
        .map_err(SessionError::Crypto)
}

impl AppKeyProvider<'_> {
    fn snapshot(&self) -> Arc<AppKeys> {
        match self.entry.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    fn install(&self, keys: AppKeys) {
        match self.entry.keys.write() {
            Ok(mut k) => *k = Arc::new(keys),
            Err(p) => *p.into_inner() = Arc::new(keys),
        }
    }

    /// The dynamic keys of `algorithm` that still verify, newest first.
    fn valid_dynamic(&self, keys: &AppKeys, algorithm: Algorithm) -> Vec<DynamicKey> {
        let list =
            keys.dynamic.iter().filter(|k| k.algorithm == algorithm).map(|k| DynamicKey { created_at: k.created_at, value: String::new() }).collect();
        signing_keys::valid_keys(list, self.now, self.timing)
    }

    /// Every key that verifies now: the valid dynamic keys of both algorithms, newest first, then
    /// the static keys.
    fn verifying<'k>(&self, keys: &'k AppKeys) -> impl Iterator<Item = &'k LoadedKey> {
        let oldest_valid = self.now - self.timing.lifetime_ms;
        keys.dynamic.iter().filter(move |k| k.created_at >= oldest_valid).chain(keys.static_keys.iter())
    }

    /// Reads and parses every key of the app (one read of each key table).
    async fn read(&self) -> Result<AppKeys, SessionError> {
        let s: &dyn SessionStorage = self.storage.as_ref();
        let rsa_dynamic = s.dynamic_keys(AppKey::new(&self.app_id)).await?;
        let (es_dynamic, statics): (Vec<StaticKey>, Vec<StaticKey>) =
            s.static_keys(AppKey::new(&self.app_id)).await?.into_iter().partition(is_es256_dynamic_row);
        // Expired keys (not yet deleted by the cleanup job) are not even parsed.
        let oldest_valid = self.now - self.timing.lifetime_ms;
        let mut dynamic: Vec<LoadedKey> = rsa_dynamic
            .iter()
            .filter(|k| k.created_at >= oldest_valid)
            .filter_map(|k| load(k.kid(), k.created_at, &k.value))
            .chain(es_dynamic.iter().filter(|k| k.created_at >= oldest_valid).filter_map(|k| load(k.key_id.clone(), k.created_at, &k.key_string)))
            .collect();
        dynamic.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        let static_keys = statics.iter().filter_map(|k| load(k.key_id.clone(), k.created_at, &k.key_string)).collect();
        Ok(AppKeys { dynamic, static_keys, loaded_at: Some(Instant::now()) })
    }

    /// Reads the keys from the database, creating what is missing for `algorithm` when `create`:
    /// its next dynamic key when one is due (idempotent across instances) and a static key when the
    /// app has none of it. Only creation is serialised: a read never waits behind a key being made.
    async fn reload(&self, create: bool, algorithm: Algorithm) -> Result<Arc<AppKeys>, SessionError> {
        let _guard = if create { Some(self.entry.reload.lock().await) } else { None };
        let mut keys = self.read().await?;
        if create {
            let s: &dyn SessionStorage = self.storage.as_ref();
            let app = AppKey::new(&self.app_id);
            let mut made = false;
            let chain = self.valid_dynamic(&keys, algorithm);
            if let Some(mut at) = signing_keys::next_key_time(&chain, self.now, self.timing) {
                // Both algorithms' dynamic kids are `d-<created_at>`: never take the other's time.
                while keys.dynamic.iter().any(|k| k.created_at == at && k.algorithm != algorithm) {
                    at += 1;
                }
                let value = self.spare.take(algorithm).await?;
                match algorithm {
                    Algorithm::Rs256 => s.dynamic_key_insert(app, &DynamicKey { created_at: at, value }).await?,
                    Algorithm::Es256 => {
                        let row = StaticKey { key_id: format!("d-{at}"), key_string: value, algorithm: algorithm.name().into(), created_at: at };
                        s.static_key_insert(app, &row).await?
                    }
                }
                made = true;
            }
            if keys.static_key(algorithm).is_none() {
                let key_string = self.spare.take(algorithm).await?;
                let key = StaticKey { key_id: format!("s-{}", uuid_v4()?), key_string, algorithm: algorithm.name().into(), created_at: self.now };
                s.static_key_insert(app, &key).await?;
                made = true;
            }
            if made {
                keys = self.read().await?;
            }
        }
        self.install(keys);
        Ok(self.snapshot())
    }

    async fn current(&self) -> Result<Arc<AppKeys>, SessionError> {
        self.usable(self.snapshot(), self.algorithm).await
    }

    /// `keys`, or keys that can sign with `algorithm`: a request waits for a key to be made only
    /// when no key of it is in its signing interval. A successor that is merely due (published
    /// `overlap` before it signs) is made in the background, so that no request, JWKS fetches
    /// included, waits for an RSA key generation while the current key still signs.
    async fn usable(&self, keys: Arc<AppKeys>, algorithm: Algorithm) -> Result<Arc<AppKeys>, SessionError> {
        let valid = self.valid_dynamic(&keys, algorithm);
        let signing_over = valid.first().is_none_or(|newest| self.now >= newest.created_at + self.timing.interval_ms);
        if signing_over || keys.static_key(algorithm).is_none() {
            return self.reload(true, algorithm).await;
        }
        if signing_keys::next_key_time(&valid, self.now, self.timing).is_some() {
            self.reload_in_background(algorithm);
        }
        Ok(keys)
    }

    fn reload_in_background(&self, algorithm: Algorithm) {
        if self.entry.reloading.swap(true, Ordering::AcqRel) {
            return;
        }
        let (entry, spare, app_id, storage) =
            (Arc::clone(&self.entry), Arc::clone(&self.spare), self.app_id.clone(), Arc::clone(self.storage));
        let (timing, now, app_algorithm) = (self.timing, self.now, self.algorithm);
        tokio::spawn(async move {
            let provider =
                AppKeyProvider { entry: Arc::clone(&entry), spare, app_id, storage: &storage, timing, algorithm: app_algorithm, now };
            if let Err(e) = provider.reload(true, algorithm).await {
                tracing::warn!("could not make the next signing key of app '{}': {e}", provider.app_id);
            }
            entry.reloading.store(false, Ordering::Release);
        });
    }

    /// The keys as CDI 2.x SDKs read them (`jwtSigningPublicKey*`, below 2.21): the static key when
    /// the app's `access_token_signing_key_dynamic` is false, else the dynamic key that signs now
    /// and every dynamic key that still verifies, newest first. Always RS256: tokens of those
    /// versions have a fixed RS256 header.
    pub async fn legacy_keys(&self, dynamic: bool) -> Result<LegacyKeys, SessionError> {
        let rsa = Algorithm::Rs256;
        let keys = self.usable(self.snapshot(), rsa).await?;
        let no_key = || SessionError::Storage(StorageError::Query("no usable signing key".into()));
        let published = |k: &LoadedKey| PublishedKey { public_key: k.signer.public_spki_base64(), created_at: k.created_at };
        if !dynamic {
            return Ok(LegacyKeys::Static(keys.static_key(rsa).map(published).ok_or_else(no_key)?));
        }
        let valid = self.valid_dynamic(&keys, rsa);
        let chosen = signing_keys::signing_key(&valid, self.now, self.timing).ok_or_else(no_key)?;
        let of_rsa = || keys.dynamic.iter().filter(|k| k.algorithm == rsa);
        let signing = of_rsa().find(|k| k.created_at == chosen.created_at).map(published).ok_or_else(no_key)?;
        let valid = of_rsa().filter(|k| valid.iter().any(|v| v.created_at == k.created_at)).map(published).collect();
        Ok(LegacyKeys::Dynamic { signing, valid, timing: self.timing })
    }

    /// The JWKS of the app and how long it may be cached, in seconds: every key that verifies, of
    /// both algorithms (during a switch of `access_token_signing_algorithm` the old algorithm's
    /// keys stay until they expire), dynamic keys newest first, then static keys.
    pub async fn jwks(&self) -> Result<(Vec<Value>, i64), SessionError> {
        let cached = self.snapshot();
        let keys = if cached.loaded_at.is_none_or(|at| at.elapsed() > JWKS_STALENESS) {
            self.usable(self.reload(false, self.algorithm).await?, self.algorithm).await?
        } else {
            self.current().await?
        };
        let out = self.verifying(&keys).map(|k| k.public.jwk(&k.kid)).collect();
        // Cached until the next key of an algorithm still signing is published.
        let max_age = [Algorithm::Rs256, Algorithm::Es256]
            .into_iter()
            .map(|a| self.valid_dynamic(&keys, a))
            .filter(|v| v.first().is_some_and(|newest| self.now < newest.created_at + self.timing.interval_ms))
            .map(|v| signing_keys::jwks_max_age_secs(&v, self.now, self.timing))
            .min()
            .unwrap_or(1);
        Ok((out, max_age))
    }
}

#[async_trait]
impl KeyProvider for AppKeyProvider<'_> {
    async fn signing_key(&self, algorithm: Algorithm, use_static: bool) -> Result<(String, Arc<SigningKey>), SessionError> {
        let keys = self.usable(self.snapshot(), algorithm).await?;
        let no_key = || SessionError::Storage(StorageError::Query("no usable signing key".into()));
        if use_static {
            let k = keys.static_key(algorithm).ok_or_else(no_key)?;
            return Ok((k.kid.clone(), Arc::clone(&k.signer)));
        }
        let valid = self.valid_dynamic(&keys, algorithm);
        let chosen = signing_keys::signing_key(&valid, self.now, self.timing).ok_or_else(no_key)?;
        let k = keys.dynamic.iter().find(|k| k.algorithm == algorithm && k.created_at == chosen.created_at).ok_or_else(no_key)?;
        Ok((k.kid.clone(), Arc::clone(&k.signer)))
    }

    async fn public_key(&self, kid: &str) -> Result<Option<PublicKey>, SessionError> {
        let find = |keys: &AppKeys| self.verifying(keys).find(|k| k.kid == kid).map(|k| k.public.clone());
        if let Some(k) = find(self.current().await?.as_ref()) {
            return Ok(Some(k));
        }
        // Another instance may have created it since we loaded.
        Ok(find(self.usable(self.reload(false, self.algorithm).await?, self.algorithm).await?.as_ref()))
    }

    async fn all_public_keys(&self, reload: bool) -> Result<Vec<PublicKey>, SessionError> {
        let keys = if reload {
            self.usable(self.reload(false, self.algorithm).await?, self.algorithm).await?
        } else {
            self.current().await?
        };
        Ok(self.verifying(&keys).map(|k| k.public.clone()).collect())
    }

    async fn refresh_master_key(&self) -> Result<Arc<str>, SessionError> {
        let cached = |e: &AppEntry| e.refresh_master.read().ok().and_then(|m| m.clone());
        if let Some(k) = cached(&self.entry) {
            return Ok(k);
        }
        let _guard = self.entry.reload.lock().await;
        if let Some(k) = cached(&self.entry) {
            return Ok(k);
        }
        let stored = match self.storage.key_value_get(TenantKey::new(&self.app_id, PUBLIC), REFRESH_KEY_NAME).await? {
            Some(v) => v,
            None => {
                let fresh = crypto_blocking(refresh::new_master_key).await?;
                self.storage.key_value_insert_if_absent(TenantKey::new(&self.app_id, PUBLIC), REFRESH_KEY_NAME, &fresh, self.now).await?
            }
        };
        let master: Arc<str> = Arc::from(stored.as_str());
        if let Ok(mut m) = self.entry.refresh_master.write() {
            *m = Some(Arc::clone(&master));
        }
        Ok(master)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_spare_key_is_ready_after_each_use_and_never_given_twice() {
        let spare = Arc::new(SpareKey::default());
        let first = spare.take(Algorithm::Rs256).await.unwrap();
        // the refill runs in the background
        for _ in 0..200 {
            if !spare.refilling.load(Ordering::Acquire) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ready = spare.key.lock().unwrap().clone().expect("a spare key after the first use");
        let second = spare.take(Algorithm::Rs256).await.unwrap();
        assert_eq!(second, ready);
        assert_ne!(first, second);
        assert!(SigningKey::from_key_string(&second).is_ok());
    }
}
