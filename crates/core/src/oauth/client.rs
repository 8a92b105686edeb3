//! OAuth clients: the JSON the SDKs send and read (`/recipe/oauth/clients…`), its defaults and
//! validation (Hydra's rules, with its error objects), and what is stored.
//!
//! A client is stored in two rows: the plugin's `oauth_clients` (id, secret hash, rotation flag,
//! client-credentials-only flag) and `oauth_client_configs` (name, the rest of the metadata as a
//! JSON document written and read by [`ClientConfig`]'s serde form, and the times).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::duration;
use super::errors::{BadInput, Failure, Kind, OAuthError};
use super::random::{self, Random};
use super::secret;
use super::time::rfc3339;
use super::url::{is_absolute_uri, Parts};
use super::{defaults, split_spaces};
use crate::crypto::CryptoError;

/// Bounds on what one client may hold (the SDKs send far less; these keep rows and flows small).
pub const MAX_CLIENT_ID_CHARS: usize = 255;
pub const MAX_LIST_ENTRIES: usize = 100;
pub const MAX_STRING_CHARS: usize = 2048;
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// How a client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMethod {
    #[default]
    #[serde(rename = "client_secret_basic")]
    Basic,
    #[serde(rename = "client_secret_post")]
    Post,
    /// A public client: no secret.
    #[serde(rename = "none")]
    None,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Basic => "client_secret_basic",
            AuthMethod::Post => "client_secret_post",
            AuthMethod::None => "none",
        }
    }
}

/// The grants a token can come from; each has its own lifespans on a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    Implicit,
}

impl Grant {
    pub fn name(self) -> &'static str {
        match self {
            Grant::AuthorizationCode => "authorization_code",
            Grant::RefreshToken => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
            Grant::Implicit => "implicit",
        }
    }
}

/// The nine per-client token lifespans, in the order of [`LIFESPAN_KEYS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifespan {
    AuthorizationCodeGrantAccessToken,
    AuthorizationCodeGrantIdToken,
    AuthorizationCodeGrantRefreshToken,
    ClientCredentialsGrantAccessToken,
    ImplicitGrantAccessToken,
    ImplicitGrantIdToken,
    RefreshTokenGrantAccessToken,
    RefreshTokenGrantIdToken,
    RefreshTokenGrantRefreshToken,
}

pub const LIFESPAN_KEYS: [&str; 9] = [
    "authorizationCodeGrantAccessTokenLifespan",
    "authorizationCodeGrantIdTokenLifespan",
    "authorizationCodeGrantRefreshTokenLifespan",
    "clientCredentialsGrantAccessTokenLifespan",
    "implicitGrantAccessTokenLifespan",
    "implicitGrantIdTokenLifespan",
    "refreshTokenGrantAccessTokenLifespan",
    "refreshTokenGrantIdTokenLifespan",
    "refreshTokenGrantRefreshTokenLifespan",
];

/// Everything of a client but its id, secret, rotation flag and times: what `oauth_client_configs`
/// holds. Field names are the client JSON's keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientConfig {
    pub client_name: String,
    /// Space-separated allowed scopes (wildcards allowed, [`super::matching::scope_allowed`]).
    pub scope: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Canonical Go durations ([`duration::format`]), `None` for the server default.
    pub lifespans: [Option<String>; 9],
    pub token_endpoint_auth_method: AuthMethod,
    pub client_uri: String,
    pub logo_uri: String,
    pub policy_uri: String,
    pub tos_uri: String,
    pub allowed_cors_origins: Vec<String>,
    pub audience: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub metadata: Map<String, Value>,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            client_name: String::new(),
            scope: defaults::CLIENT_SCOPE.to_owned(),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            lifespans: Default::default(),
            token_endpoint_auth_method: AuthMethod::Basic,
            client_uri: String::new(),
            logo_uri: String::new(),
            policy_uri: String::new(),
            tos_uri: String::new(),
            allowed_cors_origins: vec![],
            audience: vec![],
            grant_types: vec![],
            response_types: vec![],
            metadata: Map::new(),
        }
    }
}

impl ClientConfig {
    /// The JSON document stored in `oauth_client_configs.config`.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads a stored document; fields it lacks take their defaults.
    pub fn from_stored(text: &str) -> Result<ClientConfig, String> {
        serde_json::from_str(text).map_err(|e| format!("unreadable OAuth client config: {e}"))
    }
}

