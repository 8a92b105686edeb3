//! Password hashing in the SuperTokens core's stored formats (`emailpassword_users.password_hash`).
//!
//! New hashes are bcrypt or argon2id, chosen by `password_hashing_alg`, in exactly the strings the
//! Java core writes (jBCrypt `$2a$NN$…`, libargon2 `$argon2id$v=19$m=…,t=…,p=…$salt$hash`). Verification
//! reads the algorithm from the stored string, never from the config, in the Java core's order:
//! argon2 (`$argon2id`/`$argon2i`/`$argon2d` prefixes), then bcrypt (`$2a`/`$2b`/`$2x`/`$2y`), then
//! Firebase's scrypt variant (`$f_scrypt$<hash>$<salt>$m=..$r=..$s=..`); anything else never matches.
//!
//! Everything here is synchronous and CPU/memory heavy. Callers run it on a blocking thread and, like
//! the Java core, bound concurrency: argon2 hashing and verifying share `argon2_hashing_pool_size`
//! permits, Firebase scrypt verification has `firebase_password_hashing_pool_size`, bcrypt is
//! unbounded. [`algorithm_of`] says which pool a stored hash needs.
//!
//! Deliberate differences from the Java core, all on inputs Java either crashes on or gets wrong:
//! - Malformed stored hashes verify as `false` where Java throws (a 500 on sign-in).
//! - Stored hashes whose parameters exceed [`MAX_VERIFY_MEMORY_BYTES`], [`MAX_ARGON2_ITERATIONS`] or
//!   [`MAX_BCRYPT_COST`] give [`PasswordError::CostTooHigh`] instead of being computed, so that one
//!   imported hash cannot exhaust the server.
//! - Firebase scrypt hashes the password's UTF-8 bytes as Firebase does. Java uses US-ASCII (each
//!   non-ASCII character becomes `?`), which can never match a Firebase hash of a non-ASCII
//!   password; for ASCII passwords the two are identical.
//! - A Firebase hash whose hash field is empty never matches (Java matches any password when the
//!   signer key also decodes to nothing).

use aes::cipher::{KeyIvInit, StreamCipher};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;

use super::{random_bytes, secrets_equal};
use crate::config::{Config, Key};
use crate::input::java_trim;

/// Most memory one verification of a stored hash may use (argon2 `m` KiB, scrypt `128·r·N` bytes).
/// Java has no limit; real hashes use far less (Java core default 86 MiB, Firebase 16 MiB, and
/// libsodium's largest preset is exactly 1 GiB).
pub const MAX_VERIFY_MEMORY_BYTES: u64 = 1 << 30;
/// Largest argon2 `t` accepted in a stored hash (common presets use 1 to 4; the work grows as m·t).
pub const MAX_ARGON2_ITERATIONS: u32 = 64;
/// Largest bcrypt cost accepted in a stored hash: cost 20 already takes about a minute, and jBCrypt
/// would accept up to 30 (days).
pub const MAX_BCRYPT_COST: u32 = 20;

/// The message the Java core fails with (as a 500) when a Firebase scrypt hash must be checked or
/// imported but `firebase_password_hashing_signer_key` is not set.
pub const MISSING_SIGNER_KEY_MESSAGE: &str = "'firebase_password_hashing_signer_key' cannot be null";

/// The format families of a stored hash (the import API's `hashingAlgorithm` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Bcrypt,
    Argon2,
    FirebaseScrypt,
}

impl Algorithm {
    /// Reads a `hashingAlgorithm` value as the core does: trimmed and case-insensitive
    /// (`bcrypt`, `argon2`, `firebase_scrypt`).
    pub fn from_name(name: &str) -> Option<Self> {
        match java_trim(name).to_uppercase().as_str() {
            "BCRYPT" => Some(Self::Bcrypt),
            "ARGON2" => Some(Self::Argon2),
            "FIREBASE_SCRYPT" => Some(Self::FirebaseScrypt),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Bcrypt => "bcrypt",
            Self::Argon2 => "argon2",
            Self::FirebaseScrypt => "firebase_scrypt",
        }
    }
}

/// The algorithms new hashes can be made with (`password_hashing_alg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    Bcrypt,
    Argon2,
}

/// How new password hashes are made; see [`HashSettings::from_config`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashSettings {
    pub algorithm: HashAlgorithm,
    pub bcrypt_log_rounds: u32,
    pub argon2_iterations: u32,
    pub argon2_memory_kb: u32,
    pub argon2_parallelism: u32,
}

impl HashSettings {
    /// Reads `password_hashing_alg` (an app-level key, so pass the app's config), `bcrypt_log_rounds`,
    /// `argon2_iterations`, `argon2_memory_kb` and `argon2_parallelism`.
    pub fn from_config(cfg: &Config) -> Result<Self, PasswordError> {
        // Java compares case-insensitively (`PASSWORD_HASHING_ALG.valueOf(alg.toUpperCase())`).
        let algorithm = match cfg.password_hashing_alg().map(str::to_ascii_uppercase).as_deref() {
            Some("BCRYPT") => HashAlgorithm::Bcrypt,
            Some("ARGON2") => HashAlgorithm::Argon2,
            other => {
                return Err(PasswordError::InvalidSettings(format!(
                    "'password_hashing_alg' must be one of 'ARGON2' or 'BCRYPT', not {other:?}"
                )))
            }
        };
        let positive = |key: Key| {
            u32::try_from(cfg.int(key))
                .ok()
                .filter(|v| *v >= 1)
                .ok_or_else(|| PasswordError::InvalidSettings(format!("'{}' must be >= 1", key.name())))
        };
        Ok(HashSettings {
            algorithm,
            bcrypt_log_rounds: positive(Key::bcrypt_log_rounds)?,
            argon2_iterations: positive(Key::argon2_iterations)?,
            argon2_memory_kb: positive(Key::argon2_memory_kb)?,
            argon2_parallelism: positive(Key::argon2_parallelism)?,
        })
    }
}

