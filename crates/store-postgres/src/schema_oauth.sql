-- The OAuth2 provider's tables (issue 22), rendered and created like schema.sql (same placeholders,
-- same rules), after it. None of them is in the seed schema.
--
-- First the four tables the newer SuperTokens PostgreSQL plugin creates (OAuthQueries), with the
-- plugin's columns, types, defaults, keys and index names, so that a database either side created
-- is the same; then the provider's own tables, all prefixed oauth_, for what the Java core kept in
-- Hydra's database: client metadata, authorization flows, grant data, remembered consents.

CREATE TABLE IF NOT EXISTS {t:oauth_clients} (
app_id VARCHAR(64),
client_id VARCHAR(255) NOT NULL,
client_secret TEXT,
enable_refresh_token_rotation BOOLEAN NOT NULL,
is_client_credentials_only BOOLEAN NOT NULL,
CONSTRAINT {c:oauth_clients:pkey} PRIMARY KEY (app_id, client_id),
CONSTRAINT {c:oauth_clients:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {t:oauth_sessions} (
gid VARCHAR(255),
app_id VARCHAR(64) DEFAULT 'public',
client_id VARCHAR(255) NOT NULL,
session_handle VARCHAR(128),
external_refresh_token VARCHAR(255) UNIQUE,
internal_refresh_token VARCHAR(255) UNIQUE,
jti TEXT NOT NULL,
exp BIGINT NOT NULL,
CONSTRAINT {c:oauth_sessions:pkey} PRIMARY KEY (gid),
CONSTRAINT {c:oauth_sessions:client_id_fkey} FOREIGN KEY (app_id, client_id) REFERENCES {t:oauth_clients} (app_id, client_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS oauth_session_exp_index ON {t:oauth_sessions} (exp DESC);

CREATE INDEX IF NOT EXISTS oauth_session_external_refresh_token_index ON {t:oauth_sessions} (app_id, external_refresh_token DESC);

-- Not the plugin's: revoking every grant of a SuperTokens session (logout) or of a client, and the
-- cascade of a client's deletion, would otherwise scan the whole table.
CREATE INDEX IF NOT EXISTS oauth_session_session_handle_index ON {t:oauth_sessions} (app_id, session_handle);

CREATE INDEX IF NOT EXISTS oauth_session_client_id_index ON {t:oauth_sessions} (app_id, client_id);

CREATE TABLE IF NOT EXISTS {t:oauth_m2m_tokens} (
app_id VARCHAR(64) DEFAULT 'public',
client_id VARCHAR(255) NOT NULL,
iat BIGINT NOT NULL,
exp BIGINT NOT NULL,
CONSTRAINT {c:oauth_m2m_tokens:pkey} PRIMARY KEY (app_id, client_id, iat),
CONSTRAINT {c:oauth_m2m_tokens:client_id_fkey} FOREIGN KEY (app_id, client_id) REFERENCES {t:oauth_clients} (app_id, client_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS oauth_m2m_token_iat_index ON {t:oauth_m2m_tokens} (iat DESC, app_id DESC);

CREATE INDEX IF NOT EXISTS oauth_m2m_token_exp_index ON {t:oauth_m2m_tokens} (exp DESC);

CREATE TABLE IF NOT EXISTS {t:oauth_logout_challenges} (
app_id VARCHAR(64) DEFAULT 'public',
challenge VARCHAR(128) NOT NULL,
client_id VARCHAR(255) NOT NULL,
post_logout_redirect_uri VARCHAR(1024),
session_handle VARCHAR(128),
state VARCHAR(128),
time_created BIGINT NOT NULL,
CONSTRAINT {c:oauth_logout_challenges:pkey} PRIMARY KEY (app_id, challenge),
CONSTRAINT {c:oauth_logout_challenges:client_id_fkey} FOREIGN KEY (app_id, client_id) REFERENCES {t:oauth_clients} (app_id, client_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS oauth_logout_challenges_time_created_index ON {t:oauth_logout_challenges} (time_created DESC);

-- A client's metadata (everything but its id, secret and flags): `config` is the JSON document
-- core's oauth::client::ClientConfig writes and reads. Times in milliseconds.
CREATE TABLE IF NOT EXISTS {t:oauth_client_configs} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
client_id VARCHAR(255) NOT NULL,
client_name TEXT DEFAULT '' NOT NULL,
config TEXT NOT NULL,
created_at BIGINT NOT NULL,
updated_at BIGINT NOT NULL,
CONSTRAINT {c:oauth_client_configs:pkey} PRIMARY KEY (app_id, client_id),
CONSTRAINT {c:oauth_client_configs:client_id_fkey} FOREIGN KEY (app_id, client_id) REFERENCES {t:oauth_clients} (app_id, client_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS oauth_client_configs_client_name_index ON {t:oauth_client_configs} (app_id, client_name);

-- One authorization request from /recipe/oauth/auth to its code (core's oauth::authorize::Flow).
-- Verifiers and the code are stored as SHA-256 hex only; `request`, `login_outcome` and
-- `consent_outcome` are JSON documents of core's types. Times in milliseconds.
CREATE TABLE IF NOT EXISTS {t:oauth_flows} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
login_challenge VARCHAR(128) NOT NULL,
client_id VARCHAR(255) NOT NULL,
request TEXT NOT NULL,
requested_at BIGINT NOT NULL,
login_csrf VARCHAR(128) NOT NULL,
login_verifier_hash VARCHAR(64),
login_outcome TEXT,
login_verifier_used BOOLEAN DEFAULT FALSE NOT NULL,
consent_challenge VARCHAR(128),
consent_csrf VARCHAR(128),
consent_skip BOOLEAN DEFAULT FALSE NOT NULL,
consent_verifier_hash VARCHAR(64),
consent_outcome TEXT,
consent_verifier_used BOOLEAN DEFAULT FALSE NOT NULL,
gid VARCHAR(255),
code_hash VARCHAR(64),
code_expires_at BIGINT,
code_used BOOLEAN DEFAULT FALSE NOT NULL,
expires_at BIGINT NOT NULL,
CONSTRAINT {c:oauth_flows:pkey} PRIMARY KEY (app_id, login_challenge),
CONSTRAINT {c:oauth_flows:consent_challenge_key} UNIQUE (app_id, consent_challenge),
CONSTRAINT {c:oauth_flows:login_verifier_hash_key} UNIQUE (app_id, login_verifier_hash),
CONSTRAINT {c:oauth_flows:consent_verifier_hash_key} UNIQUE (app_id, consent_verifier_hash),
CONSTRAINT {c:oauth_flows:code_hash_key} UNIQUE (app_id, code_hash),
CONSTRAINT {c:oauth_flows:client_id_fkey} FOREIGN KEY (app_id, client_id) REFERENCES {t:oauth_clients} (app_id, client_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS oauth_flows_expires_at_index ON {t:oauth_flows} (expires_at);

-- What a user grant's refresh needs (core's oauth::claims::GrantRecord, with its oauth_sessions row):
-- `granted_audience` a JSON array, `access_token_ext` {iss, tId, rsub, sessionHandle},
-- `id_token_claims` {auth_time, rat, sid, nonce, acr, amr}. Goes with its grant.
CREATE TABLE IF NOT EXISTS {t:oauth_grants} (
gid VARCHAR(255) NOT NULL,
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
subject VARCHAR(255) NOT NULL,
granted_scope TEXT NOT NULL,
granted_audience TEXT NOT NULL,
access_token_ext TEXT NOT NULL,
id_token_claims TEXT NOT NULL,
created_at BIGINT NOT NULL,
CONSTRAINT {c:oauth_grants:pkey} PRIMARY KEY (gid),
CONSTRAINT {c:oauth_grants:gid_fkey} FOREIGN KEY (gid) REFERENCES {t:oauth_sessions} (gid) ON DELETE CASCADE
);

-- Consents remembered for a client and subject (`remember_until` NULL: indefinitely). Milliseconds.
CREATE TABLE IF NOT EXISTS {t:oauth_consents} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
client_id VARCHAR(255) NOT NULL,
subject VARCHAR(255) NOT NULL,
granted_scope TEXT NOT NULL,
granted_audience TEXT NOT NULL,
remember_until BIGINT,
time_created BIGINT NOT NULL,
CONSTRAINT {c:oauth_consents:pkey} PRIMARY KEY (app_id, client_id, subject),
CONSTRAINT {c:oauth_consents:client_id_fkey} FOREIGN KEY (app_id, client_id) REFERENCES {t:oauth_clients} (app_id, client_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS oauth_consents_remember_until_index ON {t:oauth_consents} (remember_until);
