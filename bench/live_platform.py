"""The production shape, started natively for the benches that watch the platform live.

``bench/freshness.py`` (latency from a file's last write to the marts) and ``bench/soak.py``
(faults while the plant runs) share it. What runs is what the compose stack runs
(docker-compose.yaml's ``dagster-code`` and ``dagster-daemon`` commands, host/port/paths
rewritten as ``tests/test_stack_native.py`` does): the gRPC code server, ``dagster-daemon run``
(sensors, declarative automation, run queue, run monitoring and retries), the instance on
PostgreSQL storage from the repo's ``dagster.yaml`` with its own ``DAGSTER_HOME`` and its own
uniquely named databases (Dagster's, the warehouse, the legacy MariaDB), the local drop. Every
setting is the default of ``.env.example`` unless the caller passes ``env``. Everything it
started is stopped and every database and role it created is dropped on exit.

Timing is read from the data, never assumed: ``raw.ingested_files.ingested_at`` (the file's
load transaction), the instance's runs and their events (``run_timeline``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import quantiles
from unittest.mock import patch

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from shutter_assets.lib.connections import MySQLSettings, PostgresSettings  # noqa: E402
from tests.fixtures.compose import compose_services, rewrite  # noqa: E402
from tests.fixtures.databases import (  # noqa: E402
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
    drop_role,
)
from tests.fixtures.servers import free_port  # noqa: E402

BIN = Path(sys.executable).parent
MART_KEY = dg.AssetKey(["marts", "machine_oee_daily"])
DBT_STEP = "shutter_dbt"
INGEST_STEP = "ingest_machine_logs"


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max of ``values`` (seconds); NaN when empty."""
    if not values:
        return (float("nan"),) * 3
    if len(values) == 1:
        return values[0], values[0], values[0]
    cuts = quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], max(values)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class LivePlatform:
    workdir: Path
    env: dict[str, str]
    warehouse: PostgresSettings
    dagster_db: PostgresSettings
    legacy: MySQLSettings
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    # The drop's folder on this machine when the platform reads it through a server (vsftpd).
    local_drop: Path | None = None

    @property
    def drop(self) -> Path:
        """The folder the simulator writes into (``FTP_REMOTE_DIR`` with the local drop)."""
        return self.local_drop or Path(self.env["FTP_REMOTE_DIR"])

    @property
    def home(self) -> Path:
        return Path(self.env["DAGSTER_HOME"])

    def start(self, name: str, cmd: list[str], **popen) -> subprocess.Popen:
        """A long-running process in its own session, output in ``<workdir>/<name>.log``."""
        popen.setdefault("stdout", open(self.workdir / f"{name}.log", "ab"))  # noqa: SIM115
        popen.setdefault("stderr", subprocess.STDOUT)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, start_new_session=True, **popen)
        self.procs[name] = proc
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout_s: float = 30) -> None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def run(self, cmd: list[str], timeout_s: float, **env: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            cmd,
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd[:4])} failed:\n{(done.stdout + done.stderr)[-4000:]}"
            )
        return done

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    @contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        with patch.dict(os.environ, self.env):
            inst = dg.DagsterInstance.from_config(str(self.home))
            try:
                yield inst
            finally:
                inst.dispose()

    # --- the platform's processes ---------------------------------------------------------------

    def prime(self, timeout_s: float = 1500) -> float:
        """Orders in MariaDB, then every asset materialized once by hand (README: first start),
        on an empty drop, before any daemon runs. Returns the seconds it took."""
        began = time.monotonic()
        python = str(BIN / "python")
        self.run([python, "-m", "shutter_assets.simulator", "orders", "--orders", "60"], 300)
        materialize = [str(BIN / "dagster"), "asset", "materialize", "-m"]
        self.run([*materialize, "shutter_assets.definitions", "--select", "*"], timeout_s)
        return time.monotonic() - began

    def start_code_server(self, timeout_s: float = 300) -> None:
        services = compose_services()
        port = str(free_port())
        code = services["dagster-code"]
        self.start("code-server", rewrite(code["command"], {"-h": "127.0.0.1", "-p": port}))
        health = rewrite(code["healthcheck"]["test"][1:], {"-h": "127.0.0.1", "-p": port})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if subprocess.run(health, cwd=ROOT, env=self.env, capture_output=True).returncode == 0:
                break
            time.sleep(1)
        else:
            raise RuntimeError(f"code server not healthy:\n{self.log_tail('code-server')}")
        workspace = yaml.safe_load((ROOT / "docker/dagster/workspace.yaml").read_text())
        workspace["load_from"][0]["grpc_server"].update(host="127.0.0.1", port=int(port))
        (self.workdir / "workspace.yaml").write_text(yaml.safe_dump(workspace))

    def start_daemon(self) -> None:
        daemon = compose_services()["dagster-daemon"]
        workspace = str(self.workdir / "workspace.yaml")
        self.start("daemon", rewrite(daemon["command"], {"-w": workspace}))

    def start_simulator(self, interval_s: float, count: int, *extra: str) -> FileFeed:
        """The live simulator writing ``count`` files, one every ``interval_s`` seconds."""
        cmd = [str(BIN / "python"), "-u", "-m", "shutter_assets.simulator", "live"]
        cmd += ["--out", str(self.drop), "--interval", str(interval_s), "--count", str(count)]
        proc = self.start("simulator", [*cmd, *extra], stdout=subprocess.PIPE)
        feed = FileFeed(proc)
        feed.start()
        return feed


