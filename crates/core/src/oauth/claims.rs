//! The tokens the provider issues: what a grant is (the data a refresh needs), the claims of access
//! tokens (`stt: 1`) and ID tokens (`stt: 2`), and minting them — signed RS256 with the app's key
//! (the static `s-…` key, as the Java core re-signed every OAuth token with it), with a header of
//! `kid`, `typ` and `alg` only (the python SDK refuses a `version` below 3 in the header).
//!
//! Refresh tokens are opaque: `st_rt_` + 256 random bits (both SDKs and the core tell a refresh
//! token from an access token by that prefix); only their SHA-256 is stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::client::{Client, Grant, Lifespan};
use super::random::{self, Random};
use crate::crypto::keys::SigningKey;
use crate::crypto::{jwt, sha256_hex, CryptoError};

/// Claims a custom payload may not set (the Java core's `NON_OVERRIDABLE_TOKEN_PROPS`). `tId`,
/// `rsub` and `sessionHandle` are not among them: a custom payload may override those.
pub const RESERVED_CLAIMS: [&str; 18] = [
    "kid", "typ", "alg", "aud", "iss", "iat", "exp", "nbf", "jti", "ext", "sid", "rat", "at_hash", "gid", "client_id", "scp",
    "sub", "stt",
];

pub const REFRESH_TOKEN_PREFIX: &str = "st_rt_";
pub const AUTH_CODE_PREFIX: &str = "st_ac_";

/// `stt` of access tokens and ID tokens (sessions' own tokens have none, and the session recipe
/// refuses any other value, so OAuth tokens can never pass as session tokens).
pub const STT_ACCESS: i64 = 1;
pub const STT_ID: i64 = 2;

/// What the access tokens of a user grant carry besides the standard claims (set at consent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenExt {
    /// The issuer the consent was given at.
    pub iss: String,
    #[serde(rename = "tId")]
    pub tenant_id: String,
    pub rsub: String,
    #[serde(rename = "sessionHandle")]
    pub session_handle: String,
}

/// What every ID token of a grant repeats.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    /// Seconds: when the login was accepted.
    pub auth_time: i64,
    /// Seconds: when the authorization was requested.
    pub rat: i64,
    /// The SuperTokens session handle.
    pub sid: Option<String>,
    pub nonce: Option<String>,
    pub acr: Option<String>,
    pub amr: Vec<String>,
}

/// A user's grant to a client (code and implicit flows): a row of `oauth_sessions` with its row
/// of `oauth_grants`. The access tokens of a grant share its `gid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    pub gid: String,
    pub client_id: String,
    pub subject: String,
    pub scopes: Vec<String>,
    pub audience: Vec<String>,
    pub ext: TokenExt,
    pub id_claims: IdClaims,
    /// ms: creation, or the last refresh (introspection's `iat` of the refresh token).
    pub created_at: i64,
    /// Seconds (`oauth_sessions.exp`): the refresh token's expiry, or the access token's when there
    /// is no refresh token.
    pub exp_s: i64,
}

impl GrantRecord {
    pub fn has_scope(&self, s: &str) -> bool {
        self.scopes.iter().any(|g| g == s)
    }
}

/// The `aud` claim of an access token: omitted without audiences, a string for one, else an array
/// (how the Java core's JWT library serialised audiences).
pub fn aud_claim(aud: &[String]) -> Option<Value> {
    match aud {
        [] => None,
        [one] => Some(json!(one)),
        many => Some(json!(many)),
    }
}

