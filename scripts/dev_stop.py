"""Stop the Dagster side of `make dev` without leaving a run behind (started by scripts/dev.sh).

It starts with the dev loop and waits (Dagster already imported, so stopping costs no start-up
time); on SIGINT or SIGTERM it stops `dagster dev` in an order that matters, and is why this is
not just a signal to `dagster dev`:

1. Every run not finished yet is canceled through Dagster itself while the code server still
   answers: queued runs are taken off the queue, runs in flight are terminated by the run launcher
   (what the UI's "Terminate" does), so they end CANCELED instead of failing with a
   KeyboardInterrupt traceback, and none stays QUEUED to start at the next `make dev`.
2. `dagster dev` gets SIGINT (its own shutdown: webserver, daemon, code servers).
3. A run the daemon queued or launched in the moment before it stopped is canceled the same way;
   one whose code server is already gone is recorded CANCELED, since dev.sh kills what is left
   of its process group right after.

Each phase is bounded (seconds given on the command line), so the whole stop stays within the
~15 s a service manager allows.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

import dagster as dg

UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
NOT_LAUNCHED = {dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.QUEUED}
POLL_S = 0.5


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
    while True:
        runs = unfinished_runs(instance)
        if not runs or time.monotonic() >= deadline:
            return runs
        for run in runs:
            if run.status in NOT_LAUNCHED:
                instance.report_run_canceled(run, message="Canceled: make dev is stopping.")
                say(f"canceled queued run {run.run_id} ({run.job_name})")
            elif run.run_id not in requested:
                requested.add(run.run_id)
                say(f"terminating run {run.run_id} ({run.job_name}, {run.status.value})")
                try:
                    instance.run_coordinator.cancel_run(run.run_id)
                except Exception as exc:  # the code server may already be gone
                    say(f"run {run.run_id}: termination request failed: {exc}")
        time.sleep(POLL_S)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def stop_dagster_dev(pid: int, timeout_s: float) -> None:
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)


def wait_for_stop_signal() -> None:
    received = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: received.set())
    while not received.wait(3600):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dagster_pid", type=int, help="pid of `dagster dev` (SIGINT in step 2)")
    parser.add_argument("--cancel-timeout", type=float, default=6.0, help="seconds for step 1")
    parser.add_argument("--stop-timeout", type=float, default=5.0, help="seconds for step 2")
    args = parser.parse_args(argv)

    with dg.DagsterInstance.get() as instance:
        wait_for_stop_signal()
        say("canceling the runs not finished yet ...")
        cancel_unfinished(instance, args.cancel_timeout)
        stop_dagster_dev(args.dagster_pid, args.stop_timeout)
        for run in cancel_unfinished(instance, 2.0):
            instance.report_run_canceled(
                run, message="Canceled: make dev stopped before its code server confirmed."
            )
            say(f"recorded run {run.run_id} as canceled; its processes stop with make dev")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
