-- The SuperTokens PostgreSQL plugin's schema as Portcullis creates it: the pre-12 tables of the seed,
-- then the newer plugin tables Portcullis uses (SAML, WebAuthn); every column, type, default, key and
-- index exactly as the plugin's DDL has them, so that a database written by the Java core is used
-- unchanged and the other way round.
--
-- This is a template, rendered once at connect time (src/schema.rs):
--   {t:NAME}       the schema-qualified table name of table NAME (prefixed, or overridden by the
--                  postgresql_*_table_name keys);
--   {c:NAME:REST}  the name the Java plugin gives that table's constraint REST (pkey, app_id_fkey, ...):
--                  the table name without its schema, '_', REST (Utils.getConstraintName);
--   {p:NAME}       a constraint name the plugin writes literally: NAME, after the prefix if one is set.
-- Index names are written out literally: the Java plugin does not prefix them either.
-- Every statement ends with ';' at the end of a line; tables come in foreign-key order, each followed
-- by its indexes. Everything is IF NOT EXISTS, and the renderer only runs what the catalog lacks.

CREATE TABLE IF NOT EXISTS {t:apps} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
created_at_time BIGINT,
CONSTRAINT {c:apps:pkey} PRIMARY KEY (app_id)
);

CREATE TABLE IF NOT EXISTS {t:tenants} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
created_at_time BIGINT,
CONSTRAINT {c:tenants:pkey} PRIMARY KEY (app_id, tenant_id),
CONSTRAINT {c:tenants:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS tenants_app_id_index ON {t:tenants} (app_id);

CREATE TABLE IF NOT EXISTS {t:tenant_configs} (
connection_uri_domain VARCHAR(256) DEFAULT '' NOT NULL,
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
core_config TEXT,
email_password_enabled BOOLEAN,
passwordless_enabled BOOLEAN,
third_party_enabled BOOLEAN,
CONSTRAINT {c:tenant_configs:pkey} PRIMARY KEY (connection_uri_domain, app_id, tenant_id)
);

CREATE TABLE IF NOT EXISTS {t:tenant_thirdparty_providers} (
connection_uri_domain VARCHAR(256) DEFAULT '' NOT NULL,
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
third_party_id VARCHAR(28) NOT NULL,
name VARCHAR(64),
authorization_endpoint TEXT,
authorization_endpoint_query_params TEXT,
token_endpoint TEXT,
token_endpoint_body_params TEXT,
user_info_endpoint TEXT,
user_info_endpoint_query_params TEXT,
user_info_endpoint_headers TEXT,
jwks_uri TEXT,
oidc_discovery_endpoint TEXT,
require_email BOOLEAN,
user_info_map_from_id_token_payload_user_id VARCHAR(64),
user_info_map_from_id_token_payload_email VARCHAR(64),
user_info_map_from_id_token_payload_email_verified VARCHAR(64),
user_info_map_from_user_info_endpoint_user_id VARCHAR(64),
user_info_map_from_user_info_endpoint_email VARCHAR(64),
user_info_map_from_user_info_endpoint_email_verified VARCHAR(64),
CONSTRAINT {c:tenant_thirdparty_providers:pkey} PRIMARY KEY (connection_uri_domain, app_id, tenant_id, third_party_id),
CONSTRAINT {c:tenant_thirdparty_providers:tenant_id_fkey} FOREIGN KEY (connection_uri_domain, app_id, tenant_id) REFERENCES {t:tenant_configs} (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS tenant_thirdparty_providers_tenant_id_index ON {t:tenant_thirdparty_providers} (connection_uri_domain, app_id, tenant_id);

CREATE TABLE IF NOT EXISTS {t:tenant_thirdparty_provider_clients} (
connection_uri_domain VARCHAR(256) DEFAULT '' NOT NULL,
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
third_party_id VARCHAR(28) NOT NULL,
client_type VARCHAR(64) DEFAULT '' NOT NULL,
client_id VARCHAR(256) NOT NULL,
client_secret TEXT,
scope VARCHAR(128)[],
force_pkce BOOLEAN,
additional_config TEXT,
CONSTRAINT {c:tenant_thirdparty_provider_clients:pkey} PRIMARY KEY (connection_uri_domain, app_id, tenant_id, third_party_id, client_type),
CONSTRAINT {c:tenant_thirdparty_provider_clients:third_party_id_fkey} FOREIGN KEY (connection_uri_domain, app_id, tenant_id, third_party_id) REFERENCES {t:tenant_thirdparty_providers} (connection_uri_domain, app_id, tenant_id, third_party_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS tenant_thirdparty_provider_clients_third_party_id_index ON {t:tenant_thirdparty_provider_clients} (connection_uri_domain, app_id, tenant_id, third_party_id);

CREATE TABLE IF NOT EXISTS {t:tenant_first_factors} (
connection_uri_domain VARCHAR(256) DEFAULT '' NOT NULL,
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
factor_id VARCHAR(128),
CONSTRAINT {c:tenant_first_factors:pkey} PRIMARY KEY (connection_uri_domain, app_id, tenant_id, factor_id),
CONSTRAINT {c:tenant_first_factors:tenant_id_fkey} FOREIGN KEY (connection_uri_domain, app_id, tenant_id) REFERENCES {t:tenant_configs} (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS tenant_first_factors_tenant_id_index ON {t:tenant_first_factors} (connection_uri_domain, app_id, tenant_id);

CREATE TABLE IF NOT EXISTS {t:tenant_required_secondary_factors} (
connection_uri_domain VARCHAR(256) DEFAULT '' NOT NULL,
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
factor_id VARCHAR(128),
CONSTRAINT {c:tenant_required_secondary_factors:pkey} PRIMARY KEY (connection_uri_domain, app_id, tenant_id, factor_id),
CONSTRAINT {c:tenant_required_secondary_factors:tenant_id_fkey} FOREIGN KEY (connection_uri_domain, app_id, tenant_id) REFERENCES {t:tenant_configs} (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS tenant_default_required_factor_ids_tenant_id_index ON {t:tenant_required_secondary_factors} (connection_uri_domain, app_id, tenant_id);

CREATE TABLE IF NOT EXISTS {t:key_value} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
name VARCHAR(128) NOT NULL,
value TEXT,
created_at_time BIGINT,
CONSTRAINT {c:key_value:pkey} PRIMARY KEY (app_id, tenant_id, name),
CONSTRAINT {c:key_value:tenant_id_fkey} FOREIGN KEY (app_id, tenant_id) REFERENCES {t:tenants} (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS key_value_tenant_id_index ON {t:key_value} (app_id, tenant_id);

CREATE TABLE IF NOT EXISTS {t:app_id_to_user_id} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id character(36) NOT NULL,
recipe_id VARCHAR(128) NOT NULL,
primary_or_recipe_user_id CHAR(36) NOT NULL,
is_linked_or_is_a_primary_user BOOLEAN NOT NULL DEFAULT FALSE,
CONSTRAINT {c:app_id_to_user_id:pkey} PRIMARY KEY (app_id, user_id),
CONSTRAINT {c:app_id_to_user_id:primary_or_recipe_user_id_fkey} FOREIGN KEY(app_id, primary_or_recipe_user_id) REFERENCES {t:app_id_to_user_id} (app_id, user_id) ON DELETE CASCADE,
CONSTRAINT {c:app_id_to_user_id:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS app_id_to_user_id_app_id_index ON {t:app_id_to_user_id} (app_id);

CREATE INDEX IF NOT EXISTS app_id_to_user_id_primary_user_id_index ON {t:app_id_to_user_id} (primary_or_recipe_user_id, app_id);

CREATE TABLE IF NOT EXISTS {t:all_auth_recipe_users} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id character(36) NOT NULL,
primary_or_recipe_user_id CHAR(36) NOT NULL,
is_linked_or_is_a_primary_user BOOLEAN NOT NULL DEFAULT FALSE,
recipe_id VARCHAR(128) NOT NULL,
time_joined BIGINT NOT NULL,
primary_or_recipe_user_time_joined BIGINT NOT NULL,
CONSTRAINT {c:all_auth_recipe_users:pkey} PRIMARY KEY (app_id, tenant_id, user_id),
CONSTRAINT {c:all_auth_recipe_users:tenant_id_fkey} FOREIGN KEY (app_id, tenant_id) REFERENCES {t:tenants} (app_id, tenant_id) ON DELETE CASCADE,
CONSTRAINT {c:all_auth_recipe_users:primary_or_recipe_user_id_fkey} FOREIGN KEY(app_id, primary_or_recipe_user_id) REFERENCES {t:app_id_to_user_id} (app_id, user_id) ON DELETE CASCADE,
CONSTRAINT {c:all_auth_recipe_users:user_id_fkey} FOREIGN KEY (app_id, user_id) REFERENCES {t:app_id_to_user_id} (app_id, user_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS all_auth_recipe_users_pagination_index1 ON {t:all_auth_recipe_users}
(app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC);

CREATE INDEX IF NOT EXISTS all_auth_recipe_users_pagination_index2 ON {t:all_auth_recipe_users}
(app_id, tenant_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC);

CREATE INDEX IF NOT EXISTS all_auth_recipe_users_pagination_index3 ON {t:all_auth_recipe_users}
(recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC);

CREATE INDEX IF NOT EXISTS all_auth_recipe_users_pagination_index4 ON {t:all_auth_recipe_users}
(recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC);

CREATE INDEX IF NOT EXISTS all_auth_recipe_users_primary_user_id_index ON {t:all_auth_recipe_users}
(primary_or_recipe_user_id, app_id);

CREATE INDEX IF NOT EXISTS all_auth_recipe_users_recipe_id_index ON {t:all_auth_recipe_users}
(app_id, recipe_id, tenant_id);

CREATE INDEX IF NOT EXISTS all_auth_recipe_user_id_index ON {t:all_auth_recipe_users} (app_id, user_id);

CREATE INDEX IF NOT EXISTS all_auth_recipe_tenant_id_index ON {t:all_auth_recipe_users} (app_id, tenant_id);

CREATE TABLE IF NOT EXISTS {t:userid_mapping} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
supertokens_user_id character(36) NOT NULL,
external_user_id VARCHAR(128) NOT NULL,
external_user_id_info TEXT,
CONSTRAINT {c:userid_mapping:external_user_id_key} UNIQUE (app_id, external_user_id),
CONSTRAINT {c:userid_mapping:pkey} PRIMARY KEY (app_id, supertokens_user_id, external_user_id),
CONSTRAINT {c:userid_mapping:supertokens_user_id_key} UNIQUE (app_id, supertokens_user_id),
CONSTRAINT {c:userid_mapping:supertokens_user_id_fkey} FOREIGN KEY (app_id, supertokens_user_id) REFERENCES {t:app_id_to_user_id} (app_id, user_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS userid_mapping_supertokens_user_id_index ON {t:userid_mapping} (app_id, supertokens_user_id);

CREATE TABLE IF NOT EXISTS {t:dashboard_users} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id character(36) NOT NULL,
email VARCHAR(256) NOT NULL,
password_hash VARCHAR(256) NOT NULL,
time_joined BIGINT NOT NULL,
CONSTRAINT {c:dashboard_users:email_key} UNIQUE (app_id, email),
CONSTRAINT {c:dashboard_users:pkey} PRIMARY KEY (app_id, user_id),
CONSTRAINT {c:dashboard_users:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS dashboard_users_app_id_index ON {t:dashboard_users} (app_id);

CREATE TABLE IF NOT EXISTS {t:dashboard_user_sessions} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
session_id character(36) NOT NULL,
user_id character(36) NOT NULL,
time_created BIGINT NOT NULL,
expiry BIGINT NOT NULL,
CONSTRAINT {c:dashboard_user_sessions:pkey} PRIMARY KEY (app_id, session_id),
CONSTRAINT {c:dashboard_user_sessions:user_id_fkey} FOREIGN KEY (app_id, user_id) REFERENCES {t:dashboard_users} (app_id, user_id) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS dashboard_user_sessions_expiry_index ON {t:dashboard_user_sessions} (expiry);

CREATE INDEX IF NOT EXISTS dashboard_user_sessions_user_id_index ON {t:dashboard_user_sessions} (app_id, user_id);

CREATE TABLE IF NOT EXISTS {t:session_access_token_signing_keys} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
created_at_time BIGINT NOT NULL,
value TEXT,
CONSTRAINT {c:session_access_token_signing_keys:pkey} PRIMARY KEY (app_id, created_at_time),
CONSTRAINT {c:session_access_token_signing_keys:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS access_token_signing_keys_app_id_index ON {t:session_access_token_signing_keys} (app_id);

CREATE TABLE IF NOT EXISTS {t:session_info} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
session_handle VARCHAR(255) NOT NULL,
user_id VARCHAR(128) NOT NULL,
refresh_token_hash_2 VARCHAR(128) NOT NULL,
session_data TEXT,
expires_at BIGINT NOT NULL,
created_at_time BIGINT NOT NULL,
jwt_user_payload TEXT,
use_static_key BOOLEAN NOT NULL,
CONSTRAINT {c:session_info:pkey} PRIMARY KEY (app_id, tenant_id, session_handle),
CONSTRAINT {c:session_info:tenant_id_fkey} FOREIGN KEY (app_id, tenant_id) REFERENCES {t:tenants} (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS session_expiry_index ON {t:session_info} (expires_at);

CREATE INDEX IF NOT EXISTS session_info_tenant_id_index ON {t:session_info} (app_id, tenant_id);

CREATE TABLE IF NOT EXISTS {t:user_last_active} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id VARCHAR(128) NOT NULL,
last_active_time BIGINT,
CONSTRAINT {c:user_last_active:pkey} PRIMARY KEY (app_id, user_id),
CONSTRAINT {c:user_last_active:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS user_last_active_app_id_index ON {t:user_last_active} (app_id);

CREATE TABLE IF NOT EXISTS {t:emailpassword_users} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id character(36) NOT NULL,
email VARCHAR(256) NOT NULL,
password_hash VARCHAR(256) NOT NULL,
time_joined BIGINT NOT NULL,
CONSTRAINT {c:emailpassword_users:pkey} PRIMARY KEY (app_id, user_id),
CONSTRAINT {c:emailpassword_users:user_id_fkey} FOREIGN KEY (app_id, user_id) REFERENCES {t:app_id_to_user_id} (app_id, user_id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {t:emailpassword_user_to_tenant} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id character(36) NOT NULL,
email VARCHAR(256) NOT NULL,
CONSTRAINT {c:emailpassword_user_to_tenant:email_key} UNIQUE (app_id, tenant_id, email),
CONSTRAINT {c:emailpassword_user_to_tenant:pkey} PRIMARY KEY (app_id, tenant_id, user_id),
CONSTRAINT {c:emailpassword_user_to_tenant:user_id_fkey} FOREIGN KEY (app_id, tenant_id, user_id) REFERENCES {t:all_auth_recipe_users} (app_id, tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {t:emailpassword_pswd_reset_tokens} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id character(36) NOT NULL,
token VARCHAR(128) NOT NULL,
token_expiry BIGINT NOT NULL,
email VARCHAR(256),
CONSTRAINT {c:emailpassword_pswd_reset_tokens:pkey} PRIMARY KEY (app_id, user_id, token),
CONSTRAINT {c:emailpassword_pswd_reset_tokens:token_key} UNIQUE (token),
CONSTRAINT {c:emailpassword_pswd_reset_tokens:user_id_fkey} FOREIGN KEY (app_id, user_id) REFERENCES {t:app_id_to_user_id} (app_id, user_id) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS emailpassword_password_reset_token_expiry_index ON {t:emailpassword_pswd_reset_tokens} (token_expiry);

CREATE INDEX IF NOT EXISTS emailpassword_pswd_reset_tokens_user_id_index ON {t:emailpassword_pswd_reset_tokens} (app_id, user_id);

CREATE TABLE IF NOT EXISTS {t:emailverification_verified_emails} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id VARCHAR(128) NOT NULL,
email VARCHAR(256) NOT NULL,
CONSTRAINT {c:emailverification_verified_emails:pkey} PRIMARY KEY (app_id, user_id, email),
CONSTRAINT {c:emailverification_verified_emails:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS emailverification_verified_emails_app_id_index ON {t:emailverification_verified_emails} (app_id);

CREATE TABLE IF NOT EXISTS {t:emailverification_tokens} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id VARCHAR(128) NOT NULL,
email VARCHAR(256) NOT NULL,
token VARCHAR(128) NOT NULL,
token_expiry BIGINT NOT NULL,
CONSTRAINT {c:emailverification_tokens:pkey} PRIMARY KEY (app_id, tenant_id, user_id, email, token),
CONSTRAINT {c:emailverification_tokens:token_key} UNIQUE (token),
CONSTRAINT {c:emailverification_tokens:tenant_id_fkey} FOREIGN KEY (app_id, tenant_id) REFERENCES {t:tenants} (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS emailverification_tokens_index ON {t:emailverification_tokens} (token_expiry);

CREATE INDEX IF NOT EXISTS emailverification_tokens_tenant_id_index ON {t:emailverification_tokens} (app_id, tenant_id);

CREATE TABLE IF NOT EXISTS {t:thirdparty_users} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
third_party_id VARCHAR(28) NOT NULL,
third_party_user_id VARCHAR(256) NOT NULL,
user_id character(36) NOT NULL,
email VARCHAR(256) NOT NULL,
time_joined BIGINT NOT NULL,
CONSTRAINT {c:thirdparty_users:pkey} PRIMARY KEY (app_id, user_id),
CONSTRAINT {c:thirdparty_users:user_id_fkey} FOREIGN KEY (app_id, user_id) REFERENCES {t:app_id_to_user_id} (app_id, user_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS thirdparty_users_email_index ON {t:thirdparty_users} (app_id, email);

CREATE INDEX IF NOT EXISTS thirdparty_users_thirdparty_user_id_index ON {t:thirdparty_users} (app_id, third_party_id, third_party_user_id);

CREATE TABLE IF NOT EXISTS {t:thirdparty_user_to_tenant} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id character(36) NOT NULL,
third_party_id VARCHAR(28) NOT NULL,
third_party_user_id VARCHAR(256) NOT NULL,
CONSTRAINT {c:thirdparty_user_to_tenant:pkey} PRIMARY KEY (app_id, tenant_id, user_id),
CONSTRAINT {c:thirdparty_user_to_tenant:third_party_user_id_key} UNIQUE (app_id, tenant_id, third_party_id, third_party_user_id),
CONSTRAINT {c:thirdparty_user_to_tenant:user_id_fkey} FOREIGN KEY (app_id, tenant_id, user_id) REFERENCES {t:all_auth_recipe_users} (app_id, tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {t:passwordless_users} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id character(36) NOT NULL,
email VARCHAR(256),
phone_number VARCHAR(256),
time_joined BIGINT NOT NULL,
CONSTRAINT {c:passwordless_users:pkey} PRIMARY KEY (app_id, user_id),
CONSTRAINT {c:passwordless_users:user_id_fkey} FOREIGN KEY (app_id, user_id) REFERENCES {t:app_id_to_user_id} (app_id, user_id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {t:passwordless_user_to_tenant} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id character(36) NOT NULL,
email VARCHAR(256),
phone_number VARCHAR(256),
CONSTRAINT {c:passwordless_user_to_tenant:email_key} UNIQUE (app_id, tenant_id, email),
CONSTRAINT {c:passwordless_user_to_tenant:phone_number_key} UNIQUE (app_id, tenant_id, phone_number),
CONSTRAINT {c:passwordless_user_to_tenant:pkey} PRIMARY KEY (app_id, tenant_id, user_id),
CONSTRAINT {c:passwordless_user_to_tenant:user_id_fkey} FOREIGN KEY (app_id, tenant_id, user_id) REFERENCES {t:all_auth_recipe_users} (app_id, tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {t:passwordless_devices} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
device_id_hash character(44) NOT NULL,
email VARCHAR(256),
phone_number VARCHAR(256),
link_code_salt character(44) NOT NULL,
failed_attempts integer NOT NULL,
CONSTRAINT {c:passwordless_devices:pkey} PRIMARY KEY (app_id, tenant_id, device_id_hash),
CONSTRAINT {c:passwordless_devices:tenant_id_fkey} FOREIGN KEY (app_id, tenant_id) REFERENCES {t:tenants} (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS passwordless_devices_email_index ON {t:passwordless_devices} (app_id, tenant_id, email);

CREATE INDEX IF NOT EXISTS passwordless_devices_phone_number_index ON {t:passwordless_devices} (app_id, tenant_id, phone_number);

CREATE INDEX IF NOT EXISTS passwordless_devices_tenant_id_index ON {t:passwordless_devices} (app_id, tenant_id);

CREATE TABLE IF NOT EXISTS {t:passwordless_codes} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
code_id character(36) NOT NULL,
device_id_hash character(44) NOT NULL,
link_code_hash character(44) NOT NULL,
created_at BIGINT NOT NULL,
CONSTRAINT {c:passwordless_codes:link_code_hash_key} UNIQUE (app_id, tenant_id, link_code_hash),
CONSTRAINT {c:passwordless_codes:pkey} PRIMARY KEY (app_id, tenant_id, code_id),
CONSTRAINT {c:passwordless_codes:device_id_hash_fkey} FOREIGN KEY (app_id, tenant_id, device_id_hash) REFERENCES {t:passwordless_devices} (app_id, tenant_id, device_id_hash) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS passwordless_codes_created_at_index ON {t:passwordless_codes} (app_id, tenant_id, created_at);

CREATE INDEX IF NOT EXISTS passwordless_codes_device_id_hash_index ON {t:passwordless_codes} (app_id, tenant_id, device_id_hash);

CREATE TABLE IF NOT EXISTS {t:jwt_signing_keys} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
key_id VARCHAR(255) NOT NULL,
key_string TEXT NOT NULL,
algorithm VARCHAR(10) NOT NULL,
created_at BIGINT,
CONSTRAINT {c:jwt_signing_keys:pkey} PRIMARY KEY (app_id, key_id),
CONSTRAINT {c:jwt_signing_keys:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS jwt_signing_keys_app_id_index ON {t:jwt_signing_keys} (app_id);

CREATE TABLE IF NOT EXISTS {t:user_metadata} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id VARCHAR(128) NOT NULL,
user_metadata TEXT NOT NULL,
CONSTRAINT {c:user_metadata:pkey} PRIMARY KEY (app_id, user_id),
CONSTRAINT {c:user_metadata:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS user_metadata_app_id_index ON {t:user_metadata} (app_id);

CREATE TABLE IF NOT EXISTS {t:roles} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
role VARCHAR(255) NOT NULL,
CONSTRAINT {c:roles:pkey} PRIMARY KEY (app_id, role),
CONSTRAINT {c:roles:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS roles_app_id_index ON {t:roles} (app_id);

CREATE TABLE IF NOT EXISTS {t:role_permissions} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
role VARCHAR(255) NOT NULL,
permission VARCHAR(255) NOT NULL,
CONSTRAINT {c:role_permissions:pkey} PRIMARY KEY (app_id, role, permission),
CONSTRAINT {c:role_permissions:role_fkey} FOREIGN KEY (app_id, role) REFERENCES {t:roles} (app_id, role) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS role_permissions_permission_index ON {t:role_permissions} (app_id, permission);

CREATE INDEX IF NOT EXISTS role_permissions_role_index ON {t:role_permissions} (app_id, role);

CREATE TABLE IF NOT EXISTS {t:user_roles} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id VARCHAR(128) NOT NULL,
role VARCHAR(255) NOT NULL,
CONSTRAINT {c:user_roles:pkey} PRIMARY KEY (app_id, tenant_id, user_id, role),
CONSTRAINT {c:user_roles:tenant_id_fkey} FOREIGN KEY (app_id, tenant_id) REFERENCES {t:tenants} (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS user_roles_role_index ON {t:user_roles} (app_id, tenant_id, role);

CREATE INDEX IF NOT EXISTS user_roles_tenant_id_index ON {t:user_roles} (app_id, tenant_id);

CREATE INDEX IF NOT EXISTS user_roles_app_id_role_index ON {t:user_roles} (app_id, role);

CREATE TABLE IF NOT EXISTS {t:totp_users} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id VARCHAR(128) NOT NULL,
CONSTRAINT {c:totp_users:pkey} PRIMARY KEY (app_id, user_id),
CONSTRAINT {c:totp_users:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS totp_users_app_id_index ON {t:totp_users} (app_id);

CREATE TABLE IF NOT EXISTS {t:totp_user_devices} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id VARCHAR(128) NOT NULL,
device_name VARCHAR(256) NOT NULL,
secret_key VARCHAR(256) NOT NULL,
period integer NOT NULL,
skew integer NOT NULL,
verified BOOLEAN NOT NULL,
created_at BIGINT,
CONSTRAINT {c:totp_user_devices:pkey} PRIMARY KEY (app_id, user_id, device_name),
CONSTRAINT {c:totp_user_devices:user_id_fkey} FOREIGN KEY (app_id, user_id) REFERENCES {t:totp_users} (app_id, user_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS totp_user_devices_user_id_index ON {t:totp_user_devices} (app_id, user_id);

CREATE TABLE IF NOT EXISTS {t:totp_used_codes} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id VARCHAR(128) NOT NULL,
code VARCHAR(8) NOT NULL,
is_valid BOOLEAN NOT NULL,
expiry_time_ms BIGINT NOT NULL,
created_time_ms BIGINT NOT NULL,
CONSTRAINT {c:totp_used_codes:pkey} PRIMARY KEY (app_id, tenant_id, user_id, created_time_ms),
CONSTRAINT {c:totp_used_codes:tenant_id_fkey} FOREIGN KEY (app_id, tenant_id) REFERENCES {t:tenants} (app_id, tenant_id) ON DELETE CASCADE,
CONSTRAINT {c:totp_used_codes:user_id_fkey} FOREIGN KEY (app_id, user_id) REFERENCES {t:totp_users} (app_id, user_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS totp_used_codes_expiry_time_ms_index ON {t:totp_used_codes} (app_id, tenant_id, expiry_time_ms);

CREATE INDEX IF NOT EXISTS totp_used_codes_tenant_id_index ON {t:totp_used_codes} (app_id, tenant_id);

CREATE INDEX IF NOT EXISTS totp_used_codes_user_id_index ON {t:totp_used_codes} (app_id, user_id);

-- Newer plugin tables (not in the seed): SAML (core 11.3, CDI 5.4), with the plugin's names, columns,
-- constraints and indexes (SAMLQueries.getQueryToCreate*). `redirect_uris` is a JSON array as text,
-- `idp_signing_certificate` base64 DER; `saml_relay_state.state` is nullable, as the plugin creates it.

CREATE TABLE IF NOT EXISTS {t:saml_clients} (
app_id VARCHAR(64) NOT NULL DEFAULT 'public',
tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
client_id VARCHAR(256) NOT NULL,
client_secret TEXT,
sso_login_url TEXT NOT NULL,
redirect_uris TEXT NOT NULL,
default_redirect_uri TEXT NOT NULL,
idp_entity_id VARCHAR(256) NOT NULL,
idp_signing_certificate TEXT NOT NULL,
allow_idp_initiated_login BOOLEAN NOT NULL DEFAULT FALSE,
enable_request_signing BOOLEAN NOT NULL DEFAULT FALSE,
created_at BIGINT NOT NULL,
updated_at BIGINT NOT NULL,
CONSTRAINT {c:saml_clients:pkey} PRIMARY KEY (app_id, tenant_id, client_id),
CONSTRAINT {c:saml_clients:idp_entity_id_key} UNIQUE (app_id, tenant_id, idp_entity_id),
CONSTRAINT {c:saml_clients:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE,
CONSTRAINT {c:saml_clients:tenant_id_fkey} FOREIGN KEY (app_id, tenant_id) REFERENCES {t:tenants} (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS saml_clients_app_id_tenant_id_index ON {t:saml_clients} (app_id, tenant_id);

CREATE TABLE IF NOT EXISTS {t:saml_relay_state} (
app_id VARCHAR(64) NOT NULL DEFAULT 'public',
tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
relay_state VARCHAR(256) NOT NULL,
client_id VARCHAR(256) NOT NULL,
state TEXT,
redirect_uri TEXT NOT NULL,
created_at BIGINT NOT NULL,
expires_at BIGINT NOT NULL,
CONSTRAINT {c:saml_relay_state:pkey} PRIMARY KEY (app_id, tenant_id, relay_state),
CONSTRAINT {c:saml_relay_state:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE,
CONSTRAINT {c:saml_relay_state:tenant_id_fkey} FOREIGN KEY (app_id, tenant_id) REFERENCES {t:tenants} (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS saml_relay_state_app_id_tenant_id_index ON {t:saml_relay_state} (app_id, tenant_id);

CREATE INDEX IF NOT EXISTS saml_relay_state_expires_at_index ON {t:saml_relay_state} (expires_at);

CREATE TABLE IF NOT EXISTS {t:saml_claims} (
app_id VARCHAR(64) NOT NULL DEFAULT 'public',
tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
client_id VARCHAR(256) NOT NULL,
code VARCHAR(256) NOT NULL,
claims TEXT NOT NULL,
created_at BIGINT NOT NULL,
expires_at BIGINT NOT NULL,
CONSTRAINT {c:saml_claims:pkey} PRIMARY KEY (app_id, tenant_id, code),
CONSTRAINT {c:saml_claims:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE,
CONSTRAINT {c:saml_claims:tenant_id_fkey} FOREIGN KEY (app_id, tenant_id) REFERENCES {t:tenants} (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS saml_claims_app_id_tenant_id_index ON {t:saml_claims} (app_id, tenant_id);

CREATE INDEX IF NOT EXISTS saml_claims_expires_at_index ON {t:saml_claims} (expires_at);

-- WebAuthn: the newer plugin's tables (not in the seed), in its foreign-key order. Index names are
-- literal, as the plugin writes them; so are the two recovery-token constraint names, which
-- {p:NAME} writes as the plugin does without a prefix and prefixed with one (see Names::literal_constraint).

CREATE TABLE IF NOT EXISTS {t:webauthn_users} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id CHAR(36) NOT NULL,
email VARCHAR(256) NOT NULL,
rp_id VARCHAR(256) NOT NULL,
time_joined BIGINT NOT NULL,
CONSTRAINT {c:webauthn_users:pkey} PRIMARY KEY (app_id, user_id),
CONSTRAINT {c:webauthn_users:user_id_fkey} FOREIGN KEY (app_id, user_id) REFERENCES {t:app_id_to_user_id} (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE IF NOT EXISTS {t:webauthn_user_to_tenant} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id CHAR(36) NOT NULL,
email VARCHAR(256) NOT NULL,
CONSTRAINT {c:webauthn_user_to_tenant:email_key} UNIQUE (app_id, tenant_id, email),
CONSTRAINT {c:webauthn_user_to_tenant:pkey} PRIMARY KEY (app_id, tenant_id, user_id),
CONSTRAINT {c:webauthn_user_to_tenant:user_id_fkey} FOREIGN KEY (app_id, tenant_id, user_id) REFERENCES {t:all_auth_recipe_users} (app_id, tenant_id, user_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS webauthn_user_to_tenant_email_index ON {t:webauthn_user_to_tenant} (app_id, email);

CREATE TABLE IF NOT EXISTS {t:webauthn_generated_options} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
id CHAR(36) NOT NULL,
challenge VARCHAR(256) NOT NULL,
email VARCHAR(256),
rp_id VARCHAR(256) NOT NULL,
rp_name VARCHAR(256) NOT NULL,
origin VARCHAR(256) NOT NULL,
expires_at BIGINT NOT NULL,
created_at BIGINT NOT NULL,
user_presence_required BOOLEAN DEFAULT FALSE NOT NULL,
user_verification VARCHAR(12) DEFAULT 'preferred' NOT NULL,
CONSTRAINT {c:webauthn_generated_options:pkey} PRIMARY KEY (app_id, tenant_id, id),
CONSTRAINT {c:webauthn_generated_options:tenant_id_fkey} FOREIGN KEY (app_id, tenant_id) REFERENCES {t:tenants} (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS webauthn_user_challenges_expires_at_index ON {t:webauthn_generated_options} (app_id, tenant_id, expires_at);

CREATE TABLE IF NOT EXISTS {t:webauthn_credentials} (
id VARCHAR(256) NOT NULL,
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
rp_id VARCHAR(256) NOT NULL,
user_id CHAR(36),
counter BIGINT NOT NULL,
public_key BYTEA NOT NULL,
transports TEXT NOT NULL,
created_at BIGINT NOT NULL,
updated_at BIGINT NOT NULL,
CONSTRAINT {c:webauthn_credentials:pkey} PRIMARY KEY (app_id, rp_id, id),
CONSTRAINT {c:webauthn_credentials:user_id_fkey} FOREIGN KEY (app_id, user_id) REFERENCES {t:webauthn_users} (app_id, user_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS webauthn_credentials_user_id_index ON {t:webauthn_credentials} (user_id);

CREATE TABLE IF NOT EXISTS {t:webauthn_account_recovery_tokens} (
app_id VARCHAR(64) DEFAULT 'public' NOT NULL,
tenant_id VARCHAR(64) DEFAULT 'public' NOT NULL,
user_id CHAR(36) NOT NULL,
email VARCHAR(256) NOT NULL,
token VARCHAR(256) NOT NULL,
expires_at BIGINT NOT NULL,
CONSTRAINT {p:webauthn_account_recovery_token_pkey} PRIMARY KEY (app_id, tenant_id, user_id, token),
CONSTRAINT {p:webauthn_account_recovery_token_user_id_fkey} FOREIGN KEY (app_id, user_id) REFERENCES {t:app_id_to_user_id} (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX IF NOT EXISTS webauthn_account_recovery_token_token_index ON {t:webauthn_account_recovery_tokens} (app_id, tenant_id, token);

CREATE INDEX IF NOT EXISTS webauthn_account_recovery_token_email_index ON {t:webauthn_account_recovery_tokens} (app_id, tenant_id, email);

CREATE INDEX IF NOT EXISTS webauthn_account_recovery_token_expires_at_index ON {t:webauthn_account_recovery_tokens} (expires_at DESC);

-- Portcullis's own tables (neither the seed's nor the plugin's).
-- The brute-force counters (core/src/ratelimit): one row per app, tenant ('' for counters per user,
-- which span the app's tenants), kind and SHA-256 (hex) of what is counted; `count` calls in the
-- window that ends at `window_ends_at` (ms). Rows past their window are deleted by a cron job.

CREATE TABLE IF NOT EXISTS {t:portcullis_rate_limits} (
app_id VARCHAR(64) NOT NULL DEFAULT 'public',
tenant_id VARCHAR(64) NOT NULL,
kind VARCHAR(32) NOT NULL,
key_hash CHAR(64) NOT NULL,
count BIGINT NOT NULL,
window_ends_at BIGINT NOT NULL,
CONSTRAINT {c:portcullis_rate_limits:pkey} PRIMARY KEY (app_id, tenant_id, kind, key_hash),
CONSTRAINT {c:portcullis_rate_limits:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS portcullis_rate_limits_window_ends_at_index ON {t:portcullis_rate_limits} (window_ends_at);
