"""The REST API (shutter_api) served by a real uvicorn over a warehouse built by the real pipeline.

The warehouse: the hand-written dbt fixtures (tests/fixtures/dbt_data) loaded by the production
loaders, ``dbt build``, then the Dagster assets ``api/readonly_role`` and
``api/marts_data_version`` materialized; the API connects as that read-only role and caches in
the machine's Redis under a key prefix of its own. Expected values are computed here, in Python
with exact fractions, from the marts' daily rows (read as the warehouse owner) - never by the
API's SQL - plus hand-computed anchors from the fixture logs.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import dagster as dg
import httpx
import pytest
import redis
from psycopg.rows import dict_row

from shutter_api.keys import ApiKeys, KeyStatus, digest
from shutter_api.settings import ApiSettings
from shutter_assets.defs.resources import as_resources
from shutter_assets.defs.rest_api.assets import api_readonly_role, marts_data_version
from shutter_assets.lib.bi_access import drop_readonly_role
from shutter_assets.lib.connections import PostgresSettings
from shutter_assets.lib.warehouse_roles import ApiAccessSettings
from tests.fixtures.api_server import (
    SHARED_REDIS,
    delete_prefix,
    free_port,
    private_redis,
    run_api,
)
from tests.fixtures.databases import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
    unique_name,
)
from tests.fixtures.dbt_data import load
from tests.fixtures.dbt_data.runner import dbt
from tests.fixtures.settings import settings_env

pytestmark = pytest.mark.integration

KEY, REVOKED_KEY = "shk_test_" + secrets.token_urlsafe(16), "shk_old_" + secrets.token_urlsafe(16)
AUTH = {"Authorization": f"Bearer {KEY}"}
ALL_DAYS = {"from": "2026-10-01", "to": "2026-11-30"}
W47 = {"from": "2026-11-16", "to": "2026-11-22"}  # ISO week 2026-W47, Monday to Sunday
DATED = [  # the lists of #14's marts, all with from/to
    "/v1/oee/shifts",
    "/v1/losses",
    "/v1/losses/shifts",
    "/v1/changeovers",
    "/v1/changeovers/averages",
    "/v1/operators",
]


def _frac(value) -> Fraction | None:
    return None if value is None else Fraction(Decimal(value))


def _close(actual, expected) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    return abs(Fraction(actual) - Fraction(expected)) <= Fraction(1, 10**9) * max(
        1, abs(Fraction(expected))
    )


class Built:
    """The module's warehouse, API role, server and what it answered before the second build."""

    def __init__(self, pg, role, password, base_url, prefix, before, versions):
        self.pg, self.role, self.password = pg, role, password
        self.base_url, self.prefix = base_url, prefix
        self.before, self.versions = before, versions

    def get(self, path, params=None, headers=None, auth=True) -> httpx.Response:
        all_headers = {**(AUTH if auth else {}), **(headers or {})}
        return httpx.get(self.base_url + path, params=params, headers=all_headers, timeout=30)

    def json(self, path, params=None) -> dict:
        response = self.get(path, params)
        assert response.status_code == 200, response.text
        return response.json()

    def all_items(self, path, params=None) -> list[dict]:
        return self.json(path, {**(params or {}), "limit": 2000})["items"]

    def marts(self, query: str, params=None) -> list[dict]:
        with self.pg.connect(autocommit=True) as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, params).fetchall()


