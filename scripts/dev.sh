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
# Ctrl-C and SIGTERM stop everything it started within ~15 s, runs in flight canceled
# (scripts/dev_stop.py).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${VENV:-.venv}/bin

# DAGSTER_HOME (.dagster_home/ -> the repo's dagster.yaml), absolute data/log/drop directories,
# and the two databases, shared with `make demo` so its runs show up in this UI.
. scripts/instance_env.sh

# Every long-running process: one `start` line each. Each gets its own session (setsid) so a
# terminal's Ctrl-C reaches this script only, and this script decides the order: a run process
# that got the SIGINT itself would fail with a traceback. `env --default-signal=INT` undoes the
# SIGINT-ignore a background job of a non-interactive shell inherits; otherwise Python (and so
# `dagster dev`, which maps SIGTERM to its SIGINT handler) would ignore both signals.
pids=()
dagster_pid=
stopper_pid=
start() {
  setsid env --default-signal=INT "$@" &
  pids+=($!)
}
# A one-off command, run the same way so a signal meanwhile is handled at once (bash defers traps
# while a foreground command runs) and stops it too.
step() {
  start "$@"
  wait "$!" || true
  unset 'pids[-1]'
}
any_alive() {
  local pid
  for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && return 0; done
  return 1
}
stop() {
  local status=$? pid began=${EPOCHREALTIME/./} deadline=$((SECONDS + 15)) ms
  trap '' INT TERM
  [ ${#pids[@]} -gt 0 ] || exit "$status"
  echo "make dev: stopping ..." >&2
  # SIGINT to each process at once; scripts/dev_stop.py, on its SIGINT, cancels the runs in
  # flight and then stops `dagster dev`'s whole process group itself (which therefore gets no
  # signal from here); it prints the wall time of each of its steps.
  for pid in "${pids[@]}"; do
    [ "$pid" = "$dagster_pid" ] || kill -INT "$pid" 2>/dev/null || true
  done
  while any_alive && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  # Past the bound: kill what is left, then give dev_stop.py a moment to record the runs it
  # could not cancel cleanly (their processes are gone now) before it is killed too.
  for pid in "${pids[@]}"; do
    [ "$pid" = "$stopper_pid" ] || kill -KILL -- "-$pid" 2>/dev/null || true
  done
  deadline=$((SECONDS + 5))
  while any_alive && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ms=$(((${EPOCHREALTIME/./} - began) / 1000))
  echo "make dev: stopped in $((ms / 1000)).$((ms % 1000 / 100)) s" >&2
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${FTP_PROTOCOL:-local}" != local ]; then
  echo "make dev: FTP_PROTOCOL=$FTP_PROTOCOL: the simulator writes into the local directory" \
    "$FTP_REMOTE_DIR, not to the FTP server" >&2
fi
start "$BIN/python" -m shutter_assets.simulator live --out "$FTP_REMOTE_DIR" --interval 5 \
  >"$DAGSTER_HOME/simulator.log" 2>&1
echo "make dev: simulator writing to $FTP_REMOTE_DIR (log: $DAGSTER_HOME/simulator.log)"

# --- REST API (shutter_api, docs/api.md) ------------------------------------------------------
# Reads the marts as API_DB_USER, a role the asset api/readonly_role creates after the first
# build; until then /ready answers 503. Every /v1 request needs a key listed in API_KEYS.
start "$BIN/python" -m shutter_api >"$DAGSTER_HOME/api.log" 2>&1
echo "make dev: REST API on http://${API_HOST:-127.0.0.1}:${API_PORT:-8000}/docs" \
  "(log: $DAGSTER_HOME/api.log)"
if [ -z "${API_KEYS:-}" ]; then
  echo "make dev: API_KEYS is empty: make a key with 'python -m shutter_api.keys dev' into .env" >&2
fi
# --- end of REST API ----------------------------------------------------------------------------

start "$BIN/dagster" dev -w workspace.yaml -h "${DAGSTER_DEV_HOST:-127.0.0.1}" \
  -p "${DAGSTER_DEV_PORT:-3000}"
dagster_pid=$!
# Waits for the stop, then cancels the runs in flight and stops `dagster dev` (see stop above).
start "$BIN/python" -m scripts.dev_stop "$dagster_pid"
stopper_pid=$!

# Sensors and schedules start stopped unless their code says otherwise; dev runs them all (the
# daemon picks the new state up at its next tick).
step "$BIN/dagster" sensor start --start-all -w workspace.yaml
step "$BIN/dagster" schedule start --start-all -w workspace.yaml

# Until a signal (trap above) or until one of the processes ends by itself: then stop the rest.
wait -n "${pids[@]}" || true
echo "make dev: a process ended by itself; stopping the others" >&2
exit 1
