"""Shifts, planned downtime and the six big losses (DESIGN.md s.6) on a hand-computed scenario.

The project runs on a copy whose seeds are the scenario's own calendar
(tests/fixtures/dbt_data/calendar, Europe/Paris):
- shifts MORNING 05-13 and AFTERNOON 13-21 Monday to Friday, NIGHT 21-05 Monday to Saturday;
- planned downtime for CU-01 on Tuesday 2026-11-24: the plant's weekly break 09:00-09:20, a
  one-off CU-01 break 09:10-09:30 (overlaps it) and a CU maintenance 09:30-09:40 (touches it),
  merged into one window 09:00-09:40.

Logs (tests/fixtures/dbt_data/shift_logs), local times of 2026-11-24 (CET):
  08:00 badge B100, SETUP | 08:10 RUNNING (SETUP -> RUNNING) | cycles LAME-ALU-39 4+4 parts,
  08:13 SCRAP 1 (startup reject, 3 min after the transition) | 08:30 IDLE 60 s (microstop) |
  08:40 DOWN 300 s (breakdown) | 08:45 RUNNING (through the window's first 5 min: stays run) |
  cycle 4 parts, 08:55 SCRAP 1 (production reject) | 09:05 IDLE 20 min, all inside the window
  (planned downtime) | 09:25 SETUP for order 202, 15 min planned + 10 min unplanned | 09:50
  RUNNING, COULISSE-ALU-53 2+2 parts, 09:55 SCRAP 2 (startup reject) | 12:59 DOWN, the last line
  of the first file; the second file (loaded before the second, incremental build) re-states
  DOWN at 13:00 on the shift edge and RUNNING at 13:01: one 120 s stop, a breakdown although
  each piece is 60 s | 13:10 badge B200 (13:00-13:10 is unassigned: B100 badged in the morning
  shift) | cycle 2 parts | 13:30 IDLE 30 s (microstop) | 14:00 OFF.
SC-01 runs the Saturday night shift 2026-10-24 21:00 CEST -> 05:00 CET across the autumn change
(9 true hours): RUNNING until 04:00, IDLE until 06:00 (05:00-06:00 is outside every shift).
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from fractions import Fraction

import pytest

from tests.fixtures.databases import create_pg_database, drop_pg_database
from tests.fixtures.dbt_data import load
from tests.fixtures.dbt_data.compare import close, rows
from tests.fixtures.dbt_data.runner import dbt, project_copy

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 24)
SAT, SUN = date(2026, 10, 24), date(2026, 10, 25)
PRU_LAME, PRU_COULISSE, PRU_DEBIT = 9, 22, 6
SHIFT_MARTS = ["machine_oee_shift", "oee_losses", "changeovers", "operator_performance"]
# the scenario has no ERP orders: leave the legacy-orders branch of the graph out
NO_ORDERS = ("--exclude", "source:raw_commandes+")


def assert_values(got: dict, want: dict) -> None:
    for column, value in want.items():
        if isinstance(value, int | Fraction) and not isinstance(value, bool):
            assert close(got[column], value), f"{column}: got {got[column]!r}, want {value!r}"
        else:
            assert got[column] == value, f"{column}: got {got[column]!r}, want {value!r}"


def snapshot(conn, marts: list[str]) -> dict[str, list[tuple]]:
    return {
        mart: sorted(map(tuple, conn.execute(f"select * from marts.{mart}").fetchall()), key=repr)
        for mart in marts
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Batch 1, a first build, batch 2, an incremental build; the state after each build."""
    tmp = tmp_path_factory.mktemp("dbt_shifts")
    project = project_copy(tmp / "project", load.CALENDAR)
    pg = create_pg_database("shutter_shifts")
    try:
        batch1, batch2 = load.log_batches(load.SHIFT_LOGS)
        load.ingest_logs(pg, batch1, tmp / "drop")
        first_statuses = dbt(pg, tmp / "target", "build", *NO_ORDERS, project_dir=project)
        with pg.connect(autocommit=True) as conn:
            after_first = rows(conn, "select * from marts.oee_losses where machine_id = 'CU-01'")
            load.ingest_logs(pg, batch2, tmp / "drop")
            statuses = dbt(pg, tmp / "target", "build", *NO_ORDERS, project_dir=project)
            yield {
                "conn": conn,
                "pg": pg,
                "tmp": tmp,
                "project": project,
                "statuses": {**first_statuses, **statuses},
                "after_first": after_first,
            }
    finally:
        drop_pg_database(pg)
        shutil.rmtree(tmp, ignore_errors=True)


