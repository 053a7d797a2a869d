"""Benchmark: disk used by the platform's artifacts after N cycles, with and without retention.

One cycle is what a plant day makes the platform write: sensor ticks whose captured logs land
under ``<compute logs>/__repository__/<sensor>/`` (TICKS_PER_CYCLE ticks by the sensor daemon's
own iteration, of a sensor logging one line per tick), a machine-log ingestion run that archives
its files (LOGS_ARCHIVE=1), a dbt build through the Dagster asset (its own
``target/shutter_dbt-*`` folder and dbt.log), each run's captured stdout/stderr and its events in
Dagster's PostgreSQL storage. The same cycles run twice in this run, each time on a fresh
instance (its own PostgreSQL database and compute-log folder) and a fresh drop:

* baseline: nothing pruned (what the stack did before);
* retention: what the stack runs — the dbt target rotation of the asset (DBT_TARGET_KEEP=2),
  the ``purge_history`` job once per cycle as its daily schedule launches it (run history,
  captured logs of runs and ticks; DAGSTER_RUN_RETENTION_DAYS=DAGSTER_COMPUTE_LOG_RETENTION_DAYS
  =2), and docker/vsftpd/prune-archive.sh (FTP_ARCHIVE_RETENTION_DAYS=2). A cycle stands for a
  day: before each purge everything already recorded (runs' update times in Dagster's storage,
  captured log files, archived uploads) is moved one day back.

Prints per cycle the bytes of each artifact and the total; then per mode the flatness ratio:
total after the last cycle / total after cycle FIRST_PURGED_CYCLE (the first one whose windows
are full), about 1 when flat while the baseline grows with N, and the growth per cycle over the
first and the second half of the cycles.

    .venv/bin/python bench/disk_growth.py              # 12 cycles
    .venv/bin/python bench/disk_growth.py --cycles 4   # quick run while developing
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from psycopg import sql

from shutter_assets.lib.connections import PostgresSettings

ROOT = Path(__file__).resolve().parents[1]
KIB = 1024
TICKS_PER_CYCLE = 10
WINDOW_CYCLES = 2  # every retention window: two cycles (days)
DAY_S = 86_400
# The windows are full from this cycle on: before it the totals still fill up.
FIRST_PURGED_CYCLE = WINDOW_CYCLES + 2
SENSOR = "drop_sensor"


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def drop_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Stands for machine_logs_sensor's ticks: one logged line each (a skipped file's warning)."""
    context.log.warning("skipped 1 file: CU-01_20261001_060000.log.part (upload in progress)")
    return dg.SkipReason("no settled file")


# The code location the bench's sensor daemon iterations load (this file, attribute tick_defs).
tick_defs = dg.Definitions(sensors=[drop_sensor])


def pg_size(settings: PostgresSettings) -> int:
    with settings.connect(autocommit=True) as conn:
        conn.execute("vacuum")  # what autovacuum does on its own: freed rows become reusable
        return conn.execute("select pg_database_size(current_database())").fetchone()[0]


def cycle_files(drop: Path, day: int) -> None:
    """One plant day of log files (the simulator's), uploaded now."""
    out = drop / f"day{day:02d}"
    subprocess.run(
        [sys.executable, "-m", "shutter_assets.simulator", "logs", "--out", str(out),
         "--days", "1", "--seed", str(day + 1), "--start", f"2026-10-{day + 1:02d}"],
        check=True, capture_output=True,
    )  # fmt: skip
    stamp = time.time()
    for f in out.rglob("*.log"):
        os.utime(f, (stamp, stamp))


def tick(workspace, clock: datetime) -> datetime:
    """TICKS_PER_CYCLE iterations of the sensor daemon, each past the minimum interval."""
    from dagster._core.test_utils import freeze_time
    from dagster._daemon.sensor import execute_sensor_iteration

    for _ in range(TICKS_PER_CYCLE):
        clock += timedelta(seconds=60)
        with freeze_time(clock):
            list(execute_sensor_iteration(workspace, logging.getLogger("bench"), None, None))
    return clock


def one_day_older(storage: PostgresSettings, *folders: Path) -> None:
    """What a day's wait does to the history the purges look at: runs' update times and the
    modification times of the files in ``folders`` (captured logs, the drop's archive), one day
    back."""
    with storage.connect(autocommit=True) as conn:
        conn.execute(
            "update runs set update_timestamp = update_timestamp - interval '1 day', "
            "create_timestamp = create_timestamp - interval '1 day'"
        )
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            try:
                stat = path.stat()
                os.utime(path, (stat.st_atime - DAY_S, stat.st_mtime - DAY_S))
            except FileNotFoundError:
                continue


