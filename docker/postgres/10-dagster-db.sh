#!/bin/bash
# First start of the postgres container (docker-entrypoint-initdb.d): create Dagster's own storage
# database ($DAGSTER_PG_DB) beside the warehouse ($POSTGRES_DB, created by the image itself).
# Idempotent; tests/test_stack_compose.py runs it against the local server.
set -euo pipefail
: "${DAGSTER_PG_DB:?DAGSTER_PG_DB is not set: add it to .env}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-postgres}" \
  --set=dbname="$DAGSTER_PG_DB" <<'SQL'
select format('create database %I', :'dbname')
where not exists (select from pg_database where datname = :'dbname')
\gexec
SQL
