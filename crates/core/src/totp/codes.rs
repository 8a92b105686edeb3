//! TOTP in the SuperTokens core's formats and rules (algorithms.md §3.5), so that devices written
//! by the Java core verify here and the other way round:
//!
//! - secret: 20 random bytes in RFC 4648 Base32 (upper case, 32 chars, no padding);
//! - codes: RFC 6238 with HMAC-SHA1, 6 digits, T0 = 0, accepted at `now + i * period` for
//!   `i ∈ [-skew, skew]`;
//! - every attempt is recorded as a used code; a valid code already used (and not yet expired) is
//!   refused (replay); `totp_max_attempts` invalid attempts in a row within the cooldown lock the
//!   user out until the cooldown has passed since the last of them.
//!
//! The decision is a pure function of the devices, the stored used codes and the clock; the
//! storage adapters call it inside the transaction that holds the user's lock.

use ring::hmac;

use crate::crypto::{random_bytes, secrets_equal, CryptoError};

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The core refuses longer codes before checking them (the used-codes column holds 8 chars).
pub const MAX_CODE_CHARS: usize = 8;

/// The most periods either side of now that a code is checked against. The core takes any
/// non-negative skew and computes every window; a skew of 2^31 - 1 would be four billion HMACs
/// per attempt, under the user's lock. 1,000 periods either side is over eight hours at 30 s and
/// accepts nearly any code already; a device stored with more is checked as if it had 1,000.
pub const MAX_CHECKED_SKEW: i32 = 1000;

fn checked_skew(device: &Device) -> i64 {
    i64::from(device.skew.clamp(0, MAX_CHECKED_SKEW))
}

/// Base32 (RFC 4648) without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32_ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Base32 decoding as lenient as the core's (Apache commons-codec): either case, and characters
/// outside the alphabet (padding, spaces, dashes) are skipped. Imported secrets are not validated
/// by the core, so a bad one simply never matches.
pub fn base32_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let value = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => continue,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// A new device secret: 160 random bits, as the core's HmacSHA1 key generator makes.
pub fn generate_secret() -> Result<String, CryptoError> {
    Ok(base32_encode(&random_bytes(20)?))
}

/// RFC 4226 HOTP with HMAC-SHA1: dynamic truncation, then the last `digits` decimal digits.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key), &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    let code = binary % 10u32.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// RFC 6238 TOTP at `time_ms` (T0 = 0): the HOTP of the number of whole periods since the epoch.
pub fn totp_at(key: &[u8], period_sec: i32, time_ms: i64, digits: u32) -> String {
    let step = i64::from(period_sec.max(1)) * 1000;
    hotp(key, time_ms.div_euclid(step).max(0) as u64, digits)
}

/// Whether `code` is the device's 6-digit code at `now` or up to `skew` periods either side.
pub fn check_code(device: &Device, code: &str, now_ms: i64) -> bool {
    let key = base32_decode(&device.secret_key);
    let step_ms = i64::from(device.period) * 1000;
    // Every window is computed, match or not, so timing says nothing about which one matched.
    let mut matched = false;
    let skew = checked_skew(device);
    for i in -skew..=skew {
        let expected = totp_at(&key, device.period, now_ms + i * step_ms, 6);
        matched |= secrets_equal(expected.as_bytes(), code.as_bytes());
    }
    matched
}

/// A row of `totp_user_devices`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    pub secret_key: String,
    pub period: i32,
    pub skew: i32,
    pub verified: bool,
    pub created_at: i64,
}

/// A row of `totp_used_codes` (for one tenant and user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsedCode {
    pub code: String,
    pub is_valid: bool,
    pub expiry_time_ms: i64,
    pub created_time_ms: i64,
}

/// The tenant's rate limit: `totp_max_attempts` and `totp_rate_limit_cooldown_sec` (in ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_attempts: i64,
    pub cooldown_ms: i64,
}

impl Limits {
    /// `totp_max_attempts` and `totp_rate_limit_cooldown_sec` of a tenant's effective config.
    pub fn from_config(cfg: &crate::config::Config) -> Limits {
        Limits { max_attempts: cfg.totp_max_attempts(), cooldown_ms: cfg.totp_rate_limit_cooldown_sec().saturating_mul(1000) }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Invalid { failed_attempts: i64, max_attempts: i64 },
    LimitReached { retry_after_ms: i64, failed_attempts: i64, max_attempts: i64 },
}

/// What a verification decided, and the used code to record (none when locked out or the code
/// is too long, as in the core).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub record: Option<UsedCode>,
}

