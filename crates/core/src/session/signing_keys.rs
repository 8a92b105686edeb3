//! When to rotate the dynamic access-token signing keys and which key signs. Pure functions over the
//! stored key list, so that every instance reading the same rows decides the same thing.
//!
//! Rotation is idempotent by construction: a successor key's `created_at_time` (its primary key with
//! the app id) is computed from the stored keys, so instances that rotate at once insert the same row
//! and the database's `ON CONFLICT DO NOTHING` keeps one. (Only an app's very first key, or the first
//! after a long idle, is dated "now"; two instances racing there leave two valid keys, and both pick
//! the same one to sign with.) A key is published `overlap` before it signs, so that SDKs' JWKS
//! caches hold it before they meet a token signed with it.

use crate::config::Config;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynamicKey {
    pub created_at: i64,
    pub value: String,
}

impl DynamicKey {
    pub fn kid(&self) -> String {
        format!("d-{}", self.created_at)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyTiming {
    /// How long a key signs (`access_token_dynamic_signing_key_update_interval`).
    pub interval_ms: i64,
    /// How long before signing a new key is published.
    pub overlap_ms: i64,
    /// How long a key verifies: its signing interval plus two access-token lifetimes.
    pub lifetime_ms: i64,
}

impl KeyTiming {
    pub fn from_config(cfg: &Config) -> KeyTiming {
        let interval_ms = ((cfg.access_token_dynamic_signing_key_update_interval() * 3_600_000.0) as i64).max(1);
        // Test mode allows intervals of seconds; the overlap shrinks with them as the core's does.
        let overlap_ms = if interval_ms < 60_000 { interval_ms / 5 } else { 60_000 };
        let lifetime_ms = interval_ms + 2 * cfg.access_token_validity() * 1000;
        KeyTiming { interval_ms, overlap_ms, lifetime_ms }
    }
}

/// The keys that still verify, newest first.
pub fn valid_keys(mut keys: Vec<DynamicKey>, now: i64, t: KeyTiming) -> Vec<DynamicKey> {
    keys.retain(|k| k.created_at >= now - t.lifetime_ms);
    keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
    keys
}

/// Whether a new key is due, and if so its creation time. `keys` are valid keys, newest first.
pub fn next_key_time(keys: &[DynamicKey], now: i64, t: KeyTiming) -> Option<i64> {
    match keys.first() {
        None => Some(now),
        Some(newest) if now + t.overlap_ms >= newest.created_at + t.interval_ms => {
            let successor = newest.created_at + t.interval_ms;
            // After a long pause the successor would itself be due at once: start afresh from now.
            Some(if successor + t.interval_ms <= now + t.overlap_ms { now } else { successor })
        }
        Some(_) => None,
    }
}

/// The key that signs now: the newest, unless it is still being published (then the one before it).
pub fn signing_key(keys: &[DynamicKey], now: i64, t: KeyTiming) -> Option<&DynamicKey> {
    match keys {
        [] => None,
        [newest, second, ..] if newest.created_at + t.overlap_ms > now && now < second.created_at + t.interval_ms => {
            Some(second)
        }
        [newest, ..] => Some(newest),
    }
}

/// Seconds a JWKS answer may be cached: until the next key is published.
pub fn jwks_max_age_secs(keys: &[DynamicKey], now: i64, t: KeyTiming) -> i64 {
    let newest = keys.first().map(|k| k.created_at).unwrap_or(now);
    ((newest + t.interval_ms - t.overlap_ms - now) / 1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: KeyTiming = KeyTiming { interval_ms: 1000, overlap_ms: 200, lifetime_ms: 3000 };

    fn key(at: i64) -> DynamicKey {
        DynamicKey { created_at: at, value: String::new() }
    }

    #[test]
    fn first_key_is_dated_now() {
        assert_eq!(next_key_time(&[], 12_345, T), Some(12_345));
    }

    #[test]
    fn test_mode_overlap_shrinks_with_the_interval() {
        let cfg = Config::defaults();
        assert_eq!(KeyTiming::from_config(&cfg).overlap_ms, 60_000);
    }

    #[test]
    fn rotation_publishes_before_signing() {
        let keys = vec![key(10_000)];
        assert_eq!(next_key_time(&keys, 10_500, T), None);
        // Within `overlap` of the end of its interval, the successor is due, dated at the boundary.
        assert_eq!(next_key_time(&keys, 10_850, T), Some(11_000));
        let keys = vec![key(11_000), key(10_000)];
        // The new key is published but the old one still signs until the boundary.
        assert_eq!(signing_key(&keys, 10_850, T).unwrap().created_at, 10_000);
        assert_eq!(signing_key(&keys, 11_000, T).unwrap().created_at, 11_000);
        assert_eq!(next_key_time(&keys, 10_900, T), None);
    }

    #[test]
    fn stale_keys_restart_from_now() {
        let keys = vec![key(10_000)];
        assert_eq!(next_key_time(&keys, 50_123, T), Some(50_123));
        assert!(valid_keys(keys, 50_123, T).is_empty());
    }

    #[test]
    fn jwks_max_age_is_at_least_a_second() {
        let t = KeyTiming { interval_ms: 100_000, overlap_ms: 60_000, lifetime_ms: 1 };
        assert_eq!(jwks_max_age_secs(&[key(10_000)], 10_000, t), 40);
        assert_eq!(jwks_max_age_secs(&[key(10_000)], 99_000, T), 1);
    }
}
