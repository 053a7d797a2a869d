"""raw + dbt materialized through Dagster: ingestion, MySQL sync, every dbt model, tests as checks.

This is the lineage the UI shows, run for real: the fixture logs on a local drop, the fixture
orders in MariaDB, every asset of the Definitions in one run.
"""

from __future__ import annotations

import time

import dagster as dg
import pytest

from tests.fixtures.dbt_data import load
from tests.fixtures.local_platform import local_platform, sensor_platform
from tests.fixtures.sensor_daemon import sensor_daemon

pytestmark = pytest.mark.integration


def test_materializing_everything_builds_the_marts_and_runs_the_dbt_checks(
    pg_settings, mysql_settings, tmp_path, monkeypatch
):
    with local_platform(monkeypatch, pg_settings, mysql_settings, tmp_path) as platform:
        for batch in load.log_batches():
            platform.put(batch)
        job = platform.defs.resolve_implicit_global_asset_job_def()
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance)
        assert result.success

        materialized = {
            e.event_specific_data.materialization.asset_key.to_user_string()
            for e in result.get_asset_materialization_events()
        }
        assert {
            "raw/machine_events",
            "raw_commandes/commandes",
            "staging/stg_raw__machine_events",
            "intermediate/int_machine_state_intervals",
            "marts/machine_oee_daily",
            "marts/order_production_status",
            "bi/readonly_role",
            "api/readonly_role",
            "api/marts_data_version",
        } <= materialized

        checks = {
            (e.asset_key.to_user_string(), e.check_name): e
            for e in result.get_asset_check_evaluations()
        }
        assert len(checks) > 60
        pbt = checks[("marts/machine_oee_daily", "assert_planned_busy_is_sum_of_states")]
        assert pbt.passed
        unique_oee = checks[
            (
                "marts/machine_oee_daily",
                "unique_combination_machine_oee_daily_machine_id__production_date",
            )
        ]
        assert unique_oee.passed
        failed = sorted(k for k, e in checks.items() if not e.passed)
        # the warning (PROTO-X is not in the programs seed), and the fixture's machines that
        # stopped in November 2026 without going OFF are silent today (docs/operations.md)
        assert failed == [
            ("intermediate/int_production_counts", "assert_production_programs_in_seed"),
            ("marts/machine_status", "silent_machines"),
        ]
        assert checks[failed[0]].severity == dg.AssetCheckSeverity.WARN
        assert checks[failed[1]].severity == dg.AssetCheckSeverity.ERROR

        with pg_settings.connect() as conn:
            cu02 = conn.execute(
                "select run_s, down_s, idle_s, produced_qty from marts.machine_oee_daily "
                "where machine_id = 'CU-02'"
            ).fetchone()
            assert cu02 == (9000, 1200, 600, 8)
            readable = conn.execute(
                "select count(*) from information_schema.role_table_grants "
                "where grantee = %s and table_schema = 'marts' and privilege_type = 'SELECT'",
                (platform.bi_role,),
            ).fetchone()[0]
            relations = conn.execute(
                "select count(*) from information_schema.tables where table_schema = 'marts'"
            ).fetchone()[0]
            assert readable == relations >= 10  # every mart table and view


def test_the_sensor_run_that_loads_a_file_also_builds_the_marts_and_automation_adds_nothing(
    pg_settings, mysql_settings, tmp_path, monkeypatch
):
    """Issue 18: ``machine_logs_sensor`` launches ``machine_logs_to_marts``, whose run loads the
    file and then builds every model downstream of it, so the marts show the file one run after
    it settled; the automation sensor then finds nothing left to build for those assets, while
    a load outside that job (the reprocess job's shape) still triggers it.

    Driven through Dagster's sensor daemon iteration and run launcher on the full code location.
    """
    batch1, batch2 = load.log_batches()

    def cu02() -> tuple:
        with pg_settings.connect() as conn:
            return conn.execute(
                "select run_s, down_s, idle_s, produced_qty from marts.machine_oee_daily "
                "where machine_id = 'CU-02'"
            ).fetchone()

    with sensor_platform(monkeypatch, pg_settings, mysql_settings, tmp_path) as platform:
        platform.put(batch1)
        defs = platform.defs
        with sensor_daemon("shutter_assets.definitions", "defs", "shutter_test") as daemon:
            tick, instance = daemon.tick, daemon.instance
            everything = defs.resolve_implicit_global_asset_job_def()
            assert everything.execute_in_process(instance=instance).success
            assert tick() == []  # batch 1 is ingested; nothing new in the drop
            automation = dg.evaluate_automation_conditions(defs=defs, instance=instance)
            before = cu02()

            platform.put(batch2)
            assert tick() == []  # first sighting: settling
            time.sleep(1.1)
            (run,) = tick()
            assert run.job_name == "machine_logs_to_marts"
            assert run.tags["shutter/dbt"] == "build"
            assert daemon.launch(run) == "SUCCESS"
            built = {
                r.asset_key.to_user_string()
                for r in instance.get_records_for_run(
                    run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
                ).records
                for r in [r.event_log_entry.dagster_event]
            }
            assert {
                "raw/machine_events",
                "staging/stg_raw__machine_events",
                "marts/machine_oee_daily",
                "bi/readonly_role",
                "api/marts_data_version",
            } <= built
            # CU-02's RUNNING that opened in batch 1 closes in batch 2: hand-computed day.
            assert before != (9000, 1200, 600, 8)
            assert cu02() == (9000, 1200, 600, 8)

            automation = dg.evaluate_automation_conditions(
                defs=defs, instance=instance, cursor=automation.cursor
            )
            assert {
                k for k in built if automation.get_num_requested(dg.AssetKey.from_user_string(k))
            } == set()

            # A load by another job (reprocess, a manual materialization) is still followed by
            # the automation's build of the same models.
            raw_only = defs.resolve_implicit_global_asset_job_def().get_subset(
                asset_selection={dg.AssetKey(["raw", "machine_events"])}
            )
            assert raw_only.execute_in_process(instance=instance).success
            automation = dg.evaluate_automation_conditions(
                defs=defs, instance=instance, cursor=automation.cursor
            )
            assert automation.get_num_requested(dg.AssetKey(["marts", "machine_oee_daily"])) == 1
