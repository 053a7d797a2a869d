"""Benchmark: peak memory (RSS of the whole process tree) of each kind of run, and the sizing.

Sizes the one set of concurrency/memory numbers of deploy/sizing.yaml (dagster.yaml, compose
limits, Helm values). On a simulated plant (``--days`` of log files, the simulator's order book)
in uniquely named PostgreSQL and MariaDB databases, it starts the code server as the compose
stack does and measures its resident memory once loaded, then materializes each group of assets
the way the schedules and sensors do, each as its own process (``dagster asset materialize``:
one run in one process, like a run worker of the code server), sampling every 50 ms the summed
RSS of that process and its children (dbt runs as a child). Prints each peak, the heaviest run,
and the limits it implies; drops its databases.

    .venv/bin/python bench/run_memory.py             # 7 days of logs
    .venv/bin/python bench/run_memory.py --days 1    # quick run while developing
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import yaml
from psycopg import sql

from shutter_assets.lib.connections import MySQLSettings, PostgresSettings

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MIB = 1024 * 1024
# What the schedules, sensor and automation run, heaviest candidates of the platform.
RUNS = {
    "machine logs ingestion (sensor)": "group:raw",
    "legacy orders sync (schedule)": "group:raw_commandes",
    "dbt build, every model (automation)": "group:staging or group:intermediate or group:marts",
}


def tree_rss(root_pid: int) -> int:
    """Summed VmRSS (bytes) of ``root_pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


class PeakSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._stop_event = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(0.05)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def measure(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> tuple[int, float, int]:
    """(peak RSS bytes, seconds, exit code) of ``cmd`` and its children."""
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        sampler = PeakSampler(proc.pid)
        sampler.start()
        code = proc.wait()
    return sampler.stop(), time.monotonic() - started, code


def code_server_rss(env: dict[str, str], cwd: Path, log: Path) -> int:
    """Resident memory of the loaded code server (compose's dagster-code command)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(port)]
    cmd += ["-m", "shutter_assets.definitions", "--location-name", "shutter_assets"]
    health = [str(BIN / "dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 600
            while subprocess.run(health, capture_output=True, env=env).returncode != 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"code server did not start, see {log}")
                time.sleep(1)
            time.sleep(2)
            return tree_rss(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def round_up(value_mib: float, step: int = 128) -> int:
    return int(-(-value_mib // step) * step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=7, help="days of simulated log files")
    parser.add_argument("--headroom", type=float, default=1.5, help="budget = peak x headroom")
    sizing = yaml.safe_load((ROOT / "deploy" / "sizing.yaml").read_text())
    parser.add_argument("--max-concurrent-runs", type=int, default=sizing["max_concurrent_runs"])
    args = parser.parse_args()

    suffix = uuid.uuid4().hex[:8]
    pg = PostgresSettings.from_env().with_db(f"shutter_bench_mem_{suffix}")
    my = MySQLSettings.from_env()
    my = MySQLSettings(my.host, my.port, my.user, my.password, f"shutter_bench_mem_{suffix}")
    admin = pg.with_db("postgres")
    with admin.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(pg.dbname)))
    work = Path(tempfile.mkdtemp(prefix="shutter-bench-mem-"))
    (work / "home").mkdir()
    drop = work / "drop"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(work / "home"),  # a throw-away instance, not the repo's dagster.yaml
        "POSTGRES_HOST": pg.host,
        "POSTGRES_PORT": str(pg.port),
        "POSTGRES_USER": pg.user,
        "POSTGRES_PASSWORD": pg.password,
        "POSTGRES_DB": pg.dbname,
        "MYSQL_HOST": my.host,
        "MYSQL_PORT": str(my.port),
        "MYSQL_USER": my.user,
        "MYSQL_PASSWORD": my.password,
        "MYSQL_DATABASE": my.database,
        "FTP_PROTOCOL": "local",
        "FTP_REMOTE_DIR": str(drop),
        "LOGS_MIN_AGE_S": "0",
        "LOGS_BATCH_SIZE": "100000",  # the whole backlog in one run: the heaviest ingestion
    }
    try:
        print(f"simulating {args.days} day(s) of logs and the order book ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "shutter_assets.simulator", "all", "--out", str(drop),
             "--days", str(args.days), "--messy"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        files = list(drop.rglob("*.log"))
        size = sum(f.stat().st_size for f in files)
        print(f"{len(files)} log files, {size / MIB:.1f} MiB", flush=True)

        server = code_server_rss(env, work, work / "code_server.log")
        print(f"code server loaded: {server / MIB:.0f} MiB", flush=True)
        peaks = {}
        for name, selection in RUNS.items():
            cmd = [str(BIN / "dagster"), "asset", "materialize", "-m", "shutter_assets.definitions"]
            cmd += ["--select", selection]
            log = work / f"{name.split()[0]}.log"
            peak, seconds, code = measure(cmd, env, work, log)
            if code != 0:
                raise SystemExit(f"{name} failed ({code}); log kept in {log}")
            peaks[name] = peak
            print(f"{name:40s} peak {peak / MIB:6.0f} MiB  ({seconds:.0f} s)", flush=True)
        heaviest = max(peaks, key=peaks.get)
        run_mib = round_up(peaks[heaviest] / MIB * args.headroom)
        server_mib = round_up(server / MIB * args.headroom)
        total = server_mib + args.max_concurrent_runs * run_mib
        print(f"heaviest run: {heaviest}, {peaks[heaviest] / MIB:.0f} MiB")
        print(
            f"sizing (x{args.headroom} headroom, 128 MiB steps): run_memory_mib {run_mib}, "
            f"code_server_memory_mib {server_mib}, max_concurrent_runs "
            f"{args.max_concurrent_runs} -> dagster-code limit {total} MiB"
        )
        shutil.rmtree(work, ignore_errors=True)  # kept on failure, for its logs
    finally:
        with admin.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(pg.dbname))
            )
        conn = my.connect(database=None)
        try:
            with conn.cursor() as cur:
                cur.execute(f"drop database if exists `{my.database}`")
        finally:
            conn.close()


if __name__ == "__main__":
    main()
