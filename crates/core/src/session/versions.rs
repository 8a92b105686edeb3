//! What the session recipe does differently for each CDI version, as pure rules the APIs call:
//! which access-token format a request mints, which request fields are read, which protected-claim
//! list applies where, and which members each response carries.
//!
//! | CDI         | mints | response differences                                                        |
//! |-------------|-------|-----------------------------------------------------------------------------|
//! | 2.7 – 2.8   | V2    | `idRefreshToken`; `jwtSigningPublicKey`, `jwtSigningPublicKeyExpiryTime`   |
//! | 2.9 – 2.20  | V2    | as above + `jwtSigningPublicKeyList`; `/recipe/handshake` answers           |
//! | 2.21        | V3    | `session` without `tenantId` and `recipeUserId`                             |
//! | 3.0 – 3.1   | V4    | `session` gains `tenantId`                                                  |
//! | 4.0 – 5.4   | V5    | `session` gains `recipeUserId` (today's shape)                              |
//!
//! Tokens of any version are verified under any CDI. A re-mint at verify or regenerate keeps the
//! presented token's version; a refresh mints the request's version, which is how a legacy session
//! is converted (its stored payload is what the new token carries).
//!
//! The bodies' status values come from the server's status table (`ok` and the like), so that
//! every status is spelled in one place.

use serde_json::{json, Map, Value};

use super::access_token;
use super::signing_keys::KeyTiming;
use super::{Issued, SessionView, TokenOut, Verified};
use crate::cdi::CdiVersion;
use crate::crypto::{uuid_v4, CryptoError};

/// The access-token format the core mints for a request of this CDI version (create and refresh).
pub fn access_token_version_for_cdi(cdi: CdiVersion) -> u8 {
    if cdi >= CdiVersion::V4_0 {
        5
    } else if cdi >= CdiVersion::V3_0 {
        4
    } else if cdi >= CdiVersion::V2_21 {
        3
    } else {
        2
    }
}

/// A refresh mints the request's version from the session row, whatever version the session's
/// previous tokens had: a session begun by an old SDK (V2, V3) and refreshed by a new one comes back
/// with a token of the new one's version. The refresh token's format does not depend on the version.
pub fn refreshed_token_version(cdi: CdiVersion) -> u8 {
    access_token_version_for_cdi(cdi)
}

/// A token re-minted at verify (promotion of a child refresh token, or a changed payload) or at
/// regenerate has the presented token's version, under any CDI: a 2.20 client may get a V5 token back
/// and a 5.4 client a V2 one.
pub fn reminted_token_version(presented: u8) -> u8 {
    presented
}

/// The key of a verify-time re-mint: the session's choice, except that a V1 token is always
/// re-minted with the current dynamic key (the core's `createNewAccessTokenV1`).
pub fn remint_uses_static_key(presented_version: u8, session_uses_static_key: bool) -> bool {
    presented_version != 1 && session_uses_static_key
}

/// How an optional request field is treated at a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldRule {
    /// Not read at all (not even type-checked); the value comes from elsewhere (config, the row).
    NotRead,
    /// Read if present (a wrong type is a 400).
    Optional,
    /// Must be present: absent is 400 `Field name '<name>' is invalid in JSON input`.
    Required,
}

/// `POST /recipe/session` `useDynamicSigningKey` (default true): read from 2.21. Below, the app's
/// `access_token_signing_key_dynamic` decides ([`legacy_session_uses_static_key`]).
pub fn create_use_dynamic_signing_key(cdi: CdiVersion) -> FieldRule {
    if cdi >= CdiVersion::V2_21 {
        FieldRule::Optional
    } else {
        FieldRule::NotRead
    }
}

/// Sessions created below CDI 2.21 sign with the static key iff the app's
/// `access_token_signing_key_dynamic` is false.
pub fn legacy_session_uses_static_key(access_token_signing_key_dynamic: bool) -> bool {
    !access_token_signing_key_dynamic
}

/// `POST /recipe/session/refresh` `useDynamicSigningKey`: not read below 3.0 (the session keeps its
/// key), optional for 3.x and 4.0 (absent: the session's choice), required from 5.0.
pub fn refresh_use_dynamic_signing_key(cdi: CdiVersion) -> FieldRule {
    if cdi >= CdiVersion::V5_0 {
        FieldRule::Required
    } else if cdi >= CdiVersion::V3_0 {
        FieldRule::Optional
    } else {
        FieldRule::NotRead
    }
}

