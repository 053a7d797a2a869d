"""A run the sensor requested loads what settled while it waited in the queue (issue 18).

Driven through Dagster's own machinery, as test_machine_logs_retry.py: the sensor daemon's
iteration evaluates ``machine_logs_sensor`` in a code server subprocess (real time: the settle
rule runs on its clock), runs are queued by the instance and launched by its launcher in this
process, and the sensor's cursor is the one the instance stores.
"""

from __future__ import annotations

import time

import dagster as dg
import pytest
from dagster._core.execution.plan.objects import StepSuccessData
from dagster._core.test_utils import instance_for_test

from shutter_assets.defs.machine_logs.sensor_state import (
    INGEST_OP,
    SENSOR_NAME,
    run_before_its_load,
)
from shutter_assets.lib.drop import DropSettings
from shutter_assets.lib.log_settings import MachineLogsSettings
from shutter_assets.lib.plant import PlantSettings
from tests.fixtures.machine_logs import log_bytes
from tests.fixtures.sensor_daemon import sensor_daemon
from tests.fixtures.settings import use_settings

pytestmark = pytest.mark.integration
MIN_AGE_S = 2


def registry(pg) -> dict[str, str]:
    """path -> run id of every loaded file."""
    with pg.connect() as conn:
        return dict(
            conn.execute("select path, run_id from raw.ingested_files where status = 'loaded'")
        )


def test_a_queued_run_also_loads_the_files_that_settled_while_it_waited(
    pg_settings, make_drop, monkeypatch
):
    drop = make_drop("local")
    use_settings(
        monkeypatch,
        pg_settings,
        DropSettings(protocol="local", remote_dir=str(drop.root)),
        PlantSettings(),
        MachineLogsSettings(min_age_s=MIN_AGE_S),
    )
    with sensor_daemon(
        "tests.fixtures.machine_logs_location", "defs", "machine_logs_test"
    ) as daemon:
        tick, instance = daemon.tick, daemon.instance

        def paths(run: dg.DagsterRun) -> list[str]:
            return run.run_config["ops"][INGEST_OP]["config"]["paths"]

        drop.put("CU-01_20261120_060000.log", log_bytes(3))
        assert tick() == []  # first sighting
        time.sleep(MIN_AGE_S + 0.2)
        (first,) = tick()
        assert paths(first) == ["CU-01_20261120_060000.log"]

        # While the first run waits in the queue, two files settle; one then grows again.
        drop.put("CU-02_20261120_060000.log", log_bytes(4, machine="CU-02"))
        drop.put("SC-01_20261120_060000.log", log_bytes(5, machine="SC-01"))
        assert tick() == []  # seen; nothing requested while a run waits
        time.sleep(MIN_AGE_S + 0.2)
        assert tick() == []  # both settled, held
        assert run_before_its_load(instance)
        drop.put("SC-01_20261120_060000.log", log_bytes(6, machine="SC-01"))  # a new version

        assert daemon.launch(first) == "SUCCESS"
        assert registry(pg_settings) == {
            "CU-01_20261120_060000.log": first.run_id,
            "CU-02_20261120_060000.log": first.run_id,  # settled while the run waited
        }  # not SC-01: the sensor never saw its current version settle
        assert not run_before_its_load(instance)

        assert tick() == []  # SC-01's new version: first sighting
        time.sleep(MIN_AGE_S + 0.2)
        (second,) = tick()
        assert paths(second) == ["SC-01_20261120_060000.log"]
        assert daemon.launch(second) == "SUCCESS"
        assert registry(pg_settings)["SC-01_20261120_060000.log"] == second.run_id
        assert tick() == []


def test_the_sensor_holds_until_its_started_run_has_loaded():
    """Queued, or started before the end of its load step: hold; after the load step: not."""
    with instance_for_test() as instance:
        tags = {"dagster/sensor_name": SENSOR_NAME}
        assert not run_before_its_load(instance)
        other = instance.add_run(
            dg.DagsterRun(job_name="x", run_id="1" * 36, status=dg.DagsterRunStatus.STARTED)
        )
        assert not run_before_its_load(instance)  # not the sensor's run
        run = instance.add_run(
            dg.DagsterRun(
                job_name="x", run_id="2" * 36, status=dg.DagsterRunStatus.STARTED, tags=tags
            )
        )
        assert run_before_its_load(instance)
        for step, kind in (("shutter_dbt", "STEP_START"), (INGEST_OP, "STEP_START")):
            event = dg.DagsterEvent(kind, job_name="x", step_key=step)
            instance.report_dagster_event(event, run.run_id)
        assert run_before_its_load(instance)
        done = dg.DagsterEvent(
            "STEP_SUCCESS",
            job_name="x",
            step_key=INGEST_OP,
            event_specific_data=StepSuccessData(duration_ms=1.0),
        )
        instance.report_dagster_event(done, run.run_id)
        assert not run_before_its_load(instance)
        assert other.run_id != run.run_id