/// What hashing and checking passwords needs from a tenant's effective config, derived once.
#[derive(Clone, Debug, PartialEq)]
pub struct PasswordSettings {
    /// How new hashes are made; the error is kept for the request that needs a hash, as a value
    /// out of range only matters then.
    pub hashing: Result<HashSettings, String>,
    pub verifying: VerifySettings,
    /// `bcrypt_refuse_long_passwords` while new hashes are bcrypt: a new password over
    /// [`BCRYPT_MAX_PASSWORD_BYTES`] is refused instead of being cut silently.
    pub refuse_over_bcrypt_limit: bool,
}

/// bcrypt reads at most 72 bytes of a password (jBCrypt, like every bcrypt, ignores the rest), so
/// two passwords that differ only after byte 72 hash alike. argon2 has no such limit.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

impl PasswordSettings {
    pub fn from_config(cfg: &Config) -> PasswordSettings {
        let hashing = HashSettings::from_config(cfg).map_err(|e| e.to_string());
        let bcrypt = matches!(&hashing, Ok(h) if h.algorithm == HashAlgorithm::Bcrypt);
        PasswordSettings {
            refuse_over_bcrypt_limit: bcrypt && cfg.bcrypt_refuse_long_passwords(),
            hashing,
            verifying: VerifySettings::from_config(cfg),
        }
    }

    /// A password about to be hashed (sign-up, a password change). Off by default: the core
    /// accepts any length under bcrypt, and so does Portcullis unless the key is set.
    pub fn check_new_password(&self, password: &str) -> Result<(), crate::input::InvalidInput> {
        if self.refuse_over_bcrypt_limit && password.len() > BCRYPT_MAX_PASSWORD_BYTES {
            return Err(crate::input::InvalidInput(format!(
                "Password must be at most {BCRYPT_MAX_PASSWORD_BYTES} bytes long (bcrypt ignores the rest)"
            )));
        }
        Ok(())
    }
}

/// What verification needs besides the stored hash.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct VerifySettings {
    /// `firebase_password_hashing_signer_key` (base64), an app-level key.
    pub firebase_signer_key: Option<String>,
}

impl VerifySettings {
    pub fn from_config(cfg: &Config) -> Self {
        VerifySettings { firebase_signer_key: cfg.firebase_password_hashing_signer_key().map(str::to_owned) }
    }
}

// The signer key is a secret: keep it out of logs.
impl std::fmt::Debug for VerifySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifySettings")
            .field("firebase_signer_key", &self.firebase_signer_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// The configured hashing parameters cannot be used (Java fails the sign-up with a 500).
    #[error("invalid password hashing settings: {0}")]
    InvalidSettings(String),
    /// A `$f_scrypt$` hash was met but the app has no signer key (Java: a 500 with this message).
    #[error("'firebase_password_hashing_signer_key' cannot be null")]
    MissingFirebaseSignerKey,
    /// The stored hash asks for more memory or time than this server allows (see the `MAX_` constants).
    #[error("the stored password hash's parameters exceed this server's limits")]
    CostTooHigh,
    #[error("random source failed")]
    Random,
}

/// Hashes a new password with the configured algorithm, in the Java core's string form.
pub fn hash(password: &str, settings: &HashSettings) -> Result<String, PasswordError> {
    match settings.algorithm {
        HashAlgorithm::Bcrypt => hash_bcrypt(password, settings.bcrypt_log_rounds),
        HashAlgorithm::Argon2 => {
            hash_argon2(password, settings.argon2_iterations, settings.argon2_memory_kb, settings.argon2_parallelism)
        }
    }
}

/// Whether `password` matches `stored_hash`. The algorithm and its parameters come from the stored
/// string. `Ok(false)` for a wrong password and for strings in no known (or a malformed) format.
pub fn verify(password: &str, stored_hash: &str, settings: &VerifySettings) -> Result<bool, PasswordError> {
    if is_argon2(stored_hash) {
        return verify_argon2(password, stored_hash);
    }
    if is_bcrypt(stored_hash) {
        return verify_bcrypt(password, stored_hash);
    }
    match parse_firebase(stored_hash) {
        Some(parsed) => verify_firebase(password, &parsed, settings.firebase_signer_key.as_deref()),
        None => Ok(false),
    }
}

/// The family `verify` would treat a stored hash as (decides which concurrency pool applies);
/// `None` if it would never match.
pub fn algorithm_of(stored_hash: &str) -> Option<Algorithm> {
    if is_argon2(stored_hash) {
        Some(Algorithm::Argon2)
    } else if is_bcrypt(stored_hash) {
        Some(Algorithm::Bcrypt)
    } else if parse_firebase(stored_hash).is_some() {
        Some(Algorithm::FirebaseScrypt)
    } else {
        None
    }
}

