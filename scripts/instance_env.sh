# Sourced by `make demo` and `make dev`: the local Dagster instance on PostgreSQL.
#
# Creates the warehouse ($POSTGRES_DB) and Dagster's storage database ($DAGSTER_PG_DB) if missing,
# and points DAGSTER_HOME at .dagster_home/ holding a link to the repo's dagster.yaml, so runs
# launched by the demo show up in `make dev`'s UI (same instance, not a throw-away SQLite).
ROOT=${ROOT:-$PWD}
BIN=${BIN:-${VENV:-.venv}/bin}

# dagster.yaml and dbt's profile read the warehouse password from POSTGRES_PASSWORD only: a
# POSTGRES_PASSWORD_FILE becomes it here, as the stack's entrypoint does (docs/deploy.md 2.4).
. "$ROOT/docker/secret-env.sh"
secret_from_file POSTGRES_PASSWORD

abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ROOT/$1" ;; esac; }

DAGSTER_HOME=$(abs "${DAGSTER_HOME:-.dagster_home}")
DAGSTER_DATA_DIR=$(abs "${DAGSTER_DATA_DIR:-var/dagster/artifacts}")
DAGSTER_COMPUTE_LOGS_DIR=$(abs "${DAGSTER_COMPUTE_LOGS_DIR:-var/dagster/compute_logs}")
export DAGSTER_HOME DAGSTER_DATA_DIR DAGSTER_COMPUTE_LOGS_DIR
export DAGSTER_PG_DB=${DAGSTER_PG_DB:-dagster}
mkdir -p "$DAGSTER_HOME" "$DAGSTER_DATA_DIR" "$DAGSTER_COMPUTE_LOGS_DIR"
ln -sfn "$ROOT/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"

if [ "${FTP_PROTOCOL:-local}" = local ]; then
  FTP_REMOTE_DIR=$(abs "${FTP_REMOTE_DIR:-var/drop}")
  export FTP_REMOTE_DIR
  mkdir -p "$FTP_REMOTE_DIR"
fi

"$BIN/python" - <<'PY'
import os

from shutter_assets.lib.connections import PostgresSettings, ensure_postgres_database

warehouse = PostgresSettings.from_env()
for var in ("POSTGRES_DB", "DAGSTER_PG_DB"):
    settings = warehouse.with_db(os.environ.get(var) or warehouse.dbname)
    try:
        created = ensure_postgres_database(settings)
    except Exception as exc:
        raise SystemExit(
            f"cannot reach PostgreSQL at {settings.host}:{settings.port} to create database "
            f"{settings.dbname!r} ({var}): {exc}. Start it (make services) or fix .env."
        ) from exc
    print(f"database {settings.dbname} ({var}) {'created' if created else 'present'}")

with warehouse.with_db(os.environ["DAGSTER_PG_DB"]).connect() as conn:
    has_tables = conn.execute("select to_regclass('public.runs') is not null").fetchone()[0]
if not has_tables:
    # Dagster's tables, created once here: `dagster dev`'s webserver, daemon and code server
    # would otherwise race to create them and log "Retrying failed database creation".
    from dagster import DagsterInstance

    DagsterInstance.get().dispose()
PY