def test_every_dbt_test_passes_including_the_shift_and_loss_invariants(built):
    tests = {uid: s for uid, s in built["statuses"].items() if uid.startswith("test.")}
    for name in (
        "assert_shift_rows_add_up_to_daily",
        "assert_losses_close_exactly",
        "assert_calendar_intervals_disjoint",
    ):
        assert tests[f"test.shutter.{name}"] == "pass"
    assert all(s in ("pass", "warn") for s in tests.values()), tests


def test_overlapping_and_touching_windows_merge_into_one(built):
    windows = rows(
        built["conn"],
        "select * from intermediate.int_planned_downtime_windows "
        "where window_started_at >= '2026-11-24 00:00+01' "
        "and window_ended_at <= '2026-11-25 00:00+01' "
        "order by machine_id, window_started_at",
    )
    cu01 = [w for w in windows if w["machine_id"] == "CU-01"]
    assert len(cu01) == 1
    assert_values(
        cu01[0],
        {
            "window_started_at": datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
            "window_ended_at": datetime(2026, 11, 24, 8, 40, tzinfo=UTC),
            "kinds": "break,maintenance",
            "merged_window_count": 3,
            "window_s": 2400,
        },
    )
    # CU-02 (same type) gets the plant break and the CU maintenance, which do not touch
    cu02 = [(w["kinds"], w["window_s"]) for w in windows if w["machine_id"] == "CU-02"]
    assert cu02 == [("break", 1200), ("maintenance", 600)]
    # SC-01: only the plant break
    assert [w["window_s"] for w in windows if w["machine_id"] == "SC-01"] == [1200]


def test_night_shift_across_the_autumn_change_is_one_instance_of_nine_hours(built):
    (night,) = rows(
        built["conn"],
        "select * from intermediate.int_shift_instances "
        "where shift_code = 'NIGHT' and shift_date = %s",
        (SAT,),
    )
    assert night["started_at"] == datetime(2026, 10, 24, 19, 0, tzinfo=UTC)  # 21:00 CEST
    assert night["ended_at"] == datetime(2026, 10, 25, 4, 0, tzinfo=UTC)  # 05:00 CET
    assert night["shift_s"] == 9 * 3600


def test_precedence_moves_setup_down_idle_inside_windows_out_of_pbt(built):
    (day,) = rows(
        built["conn"],
        "select * from marts.machine_oee_daily where machine_id = 'CU-01' and production_date = %s",
        (DAY,),
    )
    run = 1200 + 540 + 1200 + 11340 + 1740 + 1770  # RUNNING, the 5 min inside the window too
    ideal = 12 * PRU_LAME + 6 * PRU_COULISSE
    good_ideal = ideal - 2 * PRU_LAME - 2 * PRU_COULISSE
    assert_values(
        day,
        {
            "run_s": run,
            "setup_s": 600 + 600,  # 08:00-08:10 and 09:40-09:50; 09:25-09:40 is planned
            "down_s": 300 + 120,
            "idle_s": 60 + 30,  # 09:05-09:25 is planned
            "planned_downtime_s": 1200 + 900,
            "planned_busy_s": run + 1200 + 420 + 90,
            "produced_qty": 18,
            "scrap_qty": 4,
            "good_qty": 14,
            "ideal_run_s": ideal,
            "availability": Fraction(run, run + 1710),
            "performance": Fraction(ideal, run),
            "quality": Fraction(14, 18),
            "calendar_s": 86400,
            "teep": Fraction(good_ideal, 86400),
        },
    )
    # 08:00 -> 14:00 is all there is: PBT + planned downtime = 6 h
    assert day["planned_busy_s"] + day["planned_downtime_s"] == 6 * 3600