/// A client as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Client {
    pub client_id: String,
    /// [`secret`]'s stored form; `None` for public clients.
    pub secret_hash: Option<String>,
    pub enable_refresh_token_rotation: bool,
    pub config: ClientConfig,
    /// Milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.config.token_endpoint_auth_method == AuthMethod::None
    }

    /// The grant types in effect (`authorization_code` when none are set, as Hydra).
    pub fn grant_types(&self) -> Vec<&str> {
        if self.config.grant_types.is_empty() {
            vec!["authorization_code"]
        } else {
            self.config.grant_types.iter().map(String::as_str).collect()
        }
    }

    pub fn allows_grant(&self, grant: Grant) -> bool {
        self.grant_types().contains(&grant.name())
    }

    /// The response types in effect (`code` when none are set, as Hydra).
    pub fn response_types(&self) -> Vec<&str> {
        if self.config.response_types.is_empty() {
            vec!["code"]
        } else {
            self.config.response_types.iter().map(String::as_str).collect()
        }
    }

    /// `oauth_clients.is_client_credentials_only`: the grant types are exactly `client_credentials`.
    pub fn is_client_credentials_only(&self) -> bool {
        self.config.grant_types.len() == 1 && self.config.grant_types[0] == "client_credentials"
    }

    pub fn scopes(&self) -> Vec<String> {
        split_spaces(&self.config.scope)
    }

    /// A lifespan in whole seconds: the client's own, else the server default for that token.
    pub fn lifespan_s(&self, which: Lifespan) -> i64 {
        let default = match which {
            Lifespan::AuthorizationCodeGrantIdToken | Lifespan::ImplicitGrantIdToken | Lifespan::RefreshTokenGrantIdToken => {
                defaults::ID_TOKEN_LIFESPAN_S
            }
            Lifespan::AuthorizationCodeGrantRefreshToken | Lifespan::RefreshTokenGrantRefreshToken => {
                defaults::REFRESH_TOKEN_LIFESPAN_S
            }
            _ => defaults::ACCESS_TOKEN_LIFESPAN_S,
        };
        self.config.lifespans[which as usize]
            .as_deref()
            .and_then(duration::parse)
            .map(|ns| ns / 1_000_000_000)
            .unwrap_or(default)
    }

    /// The client object's fields as every endpoint shows them, without `clientSecret` and
    /// `enableRefreshTokenRotation` (the consent request shows exactly this).
    pub fn fields_json(&self) -> Map<String, Value> {
        let c = &self.config;
        let mut m = Map::new();
        m.insert("clientId".into(), json!(self.client_id));
        m.insert("clientName".into(), json!(c.client_name));
        m.insert("scope".into(), json!(c.scope));
        m.insert("redirectUris".into(), json!(c.redirect_uris));
        // Hydra omits an empty list here (Go `omitempty`), so a default client has 27 keys, not 28.
        if !c.post_logout_redirect_uris.is_empty() {
            m.insert("postLogoutRedirectUris".into(), json!(c.post_logout_redirect_uris));
        }
        for (key, value) in LIFESPAN_KEYS.iter().zip(c.lifespans.iter()) {
            m.insert((*key).into(), json!(value));
        }
        m.insert("tokenEndpointAuthMethod".into(), json!(c.token_endpoint_auth_method.name()));
        m.insert("clientUri".into(), json!(c.client_uri));
        m.insert("allowedCorsOrigins".into(), json!(c.allowed_cors_origins));
        m.insert("audience".into(), json!(c.audience));
        m.insert("grantTypes".into(), json!(c.grant_types));
        m.insert("responseTypes".into(), json!(c.response_types));
        m.insert("logoUri".into(), json!(c.logo_uri));
        m.insert("policyUri".into(), json!(c.policy_uri));
        m.insert("tosUri".into(), json!(c.tos_uri));
        m.insert("createdAt".into(), json!(rfc3339(self.created_at)));
        m.insert("updatedAt".into(), json!(rfc3339(self.updated_at)));
        m.insert("metadata".into(), Value::Object(c.metadata.clone()));
        m
    }

    /// The client object of GET, list, create and update: the fields, `enableRefreshTokenRotation`,
    /// and `clientSecret` only when this request created or changed it (it is stored hashed: D2).
    pub fn to_json(&self, new_secret: Option<&str>) -> Map<String, Value> {
        let mut m = self.fields_json();
        if let Some(s) = new_secret {
            m.insert("clientSecret".into(), json!(s));
        }
        m.insert("enableRefreshTokenRotation".into(), json!(self.enable_refresh_token_rotation));
        m
    }
}

/// The answer of GET, create and update: `{"status":"OK", …client object}` (`clientSecret` only when
/// this request set it).
pub fn ok_json(client: &Client, new_secret: Option<&str>) -> Value {
    let mut m = Map::new();
    m.extend(client.to_json(new_secret));
    Value::Object(m)
}

/// `GET /recipe/oauth/clients?clientId=`: the parameter, required.
pub fn get_client_id(param: Option<&str>) -> Result<&str, BadInput> {
    param.ok_or_else(|| BadInput::query_missing("clientId"))
}

