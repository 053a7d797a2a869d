"""Benchmark: how long after a machine's last write its file is in ``raw`` and in the marts.

    .venv/bin/python bench/freshness.py                       # 4 minutes, a file every 5 s
    .venv/bin/python bench/freshness.py --minutes 6 --interval 5
    .venv/bin/python bench/freshness.py --env LOGS_MIN_AGE_S=30   # any setting, e.g. the old ones

The production shape runs natively (``bench/live_platform.py``: code server, ``dagster-daemon
run``, PostgreSQL instance storage from ``dagster.yaml``, the sensor and the dbt automation with
their default settings, a local drop), primed once by hand as the README says. The live simulator
then writes a file every ``--interval`` seconds (``make dev``'s pace: 5 s, a third grown in place,
the others uploaded under ``.part``/``.tmp`` and renamed; after every seventh, an earlier file
again under another name) for ``--minutes``; the bench waits for the last file to reach the marts.

For every file, from the moment of its last write (``FileFeed``):
  raw    its load transaction (``raw.ingested_files.ingested_at``)
  marts  the first materialization of ``marts.machine_oee_daily`` by a run whose ``dbt build``
         step began after that transaction (so the build certainly read the file): normally the
         run that loaded it (``machine_logs_to_marts`` builds after its load), else a later one
and where the time went: settle (last write -> the sensor's run request: the sensor interval and
the settle rule, plus the time settled files are held while an ingestion run is queued), run
queue (request -> launched by the queue), process start (launched -> first step), ingest (first
step -> the file's load), to the build (load -> the dbt step: the rest of the load in the same
run, or the wait for another run), dbt build (step -> the mart).
Prints p50/p95/max of each, the runs launched and dbt invocations per hour (the cost), the
machine's load average, and why the dbt automation requested each of its runs
(``automation_why.py``: the true nodes of ``eager()`` and the parents' materializations).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from automation_why import explain
from live_platform import (
    LivePlatform,
    RunTimes,
    live_platform,
    load_average,
    percentiles,
    raw_load_times,
    run_timeline,
)

SEGMENTS = [
    ("settle + held (written -> run requested)", "written", "requested"),
    ("run queue (requested -> launched)", "requested", "starting"),
    ("process start (launched -> step)", "starting", "step"),
    ("ingest (step -> raw commit)", "step", "raw"),
    ("to the build (raw commit -> dbt step)", "raw", "dbt_step"),
    ("dbt build (step -> mart)", "dbt_step", "mart"),
]


@dataclass
class FileLag:
    """One file's timeline, wall-clock seconds (None: not reached)."""

    path: str
    written: float
    requested: float | None = None
    starting: float | None = None
    step: float | None = None
    raw: float | None = None
    dbt_step: float | None = None
    mart: float | None = None
    same_run: bool = False  # built by the run that loaded it

    @property
    def to_raw(self) -> float | None:
        return None if self.raw is None else self.raw - self.written

    @property
    def to_mart(self) -> float | None:
        return None if self.mart is None else self.mart - self.written


def mart_builds(runs: list[RunTimes]) -> list[RunTimes]:
    """Runs that materialized the OEE mart, by the start of their dbt step."""
    return sorted((r for r in runs if r.mart and r.dbt_step), key=lambda r: r.dbt_step)


def file_lags(platform: LivePlatform, written: dict[str, float], since: float) -> list[FileLag]:
    """Every written file's timeline from the warehouse's registry and the instance's runs.

    A re-upload under another name (``FileFeed.duplicate_of``) is timed like any file: ``raw`` is
    its ``duplicate`` registry row (no lines: its content was loaded under the first name), its
    mart the first build after that row, normally by the run that recorded it (the run builds
    after every load); so ``settled`` waits for the copies to be recorded too."""
    loads = raw_load_times(platform.warehouse)
    with platform.instance() as instance:
        runs = run_timeline(instance, since)
    by_id = {r.run_id: r for r in runs}
    builds = mart_builds(runs)
    out = []
    for path, at in sorted(written.items(), key=lambda kv: kv[1]):
        lag = FileLag(path, at)
        load = loads.get(path)
        if load is not None:
            lag.raw = load[0]
            run = by_id.get(load[2] or "")
            if run is not None:
                lag.requested, lag.starting, lag.step = run.created, run.starting, run.step
            build = next((b for b in builds if b.dbt_step > lag.raw), None)
            if build is not None:
                lag.dbt_step, lag.mart = build.dbt_step, build.mart
                lag.same_run = build.run_id == load[2]
        out.append(lag)
    return out


def settled(platform: LivePlatform, written: dict[str, float], since: float) -> bool:
    lags = file_lags(platform, written, since)
    return all(lag.mart is not None for lag in lags)


def wait_for_sensor_tick(platform: LivePlatform, name: str, timeout_s: float) -> None:
    from dagster._core.definitions.run_request import InstigatorType

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with platform.instance() as instance:
            for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
                if state.name == name and instance.get_ticks(
                    state.instigator_origin_id, state.selector_id, limit=1
                ):
                    return
        time.sleep(2)
    raise RuntimeError(
        f"no tick of {name} within {timeout_s:.0f} s:\n{platform.log_tail('daemon')}"
    )