/// Checks `code` against `devices`, given the user's used codes in this tenant, newest first.
///
/// Expired used codes count too: filtering them would release a locked-out user early, or lock
/// one out when a valid code between invalid ones expires (the core's reasoning, kept).
pub fn decide(devices: &[Device], used_newest_first: &[UsedCode], code: &str, now_ms: i64, limits: Limits) -> Decision {
    let n = limits.max_attempts;
    let window = usize::try_from(n).unwrap_or(usize::MAX);
    let invalid_run: Vec<&UsedCode> = used_newest_first.iter().take(window).take_while(|u| !u.is_valid).collect();
    let mut failed = match invalid_run.first() {
        Some(newest) => {
            let since = newest.created_time_ms - limits.cooldown_ms;
            invalid_run.iter().take_while(|u| u.created_time_ms > since).count() as i64
        }
        None => 0,
    };
    if failed == n {
        // Attempts within one millisecond are stamped a little ahead of the clock (see below).
        let elapsed = (now_ms - invalid_run.first().map_or(now_ms, |u| u.created_time_ms)).max(0);
        if elapsed < limits.cooldown_ms {
            // Not recorded: recording would push the end of the lock-out further away.
            let verdict = Verdict::LimitReached { retry_after_ms: limits.cooldown_ms - elapsed, failed_attempts: failed, max_attempts: n };
            return Decision { verdict, record: None };
        }
        // The cooldown is over: every attempt is available again.
        failed = 0;
    }
    let invalid = Verdict::Invalid { failed_attempts: failed + 1, max_attempts: n };
    if code.chars().count() > MAX_CODE_CHARS {
        return Decision { verdict: invalid, record: None };
    }
    let matching = devices.iter().find(|d| check_code(d, code, now_ms));
    let replayed = used_newest_first
        .iter()
        .any(|u| u.is_valid && u.expiry_time_ms > now_ms && secrets_equal(u.code.as_bytes(), code.as_bytes()));
    let is_valid = matching.is_some() && !replayed;
    // A used code lives as long as the matching device accepts it (the longest of the user's
    // devices when none matched), so a replay is caught for that whole time.
    let lifetime_sec = |d: &Device| i64::from(d.period) * (2 * checked_skew(d) + 1);
    let expire_sec = match matching {
        Some(d) => lifetime_sec(d),
        None => devices.iter().map(lifetime_sec).max().unwrap_or(0),
    };
    // created_time_ms is part of the primary key: attempts within one millisecond (the user's lock
    // serialises them) get consecutive times instead of a collision.
    let created = used_newest_first.first().map_or(now_ms, |u| now_ms.max(u.created_time_ms + 1));
    let record = UsedCode { code: code.to_owned(), is_valid, expiry_time_ms: now_ms + 1000 * expire_sec, created_time_ms: created };
    Decision { verdict: if is_valid { Verdict::Ok } else { invalid }, record: Some(record) }
}