/// `at_hash` / `c_hash` (OIDC Core §3.1.3.6, §3.3.2.11): base64url of the left half of SHA-256.
pub fn left_half_hash(value: &str) -> String {
    let d = digest(&SHA256, value.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

fn merge_custom(claims: &mut Map<String, Value>, custom: Option<&Map<String, Value>>) {
    for (k, v) in custom.into_iter().flatten() {
        if !RESERVED_CLAIMS.contains(&k.as_str()) {
            claims.insert(k.clone(), v.clone());
        }
    }
}

/// An access token's content.
pub struct AccessClaims<'a> {
    pub iss: &'a str,
    /// The user (code and implicit flows) or the client (client credentials).
    pub sub: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub audience: &'a [String],
    pub gid: &'a str,
    pub jti: &'a str,
    pub iat_s: i64,
    pub exp_s: i64,
    /// `tId`, `rsub`, `sessionHandle` of a user grant; none for M2M tokens.
    pub ext: Option<&'a TokenExt>,
    pub custom: Option<&'a Map<String, Value>>,
}

impl AccessClaims<'_> {
    pub fn to_map(&self) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("iss".into(), json!(self.iss));
        c.insert("sub".into(), json!(self.sub));
        if let Some(aud) = aud_claim(self.audience) {
            c.insert("aud".into(), aud);
        }
        c.insert("client_id".into(), json!(self.client_id));
        c.insert("scp".into(), json!(self.scopes));
        c.insert("iat".into(), json!(self.iat_s));
        c.insert("nbf".into(), json!(self.iat_s));
        c.insert("exp".into(), json!(self.exp_s));
        c.insert("jti".into(), json!(self.jti));
        c.insert("stt".into(), json!(STT_ACCESS));
        c.insert("gid".into(), json!(self.gid));
        if let Some(ext) = self.ext {
            c.insert("tId".into(), json!(ext.tenant_id));
            c.insert("rsub".into(), json!(ext.rsub));
            c.insert("sessionHandle".into(), json!(ext.session_handle));
        }
        merge_custom(&mut c, self.custom);
        c
    }
}

/// An ID token's content.
pub struct IdTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    /// The client id, which is the ID token's `aud` (a string).
    pub client_id: &'a str,
    pub iat_s: i64,
    pub exp_s: i64,
    pub jti: &'a str,
    /// A fresh random id (the Java core gave every token lacking a `gid` one; not the grant's).
    pub gid: &'a str,
    pub claims: &'a IdClaims,
    pub at_hash: Option<String>,
    pub c_hash: Option<String>,
    pub custom: Option<&'a Map<String, Value>>,
}

impl IdTokenClaims<'_> {
    pub fn to_map(&self) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("iss".into(), json!(self.iss));
        c.insert("sub".into(), json!(self.sub));
        c.insert("aud".into(), json!(self.client_id));
        c.insert("iat".into(), json!(self.iat_s));
        c.insert("exp".into(), json!(self.exp_s));
        c.insert("auth_time".into(), json!(self.claims.auth_time));
        c.insert("rat".into(), json!(self.claims.rat));
        c.insert("jti".into(), json!(self.jti));
        if let Some(sid) = &self.claims.sid {
            c.insert("sid".into(), json!(sid));
        }
        if let Some(nonce) = &self.claims.nonce {
            c.insert("nonce".into(), json!(nonce));
        }
        if let Some(acr) = self.claims.acr.as_ref().filter(|a| !a.is_empty()) {
            c.insert("acr".into(), json!(acr));
        }
        if !self.claims.amr.is_empty() {
            c.insert("amr".into(), json!(self.claims.amr));
        }
        if let Some(h) = &self.at_hash {
            c.insert("at_hash".into(), json!(h));
        }
        if let Some(h) = &self.c_hash {
            c.insert("c_hash".into(), json!(h));
        }
        c.insert("stt".into(), json!(STT_ID));
        c.insert("gid".into(), json!(self.gid));
        merge_custom(&mut c, self.custom);
        c
    }
}

/// The key that signs, with its kid.
pub struct Signer<'a> {
    pub kid: &'a str,
    pub key: &'a SigningKey,
}

impl Signer<'_> {
    /// An RS256 JWT with the header `{"kid","typ":"JWT","alg":"RS256"}`.
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, CryptoError> {
        let mut header = Map::new();
        header.insert("kid".into(), json!(self.kid));
        header.insert("typ".into(), json!("JWT"));
        header.insert("alg".into(), json!("RS256"));
        jwt::sign(&header, claims, self.key)
    }
}

/// A new refresh token: the plaintext for the client, the hash to store, its expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub plain: String,
    pub hash: String,
    pub exp_s: i64,
}

impl NewRefreshToken {
    pub fn generate(rng: &dyn Random, exp_s: i64) -> Result<NewRefreshToken, CryptoError> {
        let plain = format!("{REFRESH_TOKEN_PREFIX}{}", random::token(rng)?);
        Ok(NewRefreshToken { hash: sha256_hex(&plain), plain, exp_s })
    }
}

/// What the token endpoint (or an implicit authorization) hands out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub access_token: String,
    /// The access token's `jti`, appended to the grant's live list.
    pub jti: String,
    pub access_exp_s: i64,
    pub expires_in: i64,
    pub id_token: Option<String>,
    pub refresh: Option<NewRefreshToken>,
    /// Granted scopes, space-joined ("" when none).
    pub scope: String,
}