def test_machine_oee_shift_has_each_shift_instance_and_no_shift_time(built):
    actual = {
        (r["machine_id"], r["shift_date"], r["shift_code"]): r
        for r in rows(built["conn"], "select * from marts.machine_oee_shift")
    }
    assert set(actual) == {
        ("CU-01", DAY, "MORNING"),
        ("CU-01", DAY, "AFTERNOON"),
        ("SC-01", SAT, "NIGHT"),
        ("SC-01", SUN, "NO_SHIFT"),
    }
    morning_run = 1200 + 540 + 1200 + 11340
    assert_values(
        actual[("CU-01", DAY, "MORNING")],
        {
            "shift_started_at": datetime(2026, 11, 24, 4, 0, tzinfo=UTC),
            "run_s": morning_run,
            "setup_s": 1200,
            "down_s": 300 + 60,
            "idle_s": 60,
            "planned_downtime_s": 2100,
            "planned_busy_s": morning_run + 1200 + 360 + 60,
            "produced_qty": 16,
            "scrap_qty": 4,
            "ideal_run_s": 12 * PRU_LAME + 4 * PRU_COULISSE,
            "availability": Fraction(morning_run, morning_run + 1620),
        },
    )
    assert_values(
        actual[("CU-01", DAY, "AFTERNOON")],
        {
            "run_s": 1740 + 1770,
            "setup_s": 0,
            "down_s": 60,
            "idle_s": 30,
            "planned_busy_s": 3600,
            "produced_qty": 2,
            "quality": 1,
        },
    )
    # the Saturday night: 21:00 CEST -> 04:00 CET RUNNING (8 true hours), 04:00-05:00 IDLE
    assert_values(
        actual[("SC-01", SAT, "NIGHT")],
        {"run_s": 8 * 3600, "idle_s": 3600, "planned_busy_s": 9 * 3600, "produced_qty": 6},
    )
    assert_values(
        actual[("SC-01", SUN, "NO_SHIFT")],
        {"run_s": 0, "idle_s": 3600, "shift_started_at": None, "produced_qty": 0},
    )
    # the night shift's seconds fall on two local days: 3 h on Saturday, the rest on Sunday
    daily = {
        r["production_date"]: r
        for r in rows(
            built["conn"], "select * from marts.machine_oee_daily where machine_id = 'SC-01'"
        )
    }
    assert_values(daily[SAT], {"run_s": 3 * 3600, "planned_busy_s": 3 * 3600, "calendar_s": 86400})
    assert_values(
        daily[SUN], {"run_s": 5 * 3600, "idle_s": 2 * 3600, "calendar_s": 25 * 3600, "teep": 0}
    )


def test_six_big_losses_close_and_classify_each_stop_by_its_whole_duration(built):
    losses = {
        (r["production_date"], r["shift_code"]): r
        for r in rows(built["conn"], "select * from marts.oee_losses where machine_id = 'CU-01'")
    }
    assert set(losses) == {(DAY, "MORNING"), (DAY, "AFTERNOON")}
    morning_run = 1200 + 540 + 1200 + 11340
    ideal = 12 * PRU_LAME + 4 * PRU_COULISSE
    assert_values(
        losses[(DAY, "MORNING")],
        {
            "planned_busy_s": morning_run + 1200 + 360 + 60,
            "breakdown_s": 300 + 60,  # 08:40 (300 s) and the first minute of the 12:59 stop
            "breakdown_count": 2,
            "setup_s": 1200,
            "minor_stop_s": 60,
            "microstop_s": 60,
            "microstop_count": 1,
            "speed_loss_s": morning_run - ideal,
            "is_speed_loss_negative": False,
            "startup_reject_s": 1 * PRU_LAME + 2 * PRU_COULISSE,
            "production_reject_s": 1 * PRU_LAME,
            "ideal_good_s": ideal - 2 * PRU_LAME - 2 * PRU_COULISSE,
        },
    )
    assert_values(
        losses[(DAY, "AFTERNOON")],
        {
            "planned_busy_s": 3600,
            "breakdown_s": 60,  # the second minute: a breakdown, counted where it began
            "breakdown_count": 0,
            "minor_stop_s": 30,
            "microstop_count": 1,
            "speed_loss_s": 3510 - 2 * PRU_COULISSE,
            "startup_reject_s": 0,
            "production_reject_s": 0,
            "ideal_good_s": 2 * PRU_COULISSE,
        },
    )
    # After the first file only, the 12:59 DOWN was a 0-second open stop: a microstop then
    (first,) = [r for r in built["after_first"] if r["shift_code"] == "MORNING"]
    assert (first["breakdown_count"], first["microstop_count"]) == (1, 2)


