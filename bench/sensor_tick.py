"""Benchmark: ``machine_logs_sensor`` tick time over a drop of 10,000 files (goal < 2 s).

    .venv/bin/python bench/sensor_tick.py                     # local, ftp and sftp
    .venv/bin/python bench/sensor_tick.py --protocols local --files 10000

Half of the files are already registered in ``raw.ingested_files`` (as when archiving is off),
half are new. Tick 1 observes, tick 2 requests ceil(5,000 / batch size) runs, tick 3 has nothing
to do. ftp and sftp use the real vsftpd and sshd test servers (``tests/fixtures/servers.py``,
needs root); a temporary PostgreSQL database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402
from psycopg import sql  # noqa: E402

from shutter_assets.defs.machine_logs.sensor import machine_logs_sensor  # noqa: E402
from shutter_assets.lib.connections import PostgresSettings, ensure_postgres_database  # noqa: E402
from shutter_assets.lib.drop import open_drop  # noqa: E402
from shutter_assets.lib.log_ingest import ensure_raw_schema  # noqa: E402
from tests.fixtures import servers  # noqa: E402
from tests.fixtures.machine_logs import dagster_resources  # noqa: E402

BATCH = 50


def fill(drop: servers.DropServer, n: int) -> None:
    for i in range(n):
        machine = f"CU-{i % 20:02d}"
        drop.put(f"{machine}/{machine}_20261120_{i:06d}.log", b"timestamp;machine_id;event\n")


def register_half(pg: PostgresSettings, drop: servers.DropServer) -> int:
    with open_drop(drop.settings()) as d:
        listing = d.list_files()
    half = listing[::2]
    with pg.connect() as conn:
        ensure_raw_schema(conn)
        with conn.cursor().copy(
            "copy raw.ingested_files (path, size_bytes, mtime, sha256, status) from stdin"
        ) as copy:
            for f in half:
                copy.write_row((f.path, f.size, f.mtime, uuid.uuid4().hex, "loaded"))
    return len(half)


def bench(protocol: str, drop: servers.DropServer, n: int, pg: PostgresSettings) -> None:
    fill(drop, n)
    registered = register_half(pg, drop)
    resources = dagster_resources(pg, drop.settings(), batch_size=BATCH, min_age_s=0)
    cursor = None
    instance = dg.DagsterInstance.ephemeral()  # as the daemon: one instance, not one per tick
    for i in (1, 2, 3):
        t0 = time.perf_counter()
        context = dg.build_sensor_context(cursor=cursor, resources=resources, instance=instance)
        result = machine_logs_sensor(context)
        took = time.perf_counter() - t0
        cursor = result.cursor
        print(
            f"{protocol:>5}  tick {i}: {took:5.2f} s  {len(result.run_requests):4d} run requests  "
            f"cursor {len(cursor or '') / 1024:6.0f} KiB  ({n:,} files, {registered:,} ingested)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--protocols", default="local,ftp,sftp")
    args = parser.parse_args()
    base = PostgresSettings.from_env()
    work = Path(tempfile.mkdtemp(prefix="bench_sensor_"))
    try:
        for protocol in args.protocols.split(","):
            pg = base.with_db(f"bench_sensor_{uuid.uuid4().hex[:8]}")
            ensure_postgres_database(pg)
            try:
                if protocol == "local":
                    drop = servers.make_drop_folder("local", work, None, None)
                    bench(protocol, drop, args.files, pg)
                    continue
                user = servers.ensure_test_user()
                area = user.home / f"bench-{uuid.uuid4().hex[:8]}"
                area.mkdir()
                os.chown(area, user.uid, user.gid)
                start = servers.start_sshd if protocol == "sftp" else servers.start_vsftpd
                try:
                    with start(user) as server:
                        drop = servers.make_drop_folder(protocol, area, server, user)
                        bench(protocol, drop, args.files, pg)
                finally:
                    shutil.rmtree(area, ignore_errors=True)
            finally:
                with base.with_db("postgres").connect(autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("drop database if exists {} with (force)").format(
                            sql.Identifier(pg.dbname)
                        )
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
