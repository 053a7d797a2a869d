"""The whole platform, once, through Dagster: simulated plant → raw → dbt marts.

The simulator's truth is computed independently of the warehouse (plain Python over the events it
wrote), so every mart value compared here could differ if ingestion, the sync or the dbt maths were
wrong. This is also the test that "Materialize all" works with nothing but the environment.
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest

from shutter_assets.lib.log_settings import MachineLogsSettings
from shutter_assets.lib.warehouse_roles import ApiAccessSettings, BIAccessSettings
from shutter_assets.simulator.logs import Mess, write_logs
from shutter_assets.simulator.orders import load_orders
from shutter_assets.simulator.truth_shifts import shift_truth
from tests.fixtures.databases import drop_role
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

        rows = conn.execute(
            """
            select machine_id, production_date, run_s, setup_s, down_s, idle_s,
                   planned_busy_s, produced_qty, scrap_qty, good_qty
            from marts.machine_oee_daily
            """
        ).fetchall()
        mart = {(r[0], r[1]): r[2:] for r in rows}
        # the calendar's precedence (planned downtime out of PBT) is the shift truth's
        with_calendar = shift_truth(truth.events(), truth.tz).daily()
        expected = {k: d for k, d in truth.daily().items() if d.planned_busy_s or d.produced_qty}
        assert expected, "the simulation produced no machine-day"
        for key, day in expected.items():
            assert key in mart, f"machine-day {key} missing from marts.machine_oee_daily"
            run_s, setup_s, down_s, idle_s, pbt, produced, scrap, good = mart[key]
            planned = with_calendar[key]
            assert float(run_s) == _approx(day.run_s), key
            assert float(setup_s) == _approx(planned.setup / 1000), key
            assert float(down_s) == _approx(planned.down / 1000), key
            assert float(idle_s) == _approx(planned.idle / 1000), key
            assert float(pbt) == _approx(planned.planned_busy / 1000), key
            # nothing lost: the planned downtime is what the precedence took out of PBT
            assert day.planned_busy_s == _approx((planned.planned_busy + planned.planned) / 1000)
            assert Decimal(produced) == day.produced_qty, key
            assert Decimal(scrap) == day.scrap_qty, key
            assert Decimal(good) == day.produced_qty - day.scrap_qty, key
        busy_in_mart = {k for k, v in mart.items() if v[4] or v[5]}
        assert busy_in_mart <= set(expected), busy_in_mart - set(expected)

        _assert_shift_marts(conn, shift_truth(truth.events(), truth.tz))

        per_order = {
            r[0]: r[1:]
            for r in conn.execute(
                "select numero, produced_qty, scrap_qty from marts.order_production_status"
            ).fetchall()
        }
        for numero, totals in truth.order_totals().items():
            produced, scrap = per_order[numero]
            assert (Decimal(produced), Decimal(scrap)) == (
                totals.produced_qty,
                totals.scrap_qty,
            ), numero


def _mart(conn, query: str, width: int) -> dict[tuple, tuple]:
    """Rows keyed by their first ``width`` columns, numbers as floats."""
    out = {}
    for row in conn.execute(query).fetchall():
        values = tuple(float(v) if isinstance(v, Decimal | int) else v for v in row[width:])
        out[tuple(row[:width])] = values
    return out


def _assert_same(mart: dict, expected: dict, name: str) -> None:
    """Every expected row in the mart with the same values; no other row with a value."""
    assert expected, f"the simulation produced no row of {name}"
    for key, values in expected.items():
        assert key in mart, f"{key} missing from {name}"
        for got, want in zip(mart[key], values, strict=True):
            assert got == _approx(want), (name, key, mart[key], values)
    extra = {k for k, v in mart.items() if k not in expected and any(v)}
    assert not extra, f"{name} rows the truth does not have: {sorted(extra)[:5]}"


def _assert_shift_marts(conn, truth) -> None:
    """machine_oee_shift, oee_losses, microstops, changeovers, operators, TEEP == the truth."""

    def busy(c) -> bool:
        return bool(c.planned_busy or c.planned or c.produced_qty or c.scrap_qty)

    _assert_same(
        _mart(
            conn,
            "select machine_id, shift_date, shift_code, run_s, setup_s, down_s, idle_s, "
            "planned_downtime_s, produced_qty, scrap_qty, ideal_run_s from marts.machine_oee_shift",
            3,
        ),
        {
            k: (c.run / 1e3, c.setup / 1e3, c.down / 1e3, c.idle / 1e3, c.planned / 1e3,
                c.produced_qty, c.scrap_qty, c.ideal_run_s)
            for k, c in truth.shifts().items()
            if busy(c)
        },
        "machine_oee_shift",
    )  # fmt: skip
    _assert_same(
        _mart(
            conn,
            "select machine_id, production_date, shift_date, shift_code, planned_busy_s, "
            "breakdown_s, breakdown_count, setup_s, minor_stop_s, microstop_s, microstop_count, "
            "speed_loss_s, startup_reject_s, production_reject_s, ideal_good_s "
            "from marts.oee_losses",
            4,
        ),
        {
            k: (c.planned_busy / 1e3, c.breakdown / 1e3, c.breakdown_count, c.setup / 1e3,
                c.minor_stop / 1e3, c.microstop / 1e3, c.microstop_count,
                c.run / 1e3 - c.ideal_run_s, c.startup_reject_s, c.production_reject_s,
                c.ideal_good_s)
            for k, c in truth.losses().items()
            if busy(c)
        },
        "oee_losses",
    )  # fmt: skip
    daily = truth.daily()
    _assert_same(
        _mart(
            conn,
            "select machine_id, production_date, microstop_count, microstop_s, "
            "planned_downtime_s, calendar_s, teep from marts.machine_oee_daily "
            "join marts.machine_reliability using (machine_id, production_date) "
            "where planned_busy_s + planned_downtime_s > 0 or produced_qty + scrap_qty > 0",
            2,
        ),
        {
            k: (c.microstop_count, c.microstop / 1e3, c.planned / 1e3, truth.calendar_s(k[1]),
                c.ideal_good_s / truth.calendar_s(k[1]))
            for k, c in daily.items()
            if busy(c)
        },
        "machine_reliability / machine_oee_daily (microstops, TEEP)",
    )  # fmt: skip
    _assert_same(
        _mart(
            conn,
            "select operator_badge, production_date, run_s, setup_s, down_s, idle_s, "
            "produced_qty, scrap_qty, cycle_count from marts.operator_performance",
            2,
        ),
        {
            k: (c.run / 1e3, c.setup / 1e3, c.down / 1e3, c.idle / 1e3, c.produced_qty,
                c.scrap_qty, c.cycle_count)
            for k, c in truth.operators().items()
            if busy(c)
        },
        "operator_performance",
    )  # fmt: skip
    changeovers = _mart(
        conn,
        "select machine_id, previous_order_ref, order_ref, "
        "(extract(epoch from started_at) * 1000)::bigint, "
        "(extract(epoch from ended_at) * 1000)::bigint, changeover_s from marts.changeovers",
        5,
    )
    assert truth.changeovers, "the simulation produced no changeover"
    assert len(changeovers) == len(truth.changeovers)
    _assert_same(
        changeovers,
        {
            (c.machine_id, c.previous_order_ref, c.order_ref, c.start, c.end): (
                c.changeover_ms / 1e3,
            )
            for c in truth.changeovers
        },
        "changeovers",
    )


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