/// `POST /recipe/session/verify` `checkDatabase`: required from 2.21; below, the app's
/// `access_token_blacklisting` decides (old SDKs do not send it).
pub fn verify_check_database(cdi: CdiVersion) -> FieldRule {
    if cdi >= CdiVersion::V2_21 {
        FieldRule::Required
    } else {
        FieldRule::NotRead
    }
}

/// `POST /recipe/jwt` `useStaticSigningKey` (default true): read from 2.21; below, always the static key.
pub fn jwt_use_static_signing_key(cdi: CdiVersion) -> FieldRule {
    if cdi >= CdiVersion::V2_21 {
        FieldRule::Optional
    } else {
        FieldRule::NotRead
    }
}

/// The protected-claim list `POST /recipe/session` checks the new payload against: the minted
/// version's (V2 nests custom claims, so nothing is refused below 2.21).
pub fn create_protected_check(cdi: CdiVersion) -> Option<u8> {
    Some(access_token_version_for_cdi(cdi)).filter(|v| !access_token::is_legacy(*v))
}

/// The list `POST /recipe/session/regenerate` checks the new payload against: from 2.21 that of the
/// presented token's version (so a V2 token's `userId` is refused there too); no check below.
pub fn regenerate_protected_check(cdi: CdiVersion, presented_version: u8) -> Option<u8> {
    (cdi >= CdiVersion::V2_21).then_some(presented_version)
}

/// The list `PUT /recipe/jwt/data` checks against: from 2.21 that of the version the request's CDI
/// mints; no check below.
pub fn jwt_data_protected_check(cdi: CdiVersion) -> Option<u8> {
    (cdi >= CdiVersion::V2_21).then(|| access_token_version_for_cdi(cdi))
}

/// The `session` object of create, refresh, verify and regenerate: no `tenantId` below 3.0, no
/// `recipeUserId` below 4.0 (the members otherwise in the core's order).
pub fn session_json(s: &SessionView, cdi: CdiVersion) -> Value {
    let mut o = Map::new();
    o.insert("handle".into(), json!(s.handle));
    o.insert("userId".into(), json!(s.user_id));
    if cdi >= CdiVersion::V4_0 {
        o.insert("recipeUserId".into(), json!(s.recipe_user_id));
    }
    o.insert("userDataInJWT".into(), Value::Object(s.user_data_in_jwt.clone()));
    if cdi >= CdiVersion::V3_0 {
        o.insert("tenantId".into(), json!(s.tenant_id));
    }
    Value::Object(o)
}

/// `GET /recipe/session`'s body built for the newest version, trimmed for `cdi`: `tenantId` only from
/// 3.0, `recipeUserId` only from 4.0.
pub fn trim_session_info(body: &mut Map<String, Value>, cdi: CdiVersion) {
    if cdi < CdiVersion::V4_0 {
        body.shift_remove("recipeUserId");
    }
    if cdi < CdiVersion::V3_0 {
        body.shift_remove("tenantId");
    }
}

/// Below CDI 2.21 create and refresh also return an `idRefreshToken`: a random UUID with the refresh
/// token's expiry and creation time (SDKs of that era kept it in a cookie of its own).
pub fn id_refresh_token(cdi: CdiVersion, refresh_token: &TokenOut) -> Result<Option<Value>, CryptoError> {
    if cdi >= CdiVersion::V2_21 {
        return Ok(None);
    }
    Ok(Some(json!({"token": uuid_v4()?, "expiry": refresh_token.expiry, "createdTime": refresh_token.created_time})))
}

/// A public key as the legacy members publish it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedKey {
    /// Standard base64 of the SubjectPublicKeyInfo DER (the public half of the stored key string).
    pub public_key: String,
    pub created_at: i64,
}

/// What `jwtSigningPublicKey*` say (CDI below 2.21), by the app's `access_token_signing_key_dynamic`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegacyKeys {
    Dynamic {
        /// The key that signs now.
        signing: PublishedKey,
        /// Every dynamic key that still verifies, newest first.
        valid: Vec<PublishedKey>,
        timing: KeyTiming,
    },
    Static(PublishedKey),
    /// From CDI 2.21: no legacy members (so the keys need not be read).
    None,
}

/// The "expiry" the core reports for a static key: ten years, as a duration (not a time).
const STATIC_KEY_EXPIRY_MS: i64 = 10 * 365 * 24 * 3600 * 1000;

