"""Benchmark: machine-log ingestion vs ``psql \\copy`` of the same lines, and peak memory.

    .venv/bin/python bench/ingest_logs.py                # 2,000,000 lines (~190 MB)
    .venv/bin/python bench/ingest_logs.py --lines 12000000   # ~1.1 GB, for the memory goal

1. Writes one large log file (every event type, decimal commas, accents, quoted ``;``,
   milliseconds, a few invalid lines) into a local drop folder.
2. Materializes ``raw/machine_events`` through the real asset code (``dg.materialize`` of
   ``ingest_machine_logs`` with the real resources pointed at a local drop) in a child process, and
   reads the child's peak RSS with ``resource.getrusage(RUSAGE_CHILDREN)``.
3. Writes the same accepted lines pre-cleaned (COPY text format, what our loader sends) and times
   ``psql -c "\\copy ..."`` into an equivalent table (same columns, same primary key).
4. Prints both throughputs and the ratio (goal: ours >= 0.5 x psql) and the peak RSS (goal: under
   300 MB for a 1 GB file).

It uses a uniquely named PostgreSQL database on the local server (POSTGRES_* variables) and drops
it at the end; the generated files go to a temporary folder (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from psycopg import sql  # noqa: E402

from shutter_assets.lib.connections import PostgresSettings, ensure_postgres_database  # noqa: E402
from shutter_assets.lib.log_copy import EVENT_COLUMNS  # noqa: E402
from shutter_assets.lib.log_format import HEADER  # noqa: E402
from shutter_assets.lib.plant import PlantSettings  # noqa: E402

FILE_NAME = "CU-01_20261120_060000.log"
TZ = PlantSettings().timezone
STATES = ("RUNNING", "IDLE", "SETUP", "DOWN", "RUNNING", "OFF")


def generate(folder: Path, n_lines: int) -> tuple[Path, Path, int]:
    """The log file and the pre-cleaned COPY file of its accepted lines; returns the bad count."""
    log = folder / "drop" / FILE_NAME
    log.parent.mkdir(parents=True)
    clean = folder / "clean.tsv"
    bad = 0
    base = 1_795_500_000  # 2026-11-24, plain winter time: offset +01:00 all along
    with log.open("w", encoding="utf-8", newline="") as out, clean.open("w") as tsv:
        out.write(";".join(HEADER) + "\r\n")
        buf: list[str] = []
        cbuf: list[str] = []
        for i in range(n_lines):
            line_no = i + 2
            t = base + i // 3
            lt = time.gmtime(t + 3600)
            wall = (
                f"{lt.tm_year:04d}-{lt.tm_mon:02d}-{lt.tm_mday:02d} "
                f"{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}"
            )
            ms = (i * 37) % 1000
            k = i % 10
            order = f"CMD-2026-{i % 5000:06d}"
            if k in (0, 5):
                state = STATES[(i // 10) % len(STATES)]
                fields = (f"{wall}", "STATE", "", "", state, "")
                clean_vals = ("STATE", None, None, state, None, None)
            elif k in (1, 6):
                fields = (f"{wall},{ms:03d}", "CYCLE_START", order, "LAME-ALU-39", "", "")
                clean_vals = ("CYCLE_START", order, "LAME-ALU-39", None, None, None)
            elif k in (2, 7):
                qty = f"{i % 9},{i % 10}" if i % 4 == 0 else str(i % 9)
                fields = (f"{wall},{ms:03d}", "CYCLE_END", order, "LAME-ALU-39", qty, "")
                clean_vals = ("CYCLE_END", order, "LAME-ALU-39", qty, qty.replace(",", "."), None)
            elif k == 3:
                msg = "Bavure; reprise impossible"
                fields = (wall, "SCRAP", order, "LAME-PVC-45", "1", f'"{msg}"')
                clean_vals = ("SCRAP", order, "LAME-PVC-45", "1", "1", msg)
            elif k == 4:
                fields = (wall, "ALARM", "", "", "E1042", "Défaut broche, température élevée")
                clean_vals = (
                    "ALARM",
                    None,
                    None,
                    "E1042",
                    None,
                    "Défaut broche, température élevée",
                )
            elif k == 8:
                fields = (wall, "ALARM_CLEAR", "", "", "E1042", "")
                clean_vals = ("ALARM_CLEAR", None, None, "E1042", None, None)
            else:
                fields = (wall, "OPERATOR", "", "", "B0042", "Opérateur équipe B")
                clean_vals = (
                    "OPERATOR",
                    None,
                    None,
                    "B0042",
                    "42" if False else None,
                    "Opérateur équipe B",
                )
            ts_text = fields[0]
            if i % 100_000 == 99_999:  # a few invalid lines, as in real files
                buf.append(f"{ts_text};CU-01;HEARTBEAT;;;;\r\n")
                bad += 1
                continue
            buf.append(f"{ts_text};CU-01;{';'.join(fields[1:])}\r\n")
            local = f"{wall}.{ms:03d}" if "," in ts_text else f"{wall}.000"
            vals = [str(v) if v is not None else "\\N" for v in clean_vals]
            cbuf.append(
                f"1\t{line_no}\tCU-01\t{vals[0]}\t{local}\t{local}+01:00\t{vals[1]}\t{vals[2]}\t"
                f"{vals[3]}\t{vals[4]}\t{vals[5]}\n"
            )
            if len(buf) >= 50_000:
                out.write("".join(buf))
                tsv.write("".join(cbuf))
                buf.clear()
                cbuf.clear()
        out.write("".join(buf))
        tsv.write("".join(cbuf))
    return log, clean, bad


def child_ingest(args: argparse.Namespace) -> None:
    """Run in a child process: materialize the real asset over the local drop."""
    import dagster as dg

    from shutter_assets.defs.machine_logs.assets import INGEST_OP, ingest_machine_logs
    from shutter_assets.defs.resources import as_resources
    from shutter_assets.lib.drop import DropSettings
    from shutter_assets.lib.log_settings import MachineLogsSettings
    from shutter_assets.lib.plant import PlantSettings

    pg = PostgresSettings.from_env().with_db(args.db)
    resources = as_resources(
        pg,
        DropSettings(protocol="local", remote_dir=args.drop),
        PlantSettings(timezone=TZ),
        MachineLogsSettings(min_age_s=0),
    )
    instance = dg.DagsterInstance.ephemeral()
    t0 = time.perf_counter()
    result = dg.materialize(
        [ingest_machine_logs],
        resources=resources,
        run_config={"ops": {INGEST_OP: {"config": {"paths": [FILE_NAME]}}}},
        instance=instance,
    )
    elapsed = time.perf_counter() - t0
    steps = {
        e.dagster_event.event_type_value: e.timestamp
        for e in instance.all_logs(result.run_id)
        if e.dagster_event is not None
    }
    meta = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node(INGEST_OP)
    }["raw/machine_events"]
    print(
        json.dumps(
            {
                "ok": result.success,
                "seconds": elapsed,
                "step_seconds": steps["STEP_SUCCESS"] - steps["STEP_START"],
                "rows": meta["rows"].value,
                "rejects": meta["rejects"].value,
            }
        )
    )


def run_child(db: str, drop: Path) -> tuple[dict, float, int]:
    cmd = [sys.executable, __file__, "--child", "--db", db, "--drop", str(drop)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return json.loads(out.stdout.strip().splitlines()[-1]), wall, peak_kb


def psql_copy(pg: PostgresSettings, clean: Path) -> tuple[float, float]:
    """Seconds of ``psql \\copy`` into an exact copy of raw.machine_events (same primary key and
    foreign key to a registry row), and into the same table without the foreign key."""
    with pg.connect(autocommit=True) as conn:
        # The child's load applied the raw schema's migrations: copy its table from there.
        conn.execute("create schema bench")
        conn.execute("create table bench.machine_events (like raw.machine_events including all)")
        conn.execute(
            "alter table bench.machine_events add foreign key (file_id) "
            "references raw.ingested_files"
        )
        conn.execute(
            "create table bench.machine_events_nofk (like raw.machine_events including all)"
        )
    cols = ", ".join(EVENT_COLUMNS)
    env = {**os.environ, "PGPASSWORD": pg.password} if pg.password else dict(os.environ)
    timings = []
    for table in ("bench.machine_events", "bench.machine_events_nofk"):
        cmd = [
            "psql", "-X", "-q", "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", pg.dbname,
            "-v", "ON_ERROR_STOP=1", "-c", f"\\copy {table} ({cols}) from '{clean}'",
        ]  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env)
        timings.append(time.perf_counter() - t0)
    return timings[0], timings[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--no-psql", action="store_true", help="skip the psql comparison (memory runs at 1 GB)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--drop", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_ingest(args)
        return

    base = PostgresSettings.from_env()
    db = f"bench_logs_{uuid.uuid4().hex[:8]}"
    pg = base.with_db(db)
    folder = Path(tempfile.mkdtemp(prefix="bench_logs_"))
    try:
        t0 = time.perf_counter()
        log, clean, bad = generate(folder, args.lines)
        size = log.stat().st_size
        took = time.perf_counter() - t0
        print(f"generated {args.lines:,} lines, {size / 1e6:,.0f} MB in {took:.1f} s")
        ensure_postgres_database(pg)

        result, wall, peak_kb = run_child(db, log.parent)
        assert result["ok"] and result["rows"] == args.lines - bad, result
        ours = result["step_seconds"]
        rows = result["rows"]
        mb = size / 1e6
        report = [
            ("ours: the asset's step (read + parse + COPY, 1 txn)", ours),
            ("  (whole dg.materialize() call, with Dagster set-up)", result["seconds"]),
        ]
        if not args.no_psql:
            theirs, theirs_nofk = psql_copy(pg, clean)
            with pg.connect() as conn:
                n_bench = conn.execute("select count(*) from bench.machine_events").fetchone()[0]
            assert n_bench == rows
            report += [
                ("psql \\copy of the pre-cleaned lines, same table", theirs),
                ("psql \\copy, same table without its foreign key", theirs_nofk),
            ]
        for label, seconds in report:
            print(f"{label:<55} {seconds:7.1f} s {rows / seconds:>11,.0f} lines/s")
        if not args.no_psql:
            print(f"ratio ours / psql (same table):        {theirs / ours:.2f}   (goal >= 0.5)")
            print(f"ratio ours / psql (table without FK):  {theirs_nofk / ours:.2f}")
        print(f"our throughput: {mb / ours:.1f} MB/s of log file; rows {rows:,}, rejects {bad:,}")
        print(f"child process wall time incl. Python and Dagster start-up: {wall:.1f} s")
        print(
            f"peak RSS of the ingesting process: {peak_kb / 1024:.0f} MB "
            f"for a {mb:,.0f} MB file (goal < 300 MB at 1 GB)"
        )
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        with base.with_db("postgres").connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db))
            )


if __name__ == "__main__":
    main()
