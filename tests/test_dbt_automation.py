"""The dbt automation leaves the machine-log models to the machine-log run that loaded their raw
tables, and still builds what other raw updates (the ERP sync) leave stale (issue 18).

The case the freshness bench caught (docs/machine_logs.md, "Freshness"): the automation ticks
while a ``machine_logs_to_marts`` run has loaded its files and is building, just after the
sensor created the next run but before that run was queued. Dagster then judges a model in
progress only by its latest planned run, the new one, which is not yet queued: nothing looks in
progress, and the raw tables the building run loaded look like updated parents. The test stops
the run's dbt build on a table lock to tick at that moment, through Dagster's sensor daemon and
run launcher on the full code location.
"""

from __future__ import annotations

import threading
import time

import dagster as dg
import pytest

from shutter_assets.defs.machine_logs.assets import EVENTS_KEY, FILES_KEY, INGEST_OP
from tests.fixtures.dbt_data import load
from tests.fixtures.local_platform import sensor_platform
from tests.fixtures.sensor_daemon import sensor_daemon

pytestmark = pytest.mark.integration

# Every incremental log model reads it (macros/late_files.sql): locked, the build waits for it.
HELD_TABLE = "intermediate.int_file_event_bounds"
WAIT_S = 300


def _latest_run(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    event = instance.get_latest_materialization_event(key)
    return event.run_id if event else None


def _requested(result, keys) -> set[str]:
    return {k.to_user_string() for k in keys if result.get_num_requested(k)}


def test_automation_requests_nothing_a_machine_log_run_builds_and_still_follows_the_erp_sync(
    pg_settings, mysql_settings, tmp_path, monkeypatch
):
    batch1, batch2 = load.log_batches()
    statuses: list[str] = []
    with sensor_platform(monkeypatch, pg_settings, mysql_settings, tmp_path) as platform:
        platform.put(batch1)
        defs = platform.defs
        job = defs.resolve_job_def("machine_logs_to_marts")
        job_assets = set(job.asset_layer.selected_asset_keys)
        with sensor_daemon("shutter_assets.definitions", "defs", "shutter_test") as daemon:
            tick, instance = daemon.tick, daemon.instance
            everything = defs.resolve_implicit_global_asset_job_def()
            assert everything.execute_in_process(instance=instance).success
            assert tick() == []
            automation = dg.evaluate_automation_conditions(defs=defs, instance=instance)

            platform.put(batch2)
            assert tick() == []  # first sighting: settling
            time.sleep(1.1)
            (run_a,) = tick()
            assert run_a.job_name == "machine_logs_to_marts"
            # The fix: the run names the assets it builds, so they are its own to build.
            assert set(run_a.asset_selection or ()) == job_assets

            held = pg_settings.connect()
            worker = threading.Thread(target=lambda: statuses.append(daemon.launch(run_a)))
            try:
                held.execute(f"lock table {HELD_TABLE} in access exclusive mode")
                worker.start()
                deadline = time.monotonic() + WAIT_S
                while _latest_run(instance, FILES_KEY) != run_a.run_id:
                    assert time.monotonic() < deadline, "run A did not load its files"
                    time.sleep(0.5)
                assert _latest_run(instance, EVENTS_KEY) == run_a.run_id
                # The sensor's next run: created, its materializations planned, not yet queued.
                run_b = instance.create_run_for_job(
                    job,
                    run_config={"ops": {INGEST_OP: {"config": {"paths": []}}}},
                    asset_selection=job_assets,
                )
                assert run_b.status == dg.DagsterRunStatus.NOT_STARTED
                planned = instance.event_log_storage.get_latest_planned_materialization_info(
                    dg.AssetKey(["intermediate", "int_changeovers"])
                )
                assert planned.run_id == run_b.run_id
                assert _latest_run(instance, dg.AssetKey(["marts", "machine_oee_daily"])) != (
                    run_a.run_id
                )
                automation = dg.evaluate_automation_conditions(
                    defs=defs, instance=instance, cursor=automation.cursor
                )
                during = _requested(automation, job_assets)
            finally:
                held.close()  # the build goes on
                worker.join(WAIT_S)
            assert statuses == ["SUCCESS"]
            assert during == set()

            automation = dg.evaluate_automation_conditions(
                defs=defs, instance=instance, cursor=automation.cursor
            )
            assert _requested(automation, job_assets) == set()

            # The ERP sync's tables are loaded by another job: the automation builds after it.
            erp = everything.get_subset(
                asset_selection={dg.AssetKey(["raw_commandes", "commandes"])}
            )
            assert erp.execute_in_process(instance=instance).success
            automation = dg.evaluate_automation_conditions(
                defs=defs, instance=instance, cursor=automation.cursor
            )
            assert {
                "staging/stg_commandes__commandes",
                "marts/order_production_status",
            } <= _requested(automation, defs.resolve_asset_graph().get_all_asset_keys())