impl LegacyKeys {
    /// The members to append, in order: `jwtSigningPublicKey`, `jwtSigningPublicKeyExpiryTime`, and
    /// from 2.9 `jwtSigningPublicKeyList` (entries `{publicKey, expiryTime, createdAt}`); nothing
    /// from 2.21.
    pub fn members(&self, cdi: CdiVersion) -> Vec<(&'static str, Value)> {
        if cdi >= CdiVersion::V2_21 {
            return vec![];
        }
        let entry = |k: &PublishedKey, expiry: i64| json!({"publicKey": k.public_key, "expiryTime": expiry, "createdAt": k.created_at});
        let (key, expiry, list) = match self {
            LegacyKeys::Dynamic { signing, valid, timing } => (
                signing,
                signing.created_at + timing.interval_ms,
                valid.iter().map(|k| entry(k, k.created_at + timing.lifetime_ms)).collect::<Vec<_>>(),
            ),
            LegacyKeys::Static(k) => (k, STATIC_KEY_EXPIRY_MS, vec![entry(k, k.created_at + STATIC_KEY_EXPIRY_MS)]),
            LegacyKeys::None => return vec![],
        };
        let mut out = vec![("jwtSigningPublicKey", json!(key.public_key)), ("jwtSigningPublicKeyExpiryTime", json!(expiry))];
        if cdi >= CdiVersion::V2_9 {
            out.push(("jwtSigningPublicKeyList", Value::Array(list)));
        }
        out
    }

    pub fn append_to(&self, o: &mut Map<String, Value>, cdi: CdiVersion) {
        o.extend(self.members(cdi).into_iter().map(|(k, v)| (k.to_owned(), v)));
    }
}

/// `POST /recipe/session`'s OK body: `session`, `accessToken`, `refreshToken`, [`idRefreshToken`
/// below 2.21], [`antiCsrfToken`], `status`, then below 2.21 the legacy key members.
pub fn created_json(i: &Issued, cdi: CdiVersion, legacy_keys: &LegacyKeys, ok: &Value) -> Result<Value, CryptoError> {
    let mut o = issued_members(i, cdi, ok)?;
    legacy_keys.append_to(&mut o, cdi);
    Ok(Value::Object(o))
}

/// `POST /recipe/session/refresh`'s OK body: as create's, never with the legacy key members.
pub fn refreshed_json(i: &Issued, cdi: CdiVersion, ok: &Value) -> Result<Value, CryptoError> {
    Ok(Value::Object(issued_members(i, cdi, ok)?))
}

fn issued_members(i: &Issued, cdi: CdiVersion, ok: &Value) -> Result<Map<String, Value>, CryptoError> {
    let mut o = Map::new();
    o.insert("session".into(), session_json(&i.session, cdi));
    o.insert("accessToken".into(), i.access_token.to_json());
    o.insert("refreshToken".into(), i.refresh_token.to_json());
    if let Some(id) = id_refresh_token(cdi, &i.refresh_token)? {
        o.insert("idRefreshToken".into(), id);
    }
    if let Some(a) = &i.anti_csrf_token {
        o.insert("antiCsrfToken".into(), json!(a));
    }
    o.insert("status".into(), ok.clone());
    Ok(o)
}

/// `POST /recipe/session/verify`'s OK body: `session`, [`accessToken`], `status`, then below 2.21
/// the legacy key members.
pub fn verified_json(v: &Verified, cdi: CdiVersion, legacy_keys: &LegacyKeys, ok: &Value) -> Value {
    let mut o = verified_members(v, cdi, ok);
    legacy_keys.append_to(&mut o, cdi);
    Value::Object(o)
}

/// `POST /recipe/session/regenerate`'s OK body: as verify's, without legacy members.
pub fn regenerated_json(v: &Verified, cdi: CdiVersion, ok: &Value) -> Value {
    Value::Object(verified_members(v, cdi, ok))
}

fn verified_members(v: &Verified, cdi: CdiVersion, ok: &Value) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("session".into(), session_json(&v.session, cdi));
    if let Some(t) = &v.access_token {
        o.insert("accessToken".into(), t.to_json());
    }
    o.insert("status".into(), ok.clone());
    o
}