impl Issued {
    /// `oauth_sessions.exp`: the refresh token's expiry, else the access token's.
    pub fn session_exp_s(&self) -> i64 {
        self.refresh.as_ref().map_or(self.access_exp_s, |r| r.exp_s)
    }

    /// The token endpoint's answer: `{"status":"OK","access_token","expires_in","scope",
    /// "token_type":"bearer","id_token"?,"refresh_token"?}` (snake_case, as Hydra's public API).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("access_token".into(), json!(self.access_token));
        m.insert("expires_in".into(), json!(self.expires_in));
        m.insert("scope".into(), json!(self.scope));
        m.insert("token_type".into(), json!("bearer"));
        if let Some(t) = &self.id_token {
            m.insert("id_token".into(), json!(t));
        }
        if let Some(r) = &self.refresh {
            m.insert("refresh_token".into(), json!(r.plain));
        }
        Value::Object(m)
    }
}

/// The lifespans (access, ID, refresh) of the tokens a grant type issues.
fn lifespans(client: &Client, kind: Grant) -> (i64, i64, i64) {
    use Lifespan::*;
    match kind {
        Grant::AuthorizationCode => (
            client.lifespan_s(AuthorizationCodeGrantAccessToken),
            client.lifespan_s(AuthorizationCodeGrantIdToken),
            client.lifespan_s(AuthorizationCodeGrantRefreshToken),
        ),
        Grant::RefreshToken => (
            client.lifespan_s(RefreshTokenGrantAccessToken),
            client.lifespan_s(RefreshTokenGrantIdToken),
            client.lifespan_s(RefreshTokenGrantRefreshToken),
        ),
        Grant::Implicit => (client.lifespan_s(ImplicitGrantAccessToken), client.lifespan_s(ImplicitGrantIdToken), 0),
        Grant::ClientCredentials => (client.lifespan_s(ClientCredentialsGrantAccessToken), 0, 0),
    }
}

/// What to mint for a user grant.
pub struct UserTokens<'a> {
    pub client: &'a Client,
    pub grant: &'a GrantRecord,
    /// Which grant type's lifespans apply.
    pub kind: Grant,
    /// The access token's scopes (the grant's, or a narrowed subset on refresh).
    pub scopes: &'a [String],
    pub access_payload: Option<&'a Map<String, Value>>,
    pub id_payload: Option<&'a Map<String, Value>>,
    /// The issuer of the ID token (the `/token` or `/auth` call's `iss`).
    pub id_iss: &'a str,
    pub with_id_token: bool,
    pub with_refresh_token: bool,
    /// A code issued alongside (hybrid flows): the ID token gets its `c_hash`.
    pub code: Option<&'a str>,
}

/// The ID token of a user grant (`at_hash` when an access token goes with it).
fn mint_id_token(t: &UserTokens, signer: &Signer, iat: i64, lifespan_s: i64, at_hash: Option<String>, rng: &dyn Random) -> Result<String, CryptoError> {
    let jti = random::uuid_v4(rng)?;
    let gid = random::uuid_v4(rng)?;
    signer.sign(
        &IdTokenClaims {
            iss: t.id_iss,
            sub: &t.grant.subject,
            client_id: &t.client.client_id,
            iat_s: iat,
            exp_s: iat + lifespan_s,
            jti: &jti,
            gid: &gid,
            claims: &t.grant.id_claims,
            at_hash,
            c_hash: t.code.map(left_half_hash),
            custom: t.id_payload,
        }
        .to_map(),
    )
}

/// Only an ID token (the implicit `id_token` and hybrid `code id_token` response types, which issue
/// no access token from the authorization endpoint).
pub fn mint_id_token_only(t: &UserTokens, signer: &Signer, now: i64, rng: &dyn Random) -> Result<String, CryptoError> {
    let (_, id_s, _) = lifespans(t.client, t.kind);
    mint_id_token(t, signer, now / 1000, id_s, None, rng)
}