/// The import API's checks (`POST /recipe/user/passwordhash/import`) on `passwordHash` and the optional
/// `hashingAlgorithm`, with the core's 400 messages. `hash` is checked after [`trim_imported`], which
/// is also the value to store.
///
/// Java additionally requires `firebase_password_hashing_signer_key` to be set, failing with a 500
/// ([`MISSING_SIGNER_KEY_MESSAGE`]), when the hint is `firebase_scrypt` (checked before the hash's
/// format) or when no hint is given and the result is `Ok(Algorithm::FirebaseScrypt)`; the caller,
/// which has the config, does that.
pub fn check_imported(hash: &str, algorithm_hint: Option<&str>) -> Result<Algorithm, String> {
    let hash = trim_imported(hash);
    if hash.is_empty() {
        return Err("Password hash cannot be an empty string".into());
    }
    let hint = match algorithm_hint {
        None => None,
        Some(h) if java_trim(h).is_empty() => return Err("Hashing Algorithm cannot be an empty string".into()),
        Some(h) => Some(Algorithm::from_name(h).ok_or("Unsupported password hashing algorithm")?),
    };
    // PasswordHashingUtils.assertSuperTokensSupportInputPasswordHashFormat: the prefix tests alone
    // decide bcrypt and argon2 (Java does not parse them further on import).
    match hint {
        None if parse_firebase(hash).is_some() => Ok(Algorithm::FirebaseScrypt),
        None if is_bcrypt(hash) => Ok(Algorithm::Bcrypt),
        None if is_argon2(hash) => Ok(Algorithm::Argon2),
        None => Err("Password hash is in invalid format".into()),
        Some(Algorithm::Argon2) if is_argon2(hash) => Ok(Algorithm::Argon2),
        Some(Algorithm::Argon2) => Err("Password hash is in invalid Argon2 format".into()),
        Some(Algorithm::Bcrypt) if is_bcrypt(hash) => Ok(Algorithm::Bcrypt),
        Some(Algorithm::Bcrypt) => Err("Password hash is in invalid BCrypt format".into()),
        Some(Algorithm::FirebaseScrypt) if parse_firebase(hash).is_some() => Ok(Algorithm::FirebaseScrypt),
        Some(Algorithm::FirebaseScrypt) => Err("Password hash is in invalid Firebase SCrypt format".into()),
    }
}

/// The import API's normalisation of `passwordHash` (Java's `String.trim()`: strips characters up to
/// U+0020 at both ends, not Unicode white space). Store this.
pub fn trim_imported(hash: &str) -> &str {
    java_trim(hash)
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a", "$2b", "$2x", "$2y"].iter().any(|p| hash.starts_with(p))
}

fn is_argon2(hash: &str) -> bool {
    // "$argon2i" also covers "$argon2id"; kept as Java spells it.
    ["$argon2id", "$argon2i", "$argon2d"].iter().any(|p| hash.starts_with(p))
}

// ---------------------------------------------------------------------------------------------
// bcrypt (jBCrypt 0.4)

/// bcrypt's own base64 alphabet.
const BCRYPT_ALPHABET: &[u8; 64] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn hash_bcrypt(password: &str, cost: u32) -> Result<String, PasswordError> {
    // jBCrypt refuses log rounds outside 4..=30 ("Bad number of rounds").
    if !(4..=30).contains(&cost) {
        return Err(PasswordError::InvalidSettings(format!("bcrypt_log_rounds must be between 4 and 30, got {cost}")));
    }
    let salt: [u8; 16] =
        random_bytes(16).map_err(|_| PasswordError::Random)?.try_into().map_err(|_| PasswordError::Random)?;
    let parts = bcrypt::hash_with_salt(password.as_bytes(), cost, salt)
        .map_err(|e| PasswordError::InvalidSettings(e.to_string()))?;
    // jBCrypt's gensalt always writes the "$2a$" identifier.
    Ok(parts.format_for_version(bcrypt::Version::TwoA))
}

fn verify_bcrypt(password: &str, stored: &str) -> Result<bool, PasswordError> {
    // Java rewrites $2b/$2x/$2y to $2a (all that jBCrypt knows; $2x's historic sign-extension bug is
    // not emulated), recomputes with the stored salt and cost, and compares the whole 60-character
    // string. So only canonical strings match: exactly 60 characters, two-digit cost, and salt/hash
    // encodings whose unused trailing bits are zero.
    let Some(rest) = stored.get(3..) else { return Ok(false) };
    let rewritten = format!("$2a{rest}");
    let b = rewritten.as_bytes();
    if b.len() != 60 || !rewritten.is_ascii() || b[3] != b'$' || b[6] != b'$' {
        return Ok(false);
    }
    if !b[4].is_ascii_digit() || !b[5].is_ascii_digit() {
        return Ok(false);
    }
    let cost = u32::from(b[4] - b'0') * 10 + u32::from(b[5] - b'0');
    if !(4..=30).contains(&cost) {
        return Ok(false);
    }
    if cost > MAX_BCRYPT_COST {
        return Err(PasswordError::CostTooHigh);
    }
    let Some(salt) = decode_bcrypt_salt(&b[7..29]) else { return Ok(false) };
    let Ok(parts) = bcrypt::hash_with_salt(password.as_bytes(), cost, salt) else { return Ok(false) };
    let computed = parts.format_for_version(bcrypt::Version::TwoA);
    Ok(secrets_equal(computed.as_bytes(), b))
}

/// The 16 salt bytes from 22 bcrypt-base64 characters (the last character's low 4 bits are unused).
fn decode_bcrypt_salt(chars: &[u8]) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let (mut acc, mut bits, mut n) = (0u32, 0u32, 0usize);
    for &c in chars {
        let v = BCRYPT_ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if n < out.len() {
                out[n] = (acc >> bits) as u8;
                n += 1;
            }
        }
        acc &= (1 << bits) - 1;
    }
    (n == out.len()).then_some(out)
}

// ---------------------------------------------------------------------------------------------
// argon2 (argon2-jvm over libargon2)

/// The Java core's argon2 salt and hash lengths.
const ARGON2_SALT_LEN: usize = 16;
const ARGON2_HASH_LEN: usize = 32;