/// The answer of GET for the client storage found: unknown is `CLIENT_NOT_FOUND_ERROR` (D1).
pub fn get_json(client: Option<&Client>) -> Result<Value, Failure> {
    client.map(|c| ok_json(c, None)).ok_or(Failure::ClientNotFound)
}

/// A create whose `clientId` is taken (storage answered `AlreadyExists`): 409, as Hydra's conflict.
pub fn already_exists() -> Failure {
    OAuthError::hint(Kind::InvalidClientMetadata, "An OAuth 2.0 Client with this clientId exists already.").with_status(409).into()
}

/// `POST /recipe/oauth/clients/remove`: `{"clientId"}`, required.
pub fn remove_client_id(body: &Map<String, Value>) -> Result<&str, BadInput> {
    match body.get("clientId") {
        Some(Value::String(s)) => Ok(s),
        _ => Err(BadInput::field_invalid("clientId")),
    }
}

/// `{"status":"OK","didExist":…}`.
pub fn removed_json(did_exist: bool) -> Value {
    json!({"didExist": did_exist})
}

/// What happens to the stored secret hash when a draft is saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretChange {
    Keep,
    /// The client became public.
    Remove,
    /// A secret this server generated, already hashed.
    Generated { plain: String, hash: String },
    /// A caller-chosen secret: hash it with [`secret::hash_supplied`] on the hashing pool, then
    /// store that in `client.secret_hash`.
    Supplied { plain: String },
}

impl SecretChange {
    /// The plaintext to show once in the answer.
    pub fn plain(&self) -> Option<&str> {
        match self {
            SecretChange::Generated { plain, .. } | SecretChange::Supplied { plain } => Some(plain),
            _ => None,
        }
    }
}

/// A client to store (create or update), with what to do about its secret.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientDraft {
    pub client: Client,
    pub secret: SecretChange,
}

fn metadata_error(hint: &str) -> Failure {
    Failure::OAuth(OAuthError::hint(Kind::InvalidClientMetadata, hint))
}

fn string_field(key: &str, v: &Value) -> Result<String, Failure> {
    match v {
        Value::String(s) if s.chars().count() <= MAX_STRING_CHARS => Ok(s.clone()),
        Value::String(_) => Err(metadata_error(&format!("Field '{key}' is longer than {MAX_STRING_CHARS} characters."))),
        _ => Err(metadata_error(&format!("Field '{key}' must be a string."))),
    }
}

fn string_list_field(key: &str, v: &Value) -> Result<Vec<String>, Failure> {
    let Value::Array(items) = v else {
        return Err(metadata_error(&format!("Field '{key}' must be an array of strings.")));
    };
    if items.len() > MAX_LIST_ENTRIES {
        return Err(metadata_error(&format!("Field '{key}' may hold at most {MAX_LIST_ENTRIES} entries.")));
    }
    items.iter().map(|i| string_field(key, i).map_err(|_| metadata_error(&format!("Field '{key}' must be an array of strings.")))).collect()
}

/// Sets one client-JSON field (`null` resets it to its default). Unknown keys are ignored, as
/// Hydra's decoder ignored the fields it had no use for.
fn apply_field(c: &mut ClientConfig, key: &str, v: &Value) -> Result<(), Failure> {
    let d = ClientConfig::default();
    let null = v.is_null();
    match key {
        "clientName" => c.client_name = if null { d.client_name } else { string_field(key, v)? },
        "scope" => c.scope = if null { d.scope } else { string_field(key, v)? },
        "redirectUris" => c.redirect_uris = if null { vec![] } else { string_list_field(key, v)? },
        "postLogoutRedirectUris" => c.post_logout_redirect_uris = if null { vec![] } else { string_list_field(key, v)? },
        "allowedCorsOrigins" => c.allowed_cors_origins = if null { vec![] } else { string_list_field(key, v)? },
        "audience" => c.audience = if null { vec![] } else { string_list_field(key, v)? },
        "grantTypes" => c.grant_types = if null { vec![] } else { string_list_field(key, v)? },
        "responseTypes" => c.response_types = if null { vec![] } else { string_list_field(key, v)? },
        "clientUri" => c.client_uri = if null { d.client_uri } else { string_field(key, v)? },
        "logoUri" => c.logo_uri = if null { d.logo_uri } else { string_field(key, v)? },
        "policyUri" => c.policy_uri = if null { d.policy_uri } else { string_field(key, v)? },
        "tosUri" => c.tos_uri = if null { d.tos_uri } else { string_field(key, v)? },
        "tokenEndpointAuthMethod" => {
            c.token_endpoint_auth_method = match v {
                Value::Null => AuthMethod::Basic,
                Value::String(s) if s.is_empty() || s == "client_secret_basic" => AuthMethod::Basic,
                Value::String(s) if s == "client_secret_post" => AuthMethod::Post,
                Value::String(s) if s == "none" => AuthMethod::None,
                _ => {
                    return Err(metadata_error(
                        "Field 'tokenEndpointAuthMethod' must be one of 'client_secret_basic', 'client_secret_post' or 'none'.",
                    ))
                }
            }
        }
        "metadata" => {
            c.metadata = match v {
                Value::Null => Map::new(),
                Value::Object(m) if v.to_string().len() <= MAX_METADATA_BYTES => m.clone(),
                Value::Object(_) => return Err(metadata_error(&format!("Field 'metadata' is larger than {MAX_METADATA_BYTES} bytes."))),
                _ => return Err(metadata_error("Field 'metadata' must be an object.")),
            }
        }
        _ => {
            if let Some(i) = LIFESPAN_KEYS.iter().position(|k| *k == key) {
                c.lifespans[i] = match v {
                    Value::Null => None,
                    Value::String(s) => match duration::parse(s) {
                        Some(ns) if ns >= 0 => Some(duration::format(ns)),
                        _ => {
                            return Err(metadata_error(&format!(
                                "Field '{key}' must be a non-negative duration such as '1h' or '30m', not '{s}'."
                            )))
                        }
                    },
                    _ => return Err(metadata_error(&format!("Field '{key}' must be a duration string such as '1h'."))),
                };
            }
        }
    }
    Ok(())
}

