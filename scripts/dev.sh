#!/usr/bin/env bash
# `make dev`: the platform on this machine with the production instance configuration.
#
# The Makefile loads .env.example, then .env, then the caller's environment. This script
#   1. creates the warehouse and Dagster's storage database ($DAGSTER_PG_DB) if missing,
#   2. points DAGSTER_HOME at .dagster_home/ holding a link to the repo's dagster.yaml (runs,
#      events and schedules on PostgreSQL, queued runs, retention; not a throw-away SQLite),
#   3. starts the plant simulator in live mode, writing log files into $FTP_REMOTE_DIR,
#   4. turns every sensor and schedule on and runs `dagster dev` (webserver + daemon), so the
#      daemon ticks machine_logs_sensor and the legacy-orders schedule as in production,
#   5. serves the REST API (python -m shutter_api) on $API_HOST:$API_PORT.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${VENV:-.venv}/bin

# DAGSTER_HOME (.dagster_home/ -> the repo's dagster.yaml), absolute data/log/drop directories,
# and the two databases, shared with `make demo` so its runs show up in this UI.
. scripts/instance_env.sh

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if "$BIN/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('shutter_assets.simulator.__main__') is None)"; then
  if [ "${FTP_PROTOCOL:-local}" != local ]; then
    echo "make dev: FTP_PROTOCOL=$FTP_PROTOCOL: the simulator writes into the local directory" \
      "$FTP_REMOTE_DIR, not to the FTP server" >&2
  fi
  "$BIN/python" -m shutter_assets.simulator live --out "$FTP_REMOTE_DIR" --interval 5 \
    >"$DAGSTER_HOME/simulator.log" 2>&1 &
  pids+=($!)
  echo "make dev: simulator writing to $FTP_REMOTE_DIR (log: $DAGSTER_HOME/simulator.log)"
else
  echo "make dev: shutter_assets.simulator has no CLI yet; no live log files will appear" >&2
fi

# --- REST API (shutter_api, docs/api.md) ------------------------------------------------------
# Reads the marts as API_DB_USER, a role the asset api/readonly_role creates after the first
# build; until then /ready answers 503. Every /v1 request needs a key listed in API_KEYS.
"$BIN/python" -m shutter_api >"$DAGSTER_HOME/api.log" 2>&1 &
pids+=($!)
echo "make dev: REST API on http://${API_HOST:-127.0.0.1}:${API_PORT:-8000}/docs" \
  "(log: $DAGSTER_HOME/api.log)"
if [ -z "${API_KEYS:-}" ]; then
  echo "make dev: API_KEYS is empty: make a key with 'python -m shutter_api.keys dev' into .env" >&2
fi
# --- end of REST API ----------------------------------------------------------------------------

# Sensors and schedules start stopped unless their code says otherwise; dev runs them all.
"$BIN/dagster" sensor start --start-all -w workspace.yaml || true
"$BIN/dagster" schedule start --start-all -w workspace.yaml || true

# In the foreground: a background job would ignore Ctrl-C, and `dagster dev` shuts its webserver,
# daemon and code servers down on SIGINT only.
"$BIN/dagster" dev -w workspace.yaml -h "${DAGSTER_DEV_HOST:-127.0.0.1}" \
  -p "${DAGSTER_DEV_PORT:-3000}"
