#!/bin/bash
# The platform's account on the ERP stand-in: $SHUTTER_RO_USER may only read $MYSQL_DATABASE.
# Run by the one-shot compose service mysql-init at every `docker compose up`, after mysql is
# healthy: idempotent, so the account exists on an existing data volume too and a password
# changed in .env (MYSQL_READONLY_PASSWORD) is applied. The Dagster services start only after it
# succeeded, so a refused setting (root, empty) stops the stack instead of leaving it without the
# account. The client reads its connection from the environment (MYSQL_HOST/MYSQL_TCP_PORT/
# MYSQL_PWD), so tests/test_stack_compose.py runs this same script against the local MariaDB.
set -euo pipefail
# Compose secrets (docs/deploy.md section 2.1): MYSQL_ROOT_PASSWORD_FILE, SHUTTER_RO_PASSWORD_FILE.
. "${SHUTTER_SECRET_ENV:-/usr/local/lib/shutter/secret-env.sh}"
secret_from_file MYSQL_ROOT_PASSWORD
secret_from_file SHUTTER_RO_PASSWORD
: "${MYSQL_DATABASE:?MYSQL_DATABASE is not set: add it to .env}"
: "${SHUTTER_RO_USER:?SHUTTER_RO_USER (compose: MYSQL_READONLY_USER) is not set: add it to .env}"
: "${SHUTTER_RO_PASSWORD:?SHUTTER_RO_PASSWORD (compose: MYSQL_READONLY_PASSWORD) is not set: add it to .env}"

if [ "$SHUTTER_RO_USER" = root ]; then
  echo "MYSQL_READONLY_USER=root in .env: the platform must use its own read-only account; set" \
    "MYSQL_READONLY_USER and MYSQL_READONLY_PASSWORD to a dedicated user (e.g. shutter_ro)." >&2
  exit 1
fi

sql_string() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

user=$(sql_string "$SHUTTER_RO_USER")
password=$(sql_string "$SHUTTER_RO_PASSWORD")
database=$(sql_ident "$MYSQL_DATABASE")

MYSQL_PWD="${MYSQL_PWD:-${MYSQL_ROOT_PASSWORD:-}}" mysql --user=root <<SQL
create user if not exists ${user}@'%' identified by ${password};
alter user ${user}@'%' identified by ${password};
grant select, show view on ${database}.* to ${user}@'%';
flush privileges;
SQL
echo "read-only user $SHUTTER_RO_USER granted select on $MYSQL_DATABASE"