/// Hydra's client validation (and its normalisations: the default scope, trimmed CORS origins).
fn validate(c: &mut ClientConfig) -> Result<(), Failure> {
    if c.scope.trim().is_empty() {
        c.scope = defaults::CLIENT_SCOPE.to_owned();
    }
    for origin in c.allowed_cors_origins.iter_mut() {
        let p = Parts::split(origin);
        let scheme_ok = p.scheme.is_some_and(|s| s == "http" || s == "https") && is_absolute_uri(origin);
        if !scheme_ok {
            return Err(metadata_error(&format!("Origin URL {origin} must use https:// or http:// as HTTP scheme.")));
        }
        if p.has_user_info() {
            return Err(metadata_error(&format!("Origin URL {origin} has HTTP user and/or password set which is not allowed.")));
        }
        let path = p.path.trim_end_matches('/');
        if !path.is_empty() || p.query.is_some_and(|q| !q.is_empty()) || p.fragment.is_some_and(|f| !f.is_empty()) {
            return Err(metadata_error(&format!(
                "Origin URL {origin} must have an empty path, query, and fragment but one of the parts is not empty."
            )));
        }
        *origin = format!("{}://{}", p.scheme.unwrap_or_default(), p.authority.unwrap_or_default());
    }
    for r in &c.redirect_uris {
        if !is_absolute_uri(r) {
            return Err(Failure::OAuth(OAuthError::hint(Kind::InvalidRedirectUri, &format!("Unable to parse redirect URL: {r}"))));
        }
        if r.contains('#') {
            return Err(Failure::OAuth(OAuthError::hint(Kind::InvalidRedirectUri, "Redirect URIs must not contain fragments (#).")));
        }
    }
    for l in &c.post_logout_redirect_uris {
        if !is_absolute_uri(l) {
            return Err(metadata_error(&format!("Unable to parse post_logout_redirect_uri: {l}")));
        }
        let lp = Parts::split(l);
        let matches = c.redirect_uris.iter().any(|r| {
            let rp = Parts::split(r);
            rp.scheme == lp.scheme && rp.host() == lp.host() && rp.port() == lp.port()
        });
        if !matches {
            return Err(metadata_error(&format!(
                "post_logout_redirect_uri '{l}' must match the domain, port, scheme of at least one of the registered redirect URIs."
            )));
        }
    }
    Ok(())
}

fn optional_bool(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, Failure> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(BadInput::field_invalid(key).into()),
    }
}

/// The secret of a confidential client: the caller's (at least 6 characters) or a generated one.
fn choose_secret(supplied: Option<&Value>, rng: &dyn Random) -> Result<SecretChange, Failure> {
    match supplied {
        Some(Value::String(s)) if !s.is_empty() => {
            if s.chars().count() < secret::MIN_SECRET_CHARS {
                return Err(metadata_error("Field client_secret must contain a secret that is at least 6 characters long."));
            }
            if s.chars().count() > MAX_STRING_CHARS {
                return Err(metadata_error(&format!("Field client_secret is longer than {MAX_STRING_CHARS} characters.")));
            }
            Ok(SecretChange::Supplied { plain: s.clone() })
        }
        _ => generated_secret(rng).map_err(Failure::from),
    }
}

fn generated_secret(rng: &dyn Random) -> Result<SecretChange, CryptoError> {
    let plain = secret::generate(rng)?;
    let hash = secret::hash_generated(&plain, rng)?;
    Ok(SecretChange::Generated { plain, hash })
}

