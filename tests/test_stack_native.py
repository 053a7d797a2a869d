"""The compose stack's Dagster commands, run natively against a PostgreSQL-backed instance.

The code server, webserver and daemon commands are read from docker-compose.yaml and started here
with only host, port and file paths rewritten, through the image's entrypoint
(docker/dagster/entrypoint.sh, which reads the storage password from POSTGRES_PASSWORD_FILE as
from a compose secret), so what the containers run is what this module proves: the webserver
serves the asset graph of the gRPC code location (checked through GraphQL against the
Definitions loaded in-process), the daemon records a sensor tick in the PostgreSQL instance, the
compose health probes pass, and headless Chromium renders the platform once it is materialized
(a small simulated plant, every asset materialized by hand as an operator would). The
screenshots are kept in docs/screenshots/ and shown in the README: a mart's upstream lineage
down to the raw tables (asset_graph.png), the OEE mart's page with its metadata
(oee_asset.png) and the sensor's tick history as the daemon recorded it (sensor_ticks.png).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from unittest.mock import patch

import dagster as dg
import psycopg
import pytest
import yaml
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import TickStatus

from shutter_assets.lib.drop import DropSettings
from shutter_assets.lib.plant import PlantSettings
from tests.fixtures.compose import BIN, compose_services, rewrite
from tests.fixtures.databases import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
    drop_role,
)
from tests.fixtures.processes import stop_process_group
from tests.fixtures.servers import free_port
from tests.fixtures.settings import settings_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
SCREENSHOT = SCREENSHOTS / "asset_graph.png"
PREFERRED_SENSOR = "machine_logs_sensor"
REPOSITORY = "__repository__"
MATERIALIZING_TEST_TIMEOUT_S = 2400
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def wait_until(what: str, probe: Callable[[], Any], timeout_s: float, logs: Callable[[], str]):
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except Exception as exc:  # a server that is still starting refuses connections
            last_error = exc
        time.sleep(1)
    pytest.fail(f"{what} not reached within {timeout_s:.0f}s ({last_error!r})\n{logs()}")


@dataclass
class Stack:
    env: dict[str, str]
    home: Path
    workdir: Path
    services: dict[str, Any]
    grpc_port: int = 0
    web_port: int = 0
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def container_env(self) -> dict[str, str]:
        """The environment of the stack's containers: the storage password as a secret file."""
        secret = self.workdir / "secrets" / "postgres_pipeline_password"
        if not secret.exists():
            secret.parent.mkdir(mode=0o700, exist_ok=True)
            secret.write_text(self.env["POSTGRES_PASSWORD"] + "\n")
        env = {k: v for k, v in self.env.items() if k != "POSTGRES_PASSWORD"}
        return {
            **env,
            "POSTGRES_PASSWORD_FILE": str(secret),
            "SHUTTER_SECRET_ENV": str(ROOT / "docker/secret-env.sh"),
        }

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.container_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def logs(self) -> str:
        parts = []
        for name in self.procs:
            text = (self.workdir / f"{name}.log").read_text(errors="replace")
            parts.append(f"--- {name} (last lines) ---\n" + "\n".join(text.splitlines()[-25:]))
        return "\n".join(parts)

    def stop(self, name: str) -> None:
        proc = self.procs.get(name)
        if proc is not None:
            stop_process_group(proc, grace_s=30)

    def run(self, cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            cmd, cwd=ROOT, env=self.container_env, capture_output=True, text=True, timeout=timeout
        )

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(  # noqa: S310 - the local webserver
            f"{self.web_url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - local
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"GraphQL HTTP {exc.code}: {exc.read()[:2000]!r}") from exc
        assert "errors" not in payload, payload["errors"]
        return payload["data"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """Code server + webserver as the compose file starts them, on a unique PostgreSQL instance.

    Module-scoped: starting the code location costs tens of seconds on the shared 2-core machine.
    """
    workdir = tmp_path_factory.mktemp("stack")
    home = workdir / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    drop = workdir / "drop"
    drop.mkdir()
    dagster_db = create_pg_database("shutter_test_dagster")
    warehouse = create_pg_database("shutter_test_dw")
    legacy = create_mysql_database("shutter_test_erp")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_DATA_DIR": str(workdir / "artifacts"),
        "DAGSTER_COMPUTE_LOGS_DIR": str(workdir / "compute_logs"),
        **settings_env(
            replace(dagster_db, dbname=warehouse.dbname),
            legacy,
            DropSettings(protocol="local", remote_dir=str(drop)),
            PlantSettings(),
        ),
        "DAGSTER_PG_DB": dagster_db.dbname,
        "DAGSTER_DISABLE_TELEMETRY": "1",
        # A manifest parsed for this module's warehouse, outside the checkout's target/.
        "DBT_TARGET_PATH": str(workdir / "dbt_target"),
        # Roles are server-wide: this module's own BI role, dropped at the end.
        "BI_READONLY_ROLE": f"bi_stack_{warehouse.dbname[-10:]}",
    }
    st = Stack(env=env, home=home, workdir=workdir, services=compose_services())
    try:
        st.grpc_port, st.web_port = free_port(), free_port()
        code = st.services["dagster-code"]
        st.start(
            "code-server",
            rewrite(code["command"], {"-h": "127.0.0.1", "-p": str(st.grpc_port)}),
        )
        health = rewrite(
            code["healthcheck"]["test"][1:], {"-h": "127.0.0.1", "-p": str(st.grpc_port)}
        )
        wait_until(
            "code server healthy (compose healthcheck)",
            lambda: st.run(health, timeout=30).returncode == 0,
            300,
            st.logs,
        )

        workspace = yaml.safe_load((ROOT / "docker/dagster/workspace.yaml").read_text())
        grpc = workspace["load_from"][0]["grpc_server"]
        grpc.update(host="127.0.0.1", port=st.grpc_port)
        (workdir / "workspace.yaml").write_text(yaml.safe_dump(workspace))
        web = st.services["dagster-webserver"]
        st.start(
            "webserver",
            rewrite(
                web["command"],
                {"-h": "127.0.0.1", "-p": str(st.web_port), "-w": str(workdir / "workspace.yaml")},
            ),
        )
        probe = [str(a) for a in web["healthcheck"]["test"][1:]]
        probe = [a.replace(":3000/", f":{st.web_port}/") for a in probe]
        assert any(str(st.web_port) in a for a in probe), probe
        wait_until(
            "webserver healthy (compose healthcheck)",
            lambda: st.run(probe, timeout=30).returncode == 0,
            180,
            st.logs,
        )
        yield st
    finally:
        for name in reversed(list(st.procs)):
            st.stop(name)
        drop_role(warehouse, env["BI_READONLY_ROLE"])
        drop_pg_database(dagster_db)
        drop_pg_database(warehouse)
        drop_mysql_database(legacy)