def cost_per_hour(runs: list[RunTimes], begin: float, end: float) -> tuple[float, float]:
    """Runs launched and dbt invocations per hour between ``begin`` and ``end``."""
    inside = [r for r in runs if begin <= r.created <= end and r.starting]
    hours = max(end - begin, 1.0) / 3600
    dbt = [r for r in inside if r.dbt_step]
    return len(inside) / hours, len(dbt) / hours


def fmt(values: list[float]) -> str:
    p50, p95, top = percentiles(values)
    return f"{p50:7.1f} {p95:7.1f} {top:7.1f}"


def report(platform: LivePlatform, lags: list[FileLag], since: float, end: float) -> dict:
    with platform.instance() as instance:
        runs = run_timeline(instance, since)
    to_raw = [x.to_raw for x in lags if x.to_raw is not None]
    to_mart = [x.to_mart for x in lags if x.to_mart is not None]
    runs_h, dbt_h = cost_per_hour(runs, since, end)
    print(f"\nfiles written {len(lags)}, in raw {len(to_raw)}, in the marts {len(to_mart)}")
    print(f"{'seconds from the last write':40s} {'p50':>7s} {'p95':>7s} {'max':>7s}")
    print(f"{'-> rows in raw':40s} {fmt(to_raw)}")
    print(f"{'-> in marts.machine_oee_daily':40s} {fmt(to_mart)}")
    print("where the time goes (per file):")
    for label, a, b in SEGMENTS:
        # A build launched before the file's commit whose step began after it waited 0 s.
        spans = [
            max(0.0, getattr(x, b) - getattr(x, a))
            for x in lags
            if getattr(x, a) is not None and getattr(x, b) is not None
        ]
        print(f"  {label:38s} {fmt(spans)}")
    print("runs by job (count, median seconds launched -> end):")
    by_job: dict[str, list[float]] = {}
    for r in runs:
        if r.starting and r.end:
            by_job.setdefault(f"{r.pipeline}/{r.job}", []).append(r.end - r.starting)
    for job, spans in sorted(by_job.items()):
        print(f"  {job:58s} {len(spans):4d} {percentiles(spans)[0]:7.1f}")
    for r in runs:  # what the other builds were for
        if r.dbt_step and r.pipeline != "machine_logs":
            print(f"  {r.pipeline}/{r.job} built {len(r.assets)}: {', '.join(r.assets[:4])} ...")
    same = sum(x.same_run for x in lags if x.mart is not None)
    print(f"  built by the run that loaded it: {same} of {len(to_mart)} files")
    failed = [r for r in runs if r.status == "FAILURE"]
    print(f"runs launched per hour {runs_h:.0f}, dbt invocations per hour {dbt_h:.0f}")
    print(f"runs failed {len(failed)}; load average {load_average()}")
    with platform.instance() as instance:
        try:
            explain(instance, since, _asset_graph(platform))
        except Exception:  # the figures above stand without it
            traceback.print_exc()
    p95_mart = percentiles(to_mart)[1]
    return {"p95_raw": percentiles(to_raw)[1], "p95_mart": p95_mart, "runs_h": runs_h}


def _asset_graph(platform: LivePlatform):
    """The code location's asset graph, loaded with the platform's settings (its parents)."""
    os.environ.update(platform.env)
    from shutter_assets.definitions import defs

    return (defs() if callable(defs) else defs).resolve_asset_graph()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4, help="minutes of writing (4)")
    parser.add_argument("--interval", type=float, default=5, help="seconds between files (5)")
    parser.add_argument("--drain", type=float, default=300, help="max seconds to catch up (300)")
    parser.add_argument("--env", action="append", default=[], help="NAME=value, repeatable")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    # A file every interval plus the simulator's own pauses (up to interval / 2 per file).
    count = max(1, math.ceil(args.minutes * 60 / (args.interval * 1.25)))
    with live_platform(env, keep=args.keep) as platform:
        print(f"work folder {platform.workdir}; load average {load_average()}", flush=True)
        took = platform.prime()
        print(f"primed (every asset materialized once) in {took:.0f} s", flush=True)
        platform.start_code_server()
        platform.start_daemon()
        wait_for_sensor_tick(platform, "machine_logs_sensor", 300)
        since = time.time()
        feed = platform.start_simulator(args.interval, count)
        print(f"simulator: {count} files, one every {args.interval:g} s", flush=True)
        feed.proc.wait(timeout=args.minutes * 60 * 3 + 120)
        feed.join(timeout=10)
        end = time.time()
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline and not settled(platform, feed.written, since):
            time.sleep(5)
        lags = file_lags(platform, feed.written, since)
        result = report(platform, lags, since, end)
        missing = [x.path for x in lags if x.mart is None]
        if missing:
            print(f"not in the marts after {args.drain:.0f} s of catch-up: {missing[:10]}")
            print(platform.log_tail("daemon"))
        return 0 if not missing and result["p95_mart"] < 90 else 1


if __name__ == "__main__":
    sys.exit(main())