/// `POST /recipe/oauth/clients`: the client to create from the request body.
pub fn create(body: &Map<String, Value>, now: i64, rng: &dyn Random) -> Result<ClientDraft, Failure> {
    let client_id = match body.get("clientId") {
        None | Some(Value::Null) => format!("stcl_{}", random::uuid_v4(rng)?),
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_CLIENT_ID_CHARS => s.clone(),
        Some(Value::String(_)) => {
            return Err(metadata_error(&format!("Field 'clientId' must hold 1 to {MAX_CLIENT_ID_CHARS} characters.")))
        }
        Some(_) => return Err(BadInput::field_invalid("clientId").into()),
    };
    let rotation = optional_bool(body, "enableRefreshTokenRotation")?.unwrap_or(false);
    if matches!(body.get("clientSecret"), Some(v) if !v.is_null() && !v.is_string()) {
        return Err(BadInput::field_invalid("clientSecret").into());
    }
    let mut config = ClientConfig::default();
    for (k, v) in body {
        apply_field(&mut config, k, v)?;
    }
    validate(&mut config)?;
    let secret = if config.token_endpoint_auth_method == AuthMethod::None {
        SecretChange::Remove
    } else {
        choose_secret(body.get("clientSecret"), rng)?
    };
    let client = Client {
        client_id,
        secret_hash: match &secret {
            SecretChange::Generated { hash, .. } => Some(hash.clone()),
            _ => None,
        },
        enable_refresh_token_rotation: rotation,
        config,
        created_at: now,
        updated_at: now,
    };
    Ok(ClientDraft { client, secret })
}

/// The `clientId` of an update, read from the body as the Java core does.
pub fn update_client_id(body: &Map<String, Value>) -> Result<&str, BadInput> {
    match body.get("clientId") {
        Some(Value::String(s)) => Ok(s),
        _ => Err(BadInput::field_invalid("clientId")),
    }
}

/// `PUT /recipe/oauth/clients`: the stored client with the body laid over it. Fields the body does
/// not mention keep their values; `null` resets a field to its default; a `clientSecret` replaces the
/// secret. A client made public loses its secret; a public client made confidential without a new
/// secret gets a generated one (Hydra would keep an empty secret that nothing can match).
pub fn update(existing: &Client, body: &Map<String, Value>, now: i64, rng: &dyn Random) -> Result<ClientDraft, Failure> {
    let rotation = optional_bool(body, "enableRefreshTokenRotation")?.unwrap_or(existing.enable_refresh_token_rotation);
    let new_secret = match body.get("clientSecret") {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(BadInput::field_invalid("clientSecret").into()),
    };
    let mut config = existing.config.clone();
    for (k, v) in body {
        apply_field(&mut config, k, v)?;
    }
    validate(&mut config)?;
    let secret = match (config.token_endpoint_auth_method, new_secret) {
        (AuthMethod::None, _) => {
            if existing.secret_hash.is_some() {
                SecretChange::Remove
            } else {
                SecretChange::Keep
            }
        }
        (_, Some(s)) => choose_secret(Some(&Value::String(s.clone())), rng)?,
        (_, None) if existing.secret_hash.is_none() => generated_secret(rng)?,
        (_, None) => SecretChange::Keep,
    };
    let secret_hash = match &secret {
        SecretChange::Keep => existing.secret_hash.clone(),
        SecretChange::Generated { hash, .. } => Some(hash.clone()),
        SecretChange::Remove | SecretChange::Supplied { .. } => None,
    };
    let client = Client {
        client_id: existing.client_id.clone(),
        secret_hash,
        enable_refresh_token_rotation: rotation,
        config,
        created_at: existing.created_at,
        updated_at: now,
    };
    Ok(ClientDraft { client, secret })
}

/// One page of `GET /recipe/oauth/clients/list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    /// Clients per page; storage returns up to `page_size + 1` to tell whether another page follows.
    pub page_size: usize,
    /// Exact `clientName` filter.
    pub client_name: Option<String>,
    /// Clients with an id greater than this one (keyset pagination, ordered by id).
    pub after: Option<String>,
}