@pytest.fixture(scope="module")
def materialized(stack: Stack) -> str:
    """A small simulated plant (orders in MariaDB, one day of log files of three machines),
    every asset materialized.

    As an operator would, by hand (README): `dagster asset materialize --select '*'` on the
    stack's instance, before any daemon runs, so no sensor-launched run competes with it.
    Returns the CLI's output.
    """
    env = {**stack.env, "LOGS_MIN_AGE_S": "0"}
    python = str(BIN / "python")
    simulate = [python, "-m", "shutter_assets.simulator", "all", "--out", env["FTP_REMOTE_DIR"]]
    small = ["--days", "1", "--machines", "CU-01,SC-01,AS-01", "--orders", "30"]
    done = subprocess.run(
        [*simulate, *small], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    materialize = [str(BIN / "dagster"), "asset", "materialize", "-m", "shutter_assets.definitions"]
    done = subprocess.run(
        [*materialize, "--select", "*"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=MATERIALIZING_TEST_TIMEOUT_S - 300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "RUN_SUCCESS" in output, output[-6000:]
    return output


@pytest.fixture(scope="module")
def in_process_defs(stack: Stack) -> dg.Definitions:
    """The Definitions as Python sees them, with the stack's environment (resources read it)."""
    with patch.dict(os.environ, stack.env):
        from shutter_assets.definitions import defs

        return defs() if callable(defs) else defs


def location_status(stack: Stack) -> dict[str, Any]:
    data = stack.graphql(
        """
        { workspaceOrError { __typename ... on Workspace { locationEntries {
            name loadStatus
            locationOrLoadError { __typename ... on PythonError { message } }
        } } } }
        """
    )
    entries = data["workspaceOrError"]["locationEntries"]
    assert [e["name"] for e in entries] == ["shutter_assets"], entries
    return entries[0]


def test_webserver_serves_the_asset_graph_of_the_grpc_code_location(stack, in_process_defs):
    entry = wait_until(
        "code location loaded in the webserver",
        lambda: (e := location_status(stack))["loadStatus"] == "LOADED" and e,
        120,
        stack.logs,
    )
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
    data = stack.graphql("{ assetNodes { assetKey { path } } }")
    served = {tuple(n["assetKey"]["path"]) for n in data["assetNodes"]}
    expected = {tuple(k.path) for k in in_process_defs.resolve_all_asset_keys()}
    assert expected, "the Definitions hold no asset at all"
    missing = expected - served
    assert not missing, f"assets of the Definitions not served by the webserver: {missing}"
    assert served == expected


def sensor_states(stack: Stack) -> dict[str, str]:
    data = stack.graphql(
        """
        query ($sel: RepositorySelector!) { sensorsOrError(repositorySelector: $sel) {
            __typename ... on Sensors { results { name sensorState { status } } }
            ... on PythonError { message } } }
        """,
        {"sel": {"repositoryLocationName": "shutter_assets", "repositoryName": REPOSITORY}},
    )
    result = data["sensorsOrError"]
    assert result["__typename"] == "Sensors", result
    return {s["name"]: s["sensorState"]["status"] for s in result["results"]}


@dataclass(frozen=True)
class TickedSensor:
    name: str
    tick: Any


@pytest.fixture(scope="module")
def ticked_sensor(stack: Stack, materialized: str) -> TickedSensor:
    """The sensor started, the compose daemon command running (until the module ends), and the
    sensor's first finished tick. After the materialization, so no daemon run competes with it.
    """
    states = sensor_states(stack)
    assert states, "the code location defines no sensor: nothing for the daemon to tick"
    sensor = PREFERRED_SENSOR if PREFERRED_SENSOR in states else sorted(states)[0]
    if states[sensor] != "RUNNING":
        started = stack.graphql(
            """
            mutation ($sel: SensorSelector!) { startSensor(sensorSelector: $sel) {
                __typename ... on PythonError { message } } }
            """,
            {
                "sel": {
                    "repositoryLocationName": "shutter_assets",
                    "repositoryName": REPOSITORY,
                    "sensorName": sensor,
                }
            },
        )
        assert started["startSensor"]["__typename"] == "Sensor", started

    daemon = stack.services["dagster-daemon"]
    stack.start("daemon", rewrite(daemon["command"], {"-w": str(stack.workdir / "workspace.yaml")}))
    with patch.dict(os.environ, stack.env):
        instance = dg.DagsterInstance.from_config(str(stack.home))
        try:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"

            def finished_tick():
                for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
                    if state.name != sensor:
                        continue
                    ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
                    done = [t for t in ticks if t.status != TickStatus.STARTED]
                    if done:
                        return done[-1]
                return None

            tick = wait_until(f"a finished tick of {sensor}", finished_tick, 180, stack.logs)
        finally:
            instance.dispose()
    return TickedSensor(sensor, tick)


# Whichever of the next two tests runs first materializes the platform (fixture `materialized`):
# minutes on a loaded 2-core machine, more than the suite's default timeout.
@pytest.mark.timeout(MATERIALIZING_TEST_TIMEOUT_S)
def test_daemon_records_a_sensor_tick_in_the_postgres_instance(stack, ticked_sensor):
    tick = ticked_sensor.tick
    assert tick.status in (TickStatus.SKIPPED, TickStatus.SUCCESS), (
        f"{ticked_sensor.name} tick {tick.status}: {tick.error}"
    )
    # The tick lives in the unique PostgreSQL database named by DAGSTER_PG_DB.
    with psycopg.connect(
        host=stack.env["POSTGRES_HOST"],
        port=stack.env["POSTGRES_PORT"],
        user=stack.env["POSTGRES_USER"],
        password=stack.env["POSTGRES_PASSWORD"] or None,
        dbname=stack.env["DAGSTER_PG_DB"],
    ) as conn:
        count = conn.execute(
            "select count(*) from job_ticks where selector_id is not null"
        ).fetchone()[0]
    assert count >= 1
    # The compose healthcheck of the daemon passes against this instance.
    liveness = stack.services["dagster-daemon"]["healthcheck"]["test"][1:]
    wait_until(
        "dagster-daemon liveness-check passing",
        lambda: stack.run(rewrite(liveness, {}), timeout=60).returncode == 0,
        120,
        stack.logs,
    )


LINEAGE_DEPTH = 3  # upstream hops shown by the asset page (lineageDepth in its URL)
PREFERRED_DBT_TARGET = dg.AssetKey(["marts", "machine_oee_daily"])  # DESIGN.md section 6
MAX_VIEWS_TRIED = 8
VIEWPORT = {"width": 2200, "height": 1200}  # wide enough for full-size nodes on a mart
PAGE_VIEWPORT = {"width": 1600, "height": 1000}
OEE_PAGE = "marts/machine_oee_daily"


@dataclass(frozen=True)
class GraphView:
    """An asset page's upstream lineage and the node labels proving raw and dbt assets render."""

    path: str
    labels: tuple[str, ...]
    size: int  # nodes in view: the UI draws big graphs in a minimal mode with truncated names


def upstream_view(graph, key: dg.AssetKey, raw: set[dg.AssetKey]) -> GraphView | None:
    """The lineage view of ``key`` if a raw asset is within LINEAGE_DEPTH hops upstream."""
    nearest: tuple[int, str, dg.AssetKey] | None = None
    frontier, seen = {key}, {key}
    for depth in range(1, LINEAGE_DEPTH + 1):
        frontier = {p for k in frontier for p in graph.get(k).parent_keys} - seen
        seen |= frontier
        for parent in frontier & raw:
            nearest = min(nearest or (depth, str(parent), parent), (depth, str(parent), parent))
    if nearest is None:
        return None
    return GraphView("/".join(key.path), (nearest[2].path[-1], key.path[-1]), len(seen))


def graph_views(defs: dg.Definitions) -> list[GraphView]:
    """Lineage views to try, derived from the Definitions: the OEE mart first, then marts, then
    other dbt assets, each by most nodes in view (the richest picture that still shows names);
    a raw asset's own page when there is no dbt asset.
    """
    specs = list(defs.resolve_all_asset_specs())
    dbt = [s.key for s in specs if "dbt" in (s.kinds or set())]
    # raw.* and raw_commandes.*: the tables the platform loads itself
    raw = {s.key for s in specs if "dbt" not in (s.kinds or set()) and "raw" in s.key.path[0]}
    assert raw, "the Definitions hold no raw.* asset"
    graph = defs.resolve_asset_graph()
    views = {key: view for key in dbt if (view := upstream_view(graph, key, raw))}
    if not views:
        key = sorted(raw, key=str)[0]
        return [GraphView("/".join(key.path), (key.path[-1],), 1)]
    ordered = sorted(
        views.values(), key=lambda v: (not v.path.startswith("marts/"), -v.size, v.path)
    )
    if PREFERRED_DBT_TARGET in views:
        ordered.remove(views[PREFERRED_DBT_TARGET])
        ordered.insert(0, views[PREFERRED_DBT_TARGET])
    return ordered


@pytest.mark.timeout(MATERIALIZING_TEST_TIMEOUT_S)
def test_browser_shows_the_materialized_platform(stack, in_process_defs, materialized):
    """Headless Chromium on the webserver after the run: the lineage and the OEE mart's page."""
    from playwright.sync_api import sync_playwright

    views = graph_views(in_process_defs)
    wait_until(
        "code location loaded in the webserver",
        lambda: location_status(stack)["loadStatus"] == "LOADED",
        120,
        stack.logs,
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tried = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for view in views[:MAX_VIEWS_TRIED]:
                # A fresh context per view: the UI keeps the last zoom in local storage.
                page = browser.new_context(viewport=VIEWPORT).new_page()
                url = (
                    f"{stack.web_url}/assets/{view.path}"
                    f"?view=lineage&lineageScope=upstream&lineageDepth={LINEAGE_DEPTH}"
                )
                page.goto(url, wait_until="domcontentloaded")
                # Nodes of the lineage graph live in the SVG canvas; the first one drawn means
                # the layout is done, full-size or minimal.
                graph = page.locator("svg foreignObject")
                graph.first.wait_for(state="visible", timeout=90_000)
                page.wait_for_timeout(2000)
                nodes = [graph.get_by_text(label, exact=True).first for label in view.labels]
                shown = all(node.is_visible() for node in nodes)
                shot = SCREENSHOT if shown else stack.workdir / f"asset_graph_{len(tried)}.png"
                page.screenshot(path=str(shot), full_page=False)
                never = graph.get_by_text("Never materialized").count()
                page.context.close()
                if shown:
                    break
                tried.append(f"{url} ({shot})")
            else:
                pytest.fail(f"no lineage view showed {views[0].labels} by name: {tried}")
            assert never == 0, "the lineage view shows assets never materialized"

            page = browser.new_context(viewport=PAGE_VIEWPORT).new_page()
            page.goto(f"{stack.web_url}/assets/{OEE_PAGE}", wait_until="domcontentloaded")
            # the latest materialization's metadata: dbt's row count ("Row count" in the UI)
            row_count = page.get_by_text(re.compile(r"row.?count", re.IGNORECASE)).first
            row_count.wait_for(state="visible", timeout=90_000)
            page.wait_for_timeout(2000)
            page.screenshot(path=str(SCREENSHOTS / "oee_asset.png"), full_page=False)
            page.context.close()

        finally:
            browser.close()
    for name in ("asset_graph.png", "oee_asset.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000, name


@pytest.mark.timeout(MATERIALIZING_TEST_TIMEOUT_S)
def test_browser_shows_the_sensor_ticks(stack, ticked_sensor):
    """The sensor's page (Dagster 1.13: /locations/<location>/sensors/<name>): its tick history
    table, one row per tick the daemon recorded, each with its captured log."""
    from playwright.sync_api import sync_playwright

    url = f"{stack.web_url}/locations/shutter_assets/sensors/{ticked_sensor.name}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport=PAGE_VIEWPORT).new_page()
            page.goto(url, wait_until="domcontentloaded")
            # The tick table: its "Timestamp" column header, then a row of a recorded tick
            # (rendered once the ticks' query answered, unlike the page's frame).
            ticks = page.locator("table").filter(
                has=page.get_by_role("columnheader", name="Timestamp")
            )
            ticks.locator("tbody tr").first.wait_for(state="visible", timeout=90_000)
            rows = ticks.locator("tbody tr").count()
            page.wait_for_timeout(1500)  # the timeline above the table draws its bars
            page.screenshot(path=str(SCREENSHOTS / "sensor_ticks.png"), full_page=False)
            page.context.close()
        finally:
            browser.close()
    assert rows >= 1, "the sensor's page lists no tick"
    assert (SCREENSHOTS / "sensor_ticks.png").stat().st_size > 10_000