fn hash_argon2(password: &str, iterations: u32, memory_kb: u32, parallelism: u32) -> Result<String, PasswordError> {
    if parallelism > argon2::Params::MAX_P_COST {
        return Err(PasswordError::InvalidSettings(format!(
            "argon2_parallelism must be at most {}",
            argon2::Params::MAX_P_COST
        )));
    }
    let params = argon2::Params::new(memory_kb, iterations, parallelism, Some(ARGON2_HASH_LEN))
        .map_err(|e| PasswordError::InvalidSettings(format!("argon2: {e}")))?;
    let salt = random_bytes(ARGON2_SALT_LEN).map_err(|_| PasswordError::Random)?;
    let mut out = [0u8; ARGON2_HASH_LEN];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .map_err(|e| PasswordError::InvalidSettings(format!("argon2: {e}")))?;
    // libargon2's encoding, which argon2-jvm returns as is.
    Ok(format!(
        "$argon2id$v=19$m={memory_kb},t={iterations},p={parallelism}${}${}",
        STANDARD_NO_PAD.encode(&salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

struct Argon2Hash {
    algorithm: argon2::Algorithm,
    version: u32,
    m: u32,
    t: u32,
    p: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

/// Parses a stored argon2 string the way libargon2's `decode_string` does for the variant that Java
/// picked from the prefix. `None` when libargon2 would refuse it.
fn parse_argon2(stored: &str) -> Option<Argon2Hash> {
    let (algorithm, name) = if stored.starts_with("$argon2id") {
        (argon2::Algorithm::Argon2id, "$argon2id")
    } else if stored.starts_with("$argon2i") {
        (argon2::Algorithm::Argon2i, "$argon2i")
    } else {
        (argon2::Algorithm::Argon2d, "$argon2d")
    };
    let s = stored.strip_prefix(name)?;
    // A missing version field means 0x10 (libargon2; the PHC format's default).
    let (version, s) = match s.strip_prefix("$v=") {
        Some(v) => take_decimal(v)?,
        None => (0x10, s),
    };
    let (m, s) = take_decimal(s.strip_prefix("$m=")?)?;
    let (t, s) = take_decimal(s.strip_prefix(",t=")?)?;
    let (p, s) = take_decimal(s.strip_prefix(",p=")?)?;
    let (salt, s) = take_b64_nopad(s.strip_prefix('$')?)?;
    let (hash, s) = take_b64_nopad(s.strip_prefix('$')?)?;
    if !s.is_empty() {
        return None;
    }
    Some(Argon2Hash { algorithm, version, m, t, p, salt, hash })
}

fn verify_argon2(password: &str, stored: &str) -> Result<bool, PasswordError> {
    let Some(h) = parse_argon2(stored) else { return Ok(false) };
    let Ok(version) = argon2::Version::try_from(h.version) else { return Ok(false) };
    // libargon2's validate_inputs; checked before Params::new, whose `8 * p` must not overflow.
    if h.salt.len() < argon2::MIN_SALT_LEN
        || h.hash.len() < argon2::Params::MIN_OUTPUT_LEN
        || h.t < 1
        || !(1..=argon2::Params::MAX_P_COST).contains(&h.p)
        || u64::from(h.m) < 8 * u64::from(h.p)
    {
        return Ok(false);
    }
    if u64::from(h.m) * 1024 > MAX_VERIFY_MEMORY_BYTES || h.t > MAX_ARGON2_ITERATIONS {
        return Err(PasswordError::CostTooHigh);
    }
    let Ok(params) = argon2::Params::new(h.m, h.t, h.p, Some(h.hash.len())) else { return Ok(false) };
    let mut out = vec![0u8; h.hash.len()];
    if argon2::Argon2::new(h.algorithm, version, params)
        .hash_password_into(password.as_bytes(), &h.salt, &mut out)
        .is_err()
    {
        return Ok(false);
    }
    Ok(secrets_equal(&out, &h.hash))
}

/// libargon2's `decode_decimal` limited to u32: at least one digit, no leading zero.
fn take_decimal(s: &str) -> Option<(u32, &str)> {
    let end = s.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
    let digits = &s[..end];
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    Some((digits.parse().ok()?, &s[end..]))
}

/// libargon2's `from_base64`: standard alphabet, no padding, read up to the first other character;
/// at most 4 leftover bits, which must be zero.
fn take_b64_nopad(s: &str) -> Option<(Vec<u8>, &str)> {
    let end = s.bytes().position(|b| b64_value(b, false).is_none()).unwrap_or(s.len());
    let mut out = Vec::with_capacity(end * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s[..end].bytes() {
        acc = (acc << 6) | u32::from(b64_value(b, false)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 4 || acc != 0 {
        return None;
    }
    Some((out, &s[end..]))
}

/// A base64 character's value; `url_safe` also admits `-` and `_` (as commons-codec does).
fn b64_value(c: u8, url_safe: bool) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        b'-' if url_safe => Some(62),
        b'_' if url_safe => Some(63),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Firebase scrypt (ParsedFirebaseSCryptResponse + PasswordHashingUtils.verifyFirebaseSCryptPasswordHash)

struct FirebaseHash<'a> {
    /// base64 of the expected AES-CTR output, compared as a string.
    hash: &'a str,
    salt: &'a str,
    salt_separator: &'a str,
    rounds: i32,
    mem_cost: i32,
}

/// `$f_scrypt$<hash>$<salt>$m=<memCost>$r=<rounds>$s=<saltSeparator>`, the m/r/s fields in any order,
/// parsed exactly as Java's `ParsedFirebaseSCryptResponse.fromHashString` does (including its
/// `String.split` quirks), so that the same strings are accepted on import.
fn parse_firebase(stored: &str) -> Option<FirebaseHash<'_>> {
    let parts = java_split(stored, "$");
    if parts.len() != 7 || !parts[0].is_empty() || parts[1] != "f_scrypt" {
        return None;
    }
    let (mut mem_cost, mut rounds, mut salt_separator) = (None, None, None);
    for field in &parts[4..] {
        // `field.split("m=")[1]`: the text between the first and any second "m=".
        if field.starts_with("m=") {
            mem_cost = Some(java_split(field, "m=").get(1)?.parse::<i32>().ok()?);
        } else if field.starts_with("r=") {
            rounds = Some(java_split(field, "r=").get(1)?.parse::<i32>().ok()?);
        } else if field.starts_with("s=") {
            salt_separator = Some(*java_split(field, "s=").get(1)?);
        }
    }
    Some(FirebaseHash {
        hash: parts[2],
        salt: parts[3],
        salt_separator: salt_separator?,
        rounds: rounds?,
        mem_cost: mem_cost?,
    })
}

/// Java's `String.split(literal)`: trailing empty strings are dropped, and a string without the
/// delimiter is returned whole.
fn java_split<'a>(s: &'a str, delimiter: &str) -> Vec<&'a str> {
    if !s.contains(delimiter) {
        return vec![s];
    }
    let mut parts: Vec<&str> = s.split(delimiter).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// scrypt's (log2 N, r) for a stored memCost and rounds, as Java computes N (`1 << memCost` on a
/// 32-bit int, which takes the shift modulo 32) and as the lambdaworks scrypt it calls accepts them
/// (N a power of two >= 2, `N <= MAX_INT/128/r`, `r <= MAX_INT/128`). `Ok(None)` where Java throws.
fn scrypt_cost(mem_cost: i32, rounds: i32) -> Result<Option<(u8, u32)>, PasswordError> {
    let n = 1i32.wrapping_shl(mem_cost as u32);
    if rounds <= 0 || n < 2 || rounds > i32::MAX / 128 || n > i32::MAX / 128 / rounds {
        return Ok(None);
    }
    if 128 * u64::from(rounds.unsigned_abs()) * u64::from(n.unsigned_abs()) > MAX_VERIFY_MEMORY_BYTES {
        return Err(PasswordError::CostTooHigh);
    }
    Ok(Some((n.trailing_zeros() as u8, rounds.unsigned_abs())))
}

fn verify_firebase(password: &str, fb: &FirebaseHash<'_>, signer_key: Option<&str>) -> Result<bool, PasswordError> {
    let signer_key = signer_key.ok_or(PasswordError::MissingFirebaseSignerKey)?;
    if fb.hash.is_empty() {
        return Ok(false);
    }
    let Some((log_n, r)) = scrypt_cost(fb.mem_cost, fb.rounds)? else { return Ok(false) };
    // The scrypt crate also insists on N < 2^(16·r), which lambdaworks does not check; that only
    // excludes parameters outside Firebase's own ranges (rounds 1-8, memory cost 1-14).
    let Ok(params) = scrypt::Params::new(log_n, r, 1, 64) else { return Ok(false) };
    let mut salt = decode_base64_lenient(fb.salt);
    salt.extend_from_slice(&decode_base64_lenient(fb.salt_separator));
    let mut derived = [0u8; 64];
    if scrypt::scrypt(password.as_bytes(), &salt, &params, &mut derived).is_err() {
        return Ok(false);
    }
    // The signer key encrypted with AES-256-CTR under the first half of the derived key, zero IV.
    let mut block = decode_base64_lenient(signer_key);
    let Ok(mut cipher) = ctr::Ctr128BE::<aes::Aes256>::new_from_slices(&derived[..32], &[0u8; 16]) else {
        return Ok(false);
    };
    cipher.apply_keystream(&mut block);
    Ok(secrets_equal(STANDARD.encode(&block).as_bytes(), fb.hash.as_bytes()))
}

/// Apache commons-codec's `Base64.decodeBase64` (lenient, as in the Java core's 1.15): standard and
/// URL-safe alphabets, other characters skipped, the first `=` ends the input, and leftover bits of
/// an incomplete group are dropped.
fn decode_base64_lenient(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut n) = (0u32, 0u32);
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        let Some(v) = b64_value(c, true) else { continue };
        acc = (acc << 6) | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_passwords_are_refused_only_when_asked_and_only_under_bcrypt() {
        let with = |v: serde_json::Value| PasswordSettings::from_config(&Config::defaults().overlay(v.as_object().unwrap()).unwrap());
        let long = "p".repeat(73);
        let at_limit = "p".repeat(72);
        assert!(with(serde_json::json!({})).check_new_password(&long).is_ok(), "off by default, as in the core");
        let on = with(serde_json::json!({"bcrypt_refuse_long_passwords": true}));
        assert!(on.check_new_password(&long).is_err());
        assert!(on.check_new_password(&at_limit).is_ok());
        // Bytes, not characters: 37 two-byte characters are 74 bytes.
        assert!(on.check_new_password(&"é".repeat(37)).is_err());
        let argon = with(serde_json::json!({"bcrypt_refuse_long_passwords": true, "password_hashing_alg": "ARGON2"}));
        assert!(argon.check_new_password(&long).is_ok(), "argon2 reads the whole password");
    }

    fn bcrypt_settings(rounds: u32) -> HashSettings {
        HashSettings {
            algorithm: HashAlgorithm::Bcrypt,
            bcrypt_log_rounds: rounds,
            argon2_iterations: 1,
            argon2_memory_kb: 1024,
            argon2_parallelism: 1,
        }
    }

    fn argon2_settings(t: u32, m: u32, p: u32) -> HashSettings {
        HashSettings {
            algorithm: HashAlgorithm::Argon2,
            argon2_iterations: t,
            argon2_memory_kb: m,
            argon2_parallelism: p,
            ..bcrypt_settings(4)
        }
    }

    fn no_key() -> VerifySettings {
        VerifySettings::default()
    }

    #[test]
    fn settings_come_from_the_config() {
        let cfg = Config::defaults();
        let s = HashSettings::from_config(&cfg).unwrap();
        assert_eq!(
            s,
            HashSettings {
                algorithm: HashAlgorithm::Bcrypt,
                bcrypt_log_rounds: 11,
                argon2_iterations: 1,
                argon2_memory_kb: 87795,
                argon2_parallelism: 2
            }
        );
        let cfg = cfg
            .overlay(
                serde_json::json!({"password_hashing_alg": "argon2", "firebase_password_hashing_signer_key": "a2V5"})
                    .as_object()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(HashSettings::from_config(&cfg).unwrap().algorithm, HashAlgorithm::Argon2);
        assert_eq!(VerifySettings::from_config(&cfg).firebase_signer_key.as_deref(), Some("a2V5"));
        assert!(!format!("{:?}", VerifySettings::from_config(&cfg)).contains("a2V5"));
        assert_eq!(VerifySettings::from_config(&Config::defaults()).firebase_signer_key, None);
    }

    #[test]
    fn bcrypt_hashes_are_jbcrypt_strings_and_verify() {
        let h = hash("s3cret pässword", &bcrypt_settings(4)).unwrap();
        assert!(h.starts_with("$2a$04$"), "{h}");
        assert_eq!(h.len(), 60);
        assert!(verify("s3cret pässword", &h, &no_key()).unwrap());
        assert!(!verify("s3cret password", &h, &no_key()).unwrap());
        assert_ne!(h, hash("s3cret pässword", &bcrypt_settings(4)).unwrap(), "salts are random");
        // Java accepts the other identifiers by rewriting them to $2a.
        for prefix in ["$2b", "$2x", "$2y"] {
            assert!(verify("s3cret pässword", &format!("{prefix}{}", &h[3..]), &no_key()).unwrap());
        }
        assert_eq!(algorithm_of(&h), Some(Algorithm::Bcrypt));
    }

    #[test]
    fn bcrypt_rounds_outside_jbcrypts_range_are_refused() {
        assert!(matches!(hash("x", &bcrypt_settings(3)), Err(PasswordError::InvalidSettings(_))));
        assert!(matches!(hash("x", &bcrypt_settings(31)), Err(PasswordError::InvalidSettings(_))));
    }

    #[test]
    fn bcrypt_uses_only_the_first_72_bytes_like_jbcrypt() {
        let long = "a".repeat(72);
        let h = hash(&long, &bcrypt_settings(4)).unwrap();
        assert!(verify(&format!("{long}and more"), &h, &no_key()).unwrap());
        assert!(!verify(&long[..71], &h, &no_key()).unwrap());
    }

    #[test]
    fn malformed_bcrypt_strings_never_match() {
        let h = hash("pw", &bcrypt_settings(4)).unwrap();
        let cases = [
            format!("{h}x"),                      // longer than 60
            h[..59].to_string(),                  // shorter
            h.replacen("$04$", "$4$$", 1),        // one-digit cost
            h.replacen("$04$", "$03$", 1),        // below jBCrypt's minimum
            h.replacen("$04$", "$31$", 1),        // above jBCrypt's maximum
            format!("{}é{}", &h[..10], &h[12..]), // non-ASCII
            format!("{}!{}", &h[..8], &h[9..]),   // not bcrypt-base64 in the salt
            "$2a".to_string(),
            "$2".to_string(),
        ];
        for c in &cases {
            assert_eq!(verify("pw", c, &no_key()), Ok(false), "{c}");
        }
        // The 22nd salt character carries 2 bits; a non-canonical one decodes to the same salt, but
        // Java compares whole strings, so it does not match.
        let salt_last = h.as_bytes()[28];
        let idx = BCRYPT_ALPHABET.iter().position(|&a| a == salt_last).unwrap();
        let other = BCRYPT_ALPHABET[idx ^ 1] as char;
        let tweaked = format!("{}{}{}", &h[..28], other, &h[29..]);
        assert_eq!(decode_bcrypt_salt(&tweaked.as_bytes()[7..29]), decode_bcrypt_salt(&h.as_bytes()[7..29]));
        assert_eq!(verify("pw", &tweaked, &no_key()), Ok(false));
    }

    #[test]
    fn very_expensive_bcrypt_hashes_are_not_computed() {
        let h = hash("pw", &bcrypt_settings(4)).unwrap().replacen("$04$", "$25$", 1);
        assert_eq!(verify("pw", &h, &no_key()), Err(PasswordError::CostTooHigh));
    }

    #[test]
    fn argon2_hashes_are_libargon2_strings_and_verify() {
        let h = hash("s3cret pässword", &argon2_settings(2, 1024, 2)).unwrap();
        let parts: Vec<&str> = h.split('$').collect();
        assert_eq!(&parts[..4], &["", "argon2id", "v=19", "m=1024,t=2,p=2"], "{h}");
        assert_eq!(parts[4].len(), 22, "16-byte salt, unpadded");
        assert_eq!(parts[5].len(), 43, "32-byte hash, unpadded");
        assert!(verify("s3cret pässword", &h, &no_key()).unwrap());
        assert!(!verify("s3cret passwörd", &h, &no_key()).unwrap());
        assert_eq!(algorithm_of(&h), Some(Algorithm::Argon2));
    }

    #[test]
    fn argon2_settings_libargon2_refuses_are_errors() {
        // m must be at least 8 blocks per lane.
        assert!(matches!(hash("x", &argon2_settings(1, 15, 2)), Err(PasswordError::InvalidSettings(_))));
        assert!(matches!(hash("x", &argon2_settings(1, 1024, 0x0100_0000)), Err(PasswordError::InvalidSettings(_))));
    }

    #[test]
    fn argon2_strings_are_parsed_like_libargon2() {
        let h = hash("pw", &argon2_settings(1, 64, 1)).unwrap();
        assert!(verify("pw", &h, &no_key()).unwrap());
        let bad = [
            h.replacen("m=64", "m=064", 1),  // leading zero
            h.replacen("$v=19", "$v=20", 1), // unknown version
            h.replacen(",t=1", ",t=0", 1),
            h.replacen(",p=1", ",p=9", 1),            // m < 8p
            format!("{h}="),                          // padding
            format!("{h}$"),                          // trailing data
            h.replacen("$argon2id$", "$argon2i$", 1), // a different variant: a different hash
            h.replacen("$argon2id$", "$argon2x$", 1), // not argon2 at all
            h.replacen("m=64,t=1", "t=1,m=64", 1),
        ];
        for b in &bad {
            assert_eq!(verify("pw", b, &no_key()), Ok(false), "{b}");
        }
        // Salts shorter than 8 bytes are refused.
        let parts: Vec<&str> = h.split('$').collect();
        let short_salt = format!("$argon2id$v=19$m=64,t=1,p=1${}${}", STANDARD_NO_PAD.encode([1u8; 7]), parts[5]);
        assert_eq!(verify("pw", &short_salt, &no_key()), Ok(false));
        // A salt whose last character has non-zero unused bits is refused (22 chars = 16 bytes + 4 bits).
        let mut salt = parts[4].as_bytes().to_vec();
        let last = salt.len() - 1;
        salt[last] = if salt[last] == b'B' { b'C' } else { b'B' };
        let noncanonical = format!("$argon2id$v=19$m=64,t=1,p=1${}${}", String::from_utf8(salt).unwrap(), parts[5]);
        assert_eq!(verify("pw", &noncanonical, &no_key()), Ok(false));
    }

    #[test]
    fn very_expensive_argon2_hashes_are_not_computed() {
        let h = hash("pw", &argon2_settings(1, 64, 1)).unwrap();
        assert_eq!(verify("pw", &h.replacen("m=64", "m=2097152", 1), &no_key()), Err(PasswordError::CostTooHigh));
        assert_eq!(verify("pw", &h.replacen("t=1", "t=1000", 1), &no_key()), Err(PasswordError::CostTooHigh));
    }

    #[test]
    fn commons_codec_base64_is_lenient() {
        assert_eq!(decode_base64_lenient("Bw=="), vec![7]);
        assert_eq!(decode_base64_lenient("Bw"), vec![7]);
        assert_eq!(decode_base64_lenient(" B\nw?é=="), vec![7]);
        assert_eq!(decode_base64_lenient("Bw==AAAA"), vec![7], "the first '=' ends the input");
        assert_eq!(decode_base64_lenient("-_-_"), decode_base64_lenient("+/+/"));
        assert_eq!(decode_base64_lenient("aGVsbG8"), b"hello");
        assert_eq!(decode_base64_lenient("aGVsbG8gd"), b"hello ", "a lone trailing character is dropped");
        assert_eq!(decode_base64_lenient(""), Vec::<u8>::new());
    }

    #[test]
    fn firebase_strings_are_parsed_like_java() {
        fn ok(s: &str) -> Option<(&str, &str, &str, i32, i32)> {
            parse_firebase(s).map(|f| (f.hash, f.salt, f.salt_separator, f.mem_cost, f.rounds))
        }
        assert_eq!(ok("$f_scrypt$h$s$m=14$r=8$s=Bw=="), Some(("h", "s", "Bw==", 14, 8)));
        assert_eq!(ok("$f_scrypt$h$s$s=Bw==$r=8$m=14"), Some(("h", "s", "Bw==", 14, 8)));
        // Java's split drops trailing empty strings.
        assert_eq!(ok("$f_scrypt$h$s$m=14$r=8$s=Bw==$$"), Some(("h", "s", "Bw==", 14, 8)));
        // Empty hash and salt fields survive the split.
        assert_eq!(ok("$f_scrypt$$$m=14$r=8$s=Bw=="), Some(("", "", "Bw==", 14, 8)));
        // Later duplicates win; `split("m=")[1]` stops at a second "m=".
        assert_eq!(ok("$f_scrypt$h$s$m=1m=2$m=14$s=Bw=="), None, "no r");
        assert_eq!(ok("$f_scrypt$h$s$m=14m=3$r=+8$s=a"), Some(("h", "s", "a", 14, 8)));
        assert_eq!(ok("$f_scrypt$h$s$m=14$r=8$s=s=x"), Some(("h", "s", "", 14, 8)));
        for bad in [
            "f_scrypt$h$s$m=14$r=8$s=Bw==",
            "$f_scrypt$h$s$m=14$r=8",
            "$f_scrypt$h$s$m=14$r=8$x=1",
            "$f_scrypt$h$s$m=14$r=8$s=Bw==$extra",
            "$F_SCRYPT$h$s$m=14$r=8$s=Bw==",
            "$f_scrypt$h$s$m=abc$r=8$s=Bw==",
            "$f_scrypt$h$s$m=$r=8$s=Bw==",
            "$f_scrypt$h$s$m=14$r=8$s=",
            "$f_scrypt$h$s$m=99999999999$r=8$s=Bw==",
            "",
        ] {
            assert!(parse_firebase(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn scrypt_cost_follows_javas_int_arithmetic() {
        assert_eq!(scrypt_cost(14, 8), Ok(Some((14, 8))));
        assert_eq!(scrypt_cost(33, 8), Ok(Some((1, 8))), "Java's shift distance is taken mod 32");
        assert_eq!(scrypt_cost(0, 8), Ok(None));
        assert_eq!(scrypt_cost(31, 8), Ok(None), "1 << 31 is negative");
        assert_eq!(scrypt_cost(-1, 8), Ok(None));
        assert_eq!(scrypt_cost(14, 0), Ok(None));
        assert_eq!(scrypt_cost(14, -8), Ok(None));
        assert_eq!(scrypt_cost(24, 1), Ok(None), "N > MAX_INT/128/r");
        assert_eq!(scrypt_cost(20, 12), Err(PasswordError::CostTooHigh));
    }

    /// Firebase's published example (github.com/firebase/scrypt), in the core's stored form.
    const FIREBASE_EXAMPLE: &str = "$f_scrypt$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$m=14$r=8$s=Bw==";
    const FIREBASE_EXAMPLE_KEY: &str =
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";

    #[test]
    fn firebase_scrypt_verifies_with_the_signer_key() {
        let key = VerifySettings { firebase_signer_key: Some(FIREBASE_EXAMPLE_KEY.into()) };
        assert_eq!(algorithm_of(FIREBASE_EXAMPLE), Some(Algorithm::FirebaseScrypt));
        assert_eq!(verify("user1password", FIREBASE_EXAMPLE, &key), Ok(true));
        assert_eq!(verify("user1passwore", FIREBASE_EXAMPLE, &key), Ok(false));
        assert_eq!(verify("user1password", FIREBASE_EXAMPLE, &no_key()), Err(PasswordError::MissingFirebaseSignerKey));
        let wrong = VerifySettings { firebase_signer_key: Some("invalidSignerkey".into()) };
        assert_eq!(verify("user1password", FIREBASE_EXAMPLE, &wrong), Ok(false));
        // commons-codec leniency: the key without padding or with line breaks decodes the same.
        let sloppy =
            VerifySettings { firebase_signer_key: Some(format!("{}\n", FIREBASE_EXAMPLE_KEY.trim_end_matches('='))) };
        assert_eq!(verify("user1password", FIREBASE_EXAMPLE, &sloppy), Ok(true));
    }

    #[test]
    fn an_empty_firebase_hash_never_matches() {
        // With a signer key that decodes to nothing, Java would accept any password here.
        let empty_key = VerifySettings { firebase_signer_key: Some(String::new()) };
        assert_eq!(verify("anything", "$f_scrypt$$c2FsdA==$m=4$r=1$s=Bw==", &empty_key), Ok(false));
    }

    #[test]
    fn unknown_formats_never_match() {
        for h in ["", "plain", "$1$abc", "$argon2", "$2", "sha256$abc", "$f_scrypt$h$s$m=14$r=8"] {
            assert_eq!(verify("plain", h, &no_key()), Ok(false), "{h}");
            assert_eq!(algorithm_of(h), None, "{h}");
        }
    }

    #[test]
    fn import_checks_use_the_cores_messages() {
        let bc = "$2a$10$X2oX3mWh8JfgPTKtkKmc9OQwUVQAulwkGgIjcsK8h3rojHVQTebV6";
        let ar = "$argon2id$v=19$m=16,t=2,p=1$V2hkNUdjQnAxTXZScGRjOQ$UxJn6d+dRB0hOe7FX/Qv+Q";
        assert_eq!(check_imported(bc, None), Ok(Algorithm::Bcrypt));
        assert_eq!(check_imported(&format!(" \t{bc}\n"), Some(" BcRyPt ")), Ok(Algorithm::Bcrypt));
        assert_eq!(check_imported(ar, Some("ArGoN2")), Ok(Algorithm::Argon2));
        assert_eq!(check_imported(ar, None), Ok(Algorithm::Argon2));
        assert_eq!(check_imported(FIREBASE_EXAMPLE, None), Ok(Algorithm::FirebaseScrypt));
        assert_eq!(check_imported(FIREBASE_EXAMPLE, Some("firebase_scrypt")), Ok(Algorithm::FirebaseScrypt));
        // Java only looks at the prefix of bcrypt and argon2 hashes on import.
        assert_eq!(check_imported("$2abc", None), Ok(Algorithm::Bcrypt));
        assert_eq!(check_imported("$argon2d", Some("argon2")), Ok(Algorithm::Argon2));

        let err = |h: &str, a: Option<&str>| check_imported(h, a).unwrap_err();
        assert_eq!(err("  ", None), "Password hash cannot be an empty string");
        assert_eq!(err("", Some("bcrypt")), "Password hash cannot be an empty string");
        assert_eq!(err(bc, Some(" ")), "Hashing Algorithm cannot be an empty string");
        assert_eq!(err(bc, Some("random")), "Unsupported password hashing algorithm");
        assert_eq!(err("invalidPasswordHash", None), "Password hash is in invalid format");
        assert_eq!(err("invalidHash", Some("bcrypt")), "Password hash is in invalid BCrypt format");
        assert_eq!(err(ar, Some("bcrypt")), "Password hash is in invalid BCrypt format");
        assert_eq!(err("invalidHash", Some("argon2")), "Password hash is in invalid Argon2 format");
        assert_eq!(err(bc, Some("argon2")), "Password hash is in invalid Argon2 format");
        assert_eq!(err("invalidHash", Some("firebase_scrypt")), "Password hash is in invalid Firebase SCrypt format");
        assert_eq!(err("$f_scrypt$h$s$m=14$r=8", None), "Password hash is in invalid format");
        // Java's trim leaves non-ASCII white space alone.
        assert_eq!(err("\u{a0}", None), "Password hash is in invalid format");
        assert_eq!(trim_imported("\u{0}\u{1f} x \r\n"), "x");
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in [Algorithm::Bcrypt, Algorithm::Argon2, Algorithm::FirebaseScrypt] {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
        }
        assert_eq!(Algorithm::from_name("scrypt"), None);
    }
}