class FileFeed(threading.Thread):
    """Reads the live simulator's output: ``live: <name> (<n> lines, <how>)`` is printed right
    after the file's last write (the append that finishes a file grown in place, the rename of an
    upload), so the moment a line is read is the file's completion time (wall clock, seconds).

    A re-upload (``live: <copy> (<n> lines, a re-upload of <original>, ...)``: the same bytes
    under another name) is in ``duplicate_of`` (copy -> original) with 0 in ``lines``: the
    platform records the copy as a duplicate and loads the lines once, under the original."""

    LINE = re.compile(r"live: (?P<name>.+?) \((?P<lines>\d+) lines, (?P<how>.*)\)")
    REUPLOAD = re.compile(r"a re-upload of (?P<original>.+?), written as ")

    def __init__(self, proc: subprocess.Popen) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.written: dict[str, float] = {}
        self.how: dict[str, str] = {}
        self.lines: dict[str, int] = {}  # the simulator's truth: lines loaded under each name
        self.duplicate_of: dict[str, str] = {}  # re-uploads: copy -> the file it copies

    def run(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.parse(raw.decode(errors="replace").strip())

    def parse(self, line: str) -> None:
        """Record one line of the simulator's output (other lines are ignored)."""
        m = self.LINE.fullmatch(line)
        if m is None:
            return
        name, how = m["name"], m["how"]
        self.written[name] = time.time()
        self.how[name] = "grown" if "grown in place" in how else "renamed"
        copy = self.REUPLOAD.match(how)
        if copy is None:
            self.lines[name] = int(m["lines"])
        else:
            self.duplicate_of[name] = copy["original"]
            self.lines[name] = 0


@contextmanager
def live_platform(env: dict[str, str] | None = None, keep: bool = False) -> Iterator[LivePlatform]:
    """Unique databases, DAGSTER_HOME and drop; the defaults of the code unless ``env`` says
    otherwise. Processes are started by the caller (``prime``, ``start_code_server``...)."""
    workdir = Path(tempfile.mkdtemp(prefix="shutter_live_"))
    home = workdir / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    (workdir / "drop").mkdir()
    dagster_db = create_pg_database("shutter_bench_dagster")
    warehouse = create_pg_database("shutter_bench_dw")
    legacy = create_mysql_database("shutter_bench_erp")
    suffix = warehouse.dbname[-10:]
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LOGS_", "DBT_", "DAGSTER_", "AUTOMATION_"))
    }
    platform = LivePlatform(
        workdir=workdir,
        warehouse=warehouse,
        dagster_db=dagster_db,
        legacy=legacy,
        env={
            **base,
            "DAGSTER_HOME": str(home),
            "DAGSTER_DATA_DIR": str(workdir / "artifacts"),
            "DAGSTER_COMPUTE_LOGS_DIR": str(workdir / "compute_logs"),
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "POSTGRES_HOST": dagster_db.host,
            "POSTGRES_PORT": str(dagster_db.port),
            "POSTGRES_USER": dagster_db.user,
            "POSTGRES_PASSWORD": dagster_db.password,
            "POSTGRES_DB": warehouse.dbname,
            "DAGSTER_PG_DB": dagster_db.dbname,
            "MYSQL_HOST": legacy.host,
            "MYSQL_PORT": str(legacy.port),
            "MYSQL_USER": legacy.user,
            "MYSQL_PASSWORD": legacy.password,
            "MYSQL_DATABASE": legacy.database,
            "FTP_PROTOCOL": "local",
            "FTP_REMOTE_DIR": str(workdir / "drop"),
            "PLANT_TIMEZONE": "Europe/Paris",
            "DBT_TARGET_PATH": str(workdir / "dbt_target"),
            # docker/dagster/entrypoint.sh sources it; natively, the repo's copy.
            "SHUTTER_SECRET_ENV": str(ROOT / "docker/secret-env.sh"),
            # Roles are server-wide: this platform's own, dropped at the end.
            "BI_READONLY_ROLE": f"bi_bench_{suffix}",
            "API_DB_USER": f"api_bench_{suffix}",
            **(env or {}),
        },
    )
    try:
        yield platform
    finally:
        for name in reversed(list(platform.procs)):
            platform.stop(name)
        for role in (platform.env["BI_READONLY_ROLE"], platform.env["API_DB_USER"]):
            drop_role(warehouse, role)
        drop_pg_database(dagster_db)
        drop_pg_database(warehouse)
        drop_mysql_database(legacy)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


