-- The bulk-import queue, beside the seed's tables (the seed has no such table): `bulk_import_users`
-- exactly as the newer SuperTokens PostgreSQL plugin creates it (BulkImportQueries: the table and its
-- three indexes; the same in plugin 9.4.2 and later), in the app's public tenant database.
-- Same template rules as schema.sql.

CREATE TABLE IF NOT EXISTS {t:bulk_import_users} (
id CHAR(36),
app_id VARCHAR(64) NOT NULL DEFAULT 'public',
primary_user_id VARCHAR(36),
raw_data TEXT NOT NULL,
status VARCHAR(128) DEFAULT 'NEW',
error_msg TEXT,
created_at BIGINT NOT NULL,
updated_at BIGINT NOT NULL,
CONSTRAINT {c:bulk_import_users:pkey} PRIMARY KEY (app_id, id),
CONSTRAINT {c:bulk_import_users:app_id_fkey} FOREIGN KEY (app_id) REFERENCES {t:apps} (app_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS bulk_import_users_status_updated_at_index ON {t:bulk_import_users} (app_id, status, updated_at);

CREATE INDEX IF NOT EXISTS bulk_import_users_pagination_index1 ON {t:bulk_import_users} (app_id, status, created_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS bulk_import_users_pagination_index2 ON {t:bulk_import_users} (app_id, created_at DESC, id DESC);