/// Mints the access token, then the ID token (whose `at_hash` needs the final access token), and a
/// refresh token if asked.
pub fn mint_user_tokens(t: &UserTokens, signer: &Signer, now: i64, rng: &dyn Random) -> Result<Issued, CryptoError> {
    let (access_s, id_s, refresh_s) = lifespans(t.client, t.kind);
    let iat = now / 1000;
    let jti = random::uuid_v4(rng)?;
    let access_token = signer.sign(
        &AccessClaims {
            iss: &t.grant.ext.iss,
            sub: &t.grant.subject,
            client_id: &t.client.client_id,
            scopes: t.scopes,
            audience: &t.grant.audience,
            gid: &t.grant.gid,
            jti: &jti,
            iat_s: iat,
            exp_s: iat + access_s,
            ext: Some(&t.grant.ext),
            custom: t.access_payload,
        }
        .to_map(),
    )?;
    let id_token = if t.with_id_token {
        Some(mint_id_token(t, signer, iat, id_s, Some(left_half_hash(&access_token)), rng)?)
    } else {
        None
    };
    let refresh = if t.with_refresh_token { Some(NewRefreshToken::generate(rng, iat + refresh_s)?) } else { None };
    Ok(Issued {
        access_token,
        jti,
        access_exp_s: iat + access_s,
        expires_in: access_s,
        id_token,
        refresh,
        scope: t.scopes.join(" "),
    })
}

/// A machine-to-machine access token (client credentials): `sub` is the client, a fresh `gid`, no
/// `tId`/`rsub`/`sessionHandle`.
pub struct M2mToken<'a> {
    pub client: &'a Client,
    pub iss: &'a str,
    pub scopes: &'a [String],
    pub audience: &'a [String],
    pub custom: Option<&'a Map<String, Value>>,
}