/// The name a new device gets, and whether it replaces an unverified device of that name.
/// `None` when the requested name belongs to a verified device (DEVICE_ALREADY_EXISTS_ERROR).
/// Without a requested name: `TOTP Device <number of verified devices>`, counting up past names
/// that verified devices hold, as the core does.
pub fn pick_device_name(requested: Option<&str>, devices: &[Device]) -> Option<(String, bool)> {
    let state = |name: &str| devices.iter().find(|d| d.name == name).map(|d| d.verified);
    match requested {
        Some(name) => match state(name) {
            Some(true) => None,
            Some(false) => Some((name.to_owned(), true)),
            None => Some((name.to_owned(), false)),
        },
        None => {
            let mut n = devices.iter().filter(|d| d.verified).count();
            loop {
                let name = format!("TOTP Device {n}");
                match state(&name) {
                    Some(true) => n += 1,
                    Some(false) => return Some((name, true)),
                    None => return Some((name, false)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_appendix_b_sha1() {
        for (t, code) in [
            (59i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp_at(RFC_SECRET, 30, t * 1000, 8), code, "T = {t}");
            // Six digits are the last six of the same truncation.
            assert_eq!(totp_at(RFC_SECRET, 30, t * 1000, 6), code[2..], "T = {t}");
        }
    }

    #[test]
    fn rfc4226_appendix_d() {
        let expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64, 6), *code);
        }
    }

    #[test]
    fn base32_round_trips_and_is_lenient() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI======"), b"foobar");
        assert_eq!(base32_decode("mzxw 6ytb-oi"), b"foobar");
        assert_eq!(base32_encode(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let secret = generate_secret().unwrap();
        assert_eq!(secret.len(), 32);
        assert!(secret.bytes().all(|c| BASE32_ALPHABET.contains(&c)));
        assert_eq!(base32_decode(&secret).len(), 20);
    }

    fn device(name: &str, verified: bool) -> Device {
        Device { name: name.into(), secret_key: base32_encode(RFC_SECRET), period: 30, skew: 1, verified, created_at: 0 }
    }

    #[test]
    fn skew_windows() {
        let d = device("d", true);
        let now = 1_111_111_109_000;
        let at = |offset: i64| totp_at(RFC_SECRET, 30, now + offset, 6);
        assert!(check_code(&d, &at(0), now));
        assert!(check_code(&d, &at(-30_000), now));
        assert!(check_code(&d, &at(30_000), now));
        assert!(!check_code(&d, &at(60_000), now));
        let strict = Device { skew: 0, ..d };
        assert!(!check_code(&strict, &at(30_000), now));
        assert!(!check_code(&strict, "12345", now));
    }

    #[test]
    fn a_huge_skew_is_checked_as_the_maximum_in_bounded_time() {
        let d = Device { skew: i32::MAX, period: i32::MAX, ..device("d", true) };
        let now = 1_111_111_109_000;
        let started = std::time::Instant::now();
        let code = totp_at(RFC_SECRET, d.period, now, 6);
        assert!(check_code(&d, &code, now));
        let decision = decide(&[d], &[], "000000", now, LIMITS);
        assert!(decision.record.is_some_and(|r| r.expiry_time_ms > now));
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }

    fn used(code: &str, valid: bool, created: i64) -> UsedCode {
        UsedCode { code: code.into(), is_valid: valid, expiry_time_ms: created + 90_000, created_time_ms: created }
    }

    const LIMITS: Limits = Limits { max_attempts: 3, cooldown_ms: 900_000 };

    #[test]
    fn valid_then_replayed() {
        let devices = [device("d", true)];
        let now = 1_700_000_000_000;
        let code = totp_at(RFC_SECRET, 30, now, 6);
        let first = decide(&devices, &[], &code, now, LIMITS);
        assert_eq!(first.verdict, Verdict::Ok);
        let record = first.record.unwrap();
        assert!(record.is_valid);
        assert_eq!(record.expiry_time_ms, now + 90_000);
        let again = decide(&devices, std::slice::from_ref(&record), &code, now, LIMITS);
        assert_eq!(again.verdict, Verdict::Invalid { failed_attempts: 1, max_attempts: 3 });
        let again = again.record.unwrap();
        assert!(!again.is_valid);
        assert_eq!(again.created_time_ms, now + 1, "no primary key collision within one millisecond");
    }

    #[test]
    fn lock_out_and_cooldown() {
        let devices = [device("d", true)];
        let now = 1_700_000_000_000;
        let history = [used("1", false, now - 10), used("2", false, now - 20), used("3", false, now - 30)];
        let d = decide(&devices, &history, "000000", now, LIMITS);
        assert_eq!(d.verdict, Verdict::LimitReached { retry_after_ms: 899_990, failed_attempts: 3, max_attempts: 3 });
        assert!(d.record.is_none());
        // Once the cooldown has passed, attempts start again from one.
        let later = now + 900_000;
        let d = decide(&devices, &history, "000000", later, LIMITS);
        assert_eq!(d.verdict, Verdict::Invalid { failed_attempts: 1, max_attempts: 3 });
        // Attempts stamped ahead of the clock never make the wait longer than the cooldown.
        let ahead = [used("1", false, now + 2), used("2", false, now + 1), used("3", false, now)];
        assert_eq!(decide(&devices, &ahead, "0", now, LIMITS).verdict, Verdict::LimitReached { retry_after_ms: 900_000, failed_attempts: 3, max_attempts: 3 });
        // A valid code breaks the run.
        let history = [used("1", false, now - 10), used("2", true, now - 20), used("3", false, now - 30)];
        assert_eq!(decide(&devices, &history, "000000", now, LIMITS).verdict, Verdict::Invalid { failed_attempts: 2, max_attempts: 3 });
        // Invalid attempts older than the cooldown before the newest do not count.
        let history = [used("1", false, now - 10), used("2", false, now - 20), used("3", false, now - 1_000_000)];
        assert_eq!(decide(&devices, &history, "000000", now, LIMITS).verdict, Verdict::Invalid { failed_attempts: 3, max_attempts: 3 });
    }

    #[test]
    fn long_codes_and_no_devices() {
        let d = decide(&[device("d", true)], &[], "123456789", 0, LIMITS);
        assert_eq!((d.verdict, d.record), (Verdict::Invalid { failed_attempts: 1, max_attempts: 3 }, None));
        let d = decide(&[], &[], "123456", 5, LIMITS);
        assert_eq!(d.verdict, Verdict::Invalid { failed_attempts: 1, max_attempts: 3 });
        assert_eq!(d.record.unwrap().expiry_time_ms, 5);
    }

    #[test]
    fn device_names() {
        assert_eq!(pick_device_name(None, &[]), Some(("TOTP Device 0".into(), false)));
        assert_eq!(pick_device_name(Some("a"), &[device("a", true)]), None);
        assert_eq!(pick_device_name(Some("a"), &[device("a", false)]), Some(("a".into(), true)));
        let devices = [device("x", true), device("TOTP Device 1", true), device("TOTP Device 2", false)];
        assert_eq!(pick_device_name(None, &devices), Some(("TOTP Device 2".into(), true)));
        assert_eq!(pick_device_name(None, &[device("TOTP Device 0", false)]), Some(("TOTP Device 0".into(), true)));
    }
}