# --- what the instance and the warehouse recorded ---------------------------------------------


@dataclass
class RunTimes:
    """One run's timeline (wall-clock seconds): created (requested by a sensor), starting (taken
    from the queue and launched), started (its worker process is up), step (its first step
    began), dbt_step (its ``dbt build`` step began), end; ``mart`` when it materialized
    ``marts.machine_oee_daily``."""

    run_id: str
    pipeline: str
    job: str
    created: float
    starting: float | None = None
    started: float | None = None
    step: float | None = None
    dbt_step: float | None = None
    end: float | None = None
    mart: float | None = None
    status: str = ""
    paths: list[str] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)  # materialized, in order


def run_timeline(instance: dg.DagsterInstance, since: float) -> list[RunTimes]:
    """Every run created after ``since`` with the events that time it, oldest first."""
    E = dg.DagsterEventType
    wanted = {E.RUN_STARTING, E.RUN_START, E.STEP_START, E.ASSET_MATERIALIZATION}
    out = []
    for record in instance.get_run_records(
        filters=dg.RunsFilter(created_after=datetime.fromtimestamp(since).astimezone())
    ):
        run = record.dagster_run
        times = RunTimes(
            run_id=run.run_id,
            pipeline=run.tags.get("shutter/pipeline", run.job_name),
            job=run.job_name,
            created=record.create_timestamp.timestamp(),
            end=record.end_time,
            status=run.status.value,
        )
        config = (run.run_config or {}).get("ops", {}).get(INGEST_STEP, {}).get("config", {})
        times.paths = list(config.get("paths", []))
        for entry in instance.all_logs(run.run_id, of_type=wanted):
            ev = entry.dagster_event
            if ev is None:
                continue
            if ev.event_type == E.RUN_STARTING and times.starting is None:
                times.starting = entry.timestamp
            elif ev.event_type == E.RUN_START and times.started is None:
                times.started = entry.timestamp
            elif ev.event_type == E.STEP_START:
                times.step = times.step or entry.timestamp
                if ev.step_key == DBT_STEP:
                    times.dbt_step = entry.timestamp
            elif ev.event_type == E.ASSET_MATERIALIZATION:
                times.assets.append(ev.asset_key.to_user_string())
                if ev.asset_key == MART_KEY and times.mart is None:
                    times.mart = entry.timestamp
        out.append(times)
    return sorted(out, key=lambda r: r.created)


def raw_load_times(warehouse: PostgresSettings) -> dict[str, tuple[float, str, str | None]]:
    """Path -> (load transaction time, status, run id) of each file's first registry row."""
    with warehouse.connect() as conn:
        rows = conn.execute(
            "select path, extract(epoch from ingested_at)::float8, status, run_id "
            "from raw.ingested_files order by ingested_at"
        ).fetchall()
    out: dict[str, tuple[float, str, str | None]] = {}
    for path, at, status, run_id in rows:
        out.setdefault(path, (at, status, run_id))
    return out