def test_microstops_per_day_in_machine_reliability(built):
    (day,) = rows(
        built["conn"],
        "select * from marts.machine_reliability "
        "where machine_id = 'CU-01' and production_date = %s",
        (DAY,),
    )
    assert_values(day, {"failure_count": 2, "down_s": 420, "microstop_count": 2, "microstop_s": 90})


def test_changeover_between_orders_counts_unplanned_non_running_time(built):
    (change,) = rows(built["conn"], "select * from marts.changeovers")
    assert_values(
        change,
        {
            "machine_id": "CU-01",
            "previous_order_ref": "CMD-2026-000201",
            "order_ref": "CMD-2026-000202",
            "started_at": datetime(2026, 11, 24, 7, 51, tzinfo=UTC),  # last end of 201
            "ended_at": datetime(2026, 11, 24, 8, 52, tzinfo=UTC),  # first end of 202
            "elapsed_s": 3660,
            "changeover_s": 600,  # SETUP 09:40-09:50; IDLE and SETUP before 09:40 are planned
            "setup_s": 600,
            "planned_downtime_s": 2100,
            "off_s": 0,
        },
    )
    (week,) = rows(built["conn"], "select * from marts.changeovers_weekly")
    assert_values(
        week,
        {
            "week_start_date": date(2026, 11, 23),
            "changeover_count": 1,
            "avg_changeover_s": 600,
        },
    )


def test_operator_performance_follows_the_latest_badge_within_the_shift(built):
    actual = {
        r["operator_badge"]: r
        for r in rows(
            built["conn"],
            "select * from marts.operator_performance where production_date = %s",
            (DAY,),
        )
    }
    assert set(actual) == {"B100", "B200", "unassigned"}
    assert_values(
        actual["B100"],
        {
            "run_s": 1200 + 540 + 1200 + 11340,
            "setup_s": 1200,
            "down_s": 360,
            "idle_s": 60,
            "planned_downtime_s": 2100,
            "produced_qty": 16,
            "scrap_qty": 4,
            "cycle_count": 5,
        },
    )
    # 13:00-13:10: B100 badged in the morning shift, so the afternoon's first minutes are nobody's
    assert_values(
        actual["unassigned"],
        {
            "run_s": 540,
            "down_s": 60,
            "idle_s": 0,
            "produced_qty": 0,
            "availability": Fraction(9, 10),
        },
    )
    assert_values(
        actual["B200"],
        {
            "run_s": 1200 + 1770,
            "idle_s": 30,
            "produced_qty": 2,
            "cycle_count": 1,
            "ideal_run_s": 2 * PRU_COULISSE,
        },
    )


def test_incremental_builds_equal_a_full_refresh_and_no_window_changes_nothing(built):
    """Runs last: a full rebuild equals the increments; with no planned downtime, no precedence."""
    conn, pg, tmp, project = built["conn"], built["pg"], built["tmp"], built["project"]
    after_incremental = snapshot(conn, ["machine_oee_daily", "machine_reliability", *SHIFT_MARTS])
    dbt(pg, tmp / "target", "run", "--full-refresh", *NO_ORDERS, project_dir=project)
    assert snapshot(conn, ["machine_oee_daily", "machine_reliability", *SHIFT_MARTS]) == (
        after_incremental
    )

    (project / "seeds" / "planned_downtime.csv").write_text(
        (load.CALENDAR / "planned_downtime.csv").read_text().splitlines()[0] + "\n"
    )
    dbt(pg, tmp / "target", "build", "--full-refresh", *NO_ORDERS, project_dir=project)
    (day,) = rows(
        conn,
        "select * from marts.machine_oee_daily where machine_id = 'CU-01' and production_date = %s",
        (DAY,),
    )
    # the raw state seconds: every SETUP, DOWN and IDLE second is back in PBT
    assert_values(
        day,
        {
            "setup_s": 600 + 1500,
            "down_s": 420,
            "idle_s": 60 + 1200 + 30,
            "planned_downtime_s": 0,
            "planned_busy_s": 6 * 3600,
        },
    )
