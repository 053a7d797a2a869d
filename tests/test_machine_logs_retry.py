"""Issue 10 item 4: a run that failed because the warehouse was briefly unreachable is retried.

Driven through Dagster's own machinery: the sensor daemon's iteration evaluates
``machine_logs_sensor`` in a code server (a gRPC subprocess, as in production), its run requests
are queued by the instance and launched with ``instance.launch_run`` (executed in this process by
Dagster's synchronous launcher, to keep the test short), and the warehouse sits behind a TCP proxy
that is stopped for the failed attempts and started again. The exact backoff timings are unit
tests of ``decide_tick`` in test_machine_logs.py: here real time passes while runs execute.
"""

from __future__ import annotations

import time
from dataclasses import replace

import dagster as dg
import pytest

from shutter_assets.defs.machine_logs.checks import FILES_FAILING
from shutter_assets.lib.drop import DropSettings
from shutter_assets.lib.log_settings import MachineLogsSettings
from shutter_assets.lib.plant import PlantSettings
from tests.fixtures.machine_logs import counts, log_bytes
from tests.fixtures.sensor_daemon import sensor_daemon
from tests.fixtures.settings import use_settings
from tests.fixtures.tcp_proxy import OutageProxy

pytestmark = pytest.mark.integration
NAME = "CU-01_20261120_060000.log"
RETRY_AFTER_S = 3


def check_evaluations(instance: dg.DagsterInstance) -> list[tuple[bool, int, str]]:
    """(passed, files failing, markdown) of every files_failing evaluation, oldest first."""
    records = instance.event_log_storage.get_asset_check_execution_history(FILES_FAILING, limit=50)
    out = []
    for record in reversed(records):
        evaluation = record.event.dagster_event.event_specific_data
        if not isinstance(evaluation, dg.AssetCheckEvaluation):
            continue  # the "planned" marker of a run that includes the check
        meta = evaluation.metadata
        out.append((evaluation.passed, meta["files_failing"].value, meta["files"].value))
    return out


def test_a_run_failed_by_a_warehouse_outage_is_retried_under_a_new_run_key(
    pg_settings, make_drop, monkeypatch, tmp_path
):
    drop = make_drop("local")
    drop.put(NAME, log_bytes(10))
    proxy = OutageProxy((pg_settings.host, pg_settings.port))
    use_settings(
        monkeypatch,
        replace(pg_settings, host="127.0.0.1", port=proxy.port),
        DropSettings(protocol="local", remote_dir=str(drop.root)),
        PlantSettings(),
        MachineLogsSettings(min_age_s=0, retry_after_s=RETRY_AFTER_S, max_attempts=5),
    )
    try:
        with sensor_daemon(
            "tests.fixtures.machine_logs_location", "defs", "machine_logs_test"
        ) as daemon:
            tick, instance = daemon.tick, daemon.instance

            def tick_until_run(max_wait_s: float = 60) -> list[dg.DagsterRun]:
                """Ticks once a second until the sensor requests a run (a retry is due)."""
                deadline = time.monotonic() + max_wait_s
                while time.monotonic() < deadline:
                    if runs := tick():
                        return runs
                    time.sleep(1)
                raise AssertionError(f"no run requested within {max_wait_s} s")

            launch = daemon.launch

            assert tick() == []  # first sighting: not settled yet
            time.sleep(1.1)
            (first,) = tick()
            assert first.tags["machine_logs/attempt"] == "1"

            proxy.stop()  # the warehouse becomes unreachable for the run
            assert launch(first) == "FAILURE"
            proxy.start()

            (second,) = tick_until_run()  # after LOGS_RETRY_AFTER_S, not before
            assert second.tags["machine_logs/attempt"] == "2"
            assert second.tags["dagster/run_key"] != first.tags["dagster/run_key"]
            assert second.run_config == first.run_config
            assert check_evaluations(instance) == []  # one failure is not "keeps failing"
            proxy.stop()
            assert launch(second) == "FAILURE"
            proxy.start()

            (third,) = tick_until_run()
            assert third.tags["machine_logs/attempt"] == "3"
            # Two runs did not load it: the check is red, naming the file.
            ((passed, n, files),) = check_evaluations(instance)
            assert (passed, n) == (False, 1)
            assert f"| `{NAME}` | 3 | yes |" in files

            assert launch(third) == "SUCCESS"  # the warehouse is back
            assert tick() == []
            assert [e[:2] for e in check_evaluations(instance)][-1] == (True, 0)
            assert len({r.tags["dagster/run_key"] for r in (first, second, third)}) == 3
    finally:
        proxy.stop()
    assert counts(pg_settings) == (1, 10, 0)