/// Mints an M2M access token; returns it with its `gid`.
pub fn mint_m2m_token(t: &M2mToken, signer: &Signer, now: i64, rng: &dyn Random) -> Result<(Issued, String), CryptoError> {
    let (access_s, _, _) = lifespans(t.client, Grant::ClientCredentials);
    let iat = now / 1000;
    let jti = random::uuid_v4(rng)?;
    let gid = random::uuid_v4(rng)?;
    let access_token = signer.sign(
        &AccessClaims {
            iss: t.iss,
            sub: &t.client.client_id,
            client_id: &t.client.client_id,
            scopes: t.scopes,
            audience: t.audience,
            gid: &gid,
            jti: &jti,
            iat_s: iat,
            exp_s: iat + access_s,
            ext: None,
            custom: t.custom,
        }
        .to_map(),
    )?;
    let issued = Issued {
        access_token,
        jti,
        access_exp_s: iat + access_s,
        expires_in: access_s,
        id_token: None,
        refresh: None,
        scope: t.scopes.join(" "),
    };
    Ok((issued, gid))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::jwt::decode;
    use crate::oauth::testing::{client, obj, signing_key, SeqRandom, NOW};

    pub fn grant() -> GrantRecord {
        GrantRecord {
            gid: "g-1".into(),
            client_id: "stcl_test".into(),
            subject: "user-1".into(),
            scopes: vec!["openid".into(), "offline_access".into()],
            audience: vec![],
            ext: TokenExt {
                iss: "http://localhost:3001/auth".into(),
                tenant_id: "public".into(),
                rsub: "recipe-user-1".into(),
                session_handle: "sh-1".into(),
            },
            id_claims: IdClaims {
                auth_time: NOW / 1000 - 60,
                rat: NOW / 1000 - 90,
                sid: Some("sh-1".into()),
                nonce: Some("nonce-123".into()),
                acr: None,
                amr: vec![],
            },
            created_at: NOW,
            exp_s: NOW / 1000 + 3600,
        }
    }

    pub fn claims_of(token: &str) -> Map<String, Value> {
        let key = signing_key();
        decode(token).unwrap().verify(&key.public_key().unwrap()).expect("signed by the test key")
    }

    #[test]
    fn access_and_id_token_claims() {
        let key = signing_key();
        let signer = Signer { kid: "s-abc", key: &key };
        let c = client();
        let g = grant();
        let custom = obj(json!({"email": "a@b.c", "sub": "evil", "stt": 0, "tId": "overridden", "client_id": "x"}));
        let id_custom = obj(json!({"email": "a@b.c", "aud": "evil", "nonce": "custom-nonce-wins"}));
        let issued = mint_user_tokens(
            &UserTokens {
                client: &c,
                grant: &g,
                kind: Grant::AuthorizationCode,
                scopes: &g.scopes,
                access_payload: Some(&custom),
                id_payload: Some(&id_custom),
                id_iss: "http://localhost:3001/auth",
                with_id_token: true,
                with_refresh_token: true,
                code: None,
            },
            &signer,
            NOW,
            &SeqRandom::new(),
        )
        .unwrap();
        let header = decode(&issued.access_token).unwrap().header;
        assert_eq!(Value::Object(header), json!({"kid": "s-abc", "typ": "JWT", "alg": "RS256"}));

        let at = claims_of(&issued.access_token);
        assert_eq!(at["stt"], 1);
        assert_eq!(at["sub"], "user-1", "reserved claims cannot be overridden");
        assert_eq!(at["client_id"], "stcl_test");
        assert_eq!(at["scp"], json!(["openid", "offline_access"]));
        assert!(at.get("aud").is_none(), "no audience: no aud claim");
        assert_eq!(at["iss"], "http://localhost:3001/auth");
        assert_eq!(at["gid"], "g-1");
        assert_eq!(at["tId"], "overridden", "tId is not reserved");
        assert_eq!(at["rsub"], "recipe-user-1");
        assert_eq!(at["sessionHandle"], "sh-1");
        assert_eq!(at["email"], "a@b.c");
        assert_eq!(at["iat"], NOW / 1000);
        assert_eq!(at["nbf"], NOW / 1000);
        assert_eq!(at["exp"], NOW / 1000 + 3600);
        assert_eq!(at["jti"], json!(issued.jti));
        assert_eq!(issued.expires_in, 3600);

        let id = claims_of(issued.id_token.as_deref().unwrap());
        assert_eq!(id["stt"], 2);
        assert_eq!(id["aud"], "stcl_test", "the ID token's aud is the client id, as a string");
        assert_eq!(id["sub"], "user-1");
        assert_eq!(id["sid"], "sh-1");
        assert_eq!(id["nonce"], "custom-nonce-wins");
        assert_eq!(id["auth_time"], NOW / 1000 - 60);
        assert_eq!(id["rat"], NOW / 1000 - 90);
        assert_eq!(id["at_hash"], json!(left_half_hash(&issued.access_token)));
        assert!(id.get("nbf").is_none() && id.get("acr").is_none() && id.get("amr").is_none());
        assert_ne!(id["gid"], "g-1", "the ID token's gid is its own");
        assert_ne!(id["jti"], at["jti"]);

        let refresh = issued.refresh.as_ref().unwrap();
        assert!(refresh.plain.starts_with("st_rt_") && refresh.plain.len() == 6 + 43);
        assert_eq!(refresh.hash, sha256_hex(&refresh.plain));
        assert_eq!(refresh.exp_s, NOW / 1000 + 720 * 3600);
        assert_eq!(issued.session_exp_s(), refresh.exp_s);

        let json = issued.to_json();
        assert_eq!(json["token_type"], "bearer");
        assert_eq!(json["scope"], "openid offline_access");
        assert_eq!(json["refresh_token"], json!(refresh.plain));
    }

    #[test]
    fn aud_is_omitted_a_string_or_an_array() {
        assert_eq!(aud_claim(&[]), None);
        assert_eq!(aud_claim(&["a".into()]), Some(json!("a")));
        assert_eq!(aud_claim(&["a".into(), "b".into()]), Some(json!(["a", "b"])));
    }

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OIDC Core appendix A.3's access token and at_hash (RS256 → SHA-256).
        assert_eq!(left_half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }

    #[test]
    fn m2m_tokens() {
        let key = signing_key();
        let signer = Signer { kid: "s-abc", key: &key };
        let mut c = client();
        c.config.lifespans[Lifespan::ClientCredentialsGrantAccessToken as usize] = Some("5m0s".into());
        let scopes = vec!["api.read".to_owned()];
        let aud = vec!["https://api.example.com".to_owned(), "https://api.example.com/v2".to_owned()];
        let (issued, gid) = mint_m2m_token(
            &M2mToken { client: &c, iss: "https://issuer", scopes: &scopes, audience: &aud, custom: Some(&obj(json!({"role": "svc"}))) },
            &signer,
            NOW,
            &SeqRandom::new(),
        )
        .unwrap();
        let at = claims_of(&issued.access_token);
        assert_eq!(at["sub"], "stcl_test");
        assert_eq!(at["client_id"], "stcl_test");
        assert_eq!(at["aud"], json!(aud));
        assert_eq!(at["gid"], json!(gid));
        assert_eq!(at["role"], "svc");
        assert!(at.get("tId").is_none() && at.get("sessionHandle").is_none());
        assert_eq!(issued.expires_in, 300);
        assert_eq!(issued.session_exp_s(), NOW / 1000 + 300);
        let json = issued.to_json();
        assert!(json.get("refresh_token").is_none() && json.get("id_token").is_none());
        assert_eq!(json["scope"], "api.read");
    }
}
