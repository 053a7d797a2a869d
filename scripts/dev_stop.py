"""Stop the Dagster side of `make dev` without leaving a run behind (started by scripts/dev.sh).

It starts with the dev loop and waits (Dagster already imported, so stopping costs no start-up
time); on SIGINT or SIGTERM it stops `dagster dev` in an order that matters, and is why this is
not just a signal to `dagster dev`:

1. Every run not finished yet is canceled through Dagster itself while the code server still
   answers: queued runs are taken off the queue, runs in flight are terminated by the run launcher
   (what the UI's "Terminate" does; all requests sent at once), so they end CANCELED instead of
   failing with a KeyboardInterrupt traceback, and none stays QUEUED to start at the next
   `make dev`.
2. The daemon is killed (a tick it finished against exiting code servers logged a traceback),
   then every other service process of `dagster dev` (its own, webserver, code servers: one
   process group, dev.sh starts it with setsid) gets SIGINT at once, as a terminal's Ctrl-C
   gives them, so they shut down side by side; `dagster dev`'s own shutdown stops them one after
   the other, each waited for up to 60 s, which took most of a 20 s stop under load. Whatever is
   left after the short bound is killed: nothing there holds state a kill would lose (the runs
   are over or recorded in step 3, a sensor tick cut short is resumed at the next start).
3. A run the daemon queued or launched in the moment before it stopped is canceled the same way;
   one whose code server is already gone is recorded CANCELED.

Each phase is bounded (seconds given on the command line) and its wall time printed, so the
whole stop stays within the ~15 s a service manager allows (tests/test_dev_loop.py reports it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg

from shutter_assets.defs.monitoring.observations import OPERATOR_CANCEL_PREFIX

# A person stopped make dev: the monitoring sensors take these cancellations as a person's.
STOPPING = f"{OPERATOR_CANCEL_PREFIX}: make dev is stopping"

UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
# Recorded CANCELED at once: no worker runs them yet. A STARTING run asked to terminate became
# CANCELING; its worker, starting a moment later, ignored it and exited, and the code server
# then marked the run FAILURE (seen in tests/test_dev_loop.py on fresh clones).
NOT_LAUNCHED = {
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
}
POLL_S = 0.2
DAEMON_MARK = b"dagster._daemon"  # `dagster dev` runs its daemon as `python -m dagster._daemon`


def say(message: str) -> None:
    print(f"make dev: {message}", file=sys.stderr, flush=True)


def unfinished_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)))


def cancel_unfinished(instance: dg.DagsterInstance, timeout_s: float) -> list[dg.DagsterRun]:
    """Cancel every unfinished run until none is left or ``timeout_s`` passed.

    Returns the runs still unfinished at the deadline. A termination request is sent once per
    run; queued runs are re-checked every poll, since the daemon may queue new ones meanwhile.
    """
    deadline = time.monotonic() + timeout_s
    requested: set[str] = set()

    def terminate(run: dg.DagsterRun) -> None:
        say(f"terminating run {run.run_id} ({run.job_name}, {run.status.value})")
        try:
            instance.run_coordinator.cancel_run(run.run_id)
        except Exception as exc:  # the code server may already be gone
            say(f"run {run.run_id}: termination request failed: {exc}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        while True:
            runs = unfinished_runs(instance)
            if not runs or time.monotonic() >= deadline:
                return runs
            for run in runs:
                if run.status in NOT_LAUNCHED:
                    instance.report_run_canceled(run, message=f"{STOPPING}.")
                    say(f"canceled queued run {run.run_id} ({run.job_name})")
                elif run.run_id not in requested:
                    requested.add(run.run_id)
                    pool.submit(terminate, run)  # one gRPC round trip each, side by side
            time.sleep(POLL_S)


def group_processes(pgid: int) -> dict[int, tuple[int, bytes]]:
    """Live (not zombie) processes of process group ``pgid``: pid -> (parent pid, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid or fields[0] == "Z":
                continue
            found[int(entry.name)] = (int(fields[1]), (entry / "cmdline").read_bytes())
        except (OSError, IndexError, ValueError):
            continue
    return found


def run_processes(processes: dict[int, tuple[int, bytes]]) -> set[int]:
    """The runs' processes among ``processes``: each run worker (the code server starts a run in
    a ``multiprocessing`` spawn child) and what it started (dbt)."""
    workers = {pid for pid, (_, cmd) in processes.items() if b"spawn_main" in cmd}
    changed = True
    while changed:
        children = {pid for pid, (ppid, _) in processes.items() if ppid in workers}
        changed = not children <= workers
        workers |= children
    return workers


def wait_for_run_workers(pgid: int, timeout_s: float) -> None:
    """Until the run workers of canceled runs have exited: one still tearing down would be
    killed in step 2."""
    deadline = time.monotonic() + timeout_s
    while run_processes(group_processes(pgid)) and time.monotonic() < deadline:
        time.sleep(POLL_S)


def stop_dagster_dev(pgid: int, timeout_s: float) -> list[int]:
    """SIGINT at once to every service process of `dagster dev`'s group (itself, webserver,
    daemon, code servers; not a run's process: a dbt still starting would print the interrupt's
    traceback), SIGKILL to the whole group after ``timeout_s``: a run not over by then is
    recorded CANCELED in step 3. Returns the pids that had to be killed.

    The daemon goes first and by SIGKILL: it only starts work, which is being canceled, and a
    daemon still finishing a sensor tick while the code servers exit logs a traceback
    (DagsterCodeLocationNotFoundError); its sensors resume from their cursors at the next start."""
    processes = group_processes(pgid)
    daemons = {pid for pid, (_, cmd) in processes.items() if DAEMON_MARK in cmd}
    for pid in daemons:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in set(processes) - run_processes(processes) - daemons:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    while (left := group_processes(pgid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        names = sorted(
            {
                b" ".join(cmd.split(b"\0")[1:3])[:40].decode(errors="replace")
                for _, cmd in left.values()
            }
        )
        say(f"killing {len(left)} process(es) of dagster dev left after {timeout_s} s: {names}")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    return list(left)


def wait_for_stop_signal() -> None:
    received = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: received.set())
    while not received.wait(3600):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dagster_pid", type=int, help="pid of `dagster dev`, its process group's leader (step 2)"
    )
    parser.add_argument("--cancel-timeout", type=float, default=5.0, help="seconds for step 1")
    parser.add_argument("--stop-timeout", type=float, default=3.0, help="seconds for step 2")
    parser.add_argument("--sweep-timeout", type=float, default=1.0, help="seconds for step 3")
    args = parser.parse_args(argv)

    with dg.DagsterInstance.get() as instance:
        wait_for_stop_signal()
        began = phase = time.monotonic()

        def done(what: str) -> None:
            nonlocal phase
            now = time.monotonic()
            say(f"{what} in {now - phase:.1f} s")
            phase = now

        say("canceling the runs not finished yet ...")
        if not cancel_unfinished(instance, args.cancel_timeout):  # else: killed in step 2
            wait_for_run_workers(
                args.dagster_pid, max(args.cancel_timeout - (time.monotonic() - began), 1)
            )
        done("step 1: runs canceled")
        stop_dagster_dev(args.dagster_pid, args.stop_timeout)
        done("step 2: dagster dev (webserver, daemon, code servers) stopped")
        for run in cancel_unfinished(instance, args.sweep_timeout):
            instance.report_run_canceled(
                run, message=f"{STOPPING}: its code server did not confirm in time."
            )
            say(f"recorded run {run.run_id} as canceled; its processes stop with make dev")
        done("step 3: last runs swept")
        say(f"Dagster side stopped in {time.monotonic() - began:.1f} s")
        # Nothing left to clean up: the instance's disposal and the interpreter's teardown took
        # seconds of the stop under load.
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
