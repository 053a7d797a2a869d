"""`make dev` (scripts/dev.sh) stops cleanly and its log does not flood.

A service manager stops it with SIGTERM, a developer with Ctrl-C (SIGINT to the terminal's
foreground process group). Either way, with a run in flight: every process it started is gone
within the bound, the run ends CANCELED (or finished), no run stays queued or started, none fails.
The measured stop time and the wall time of each step of scripts/dev_stop.py are reported (printed
and as the test's ``stop_s`` property), not asserted: a timing depends on the machine's load.
The loop runs from a copy of the checkout in a folder named otherwise than the package, so the
code location's name cannot come from the folder (it once warned on every tick).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from shutter_assets.lib.connections import MySQLSettings, PostgresSettings
from tests.fixtures.databases import create_pg_database, drop_pg_database
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
# Liveness bound for the whole stop, generous for a loaded CI machine; dev.sh aims at ~15 s and
# the measured time is printed.
STOP_BOUND_S = 40
RUN_IN_FLIGHT_WITHIN_S = 420
IN_FLIGHT = ("STARTING", "STARTED")  # launched: a run worker exists or is being started
UNFINISHED = ("NOT_STARTED", "QUEUED", "STARTING", "STARTED", "CANCELING")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} - ")
# scripts/dev_stop.py's and dev.sh's timing lines ("make dev: step 1: runs canceled in 2.1 s")
STOP_TIMING = re.compile(r"^make dev: (.*) in (\d+(?:\.\d+)?) s$", re.MULTILINE)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The repository's files, as a clone has them, in a folder not called shutter_assets."""
    dest = tmp_path / "plant-checkout"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture
def dagster_storage() -> Iterator[PostgresSettings]:
    settings = create_pg_database("shutter_test_dagster")
    try:
        yield settings
    finally:
        drop_pg_database(settings)


