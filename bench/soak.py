"""Soak (issue 11, first part): the live platform under faults, then raw compared with the truth.

    .venv/bin/python bench/soak.py                    # 5 minutes, a fault every ~40 s
    .venv/bin/python bench/soak.py --minutes 30 --fault-every 60

Same production shape as ``bench/freshness.py`` (``bench/live_platform.py``), default settings.
While the live simulator writes files, faults are injected at random moments (seeded):

  pg_terminate   every backend of the warehouse database terminated (mid-COPY, mid-dbt build)
  daemon_kill    ``dagster-daemon`` SIGKILLed, restarted 5 s later
  worker_kill    a run worker (``dagster api execute_run`` under our code server) SIGKILLed
  slow_file      a file grown in place for longer than ``LOGS_MIN_AGE_S`` + two sensor ticks

Then faults stop, the platform catches up (bounded), and every file the simulator finished is
compared with its truth (the simulator's accepted lines, never re-parsed from the file): the
current version of each path loaded exactly once, its ``raw.machine_events`` line count equal.
Prints the table of the issue: minutes, files, lines, faults by kind, runs failed and retried,
differences (must be 0), and the p50/p95 lag from a file's last write to the OEE mart.

Not done yet (issue 11): vsftpd/sshd drops and their restarts, the MariaDB connection cut through
``tests/fixtures/tcp_proxy.py`` with orders edited live, ten or more machines (the simulator has
five), the marts compared with the truth, the CI variant.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from freshness import file_lags, settled, wait_for_sensor_tick
from live_platform import (
    LivePlatform,
    live_platform,
    load_average,
    percentiles,
    run_timeline,
)

from shutter_assets.simulator.logs import live_file


def terminate_backends(platform: LivePlatform) -> bool:
    with platform.warehouse.with_db("postgres").connect(autocommit=True) as conn:
        killed = conn.execute(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity "
            "where datname = %s and pid <> pg_backend_pid()",
            (platform.warehouse.dbname,),
        ).fetchone()[0]
    return killed > 0


def kill_daemon(platform: LivePlatform) -> bool:
    platform.stop("daemon", signal.SIGKILL)
    time.sleep(5)
    platform.start_daemon()
    return True


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.extend(children.get(pid, []))
        stack.extend(children.get(pid, []))
    return out


def kill_run_worker(platform: LivePlatform) -> bool:
    """SIGKILL one run worker started by this platform's code server (never anyone else's)."""
    for pid in _descendants(platform.procs["code-server"].pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"execute_run" in cmdline:
            os.kill(pid, signal.SIGKILL)
            return True
    return False


class SlowFiles:
    """Files grown in place in steps for longer than the settle time; their truth is recorded."""

    def __init__(self, platform: LivePlatform, first_k: int) -> None:
        self.platform = platform
        self.k = first_k
        self.written: dict[str, float] = {}
        self.lines: dict[str, int] = {}
        self.threads: list[threading.Thread] = []

    def __call__(self, platform: LivePlatform) -> bool:
        name, data, truth = live_file(1, self.k, after_days=30)
        self.k += 1
        min_age = int(platform.env.get("LOGS_MIN_AGE_S") or 10)

        def grow() -> None:
            path = platform.drop / name
            steps = 6
            cut = [len(data) * i // steps for i in range(1, steps)]
            path.write_bytes(data[: cut[0]])
            for a, b in zip(cut, [*cut[1:], len(data)], strict=True):
                time.sleep((min_age + 20) / steps)
                with path.open("ab") as fh:
                    fh.write(data[a:b])
            self.written[name] = time.time()
            self.lines[name] = truth.accepted

        thread = threading.Thread(target=grow, daemon=True)
        thread.start()
        self.threads.append(thread)
        return True


def compare_raw(platform: LivePlatform, lines: dict[str, int]) -> list[str]:
    """Differences between the current version of each written file in raw and its truth."""
    with platform.warehouse.connect() as conn:
        rows = conn.execute(
            "select f.path, count(*) filter (where f.status = 'loaded'), "
            "coalesce(sum((select count(*) from raw.machine_events e "
            "where e.file_id = f.file_id)) filter (where f.status = 'loaded'), 0) "
            "from raw.ingested_files f group by f.path"
        ).fetchall()
    found = {path: (versions, events) for path, versions, events in rows}
    out = []
    for path, expected in sorted(lines.items()):
        versions, events = found.get(path, (0, 0))
        if versions != 1 or events != expected:
            out.append(f"{path}: {versions} current version(s), {events} lines, truth {expected}")
    for path in sorted(set(found) - set(lines)):
        out.append(f"{path}: in raw, never written by the simulator")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--interval", type=float, default=3, help="seconds between files (3)")
    parser.add_argument("--fault-every", type=float, default=40, help="mean seconds (40)")
    parser.add_argument("--catch-up", type=float, default=600, help="max seconds (600)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    count = max(1, math.ceil(args.minutes * 60 / (args.interval * 1.25)))
    with live_platform(keep=args.keep) as platform:
        print(f"work folder {platform.workdir}; load average {load_average()}", flush=True)
        platform.prime()
        platform.start_code_server()
        platform.start_daemon()
        wait_for_sensor_tick(platform, "machine_logs_sensor", 300)
        began = time.time()
        feed = platform.start_simulator(args.interval, count)
        slow = SlowFiles(platform, first_k=10_000)
        kinds = {
            "pg_terminate": terminate_backends,
            "daemon_kill": kill_daemon,
            "worker_kill": kill_run_worker,
            "slow_file": slow,
        }
        faults: Counter[str] = Counter()
        while feed.proc.poll() is None:
            time.sleep(args.fault_every * rng.uniform(0.5, 1.5))
            if feed.proc.poll() is not None:
                break
            kind = rng.choice(sorted(kinds))
            if kinds[kind](platform):
                faults[kind] += 1
                print(f"{time.time() - began:6.0f} s  fault {kind}", flush=True)
        feed.join(timeout=10)
        for thread in slow.threads:
            thread.join(timeout=120)
        written = {**feed.written, **slow.written}
        lines = {**feed.lines, **slow.lines}
        deadline = time.monotonic() + args.catch_up
        while time.monotonic() < deadline and not settled(platform, written, began):
            time.sleep(10)
        minutes = (time.time() - began) / 60
        diffs = compare_raw(platform, lines)
        lags = file_lags(platform, written, began)
        with platform.instance() as instance:
            runs = run_timeline(instance, began)
            retried = sum(1 for r in runs if instance.get_run_by_id(r.run_id).parent_run_id)
        p50, p95, _ = percentiles([x.to_mart for x in lags if x.to_mart is not None])
        print(f"\nminutes run {minutes:.1f} (faults during {args.minutes:g})")
        print(f"files {len(written)}, lines {sum(lines.values())}")
        print("faults " + ", ".join(f"{k} {faults[k]}" for k in sorted(kinds)))
        print(f"runs {len(runs)}, failed {sum(r.status == 'FAILURE' for r in runs)}, ", end="")
        print(f"retried {retried}, still not finished {sum(r.end is None for r in runs)}")
        print(f"differences raw vs truth {len(diffs)}")
        for line in diffs[:20]:
            print(f"  {line}")
        missing = sum(x.mart is None for x in lags)
        print(f"last write -> marts.machine_oee_daily p50 {p50:.0f} s, p95 {p95:.0f} s", end="")
        print(f" ({missing} file(s) not in the marts); load average {load_average()}")
        return 0 if not diffs and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
