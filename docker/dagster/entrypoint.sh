#!/bin/bash
# Entrypoint of the Dagster image (code server, webserver, daemon, warehouse-init, api).
# dagster.yaml reads the storage password from POSTGRES_PASSWORD ({env: ...}: Dagster has no
# file variant), so a compose secret named by POSTGRES_PASSWORD_FILE is turned into it here; every
# other secret (X_FILE) is read by the platform's own settings. Then the service's command.
set -euo pipefail
. "${SHUTTER_SECRET_ENV:-/usr/local/lib/shutter/secret-env.sh}"
secret_from_file POSTGRES_PASSWORD
exec "$@"
