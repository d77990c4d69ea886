-- The triage app's roles and database on a PostgreSQL 15+ server: run ONCE by the database administrator, as a
-- superuser (or a role with CREATEROLE and CREATEDB), with psql:
--
--   psql -h DBHOST -U postgres -d postgres -v admin_login=it_jsmith -f roles.sql
--
-- Optional variables (defaults in brackets): -v db_name=... [triage], -v owner_role=... [triage_owner],
-- -v user_role=... [triage_user]. admin_login is the existing login of the administrator who will run
-- `triage-app migrate` (it is given the owner role); leave it out to grant that later yourself.
--
-- What it makes:
--   owner_role  NOLOGIN. Owns the database, its public schema and (once migrate has run) every table of the app.
--               Only its members (administrators) can change the schema: `triage-app migrate` runs as it.
--   user_role   NOLOGIN. The group of the app's users: each user's own login is made a member of it
--               (CREATE ROLE jbloggs LOGIN IN ROLE triage_user; see docs/deploy-postgresql.md). It may connect
--               and use the schema; its privileges on the tables are given by
--               `triage-app migrate --grant-to triage_user` (or grants.sql): only what the app does, no DDL.
--   db_name     The database, owned by owner_role, closed to everyone else (PUBLIC may not connect or make
--               temporary tables).
-- Re-running it is harmless: what already exists is left as it is.

\set ON_ERROR_STOP on
\if :{?db_name}
\else
  \set db_name triage
\endif
\if :{?owner_role}
\else
  \set owner_role triage_owner
\endif
\if :{?user_role}
\else
  \set user_role triage_user
\endif

SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner_role') AS make_owner \gset
\if :make_owner
  CREATE ROLE :"owner_role" NOLOGIN;
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user_role') AS make_users \gset
\if :make_users
  CREATE ROLE :"user_role" NOLOGIN;
\endif

SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db_name') AS make_db \gset
\if :make_db
  CREATE DATABASE :"db_name" OWNER :"owner_role" ENCODING 'UTF8' TEMPLATE template0;
\endif

-- Nobody but the app's roles connects; nobody makes temporary tables.
REVOKE ALL ON DATABASE :"db_name" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db_name" TO :"user_role";
GRANT CONNECT, CREATE ON DATABASE :"db_name" TO :"owner_role";

\if :{?admin_login}
  GRANT :"owner_role" TO :"admin_login";
  GRANT :"user_role" TO :"admin_login";
\endif

-- Inside the database: the public schema belongs to the owner role, and nobody else may create anything in it.
\connect :"db_name"
ALTER SCHEMA public OWNER TO :"owner_role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"user_role";