def run_mode(
    retention: bool, cycles: int, admin: PostgresSettings, target: Path
) -> list[dict[str, int]]:
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import PythonFileTarget

    from shutter_assets.definitions import defs
    from shutter_assets.defs.dbt.assets import shutter_dbt
    from shutter_assets.defs.housekeeping.purge import RetentionSettings, purge_history_job
    from shutter_assets.lib.retention import tree_size

    work = Path(tempfile.mkdtemp(prefix="shutter-bench-disk-"))
    drop, logs = work / "drop", work / "compute_logs"
    drop.mkdir()
    storage = admin.with_db(f"shutter_bench_disk_{uuid.uuid4().hex[:8]}")
    with admin.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(storage.dbname)))
    os.environ.update(
        {
            "FTP_PROTOCOL": "local",
            "FTP_REMOTE_DIR": str(drop),
            "LOGS_ARCHIVE": "1",
            "LOGS_MIN_AGE_S": "0",
            "DBT_TARGET_KEEP": "2" if retention else "100000",
        }
    )
    definitions = defs()
    ingest = definitions.resolve_implicit_global_asset_job_def()
    overrides = {
        "storage": {
            "postgres": {
                "postgres_db": {
                    "username": storage.user,
                    "password": storage.password,
                    "hostname": storage.host,
                    "db_name": storage.dbname,
                    "port": storage.port,
                    "scheme": "postgresql+psycopg2",  # as dagster.yaml
                }
            }
        },
        "compute_logs": {
            "module": "dagster.core.storage.local_compute_log_manager",
            "class": "LocalComputeLogManager",
            "config": {"base_dir": str(logs)},
        },
    }
    seed = dg.AssetSelection.assets(["staging", "machine_types"]).without_checks()
    before_targets = {p.name for p in target.glob("shutter_dbt-*")}
    rows = []
    (work / "home").mkdir()
    location = PythonFileTarget(
        python_file=__file__, attribute="tick_defs", working_directory=str(ROOT),
        location_name="bench_ticks",
    )  # fmt: skip
    clock = datetime.now(UTC)
    try:
        with (
            dg.instance_for_test(overrides=overrides, temp_dir=str(work / "home")) as instance,
            create_test_daemon_workspace_context(location, instance) as workspace,
        ):
            for day in range(cycles):
                clock = tick(workspace, clock)
                cycle_files(drop, day)
                result = ingest.execute_in_process(
                    instance=instance, asset_selection=[dg.AssetKey(["raw", "machine_events"])]
                )
                assert result.success
                result = dg.materialize(
                    [shutter_dbt], selection=seed, instance=instance,
                    resources=definitions.resources,
                )  # fmt: skip
                assert result.success
                if retention:
                    one_day_older(storage, logs, drop / "archive")
                    # the daily job, as the schedule launches it (a run of its own)
                    window = RetentionSettings(
                        run_days=WINDOW_CYCLES, compute_log_days=WINDOW_CYCLES
                    )
                    purge = purge_history_job.execute_in_process(
                        instance=instance, resources={"retention": window}
                    )
                    assert purge.success
                    subprocess.run(
                        ["bash", str(ROOT / "docker/vsftpd/prune-archive.sh"), str(drop),
                         str(WINDOW_CYCLES)],
                        check=True, capture_output=True,
                    )  # fmt: skip
                ours = [p for p in target.glob("shutter_dbt-*") if p.name not in before_targets]
                row = {
                    "dbt_target": sum(tree_size(p) for p in ours),
                    "run_logs": tree_size(logs) - tree_size(logs / "__repository__"),
                    "tick_logs": tree_size(logs / "__repository__"),
                    "archive": tree_size(drop / "archive"),
                    "dagster_db": pg_size(storage),
                }
                row["total"] = sum(row.values())
                rows.append(row)
                cells = "  ".join(f"{k} {v / KIB:9.0f}" for k, v in row.items())
                print(f"  cycle {day + 1:2d}: {cells}  KiB", flush=True)
    finally:
        for p in target.glob("shutter_dbt-*"):
            if p.name not in before_targets:
                shutil.rmtree(p, ignore_errors=True)
        with admin.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(storage.dbname)
                )
            )
        shutil.rmtree(work, ignore_errors=True)
    return rows


def flatness(rows: list[dict[str, int]]) -> str:
    """Last total / total after FIRST_PURGED_CYCLE, and KiB per cycle over each half."""
    totals = [r["total"] for r in rows]
    ref = min(FIRST_PURGED_CYCLE, len(totals)) - 1
    half = len(totals) // 2
    first_half = (totals[half - 1] - totals[0]) / max(half - 1, 1) / KIB
    second_half = (totals[-1] - totals[half - 1]) / max(len(totals) - half, 1) / KIB
    return (
        f"total after cycle {ref + 1}: {totals[ref] / KIB:8.0f} KiB, after cycle {len(totals)}: "
        f"{totals[-1] / KIB:8.0f} KiB, ratio {totals[-1] / totals[ref]:.2f}; growth per cycle "
        f"{first_half:6.0f} KiB (cycles 1-{half}), {second_half:6.0f} KiB "
        f"(cycles {half}-{len(totals)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=12)
    parser.add_argument(
        "--modes",
        default="baseline,retention",
        help="comma-separated; one process per mode can run side by side (own databases, own "
        "dbt target folder)",
    )
    args = parser.parse_args()
    modes = {"baseline": ("baseline (no retention)", False), "retention": ("retention", True)}
    admin = PostgresSettings.from_env().with_db("postgres")
    warehouse = admin.with_db(f"shutter_bench_disk_dw_{uuid.uuid4().hex[:8]}")
    with admin.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(warehouse.dbname)))
    os.environ["POSTGRES_DB"] = warehouse.dbname
    # dbt's target folder of this process only (DBT_TARGET_PATH, read by defs/dbt/project.py when
    # first imported): the manifest is parsed for this warehouse, and only our folders are counted.
    target = Path(tempfile.mkdtemp(prefix="shutter-bench-dbt-target-"))
    os.environ["DBT_TARGET_PATH"] = str(target)
    try:
        results = {}
        for name in args.modes.split(","):
            mode, retention = modes[name]
            print(f"{mode}:", flush=True)
            results[mode] = run_mode(retention, args.cycles, admin, target)
        for mode, rows in results.items():
            print(f"{mode:24s} {flatness(rows)}")
    finally:
        shutil.rmtree(target, ignore_errors=True)
        with admin.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(warehouse.dbname)
                )
            )


if __name__ == "__main__":
    main()