impl ListQuery {
    /// Reads the query parameters: `pageSize` (default 250, clamped to 1..=1000, a non-number is the
    /// default, as ory's paginator), `clientName`, `pageToken` (opaque, from an earlier page).
    pub fn parse(page_size: Option<&str>, client_name: Option<&str>, page_token: Option<&str>) -> Result<ListQuery, OAuthError> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let page_size = page_size
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map_or(defaults::LIST_PAGE_SIZE, |n| n.clamp(1, defaults::MAX_LIST_PAGE_SIZE as i64) as usize);
        let after = match page_token.filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(
                URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| OAuthError::hint(Kind::InvalidRequest, "The page token is invalid."))?,
            ),
        };
        Ok(ListQuery { page_size, client_name: client_name.map(str::to_owned), after })
    }

    /// The answer for the clients storage found (at most `page_size + 1`, ordered by id).
    pub fn page_json(&self, mut clients: Vec<Client>) -> Value {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let more = clients.len() > self.page_size;
        clients.truncate(self.page_size);
        let mut out = Map::new();
        out.insert("clients".into(), Value::Array(clients.iter().map(|c| Value::Object(c.to_json(None))).collect()));
        if let (true, Some(last)) = (more, clients.last()) {
            out.insert("nextPaginationToken".into(), json!(URL_SAFE_NO_PAD.encode(&last.client_id)));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::testing::{client, obj, SeqRandom, NOW};

    fn oauth_error(f: Failure) -> OAuthError {
        match f {
            Failure::OAuth(e) => e,
            other => panic!("expected an OAuth error, got {other:?}"),
        }
    }

    #[test]
    fn a_default_client_has_the_27_keys() {
        let rng = SeqRandom::new();
        let draft = create(&Map::new(), NOW, &rng).unwrap();
        let json = draft.client.to_json(draft.secret.plain());
        assert_eq!(json.len(), 27, "{json:?}");
        assert!(!json.contains_key("postLogoutRedirectUris"));
        assert!(json["clientId"].as_str().unwrap().starts_with("stcl_"));
        assert_eq!(json["clientId"].as_str().unwrap().len(), 5 + 36);
        assert_eq!(json["clientSecret"].as_str().unwrap().len(), 43);
        assert_eq!(json["scope"], "offline_access offline openid");
        assert_eq!(json["tokenEndpointAuthMethod"], "client_secret_basic");
        assert_eq!(json["redirectUris"], json!([]));
        assert_eq!(json["grantTypes"], json!([]));
        assert_eq!(json["authorizationCodeGrantAccessTokenLifespan"], Value::Null);
        assert_eq!(json["createdAt"], "2023-11-14T22:13:20Z");
        assert_eq!(json["metadata"], json!({}));
        assert_eq!(json["enableRefreshTokenRotation"], false);
        assert_eq!(json["clientName"], "");
        // The secret is stored hashed, and GET does not show it again.
        let stored = draft.client.secret_hash.as_deref().unwrap();
        assert!(!stored.contains(json["clientSecret"].as_str().unwrap()));
        assert!(!draft.client.to_json(None).contains_key("clientSecret"));
        assert_eq!(draft.client.to_json(None).len(), 26);
    }

    #[test]
    fn every_field_round_trips() {
        let rng = SeqRandom::new();
        let body = obj(json!({
            "clientId": "my-client",
            "clientName": "My App",
            "clientSecret": "s3cret-chosen",
            "scope": "openid email",
            "redirectUris": ["https://a.example.com/cb"],
            "postLogoutRedirectUris": ["https://a.example.com/bye"],
            "authorizationCodeGrantAccessTokenLifespan": "1h",
            "refreshTokenGrantRefreshTokenLifespan": "90s",
            "tokenEndpointAuthMethod": "client_secret_post",
            "clientUri": "https://a.example.com",
            "logoUri": "https://a.example.com/logo.png",
            "policyUri": "https://a.example.com/policy",
            "tosUri": "https://a.example.com/tos",
            "allowedCorsOrigins": ["https://a.example.com/"],
            "audience": ["https://api.example.com"],
            "grantTypes": ["authorization_code", "refresh_token"],
            "responseTypes": ["code"],
            "metadata": {"foo_bar": 1, "nested": {"x_y": [1]}},
            "enableRefreshTokenRotation": true,
            "someHydraOnlyField": "ignored"
        }));
        let draft = create(&body, NOW, &rng).unwrap();
        assert_eq!(draft.secret, SecretChange::Supplied { plain: "s3cret-chosen".into() });
        assert_eq!(draft.client.secret_hash, None, "a supplied secret is hashed by the caller, on the pool");
        let json = draft.client.to_json(draft.secret.plain());
        assert_eq!(json["clientId"], "my-client");
        assert_eq!(json["clientSecret"], "s3cret-chosen");
        assert_eq!(json["authorizationCodeGrantAccessTokenLifespan"], "1h0m0s");
        assert_eq!(json["refreshTokenGrantRefreshTokenLifespan"], "1m30s");
        assert_eq!(json["allowedCorsOrigins"], json!(["https://a.example.com"]));
        // Metadata keys are kept as written (the Java core camelCased them on read: D16).
        assert_eq!(json["metadata"], json!({"foo_bar": 1, "nested": {"x_y": [1]}}));
        assert_eq!(json["enableRefreshTokenRotation"], true);
        assert!(!json.contains_key("someHydraOnlyField"));
        assert_eq!(json.len(), 28);
        assert_eq!(draft.client.lifespan_s(Lifespan::AuthorizationCodeGrantAccessToken), 3600);
        assert_eq!(draft.client.lifespan_s(Lifespan::RefreshTokenGrantRefreshToken), 90);
        assert_eq!(draft.client.lifespan_s(Lifespan::ClientCredentialsGrantAccessToken), 3600);
        assert_eq!(draft.client.lifespan_s(Lifespan::AuthorizationCodeGrantRefreshToken), 720 * 3600);
        // The stored config reads back equal.
        let back = ClientConfig::from_stored(&draft.client.config.to_stored()).unwrap();
        assert_eq!(back, draft.client.config);
    }

    #[test]
    fn public_clients_have_no_secret() {
        let rng = SeqRandom::new();
        let draft = create(&obj(json!({"tokenEndpointAuthMethod": "none", "clientSecret": "ignored!"})), NOW, &rng).unwrap();
        assert_eq!(draft.secret, SecretChange::Remove);
        assert!(draft.client.is_public() && draft.client.secret_hash.is_none());
        assert!(!draft.client.to_json(draft.secret.plain()).contains_key("clientSecret"));
    }

    #[test]
    fn invalid_input_gives_the_errors_hydra_gives() {
        let rng = SeqRandom::new();
        let cases = [
            (json!({"clientSecret": "12345"}), "invalid_client_metadata", "at least 6 characters"),
            (json!({"redirectUris": ["not a uri"]}), "invalid_redirect_uri", "Unable to parse redirect URL: not a uri"),
            (json!({"redirectUris": ["https://a/cb#x"]}), "invalid_redirect_uri", "must not contain fragments"),
            (json!({"redirectUris": ["https://a/cb"], "postLogoutRedirectUris": ["https://b/bye"]}), "invalid_client_metadata", "must match the domain"),
            (json!({"redirectUris": ["https://a/cb"], "postLogoutRedirectUris": ["https://a:444/bye"]}), "invalid_client_metadata", "must match the domain"),
            (json!({"allowedCorsOrigins": ["ftp://a"]}), "invalid_client_metadata", "https:// or http://"),
            (json!({"allowedCorsOrigins": ["https://u@a"]}), "invalid_client_metadata", "user and/or password"),
            (json!({"allowedCorsOrigins": ["https://a/path"]}), "invalid_client_metadata", "empty path"),
            (json!({"tokenEndpointAuthMethod": "private_key_jwt"}), "invalid_client_metadata", "must be one of"),
            (json!({"redirectUris": "https://a/cb"}), "invalid_client_metadata", "array of strings"),
            (json!({"redirectUris": [1]}), "invalid_client_metadata", "array of strings"),
            (json!({"scope": 5}), "invalid_client_metadata", "must be a string"),
            (json!({"metadata": []}), "invalid_client_metadata", "must be an object"),
            (json!({"implicitGrantAccessTokenLifespan": "soon"}), "invalid_client_metadata", "duration"),
            (json!({"implicitGrantAccessTokenLifespan": "-1h"}), "invalid_client_metadata", "non-negative"),
            (json!({"implicitGrantAccessTokenLifespan": 3600}), "invalid_client_metadata", "duration string"),
            (json!({"clientId": ""}), "invalid_client_metadata", "1 to 255"),
            (json!({"redirectUris": vec!["https://a/cb"; 101]}), "invalid_client_metadata", "at most 100"),
            (json!({"metadata": {"big": "x".repeat(70_000)}}), "invalid_client_metadata", "larger than"),
        ];
        for (body, error, hint) in cases {
            let e = oauth_error(create(&obj(body.clone()), NOW, &rng).unwrap_err());
            assert_eq!((e.error.as_str(), e.status_code), (error, 400), "{body}");
            assert!(e.description.as_deref().unwrap().contains(hint), "{body}: {:?}", e.description);
        }
        for (body, field) in [
            (json!({"enableRefreshTokenRotation": "yes"}), "enableRefreshTokenRotation"),
            (json!({"clientId": 5}), "clientId"),
            (json!({"clientSecret": 5}), "clientSecret"),
        ] {
            assert_eq!(create(&obj(body), NOW, &rng).unwrap_err(), Failure::BadInput(BadInput::field_invalid(field)));
        }
    }

    #[test]
    fn updates_merge_and_null_resets() {
        let rng = SeqRandom::new();
        let mut existing = client();
        existing.secret_hash = Some("$sha256$x$y".into());
        existing.config.lifespans[0] = Some("1h0m0s".into());
        let body = obj(json!({
            "clientId": "stcl_test",
            "clientName": "Renamed",
            "authorizationCodeGrantAccessTokenLifespan": null,
            "metadata": null,
            "grantTypes": null,
        }));
        let draft = update(&existing, &body, NOW + 5000, &rng).unwrap();
        let c = &draft.client;
        assert_eq!(c.config.client_name, "Renamed");
        assert_eq!(c.config.lifespans[0], None);
        assert!(c.config.metadata.is_empty());
        assert!(c.config.grant_types.is_empty());
        assert_eq!(c.config.redirect_uris, existing.config.redirect_uris, "untouched fields keep their values");
        assert_eq!(draft.secret, SecretChange::Keep);
        assert_eq!(c.secret_hash, existing.secret_hash);
        assert_eq!((c.created_at, c.updated_at), (existing.created_at, NOW + 5000));
        assert!(!c.to_json(draft.secret.plain()).contains_key("clientSecret"));

        // A new secret replaces the old one and is shown once.
        let draft = update(&existing, &obj(json!({"clientId": "stcl_test", "clientSecret": "another-one"})), NOW, &rng).unwrap();
        assert_eq!(draft.client.to_json(draft.secret.plain())["clientSecret"], "another-one");
        assert_eq!(draft.client.secret_hash, None, "to be hashed on the pool");
        assert_eq!(
            update(&existing, &obj(json!({"clientId": "stcl_test", "clientSecret": null})), NOW, &rng).unwrap_err(),
            Failure::BadInput(BadInput::field_invalid("clientSecret"))
        );
        // Public and back.
        let public = update(&existing, &obj(json!({"tokenEndpointAuthMethod": "none"})), NOW, &rng).unwrap();
        assert_eq!(public.secret, SecretChange::Remove);
        assert_eq!(public.client.secret_hash, None);
        let back = update(&public.client, &obj(json!({"tokenEndpointAuthMethod": "client_secret_post"})), NOW, &rng).unwrap();
        assert!(matches!(back.secret, SecretChange::Generated { .. }));
        assert!(back.client.secret_hash.is_some());
        // Validation runs on the merged client.
        let e = oauth_error(update(&existing, &obj(json!({"redirectUris": []})), NOW, &rng).unwrap_err());
        assert!(e.description.unwrap().contains("post_logout_redirect_uri"));
        assert_eq!(update_client_id(&obj(json!({}))), Err(BadInput::field_invalid("clientId")));
        assert_eq!(update_client_id(&obj(json!({"clientId": "a"}))), Ok("a"));
    }

    #[test]
    fn get_and_remove_answers() {
        let c = client();
        let v = get_json(Some(&c)).unwrap();
        assert_eq!(v["clientId"], "stcl_test");
        assert_eq!(v.as_object().unwrap().len(), 27, "25 fields + postLogoutRedirectUris + rotation flag");
        assert_eq!(get_json(None), Err(Failure::ClientNotFound));
        assert_eq!(get_client_id(None), Err(BadInput::query_missing("clientId")));
        assert_eq!(remove_client_id(&obj(json!({"clientId": 1}))), Err(BadInput::field_invalid("clientId")));
        assert_eq!(remove_client_id(&obj(json!({"clientId": "a"}))), Ok("a"));
        assert_eq!(removed_json(true), json!({"didExist": true}));
        assert!(matches!(already_exists(), Failure::OAuth(e) if e.status_code == 409));
    }

    #[test]
    fn effective_grant_and_response_types() {
        let mut c = client();
        c.config.grant_types.clear();
        c.config.response_types.clear();
        assert_eq!(c.grant_types(), ["authorization_code"]);
        assert_eq!(c.response_types(), ["code"]);
        assert!(c.allows_grant(Grant::AuthorizationCode) && !c.allows_grant(Grant::RefreshToken));
        assert!(!c.is_client_credentials_only());
        c.config.grant_types = vec!["client_credentials".into()];
        assert!(c.is_client_credentials_only());
    }

    #[test]
    fn list_pages() {
        let q = ListQuery::parse(Some("2"), Some("RP"), None).unwrap();
        assert_eq!((q.page_size, q.client_name.as_deref(), q.after.as_deref()), (2, Some("RP"), None));
        assert_eq!(ListQuery::parse(Some("x"), None, None).unwrap().page_size, 250);
        assert_eq!(ListQuery::parse(Some("0"), None, None).unwrap().page_size, 1);
        assert_eq!(ListQuery::parse(Some("5000"), None, None).unwrap().page_size, 1000);
        let mut a = client();
        let mut b = client();
        let mut c = client();
        a.client_id = "a".into();
        b.client_id = "b".into();
        c.client_id = "c".into();
        let page = q.page_json(vec![a, b, c]);
        assert_eq!(page["clients"].as_array().unwrap().len(), 2);
        let token = page["nextPaginationToken"].as_str().unwrap();
        let next = ListQuery::parse(None, None, Some(token)).unwrap();
        assert_eq!(next.after.as_deref(), Some("b"));
        assert!(q.page_json(vec![client()]).get("nextPaginationToken").is_none());
        assert!(!page["clients"][0].as_object().unwrap().contains_key("clientSecret"));
        assert_eq!(ListQuery::parse(None, None, Some("!!")).unwrap_err().error, "invalid_request");
    }
}
