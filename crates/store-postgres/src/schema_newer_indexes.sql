-- Indexes the newer SuperTokens PostgreSQL plugin creates on the seed's tables and the seed's DDL
-- lacks (the seed is an older snapshot). Names and columns exactly as the plugin's queries write them
-- (EmailPasswordQueries, PasswordlessQueries, UserRolesQueries, SessionQueries), so a database a newer
-- Java core set up already has them and is left as it is. They change no result, only how the same
-- statements find their rows: without them the app-wide lookups below read the whole table (the
-- issue 24 workload measured 277 ms and 643 ms at 1M users). docs/compatibility.md lists them.
-- Same template rules as schema.sql.

-- Account linking and the bulk import look up login methods by email and phone across the app
-- (primary-user conflicts on email/phone update, tenant association, link checks).
CREATE INDEX IF NOT EXISTS emailpassword_users_email_index ON {t:emailpassword_users} (app_id, email);

CREATE INDEX IF NOT EXISTS passwordless_users_email_index ON {t:passwordless_users} (app_id, email);

CREATE INDEX IF NOT EXISTS passwordless_users_phone_number_index ON {t:passwordless_users} (app_id, phone_number);

-- Deleting a user removes its roles in every tenant of the app, and mapping an id first asks whether
-- the user has roles: the primary key (app_id, tenant_id, user_id, role) cannot seek without the
-- tenant.
CREATE INDEX IF NOT EXISTS user_roles_app_id_user_id_index ON {t:user_roles} (app_id, user_id);

-- Deleting or unlinking a user revokes its sessions in every tenant of the app, listing a user's
-- sessions and mapping an id read them the same way.
CREATE INDEX IF NOT EXISTS session_info_user_id_app_id_index ON {t:session_info} (user_id, app_id);