def _record_version(pg, role, password) -> str:
    """Materialize the two API assets through Dagster, as the automation does after a build."""
    result = dg.materialize(
        [api_readonly_role, marts_data_version],
        resources=as_resources(pg, ApiAccessSettings(role=role, password=password)),
    )
    assert result.success
    metadata = {
        event.asset_key: event.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    # the shared read-only-role body (defs/dbt/bi_access.py) counted the marts it may read
    assert metadata[api_readonly_role.key]["readable_mart_tables"].value >= 10
    return metadata[marts_data_version.key]["version"].value


def api_settings(pg: PostgresSettings, role: str, password: str) -> ApiSettings:
    """The API on a test warehouse, connecting as its own read-only role."""
    return ApiSettings(
        db_host=pg.host, db_port=pg.port, db_name=pg.dbname, db_user=role, db_password=password
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pg = create_pg_database("shutter_api")
    mysql = create_mysql_database("shutter_api")
    tmp = tmp_path_factory.mktemp("api")
    role, password = unique_name("api_reader_test"), secrets.token_urlsafe(12)
    prefix = unique_name("shutter_api_test")
    env = settings_env(
        replace(
            api_settings(pg, role, password),
            redis_url=SHARED_REDIS,
            cache_prefix=prefix,
            api_keys=f"tests:{digest(KEY)},other:{digest('unused-' + KEY)}",
            revoked_api_keys=f"old-portal:{digest(REVOKED_KEY)}",
        ),
    )
    try:
        batch1, batch2 = load.log_batches()
        load.ingest_logs(pg, batch1, tmp / "drop")
        load.load_orders(pg, mysql)
        dbt(pg, tmp / "target", "build")
        v1 = _record_version(pg, role, password)
        with run_api(env, workers=2) as server:
            state = Built(pg, role, password, server.base_url, prefix, {}, [v1])
            # responses cached under the first version, before the second build
            for name, path, params in BEFORE:
                response = state.get(path, params)
                assert response.status_code == 200, response.text
                assert state.get(path, params).headers["X-Cache"] == "HIT"
                state.before[name] = response
            load.ingest_logs(pg, batch2, tmp / "drop")
            dbt(pg, tmp / "target", "build")
            state.versions.append(_record_version(pg, role, password))
            yield state
    finally:
        delete_prefix(SHARED_REDIS, prefix)
        with pg.connect(autocommit=True) as conn:
            drop_readonly_role(conn, role)
        drop_pg_database(pg)
        drop_mysql_database(mysql)


BEFORE = [
    ("cu02_day", "/v1/oee", {"from": "2026-11-20", "to": "2026-11-20", "machine_id": "CU-02"}),
    ("freshness", "/v1/freshness", None),
]


# --------------------------------------------------------------------------- expected values


def _period_start(day: date, grain: str, start: date) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return start


def _group(row: dict, group_by: str, types: dict[str, str | None]) -> str:
    if group_by == "machine":
        return row["machine_id"]
    if group_by == "machine_type":
        return types.get(row["machine_id"]) or "UNKNOWN"
    return "plant"


OEE_COMPONENTS = [
    "planned_busy_s",
    "run_s",
    "setup_s",
    "down_s",
    "idle_s",
    "ideal_run_s",
    "produced_qty",
    "good_qty",
    "scrap_qty",
]


def expected_periods(
    built: Built,
    mart: str,
    date_column: str,
    start: date,
    end: date,
    grain: str,
    group_by: str,
    sums: list[str],
    keys: tuple[str, ...] = (),
    count_as: str | None = None,
) -> list[dict]:
    """The mart's rows in [start, end] summed per period, group and ``keys``, in exact
    fractions, ordered as the API orders them (period_start, group, keys)."""
    types = {
        m["machine_id"]: m["machine_type"] for m in built.marts("select * from marts.dim_machine")
    }
    summed: dict[tuple, dict] = defaultdict(lambda: defaultdict(Fraction))
    for row in built.marts(f"select * from marts.{mart}"):
        if not start <= row[date_column] <= end:
            continue
        group = row["operator_badge"] if group_by == "badge" else _group(row, group_by, types)
        key = (
            _period_start(row[date_column], grain, start).isoformat(),
            group,
            *(row[k] for k in keys),
        )
        if count_as:
            summed[key][count_as] += 1
        for c in sums:
            summed[key][c] += _frac(row[c])
    return [
        {"period_start": k[0], "group": k[1], **dict(zip(keys, k[2:], strict=True)), **dict(v)}
        for k, v in sorted(summed.items())
    ]


def with_oee_ratios(rows: list[dict]) -> list[dict]:
    """ISO 22400-2 ratios of each row's sums (None where the denominator is 0)."""
    for s in rows:
        availability = s["run_s"] / s["planned_busy_s"] if s["planned_busy_s"] else None
        performance = s["ideal_run_s"] / s["run_s"] if s["run_s"] else None
        quality = s["good_qty"] / s["produced_qty"] if s["produced_qty"] else None
        ratios = (availability, performance, quality)
        s["availability"], s["performance"], s["quality"] = ratios
        s["oee"] = None if None in ratios else availability * performance * quality
    return rows


def expected_oee(built: Built, start: date, end: date, grain: str, group_by: str) -> list[dict]:
    return with_oee_ratios(
        expected_periods(
            built,
            "machine_oee_daily",
            "production_date",
            start,
            end,
            grain,
            group_by,
            OEE_COMPONENTS,
            count_as="machine_days",
        )
    )


def assert_items(actual: list[dict], expected: list[dict]) -> None:
    assert len(actual) == len(expected), (actual, expected)
    for got, want in zip(actual, expected, strict=True):
        for field, value in want.items():
            if isinstance(value, Fraction | int) and not isinstance(value, bool):
                assert _close(got[field], value), f"{field}: {got[field]} != {value} in {got}"
            elif value is None:
                assert got[field] is None, f"{field}: {got[field]} != None in {got}"
            else:
                assert got[field] == value, f"{field}: {got[field]!r} != {value!r} in {got}"


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize("grain", ["day", "week", "month", "range"])
@pytest.mark.parametrize("group_by", ["machine", "machine_type", "plant"])
def test_oee_equals_ratios_of_summed_daily_components(built, grain, group_by):
    items = built.all_items("/v1/oee", {**ALL_DAYS, "grain": grain, "group_by": group_by})
    expected = expected_oee(built, date(2026, 10, 1), date(2026, 11, 30), grain, group_by)
    assert_items(items, expected)
    assert items  # the fixtures produce rows at every grain


def test_week_oee_is_the_sum_based_formula_not_the_mean_of_daily_ratios(built):
    """SC-01 in 2026-W47: Thu 7200 s RUNNING of 7200 s, Fri 1800 s of 3600 s, 6 parts each at 6 s.

    Sum-based: availability 9000/10800 = 5/6, performance 72/9000, OEE 72/10800 = 1/150.
    Mean of the daily OEEs: (36/7200 + 0.5 * 36/1800) / 2 = 0.0075, which the API must not serve.
    """
    [week] = built.all_items("/v1/oee", {**W47, "grain": "week", "machine_id": "SC-01"})
    assert week["period"] == "2026-W47"
    assert (week["period_start"], week["period_end"]) == ("2026-11-16", "2026-11-22")
    assert _close(week["availability"], Fraction(5, 6))
    assert _close(week["performance"], Fraction(72, 9000))
    assert _close(week["oee"], Fraction(1, 150))
    days = built.all_items("/v1/oee", {**W47, "grain": "day", "machine_id": "SC-01"})
    mean_of_daily = sum(Fraction(d["oee"]) for d in days) / len(days)
    assert _close(mean_of_daily, Fraction(3, 400))
    assert not _close(week["oee"], mean_of_daily)
    assert not _close(week["availability"], sum(Fraction(d["availability"]) for d in days) / 2)


def test_reliability_equals_summed_failures_and_seconds(built):
    items = built.all_items("/v1/reliability", {**ALL_DAYS, "group_by": "machine"})
    rows = built.marts("select * from marts.machine_reliability")
    expected = []
    for machine in sorted({r["machine_id"] for r in rows}):
        mine = [r for r in rows if r["machine_id"] == machine]
        run, down = sum(_frac(r["run_s"]) for r in mine), sum(_frac(r["down_s"]) for r in mine)
        failures = sum(r["failure_count"] for r in mine)
        microstops = {c: sum(_frac(r[c]) for r in mine) for c in ("microstop_count", "microstop_s")}
        expected.append(
            {
                "group": machine,
                "period": "2026-10-01/2026-11-30",
                "run_s": run,
                "down_s": down,
                "failure_count": failures,
                "mtbf_s": run / failures if failures else None,
                "mttr_s": down / failures if failures else None,
                **microstops,
            }
        )
    assert_items(items, expected)
    # hand-computed from the fixture logs: CU-02 ran 9000 s, was down 1200 s over 2 failures
    cu02 = next(i for i in items if i["group"] == "CU-02")
    assert (cu02["failure_count"], cu02["mtbf_s"], cu02["mttr_s"]) == (2, 4500, 600)


def test_downtime_pareto_is_reranked_from_summed_seconds(built):
    items = built.all_items("/v1/downtime/pareto", {"group_by": "plant"})
    rows = built.marts("select * from marts.downtime_pareto")
    by_code: dict[str, dict] = defaultdict(lambda: defaultdict(Fraction))
    for r in rows:
        for c in ("down_s", "failure_count", "alarm_count", "alarm_active_s"):
            by_code[r["alarm_code"]][c] += _frac(r[c])
    total = sum(v["down_s"] for v in by_code.values())
    ranked = sorted(by_code.items(), key=lambda kv: (-kv[1]["down_s"], kv[0]))
    expected, running = [], Fraction(0)
    for rank, (code, v) in enumerate(ranked, start=1):
        running += v["down_s"]
        expected.append(
            {
                "group": "plant",
                "alarm_code": code,
                "pareto_rank": rank,
                **dict(v),
                "down_share": v["down_s"] / total,
                "cumulative_down_share": running / total,
            }
        )
    assert_items(items, expected)
    # fixtures: NO_ALARM 1200 s (CU-02) before E1042 600 s (CU-01), then E4150 (0 s)
    assert [i["alarm_code"] for i in items] == ["NO_ALARM", "E1042", "E4150"]
    assert _close(items[0]["down_share"], Fraction(2, 3))


def test_throughput_equals_the_daily_mart(built):
    items = built.all_items("/v1/throughput", {**ALL_DAYS, "machine_type": "CU"})
    rows = built.marts(
        "select * from marts.daily_throughput where machine_type = 'CU' "
        "order by production_date, machine_type, program"
    )
    expected = [
        {
            "production_date": r["production_date"].isoformat(),
            "program": r["program"],
            "produced_qty": _frac(r["produced_qty"]),
            "good_qty": _frac(r["good_qty"]),
            "scrap_qty": _frac(r["scrap_qty"]),
            "cycle_count": r["cycle_count"],
        }
        for r in rows
    ]
    assert_items(items, expected)
    assert [(i["program"], i["produced_qty"]) for i in items][:3] == [
        ("COULISSE-ALU-53", 4),
        ("LAME-ALU-39", 12),
        ("PROTO-X", 2),
    ]


LOSSES = [
    "planned_busy_s",
    "breakdown_s",
    "setup_s",
    "minor_stop_s",
    "speed_loss_s",
    "startup_reject_s",
    "production_reject_s",
    "ideal_good_s",
    "microstop_s",
    "run_s",
    "ideal_run_s",
    "breakdown_count",
    "microstop_count",
]
SIX_LOSSES = LOSSES[1:7]
NOV = {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.mark.parametrize(("grain", "group_by"), [("day", "machine"), ("week", "plant")])
def test_shift_oee_equals_ratios_of_summed_shift_components(built, grain, group_by):
    params = {**ALL_DAYS, "grain": grain, "group_by": group_by}
    items = built.all_items("/v1/oee/shifts", params)
    expected = with_oee_ratios(
        expected_periods(
            built,
            "machine_oee_shift",
            "shift_date",
            date(2026, 10, 1),
            date(2026, 11, 30),
            grain,
            group_by,
            [*OEE_COMPONENTS, "planned_downtime_s"],
            keys=("shift_code",),
            count_as="machine_shifts",
        )
    )
    assert_items(items, expected)
    assert {i["shift_code"] for i in items} >= {"MORNING", "NO_SHIFT"}


def test_shift_rows_add_up_to_the_daily_oee_over_the_range(built):
    """DESIGN.md s.6: shift rows plus NO_SHIFT rows add up to the daily rows per machine."""
    by_shift = built.all_items("/v1/oee/shifts", {**ALL_DAYS, "grain": "range"})
    by_day = {i["group"]: i for i in built.all_items("/v1/oee", {**ALL_DAYS, "grain": "range"})}
    assert {i["group"] for i in by_shift} == set(by_day)
    for machine, day in by_day.items():
        mine = [i for i in by_shift if i["group"] == machine]
        for column in OEE_COMPONENTS:
            assert _close(sum(Fraction(i[column]) for i in mine), day[column]), (machine, column)


def test_shift_filter_and_one_night_instance(built):
    """SC-01 ran the Thursday 2026-11-19 night shift (21:00-05:00): one instance, dated 11-19."""
    params = {**NOV, "machine_id": "SC-01", "shift_code": "NIGHT"}
    items = built.all_items("/v1/oee/shifts", params)
    assert items and all(i["shift_code"] == "NIGHT" for i in items)
    assert "2026-11-19" in [i["period"] for i in items]
    assert built.all_items("/v1/oee/shifts", {**params, "shift_code": "NOPE"}) == []
    bad = built.get("/v1/oee/shifts", {**params, "shift_code": "night shift"})
    assert bad.status_code == 422 and "shift_code" in bad.json()["detail"]


@pytest.mark.parametrize(
    ("path", "date_column", "keys"),
    [("/v1/losses", "production_date", ()), ("/v1/losses/shifts", "shift_date", ("shift_code",))],
)
def test_six_big_losses_are_summed_and_close_exactly(built, path, date_column, keys):
    items = built.all_items(path, {**ALL_DAYS, "grain": "day", "group_by": "machine"})
    expected = expected_periods(
        built,
        "oee_losses",
        date_column,
        date(2026, 10, 1),
        date(2026, 11, 30),
        "day",
        "machine",
        LOSSES,
        keys=keys,
    )
    for row in expected:
        row["is_speed_loss_negative"] = row["run_s"] < row["ideal_run_s"]
    assert_items(items, expected)
    for i in items:  # planned busy time - the six losses = ideal time of good parts
        closing = Fraction(i["planned_busy_s"]) - sum(Fraction(i[c]) for c in SIX_LOSSES)
        assert _close(closing, i["ideal_good_s"]), i
    # the day's losses per machine carry the same PBT as the daily OEE
    oee = {(i["period"], i["group"]): i for i in built.all_items("/v1/oee", ALL_DAYS)}
    if path == "/v1/losses":
        for i in items:
            assert _close(i["planned_busy_s"], oee[i["period"], i["group"]]["planned_busy_s"])


def test_changeovers_list_and_weekly_average(built):
    items = built.all_items("/v1/changeovers", ALL_DAYS)
    rows = built.marts("select * from marts.changeovers order by started_at, machine_id")
    assert [(i["machine_id"], i["order_ref"], i["changeover_s"]) for i in items] == [
        (r["machine_id"], r["order_ref"], float(r["changeover_s"])) for r in rows
    ]
    # hand-computed: CU-01 last cycle of 101 ends 06:18:30, first of 102 ends 07:31:00 (CET);
    # in between RUNNING, DOWN 07:15-07:25 (600 s), RUNNING
    cu01 = next(i for i in items if i["machine_id"] == "CU-01")
    assert (cu01["previous_order_ref"], cu01["order_ref"]) == ("CMD-2026-000101", "CMD-2026-000102")
    assert (cu01["elapsed_s"], cu01["changeover_s"], cu01["setup_s"]) == (4350, 600, 0)
    assert cu01["started_at"].startswith("2026-11-19T05:18:30")
    weekly = built.all_items("/v1/changeovers/averages", {**ALL_DAYS, "group_by": "plant"})
    expected = expected_periods(
        built,
        "changeovers",
        "changeover_date",
        date(2026, 10, 1),
        date(2026, 11, 30),
        "week",
        "plant",
        ["elapsed_s", "changeover_s", "setup_s", "planned_downtime_s", "off_s"],
        count_as="changeover_count",
    )
    for row in expected:
        row["avg_changeover_s"] = row["changeover_s"] / row["changeover_count"]
    assert_items(weekly, expected)


def test_operators_are_summed_per_badge(built):
    items = built.all_items("/v1/operators", ALL_DAYS)
    expected = with_oee_ratios(
        expected_periods(
            built,
            "operator_performance",
            "production_date",
            date(2026, 10, 1),
            date(2026, 11, 30),
            "range",
            "badge",
            [*OEE_COMPONENTS, "planned_downtime_s", "cycle_count"],
            count_as="operator_days",
        )
    )
    assert_items(items, expected)
    # the fixtures' badges (B042) are read while CU-01 is OFF and as CU-02's log ends: no
    # time is attributed to them, every second is 'unassigned'
    assert [i["group"] for i in items] == ["unassigned"]
    [plant] = built.all_items("/v1/oee", {**ALL_DAYS, "grain": "range", "group_by": "plant"})
    assert items[0]["run_s"] == plant["run_s"] and items[0]["oee"] == plant["oee"]
    one = built.all_items("/v1/operators", {**ALL_DAYS, "operator_badge": "unassigned"})
    assert one == items
    missing = built.get("/v1/operators", {**ALL_DAYS, "operator_badge": "B999"})
    assert missing.status_code == 404 and "B999" in missing.json()["detail"]


def test_machines_list_and_one(built):
    items = built.all_items("/v1/machines")
    rows = built.marts("select * from marts.dim_machine order by machine_id")
    assert [i["machine_id"] for i in items] == [r["machine_id"] for r in rows]
    one = built.json("/v1/machines/CU-01")
    assert one["machine_type"] == "CU" and one["last_production_date"] == "2026-11-19"
    assert built.get("/v1/machines/ZZ-99").status_code == 404


def test_orders_filters_and_one_order(built):
    everything = built.all_items("/v1/orders")
    assert [o["numero"] for o in everything] == [
        "CMD-2026-000101",
        "CMD-2026-000102",
        "CMD-2026-000103",
        "CMD-2026-000104",
        "CMD-2026-000105",
        "CMD-2026-000999",
    ]
    late = built.all_items("/v1/orders", {"late": "true"})
    assert [o["numero"] for o in late] == ["CMD-2026-000101", "CMD-2026-000105"]
    validated = built.all_items("/v1/orders", {"status": "VALIDEE"})
    assert [o["numero"] for o in validated] == ["CMD-2026-000103", "CMD-2026-000105"]
    due = built.all_items(
        "/v1/orders", {"delivery_from": "2026-11-16", "delivery_to": "2026-11-30", "customer_id": 1}
    )
    assert [o["numero"] for o in due] == ["CMD-2026-000101", "CMD-2026-000103"]
    one = built.json("/v1/orders/CMD-2026-000101")
    assert (one["ordered_qty"], one["produced_qty"], one["good_qty"], one["scrap_qty"]) == (
        12,
        12,
        11,
        1,
    )
    assert one["customer_name"] == "Menuiserie Dupont" and one["is_late"] is True
    assert one["first_event_at"].startswith("2026-11-19T05:15:10")
    missing = built.get("/v1/orders/CMD-2026-000777")
    assert missing.status_code == 404 and "CMD-2026-000777" in missing.json()["detail"]


def test_freshness_names_the_build_and_each_machines_newest_event(built):
    body = built.json("/v1/freshness")
    assert body["data_version"] == built.versions[-1]
    newest = {
        m["machine_id"]: m["newest_event_at"] and datetime.fromisoformat(m["newest_event_at"])
        for m in body["machines"]
    }
    raw = built.marts(
        "select machine_id, max(event_at) as newest from raw.machine_events group by machine_id"
    )
    assert {k: v for k, v in newest.items() if v} == {r["machine_id"]: r["newest"] for r in raw}
    machines = {m["machine_id"] for m in built.marts("select machine_id from marts.dim_machine")}
    assert set(newest) == machines  # a machine without events is listed with null
    # CU-02's newest event came with batch 2 (13:00 Paris = 12:00 UTC)
    assert newest["CU-02"] == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_machine_status_is_computed_at_each_request_and_never_cached(built):
    first = built.get("/v1/machines/status")
    assert first.status_code == 200, first.text
    assert first.headers["Cache-Control"] == "no-store" and "ETag" not in first.headers
    body = first.json()
    expected = built.marts("select machine_id, status, is_silent from marts.machine_status")
    assert [(m["machine_id"], m["status"], m["is_silent"]) for m in body] == sorted(
        (r["machine_id"], r["status"], r["is_silent"]) for r in expected
    )
    assert any(m["is_silent"] for m in body)  # the fixture's machines stopped in November 2026
    second = built.json("/v1/machines/status")
    assert second[0]["checked_at"] > body[0]["checked_at"]  # a new instant, not a cached answer
    assert built.get("/v1/machines/status", auth=False).status_code == 401


# --------------------------------------------------------------------------- cache and versions


def test_new_materialization_changes_the_version_and_the_next_response(built):
    v1, v2 = built.versions
    assert v1 != v2
    before = built.before["cu02_day"]
    after = built.get("/v1/oee", dict(BEFORE[0][2]))
    assert before.headers["X-Data-Version"] == v1 and after.headers["X-Data-Version"] == v2
    assert after.headers["ETag"] != before.headers["ETag"]
    # batch 2 continued CU-02's RUNNING from 12:00: 9000 s in all, never the cached 7200 s
    assert before.json()["items"][0]["run_s"] != after.json()["items"][0]["run_s"]
    assert after.json()["items"][0]["run_s"] == 9000
    # the old ETag is no longer current
    stale = built.get("/v1/oee", dict(BEFORE[0][2]), {"If-None-Match": before.headers["ETag"]})
    assert stale.status_code == 200 and stale.json()["data_version"] == v2


def test_etag_revalidation_answers_304_and_repeats_hit_the_cache(built):
    params = {"from": "2026-11-01", "to": "2026-11-30", "grain": "month", "group_by": "plant"}
    first = built.get("/v1/oee", params)
    second = built.get("/v1/oee", params)
    assert second.headers["X-Cache"] == "HIT" and second.content == first.content
    revalidated = built.get("/v1/oee", params, {"If-None-Match": first.headers["ETag"]})
    assert revalidated.status_code == 304 and revalidated.content == b""
    assert revalidated.headers["ETag"] == first.headers["ETag"]


def test_concurrent_misses_for_one_key_compute_once(built):
    params = {"from": "2026-10-02", "to": "2026-11-29", "grain": "week", "group_by": "plant"}
    statuses: list[str] = []
    barrier = threading.Barrier(16)

    def call() -> None:
        barrier.wait()
        response = built.get("/v1/oee", params)
        assert response.status_code == 200
        statuses.append(response.headers["X-Cache"])

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 16
    assert statuses.count("MISS") == 1, statuses
    assert set(statuses) <= {"MISS", "HIT", "COALESCED"}


def test_redis_stopped_mid_test_keeps_answering_from_postgresql(built):
    env = settings_env(
        replace(api_settings(built.pg, built.role, built.password), api_keys=f"tests:{digest(KEY)}")
    )
    week = {**W47, "grain": "week", "group_by": "machine_type"}
    month = {"from": "2026-11-01", "to": "2026-11-30", "grain": "month", "group_by": "machine"}
    with private_redis() as (url, redis_proc), run_api({**env, "REDIS_URL": url}) as server:

        def get(params: dict) -> httpx.Response:
            return httpx.get(server.base_url + "/v1/oee", params=params, headers=AUTH)

        first, second = get(week), get(week)
        assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
        assert redis.Redis.from_url(url).dbsize() == 1  # the answer went to Redis
        assert httpx.get(server.base_url + "/ready").json()["status"] == "ok"
        redis_proc.kill()
        redis_proc.wait()
        uncached = get(month)
        assert uncached.status_code == 200 and uncached.headers["X-Cache"] == "BYPASS"
        assert_items(
            uncached.json()["items"],
            expected_oee(built, date(2026, 11, 1), date(2026, 11, 30), "month", "machine"),
        )
        again = get(week)  # still served, from this process's memory tier
        assert again.status_code == 200 and again.json() == first.json()
        ready = httpx.get(server.base_url + "/ready")
        assert ready.status_code == 200
        assert ready.json() | {"data_version": None} == {
            "status": "degraded",
            "database": "ok",
            "cache": "unavailable",
            "data_version": None,
        }


# --------------------------------------------------------------------------- formats, paging


def test_pagination_has_a_stable_order_and_link_headers(built):
    params = {**ALL_DAYS, "grain": "day", "group_by": "machine"}
    full = built.all_items("/v1/oee", params)
    seen, url = [], f"{built.base_url}/v1/oee?" + str(httpx.QueryParams({**params, "limit": 2}))
    pages = 0
    while url:
        response = httpx.get(url, headers=AUTH)
        assert response.status_code == 200
        assert int(response.headers["X-Total-Count"]) == len(full)
        seen += response.json()["items"]
        links = httpx.Response(200, headers=response.headers).links
        url = str(response.url.join(links["next"]["url"])) if "next" in links else None
        assert "first" in links and "last" in links
        pages += 1
    assert seen == full and pages == (len(full) + 1) // 2


def test_csv_on_accept_text_csv(built):
    response = built.get("/v1/oee", {**W47, "grain": "week"}, {"Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    as_json = built.all_items("/v1/oee", {**W47, "grain": "week"})
    assert [r["group"] for r in rows] == [i["group"] for i in as_json]
    assert [float(r["run_s"]) for r in rows] == [i["run_s"] for i in as_json]
    undated = ["/v1/machines", "/v1/orders", "/v1/downtime/pareto", "/v1/freshness"]
    for path in undated + DATED:
        params = ALL_DAYS if path in DATED else None
        listed = built.get(path, params, {"Accept": "text/csv"})
        assert listed.status_code == 200 and listed.headers["content-type"].startswith("text/csv")
        assert len(list(csv.DictReader(io.StringIO(listed.text)))) >= 1


# --------------------------------------------------------------------------- security, validation


def test_api_keys_401_without_or_unknown_403_revoked_health_open(built):
    assert built.get("/health", auth=False).status_code == 200
    assert built.get("/ready", auth=False).json()["status"] == "ok"
    missing = built.get("/v1/machines", auth=False)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    unknown = built.get("/v1/machines", auth=False, headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401
    revoked = built.get(
        "/v1/machines", auth=False, headers={"Authorization": f"Bearer {REVOKED_KEY}"}
    )
    assert revoked.status_code == 403 and "revoked" in revoked.json()["detail"]


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"from": "2026-02-31", "to": "2026-03-01"}, 422, "from"),
        ({"from": "2026-11-20", "to": "2026-11-01"}, 422, "inverted"),
        ({**W47, "grain": "fortnight"}, 422, "grain"),
        ({**W47, "limit": 100000}, 422, "limit"),
        ({"from": "2000-01-01", "to": "2026-01-01"}, 422, "at most"),
        ({**W47, "machine_id": "ZZ-99"}, 404, "ZZ-99"),
        ({**W47, "machine_id": "not a machine"}, 422, "machine_id"),
    ],
)
def test_bad_parameters_get_a_message_a_person_understands(built, params, status, words):
    response = built.get("/v1/oee", params)
    assert response.status_code == status, response.text
    assert isinstance(response.json()["detail"], str) and words in response.json()["detail"]


def test_requests_are_bounded(built):
    long = built.get("/v1/machines", {"machine_type": "X" * 5000})
    assert long.status_code == 414
    body = httpx.request(
        "GET", built.base_url + "/v1/machines", headers=AUTH, content=b"x" * 10, timeout=10
    )
    assert body.status_code == 413


def test_api_role_reads_marts_only(built):
    reader = built.pg.__class__(
        built.pg.host, built.pg.port, built.role, built.password, built.pg.dbname
    )
    with reader.connect(autocommit=True) as conn:
        assert conn.execute("select count(*) from marts.machine_oee_daily").fetchone()[0] > 0
        for statement in ("select * from raw.machine_events", "delete from marts.dim_machine"):
            with pytest.raises(Exception, match="permission denied"):
                conn.execute(statement)


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(built, tmp_path):
    st = shutil.which("st", path=os.path.dirname(sys.executable))
    proc = subprocess.run(
        [
            st,
            "run",
            built.base_url + "/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--max-examples",
            "25",
            "--phases",
            "examples,coverage,fuzzing",
            "--seed",
            "22400",
            "--workers",
            "2",
            "--generation-database",
            "none",
            "--no-color",
            "-H",
            f"Authorization: Bearer {KEY}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    print(proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "/v1/oee" in proc.stdout or "passed" in proc.stdout.lower()


def test_redis_keys_live_under_the_test_prefix_only(built):
    keys = list(redis.Redis.from_url(SHARED_REDIS).scan_iter(match=f"{built.prefix}:*"))
    assert keys and all(
        k.decode().startswith(built.prefix + ":" + built.versions[0])
        or k.decode().startswith(built.prefix + ":" + built.versions[1])
        for k in keys
    )


def test_units_are_in_the_openapi_schema(built):
    schemas = httpx.get(built.base_url + "/openapi.json").json()["components"]["schemas"]
    oee = schemas["OeeRow"]["properties"]
    assert oee["run_s"]["x-unit"] == "s" and "seconds" in oee["run_s"]["description"]
    assert oee["good_qty"]["x-unit"] == "parts" and "parts" in oee["good_qty"]["description"]
    assert oee["availability"]["x-unit"] == "ratio" and "0-1" in oee["availability"]["description"]
    assert "sum(run_s) / sum(planned_busy_s)" in oee["availability"]["description"]
    assert schemas["ReliabilityRow"]["properties"]["mtbf_s"]["x-unit"] == "s"


def test_ready_is_503_while_the_warehouse_is_unreachable():
    closed_port = free_port()  # nothing listens there
    env = {"POSTGRES_PORT": str(closed_port), "REDIS_URL": "", "API_KEYS": ""}
    with run_api(env) as server:
        assert httpx.get(server.base_url + "/health").status_code == 200
        ready = httpx.get(server.base_url + "/ready", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["database"] == "unavailable" and ready.json()["cache"] == "disabled"


def test_malformed_key_settings_stop_the_server_with_the_variable_named():
    with pytest.raises(ValueError, match="API_REVOKED_KEYS"):
        ApiKeys.parse(f"erp:{digest(KEY)}", "old-portal:not-a-digest")
    with pytest.raises(ValueError, match="API_KEYS"):
        ApiKeys.parse(KEY)  # the key itself pasted instead of its digest
    keys = ApiKeys.parse(f" erp:{digest(KEY).upper()} ,", f"old:{digest(REVOKED_KEY)}")
    assert keys.check(KEY) == (KeyStatus.VALID, "erp")
    assert keys.check(REVOKED_KEY) == (KeyStatus.REVOKED, "old")
    assert keys.check("guess")[0] is KeyStatus.UNKNOWN