@pytest.fixture
def dev_env(
    checkout: Path,
    tmp_path: Path,
    pg_settings: PostgresSettings,
    dagster_storage: PostgresSettings,
    mysql_settings: MySQLSettings,
) -> dict[str, str]:
    """.env.example's defaults (as the Makefile loads them), pointed at this test's own servers."""
    dumped = subprocess.run(
        ["bash", "-c", "set -a; . ./.env.example; set +a; env -0"],
        cwd=checkout,
        check=True,
        capture_output=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout
    env = dict(item.split("=", 1) for item in dumped.decode().split("\0") if "=" in item)
    env.update(
        PATH=os.environ["PATH"],
        HOME=str(tmp_path),
        VENV=str(VENV),
        POSTGRES_HOST=pg_settings.host,
        POSTGRES_PORT=str(pg_settings.port),
        POSTGRES_USER=pg_settings.user,
        POSTGRES_PASSWORD=pg_settings.password,
        POSTGRES_DB=pg_settings.dbname,
        DAGSTER_PG_DB=dagster_storage.dbname,
        MYSQL_HOST=mysql_settings.host,
        MYSQL_PORT=str(mysql_settings.port),
        MYSQL_USER=mysql_settings.user,
        MYSQL_PASSWORD=mysql_settings.password,
        MYSQL_DATABASE=mysql_settings.database,
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        FTP_REMOTE_DIR=str(tmp_path / "drop"),
        DAGSTER_DATA_DIR=str(tmp_path / "artifacts"),
        DAGSTER_COMPUTE_LOGS_DIR=str(tmp_path / "compute_logs"),
        DAGSTER_DEV_PORT=str(free_port()),
        # Files count as settled at once, so the sensor launches a run soon after start-up.
        LOGS_MIN_AGE_S="0",
        # Every process of this loop inherits it: how the test finds them, whatever their parent.
        SHUTTER_DEV_LOOP_TEST=uuid.uuid4().hex,
    )
    # The manifest names the warehouse metadata is read from: parse with this test's environment.
    subprocess.run(
        [
            str(VENV / "bin" / "dbt"),
            "parse",
            "--quiet",
            "--profiles-dir",
            ".",
            "--project-dir",
            ".",
        ],
        cwd=checkout / "dbt_project",
        env=env,
        check=True,
        timeout=300,
    )
    return env


def loop_pids(token: str) -> list[int]:
    """Processes (zombies excluded) carrying this loop's environment marker."""
    marker = f"SHUTTER_DEV_LOOP_TEST={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


def run_statuses(storage: PostgresSettings) -> dict[str, str]:
    with storage.connect() as conn:
        try:
            return dict(conn.execute("select run_id, status from runs").fetchall())
        except psycopg.errors.UndefinedTable:
            return {}


def repeated_warnings(log: str) -> Counter[str]:
    """Warning lines of the dev log by message, timestamps and colours removed."""
    counts: Counter[str] = Counter()
    for line in ANSI.sub("", log).splitlines():
        if "WARNING" in line:
            counts[TIMESTAMP.sub("", line)] += 1
    return counts


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_dev_loop_stops_cleanly_with_a_run_in_flight(
    how: str,
    checkout: Path,
    dev_env: dict[str, str],
    dagster_storage,
    tmp_path: Path,
    record_property,
) -> None:
    token = dev_env["SHUTTER_DEV_LOOP_TEST"]
    log_path = tmp_path / "dev.log"
    if how == "sigterm":
        # As `make dev &` from a script or a service manager: SIGINT ignored from the start.
        command = ["env", "--ignore-signal=INT", "bash", "scripts/dev.sh"]
    else:
        # As a terminal's shell starts a foreground job: SIGINT at its default, whatever the
        # test runner inherited.
        command = ["env", "--default-signal=INT", "bash", "scripts/dev.sh"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=checkout,
            env=dev_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the terminal's foreground process group, for Ctrl-C
        )
    try:
        deadline = time.monotonic() + RUN_IN_FLIGHT_WITHIN_S
        in_flight: list[str] = []
        while not in_flight:
            assert proc.poll() is None, log_path.read_text()[-4000:]
            assert time.monotonic() < deadline, (
                f"no run launched within {RUN_IN_FLIGHT_WITHIN_S} s: "
                f"{run_statuses(dagster_storage)}\n{log_path.read_text()[-4000:]}"
            )
            time.sleep(0.5)
            in_flight = [r for r, s in run_statuses(dagster_storage).items() if s in IN_FLIGHT]

        started = time.monotonic()
        if how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"still running {STOP_BOUND_S} s after {how}:\n{log_path.read_text()[-6000:]}"
            )
        while loop_pids(token) and time.monotonic() - started < STOP_BOUND_S:
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        steps = STOP_TIMING.findall(ANSI.sub("", log_path.read_text(errors="replace")))
        record_property("stop_s", round(elapsed, 1))
        load = os.getloadavg()[0]
        print(f"\nmake dev stopped by {how} in {elapsed:.1f} s (load {load:.1f}):")
        for what, seconds in steps:
            print(f"  {what}: {seconds} s")

        assert loop_pids(token) == [], "processes left behind by the dev loop"
        assert proc.returncode == (143 if how == "sigterm" else 130)
        statuses = run_statuses(dagster_storage)
        assert {s for s in statuses.values() if s in UNFINISHED} == set(), statuses
        assert "FAILURE" not in statuses.values(), statuses
        assert {statuses[r] for r in in_flight} <= {"CANCELED", "SUCCESS"}, statuses

        log = log_path.read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]
        # the stop went through scripts/dev_stop.py's steps (those it reached) and dev.sh's end
        names = [what for what, _ in steps]
        numbered = [n.split(":")[0] for n in names if n.startswith("step")]
        assert numbered == ["step 1", "step 2", "step 3"][: len(numbered)], names
        assert names and names[-1] == "stopped", names
        flood = {m: n for m, n in repeated_warnings(log).items() if n > 2}
        assert flood == {}, flood
        assert "code location name" not in log
    finally:
        for pid in loop_pids(token):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
