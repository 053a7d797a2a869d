"""The whole platform, once, through Dagster: simulated plant → raw → dbt marts.

The simulator's truth is computed independently of the warehouse (plain Python over the events it
wrote), so every mart value compared here could differ if ingestion, the sync or the dbt maths were
wrong. This is also the test that "Materialize all" works with nothing but the environment.
"""

from __future__ import annotations

import dagster as dg
import pytest

from shutter_assets.lib.log_settings import MachineLogsSettings
from shutter_assets.lib.warehouse_roles import ApiAccessSettings, BIAccessSettings
from shutter_assets.simulator.logs import Mess, write_logs
from shutter_assets.simulator.orders import load_orders
from shutter_assets.simulator.truth_shifts import shift_truth
from tests.fixtures.databases import drop_role
from tests.fixtures.mart_truth import compare_marts, erp_orders
from tests.fixtures.settings import use_platform

SEED = 5
ORDERS = 60


def _approx(value: float) -> object:
    # Instants carry milliseconds: state seconds are exact to the millisecond.
    return pytest.approx(value, abs=1e-3)


@pytest.fixture
def plant_env(monkeypatch, tmp_path, pg_settings, mysql_settings):
    """Environment of DESIGN.md section 3 pointing at this test's own databases and drop."""
    drop = tmp_path / "drop"
    drop.mkdir()
    roles = [
        BIAccessSettings(role=f"bi_e2e_{pg_settings.dbname[-10:]}"),
        ApiAccessSettings(role=f"api_e2e_{pg_settings.dbname[-10:]}"),
    ]
    use_platform(
        monkeypatch, pg_settings, mysql_settings, drop, MachineLogsSettings(min_age_s=0), *roles
    )
    yield drop
    # Roles are server-wide: the test's read-only roles (BI, REST API) must not outlive its DB.
    for reader in roles:
        drop_role(pg_settings, reader.role)


def test_materialize_all_matches_the_simulated_plant(plant_env, pg_settings, mysql_settings):
    orders = load_orders(mysql_settings, seed=SEED, n_orders=ORDERS)
    truth = write_logs(plant_env, seed=SEED, days=2, mess=Mess.all(), n_orders=ORDERS)

    from shutter_assets.definitions import defs as build_defs

    defs = build_defs()
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success, [
        e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ]

    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    for key in (
        "raw/machine_events",
        "raw_commandes/commandes",
        "marts/machine_oee_daily",
        "marts/order_production_status",
    ):
        assert key in materialized, f"{key} was not materialized"
    checks = result.get_asset_check_evaluations()
    assert checks, "no asset check ran (dbt tests and the reject-rate check)"

    with pg_settings.connect() as conn:
        events = conn.execute("select count(*) from raw.machine_events").fetchone()[0]
        rejects = conn.execute("select count(*) from raw.machine_event_rejects").fetchone()[0]
        assert events == truth.accepted_total
        assert rejects == truth.rejected_total

        synced = conn.execute(
            "select count(*) from raw_commandes.commandes where _deleted_at is null"
        ).fetchone()[0]
        assert synced == orders.row_counts["commandes"]

        # the truth's two computations agree: planned downtime is what the precedence took
        # out of PBT (truth.daily() knows no calendar, the shift truth does)
        with_calendar = shift_truth(truth.events(), truth.tz).daily()
        for key, day in truth.daily().items():
            planned = with_calendar[key]
            assert day.planned_busy_s == _approx((planned.planned_busy + planned.planned) / 1000)

        erp = erp_orders(mysql_settings)
        assert set(truth.order_totals()) & set(erp), "no logged order is known to the ERP"
        assert compare_marts(conn, truth, erp, require_rows=True) == []

        # The comparison can fail: one mart value altered is exactly one difference.
        machine_id, day, run_s = conn.execute(
            "select machine_id, production_date, run_s from marts.machine_oee_daily "
            "where run_s > 0 order by machine_id, production_date limit 1"
        ).fetchone()
        conn.execute(
            "update marts.machine_oee_daily set run_s = run_s + 1 "
            "where machine_id = %s and production_date = %s",
            (machine_id, day),
        )
        assert compare_marts(conn, truth, erp) == [
            f"machine_oee_daily {machine_id} {day}: run_s {float(run_s + 1)} "
            f"!= truth {with_calendar[(machine_id, day)].run / 1000}"
        ]


def _oee_rows(pg_settings) -> list[tuple]:
    with pg_settings.connect() as conn:
        return conn.execute(
            "select * from marts.machine_oee_daily order by machine_id, production_date"
        ).fetchall()


def test_rerun_with_full_refresh_loads_nothing_twice_and_rebuilds_the_same_marts(
    plant_env, pg_settings, mysql_settings
):
    """The Launchpad's `full_refresh` (and `make demo`) rebuilds the models to the same values."""
    load_orders(mysql_settings, seed=SEED, n_orders=ORDERS)
    truth = write_logs(plant_env, seed=SEED, days=1, n_orders=ORDERS)

    from shutter_assets.definitions import defs as build_defs

    job = build_defs().resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance).success
        first = _oee_rows(pg_settings)
        rerun = job.execute_in_process(
            instance=instance,
            run_config={"ops": {"shutter_dbt": {"config": {"full_refresh": True}}}},
        )
        assert rerun.success
    assert first and _oee_rows(pg_settings) == first
    with pg_settings.connect() as conn:
        events = conn.execute("select count(*) from raw.machine_events").fetchone()[0]
    assert events == truth.accepted_total
