#!/usr/bin/env bash
# `make demo`: the whole platform once, end to end, on this machine.
#   1. the local instance and databases (scripts/instance_env.sh),
#   2. the simulated plant: db_commandes filled on MySQL, two days of log files with every messy
#      reality of DESIGN.md section 4 dropped into $FTP_REMOTE_DIR,
#   3. every asset materialized, exactly as an operator would (`dagster asset materialize --select '*'`,
#      dbt models rebuilt from scratch),
#   4. a summary of what landed and marts.machine_oee_daily.
# Rerunning it is harmless: the same files are recognised as already ingested, orders are upserted.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${VENV:-.venv}/bin
. scripts/instance_env.sh

if [ "${FTP_PROTOCOL:-local}" != local ]; then
  echo "make demo: FTP_PROTOCOL=$FTP_PROTOCOL — the demo drops files into a local folder;" \
    "set FTP_PROTOCOL=local (the default) or put the simulator's files on your server" >&2
  exit 2
fi

"$BIN/python" -m shutter_assets.simulator all --out "$FTP_REMOTE_DIR" --messy \
  --seed "${DEMO_SEED:-1}" --days "${DEMO_DAYS:-2}"

# The simulator has closed every file it wrote, so they are settled: no need to wait the
# sensor's minimum age before the manual materialization.
log="$ROOT/var/demo-materialize.log"
echo "materializing every asset (dagster asset materialize --select '*'; event log: $log) ..."
# The demo rebuilds the dbt models from scratch (full_refresh), so it also works on a warehouse
# left by an older version of the models.
if ! LOGS_MIN_AGE_S=0 "$BIN/dagster" asset materialize -m shutter_assets.definitions \
  --select '*' --config-json '{"ops": {"shutter_dbt": {"config": {"full_refresh": true}}}}' \
  >"$log" 2>&1; then
  grep -E "STEP_FAILURE|Error|error" "$log" | tail -n 40 >&2
  echo "make demo: materialization failed; full event log in $log" >&2
  exit 1
fi
grep -cE "ASSET_MATERIALIZATION" "$log" | xargs -I{} echo "{} asset materializations recorded"

"$BIN/python" -m scripts.demo_summary