/// `POST /recipe/session/verify`'s TRY_REFRESH_TOKEN body: below 2.21 the legacy key members sit
/// between `status` and `message` (the SDKs of that era refetch their keys from it).
pub fn try_refresh_json(message: &str, cdi: CdiVersion, legacy_keys: &LegacyKeys, try_refresh: &Value) -> Value {
    let mut o = Map::new();
    o.insert("status".into(), try_refresh.clone());
    legacy_keys.append_to(&mut o, cdi);
    o.insert("message".into(), json!(message));
    Value::Object(o)
}

/// Whether `POST /recipe/handshake` exists at this version (below 2.21; a 404 `Not found` from 2.21,
/// which includes a request without a `cdi-version` header).
pub fn handshake_served(cdi: CdiVersion) -> bool {
    cdi < CdiVersion::V2_21
}

/// The settings the handshake reports, from the tenant's effective config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HandshakeSettings {
    /// `access_token_blacklisting`.
    pub access_token_blacklisting: bool,
    /// `access_token_validity`, in milliseconds.
    pub access_token_validity_ms: i64,
    /// `refresh_token_validity` (minutes), in milliseconds.
    pub refresh_token_validity_ms: i64,
}

/// `POST /recipe/handshake`'s body (CDI 2.7 – 2.20): the legacy key members and the settings an SDK
/// of that era verifies tokens with. `None` from 2.21 (the route answers 404).
pub fn handshake_json(cdi: CdiVersion, keys: &LegacyKeys, s: HandshakeSettings, ok: &Value) -> Option<Value> {
    if !handshake_served(cdi) {
        return None;
    }
    let mut o = Map::new();
    o.insert("status".into(), ok.clone());
    keys.append_to(&mut o, cdi);
    o.insert("accessTokenBlacklistingEnabled".into(), json!(s.access_token_blacklisting));
    o.insert("accessTokenValidity".into(), json!(s.access_token_validity_ms));
    o.insert("refreshTokenValidity".into(), json!(s.refresh_token_validity_ms));
    Some(Value::Object(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> CdiVersion {
        CdiVersion::parse_listed(s).unwrap()
    }

    fn keys_of(o: &Value) -> Vec<&str> {
        o.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn token_version_per_cdi() {
        for (cdi, want) in [
            ("2.7", 2),
            ("2.20", 2),
            ("2.21", 3),
            ("3.0", 4),
            ("3.1", 4),
            ("4.0", 5),
            ("5.0", 5),
            ("5.4", 5),
        ] {
            assert_eq!(access_token_version_for_cdi(v(cdi)), want, "{cdi}");
            assert_eq!(refreshed_token_version(v(cdi)), want, "a refresh converts to the request's version");
        }
        for presented in 1..=5 {
            assert_eq!(reminted_token_version(presented), presented);
        }
        assert!(!remint_uses_static_key(1, true), "V1 re-mints use the dynamic key");
        assert!(remint_uses_static_key(2, true));
        assert!(!remint_uses_static_key(5, false));
    }

    #[test]
    fn request_field_rules() {
        use FieldRule::*;
        assert_eq!([v("2.20"), v("2.21"), v("5.4")].map(create_use_dynamic_signing_key), [NotRead, Optional, Optional]);
        assert_eq!([v("2.21"), v("3.0"), v("4.0"), v("5.0")].map(refresh_use_dynamic_signing_key), [NotRead, Optional, Optional, Required]);
        assert_eq!([v("2.20"), v("2.21"), v("5.4")].map(verify_check_database), [NotRead, Required, Required]);
        assert_eq!([v("2.20"), v("2.21")].map(jwt_use_static_signing_key), [NotRead, Optional]);
        assert!(legacy_session_uses_static_key(false));
        assert!(!legacy_session_uses_static_key(true));
    }

    #[test]
    fn protected_claim_lists_per_endpoint() {
        assert_eq!(create_protected_check(v("2.20")), None, "V2 nests the custom claims");
        assert_eq!(create_protected_check(v("2.21")), Some(3));
        assert_eq!(create_protected_check(v("3.1")), Some(4));
        assert_eq!(create_protected_check(v("5.4")), Some(5));
        assert_eq!(regenerate_protected_check(v("2.20"), 5), None);
        assert_eq!(regenerate_protected_check(v("5.4"), 2), Some(2), "the presented token's list");
        assert_eq!(jwt_data_protected_check(v("2.20")), None);
        assert_eq!(jwt_data_protected_check(v("2.21")), Some(3));
        assert_eq!(jwt_data_protected_check(v("3.0")), Some(4));
        assert_eq!(jwt_data_protected_check(v("4.0")), Some(5));
    }

    fn view() -> SessionView {
        SessionView {
            handle: "h".into(),
            user_id: "p".into(),
            recipe_user_id: "r".into(),
            user_data_in_jwt: json!({"a": null}).as_object().cloned().unwrap(),
            tenant_id: "public".into(),
        }
    }

    fn token(expiry: i64, created: i64) -> TokenOut {
        TokenOut { token: "t".into(), expiry, created_time: created }
    }

    fn issued(anti_csrf: Option<&str>) -> Issued {
        Issued {
            session: view(),
            access_token: token(1_700_003_600_066, 1_700_000_000_123),
            refresh_token: token(1_708_640_000_123, 1_700_000_000_123),
            anti_csrf_token: anti_csrf.map(str::to_owned),
        }
    }

    fn published(n: i64) -> PublishedKey {
        PublishedKey { public_key: format!("MIIB{n}"), created_at: n }
    }

    fn dynamic() -> LegacyKeys {
        LegacyKeys::Dynamic {
            signing: published(2_000),
            valid: vec![published(3_000), published(2_000)],
            timing: KeyTiming { interval_ms: 100, overlap_ms: 10, lifetime_ms: 150 },
        }
    }

    #[test]
    fn session_members_per_version() {
        assert_eq!(keys_of(&session_json(&view(), v("2.21"))), ["handle", "userId", "userDataInJWT"]);
        assert_eq!(keys_of(&session_json(&view(), v("3.0"))), ["handle", "userId", "userDataInJWT", "tenantId"]);
        assert_eq!(keys_of(&session_json(&view(), v("4.0"))), ["handle", "userId", "recipeUserId", "userDataInJWT", "tenantId"]);
        assert_eq!(session_json(&view(), v("2.7"))["userDataInJWT"], json!({"a": null}), "nulls kept inside");
        let full = || {
            json!({"sessionHandle": "h", "userId": "p", "recipeUserId": "r", "userDataInDatabase": {}, "expiry": 1, "userDataInJWT": {}, "timeCreated": 0, "status": "OK", "tenantId": "public"})
                .as_object()
                .cloned()
                .unwrap()
        };
        for (cdi, want) in [
            ("2.21", vec!["sessionHandle", "userId", "userDataInDatabase", "expiry", "userDataInJWT", "timeCreated", "status"]),
            ("3.1", vec!["sessionHandle", "userId", "userDataInDatabase", "expiry", "userDataInJWT", "timeCreated", "status", "tenantId"]),
            ("5.4", vec!["sessionHandle", "userId", "recipeUserId", "userDataInDatabase", "expiry", "userDataInJWT", "timeCreated", "status", "tenantId"]),
        ] {
            let mut body = full();
            trim_session_info(&mut body, v(cdi));
            assert_eq!(body.keys().map(String::as_str).collect::<Vec<_>>(), want, "{cdi}");
        }
    }

    #[test]
    fn create_bodies_per_version() {
        let keys = dynamic();
        let old = created_json(&issued(Some("csrf")), v("2.8"), &keys, &json!("OK")).unwrap();
        assert_eq!(
            keys_of(&old),
            ["session", "accessToken", "refreshToken", "idRefreshToken", "antiCsrfToken", "status", "jwtSigningPublicKey", "jwtSigningPublicKeyExpiryTime"]
        );
        let id = &old["idRefreshToken"];
        assert_eq!(id["token"].as_str().unwrap().len(), 36, "a UUID");
        assert_eq!((id["expiry"].clone(), id["createdTime"].clone()), (json!(1_708_640_000_123i64), json!(1_700_000_000_123i64)));
        assert_eq!(old["accessToken"]["expiry"], 1_700_003_600_066i64, "times as the token reports them");
        assert_eq!(old["jwtSigningPublicKey"], "MIIB2000", "the key that signs now");
        assert_eq!(old["jwtSigningPublicKeyExpiryTime"], 2_100);
        let with_list = created_json(&issued(None), v("2.20"), &keys, &json!("OK")).unwrap();
        assert_eq!(keys_of(&with_list).last(), Some(&"jwtSigningPublicKeyList"));
        assert!(with_list.get("antiCsrfToken").is_none());
        assert_eq!(
            with_list["jwtSigningPublicKeyList"],
            json!([{"publicKey": "MIIB3000", "expiryTime": 3_150, "createdAt": 3_000}, {"publicKey": "MIIB2000", "expiryTime": 2_150, "createdAt": 2_000}])
        );
        let v3 = created_json(&issued(Some("c")), v("2.21"), &keys, &json!("OK")).unwrap();
        assert_eq!(keys_of(&v3), ["session", "accessToken", "refreshToken", "antiCsrfToken", "status"]);
        assert_eq!(keys_of(&v3["session"]), ["handle", "userId", "userDataInJWT"]);
        let now = created_json(&issued(None), v("5.4"), &keys, &json!("OK")).unwrap();
        assert_eq!(keys_of(&now), ["session", "accessToken", "refreshToken", "status"]);
        // A refresh never carries the key members, but below 2.21 it has an idRefreshToken.
        assert_eq!(keys_of(&refreshed_json(&issued(None), v("2.15"), &json!("OK")).unwrap()), ["session", "accessToken", "refreshToken", "idRefreshToken", "status"]);
        assert_eq!(keys_of(&refreshed_json(&issued(None), v("3.0"), &json!("OK")).unwrap()), ["session", "accessToken", "refreshToken", "status"]);
    }

    #[test]
    fn static_key_members() {
        let keys = LegacyKeys::Static(published(5));
        let m = keys.members(v("2.9"));
        assert_eq!(m[0], ("jwtSigningPublicKey", json!("MIIB5")));
        assert_eq!(m[1], ("jwtSigningPublicKeyExpiryTime", json!(315_360_000_000i64)), "a duration, not a time");
        assert_eq!(m[2].1, json!([{"publicKey": "MIIB5", "expiryTime": 315_360_000_005i64, "createdAt": 5}]));
        assert_eq!(keys.members(v("2.8")).len(), 2, "no list before 2.9");
        assert!(keys.members(v("2.21")).is_empty());
    }

    #[test]
    fn verify_bodies_per_version() {
        let keys = dynamic();
        let ok = Verified { session: view(), access_token: Some(token(2, 1)) };
        assert_eq!(
            keys_of(&verified_json(&ok, v("2.9"), &keys, &json!("OK"))),
            ["session", "accessToken", "status", "jwtSigningPublicKey", "jwtSigningPublicKeyExpiryTime", "jwtSigningPublicKeyList"]
        );
        let bare = Verified { session: view(), access_token: None };
        assert_eq!(keys_of(&verified_json(&bare, v("2.21"), &keys, &json!("OK"))), ["session", "status"]);
        assert_eq!(keys_of(&regenerated_json(&ok, v("2.9"), &json!("OK"))), ["session", "accessToken", "status"]);
        assert_eq!(
            keys_of(&try_refresh_json("m", v("2.7"), &keys, &json!("TRY_REFRESH_TOKEN"))),
            ["status", "jwtSigningPublicKey", "jwtSigningPublicKeyExpiryTime", "message"]
        );
        assert_eq!(try_refresh_json("m", v("2.21"), &keys, &json!("TRY_REFRESH_TOKEN")), json!({"status": "TRY_REFRESH_TOKEN", "message": "m"}));
    }

    #[test]
    fn handshake() {
        let settings = HandshakeSettings { access_token_blacklisting: false, access_token_validity_ms: 3_600_000, refresh_token_validity_ms: 8_640_000_000 };
        assert_eq!(handshake_json(v("2.21"), &dynamic(), settings, &json!("OK")), None);
        assert!(!handshake_served(CdiVersion::LATEST));
        let body = handshake_json(v("2.20"), &dynamic(), settings, &json!("OK")).unwrap();
        assert_eq!(
            keys_of(&body),
            [
                "status",
                "jwtSigningPublicKey",
                "jwtSigningPublicKeyExpiryTime",
                "jwtSigningPublicKeyList",
                "accessTokenBlacklistingEnabled",
                "accessTokenValidity",
                "refreshTokenValidity"
            ]
        );
        assert_eq!(body["accessTokenBlacklistingEnabled"], false);
        assert_eq!(body["accessTokenValidity"], 3_600_000);
        assert_eq!(body["refreshTokenValidity"], 8_640_000_000i64);
        assert!(handshake_json(v("2.8"), &dynamic(), settings, &json!("OK")).unwrap().get("jwtSigningPublicKeyList").is_none());
    }
}
