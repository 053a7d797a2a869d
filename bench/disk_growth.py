"""Benchmark: disk used by the platform's artifacts after N runs, with and without retention.

One cycle is what a plant day makes the platform write: a machine-log ingestion run that
archives its files (LOGS_ARCHIVE=1), a dbt build through the Dagster asset (its own
``target/shutter_dbt-*`` folder and dbt.log), each run's captured stdout/stderr and its events in
Dagster's PostgreSQL storage. The same cycles run twice in this run, each time on a fresh
instance (its own PostgreSQL database and compute-log folder) and a fresh drop:

* baseline: nothing pruned (what the stack did before);
* retention: after each cycle, what the stack runs — the dbt target rotation of the asset
  (DBT_TARGET_KEEP=2), the ``purge_history`` job (run history and captured logs; its day-based
  windows shortened to "older than now" so N cycles stand for N days past the window), and
  docker/vsftpd/prune-archive.sh (FTP_ARCHIVE_RETENTION_DAYS=2, each cycle's files dated one
  day after the previous one's).

Prints per cycle the bytes of each artifact and the total, and the last/first ratio of each
mode (goal: retention flat, ratio about 1, while the baseline grows with N).

    .venv/bin/python bench/disk_growth.py              # 12 cycles
    .venv/bin/python bench/disk_growth.py --cycles 4   # quick run while developing
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from psycopg import sql

from shutter_assets.lib.connections import PostgresSettings

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "dbt_project" / "target"
KIB = 1024


def pg_size(settings: PostgresSettings) -> int:
    with settings.connect(autocommit=True) as conn:
        conn.execute("vacuum")  # what autovacuum does on its own: freed rows become reusable
        return conn.execute("select pg_database_size(current_database())").fetchone()[0]


def cycle_files(drop: Path, day: int, base: float) -> None:
    """One plant day of log files (the simulator's), dated ``day`` days after ``base``."""
    out = drop / f"day{day:02d}"
    subprocess.run(
        [sys.executable, "-m", "shutter_assets.simulator", "logs", "--out", str(out),
         "--days", "1", "--seed", str(day + 1), "--start", f"2026-10-{day + 1:02d}"],
        check=True, capture_output=True,
    )  # fmt: skip
    stamp = base + day * 86_400
    for f in out.rglob("*.log"):
        os.utime(f, (stamp, stamp))


def run_mode(retention: bool, cycles: int, admin: PostgresSettings) -> list[dict[str, int]]:
    import dagster as dg

    from shutter_assets.definitions import defs
    from shutter_assets.defs.dbt.assets import shutter_dbt
    from shutter_assets.defs.housekeeping.purge import purge_compute_logs, purge_runs
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
    base = time.time() - cycles * 86_400
    before_targets = {p.name for p in TARGET.glob("shutter_dbt-*")}
    rows = []
    (work / "home").mkdir()
    try:
        with dg.instance_for_test(overrides=overrides, temp_dir=str(work / "home")) as instance:
            for day in range(cycles):
                cycle_files(drop, day, base)
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
                    purge_runs(instance, days=0)
                    purge_compute_logs(instance, days=0)
                    subprocess.run(
                        ["bash", str(ROOT / "docker/vsftpd/prune-archive.sh"), str(drop), "2"],
                        check=True, capture_output=True,
                    )  # fmt: skip
                ours = [p for p in TARGET.glob("shutter_dbt-*") if p.name not in before_targets]
                row = {
                    "dbt_target": sum(tree_size(p) for p in ours),
                    "compute_logs": tree_size(logs),
                    "archive": tree_size(drop / "archive"),
                    "dagster_db": pg_size(storage),
                }
                row["total"] = sum(row.values())
                rows.append(row)
                cells = "  ".join(f"{k} {v / KIB:9.0f}" for k, v in row.items())
                print(f"  cycle {day + 1:2d}: {cells}  KiB", flush=True)
    finally:
        for p in TARGET.glob("shutter_dbt-*"):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=12)
    args = parser.parse_args()
    admin = PostgresSettings.from_env().with_db("postgres")
    warehouse = admin.with_db(f"shutter_bench_disk_dw_{uuid.uuid4().hex[:8]}")
    with admin.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(warehouse.dbname)))
    os.environ["POSTGRES_DB"] = warehouse.dbname
    try:
        results = {}
        for mode, retention in (("baseline (no retention)", False), ("retention", True)):
            print(f"{mode}:", flush=True)
            results[mode] = run_mode(retention, args.cycles, admin)
        for mode, rows in results.items():
            # from the second cycle: the first one also creates the empty storage's tables
            first, last = rows[min(1, len(rows) - 1)]["total"], rows[-1]["total"]
            print(
                f"{mode:24s} total after cycle 2: {first / KIB:8.0f} KiB, after cycle "
                f"{len(rows)}: {last / KIB:8.0f} KiB, ratio {last / first:.2f}"
            )
    finally:
        with admin.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(warehouse.dbname)
                )
            )


if __name__ == "__main__":
    main()
