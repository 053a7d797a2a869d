"""The dbt project built on hand-computed fixtures: exact values in every DESIGN.md mart column.

Fixtures (tests/fixtures/dbt_data/logs, Europe/Paris):
- CU-01 2026-11-19: one machine-day with known seconds (SETUP 900.25, RUNNING 3599.75 + 3600,
  DOWN 600 under alarm E1042, IDLE 1200, OFF 900 outside PBT) and counts (LAME-ALU-39 3×4 parts,
  1 scrapped; COULISSE-ALU-53 2×2 parts, the whole batch of 4 scrapped; PROTO-X 2 parts, not in
  the seed so it adds no ideal time and warns).
- AS-01 2026-10-25: the DST day (RUNNING 00:00 CEST → 12:00 CET is 13 h, not 12), two cycles in
  the repeated hour, OFF from 23:00 into the next day.
- SC-01 2026-11-19 22:00 → 2026-11-20 00:30 RUNNING: a midnight crossing, one cycle each side.
- CU-02: RUNNING opened at the end of one file continues into the next, loaded by a second,
  incremental dbt build; two failures (DOWN → DOWN is not a new one).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import psycopg
import pytest
import yaml

from shutter_assets.simulator.plant import MACHINES
from tests.fixtures.databases import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
)
from tests.fixtures.dbt_data import load
from tests.fixtures.dbt_data.compare import close, rows
from tests.fixtures.dbt_data.runner import dbt

pytestmark = pytest.mark.integration

MARTS = [
    "machine_oee_daily",
    "machine_reliability",
    "downtime_pareto",
    "order_production_status",
    "daily_throughput",
    "dim_machine",
    "dim_order",
    "dim_customer",
    "dim_product",
    "machine_oee_shift",
    "oee_losses",
    "changeovers",
    "changeovers_weekly",
    "operator_performance",
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


D19, D20 = date(2026, 11, 19), date(2026, 11, 20)
DST, DST_NEXT = date(2026, 10, 25), date(2026, 10, 26)


def oee_row(machine, day, run, setup, down, idle, produced, scrap, ideal, scrap_ideal=0):
    """A machine_oee_daily row; ``scrap_ideal`` is the ideal time (PRU) of the scrapped parts."""
    run, setup, down, idle, ideal = (Fraction(x) for x in (run, setup, down, idle, ideal))
    calendar = 25 * 3600 if day == DST else 24 * 3600
    pbt = run + setup + down + idle
    availability = run / pbt if pbt else None
    performance = ideal / run if run else None
    quality = Fraction(produced - scrap, produced) if produced else None
    ratios = (availability, performance, quality)
    oee = None if None in ratios else availability * performance * quality
    return {
        "machine_id": machine,
        "production_date": day,
        "planned_busy_s": pbt,
        "run_s": run,
        "setup_s": setup,
        "down_s": down,
        "idle_s": idle,
        "produced_qty": produced,
        "good_qty": produced - scrap,
        "scrap_qty": scrap,
        "ideal_run_s": ideal,
        "availability": availability,
        "performance": performance,
        "quality": quality,
        "oee": oee,
        # no planned-downtime window of the shipped seed touches these fixtures
        "planned_downtime_s": 0,
        "calendar_s": calendar,
        "teep": (ideal - Fraction(scrap_ideal)) / calendar,
    }


EXPECTED_OEE = [
    # the DST day: 13 h RUNNING + 11 h IDLE = 24 h busy (+ 1 h OFF = 25 h)
    oee_row("AS-01", DST, 46800, 0, 0, 39600, 2, 0, 2 * 240),
    # only OFF (planned down time): every ratio's denominator is 0
    oee_row("AS-01", DST_NEXT, 0, 0, 0, 0, 0, 0, 0),
    oee_row("CU-01", D19, "7199.75", "900.25", 600, 1200, 18, 5, 12 * 9 + 4 * 22, 9 + 4 * 22),
    # RUNNING 10:00-12:00 spans two files; + 12:10-12:40
    oee_row("CU-02", D20, 9000, 0, 1200, 600, 8, 0, 8 * Fraction("7.5")),
    oee_row("SC-01", D19, 7200, 0, 0, 0, 6, 0, 6 * 6),
    oee_row("SC-01", D20, 1800, 0, 0, 1800, 6, 0, 6 * 6),
]

EXPECTED_RELIABILITY = [
    # machine, day, run_s, down_s, failures, mtbf_s, mttr_s
    ("AS-01", DST, 46800, 0, 0, None, None),
    ("AS-01", DST_NEXT, 0, 0, 0, None, None),
    ("CU-01", D19, Fraction("7199.75"), 600, 1, Fraction("7199.75"), 600),
    ("CU-02", D20, 9000, 1200, 2, 4500, 600),
    ("SC-01", D19, 7200, 0, 0, None, None),
    ("SC-01", D20, 1800, 0, 0, None, None),
]

EXPECTED_PARETO = [
    # machine, code, down_s, failures, alarms, alarm_active_s, share, cumulative, rank
    ("CU-01", "E1042", 600, 1, 1, 600, 1, 1, 1),
    ("CU-01", "E4150", 0, 0, 1, 30, 0, 1, 2),
    ("CU-02", "NO_ALARM", 1200, 2, 0, 0, 1, 1, 1),
]

EXPECTED_ORDERS = [
    # numero, customer, ordered, produced, good, scrap, first, last, due, statut, late
    ("CMD-2026-000101", 1, 12, 12, 11, 1, utc(2026, 11, 19, 5, 15, 10),
     utc(2026, 11, 19, 5, 18, 40), date(2026, 11, 18), "EN_PRODUCTION", True),
    ("CMD-2026-000102", 1, 4, 4, 0, 4, utc(2026, 11, 19, 6, 30), utc(2026, 11, 19, 6, 32, 20),
     date(2026, 12, 31), "EN_PRODUCTION", False),
    ("CMD-2026-000103", 1, 12, 12, 12, 0, utc(2026, 11, 19, 22, 58, 59),
     utc(2026, 11, 19, 23, 1, 1), date(2026, 11, 25), "VALIDEE", False),
    # the DST cycles: 02:20 CEST (00:20 UTC) first, 02:10 CET (01:10 UTC) last
    ("CMD-2026-000104", 1, 2, 2, 2, 0, utc(2026, 10, 25, 0, 20), utc(2026, 10, 25, 1, 10),
     None, "EXPEDIEE", False),
    ("CMD-2026-000105", 1, 1, 0, 0, 0, None, None, date(2026, 11, 15), "VALIDEE", True),
    ("CMD-2026-000999", None, None, 8, 8, 0, utc(2026, 11, 20, 9, 29), utc(2026, 11, 20, 11),
     None, None, False),
]  # fmt: skip

EXPECTED_THROUGHPUT = [
    # day, type, program, produced, good, scrap, cycles, machines
    (DST, "AS", "VR-ALU-RADIO", 2, 2, 0, 2, 1),
    (D19, "CU", "COULISSE-ALU-53", 4, 0, 4, 2, 1),
    (D19, "CU", "LAME-ALU-39", 12, 11, 1, 3, 1),
    (D19, "CU", "PROTO-X", 2, 2, 0, 1, 1),
    (D19, "SC", "DEBIT-LAME-ALU", 6, 6, 0, 1, 1),
    (D20, "CU", "LAME-PVC-40", 8, 8, 0, 2, 1),
    (D20, "SC", "DEBIT-LAME-ALU", 6, 6, 0, 1, 1),
]


def assert_rows(actual: list[dict], expected: list[tuple], columns: list[str]) -> None:
    assert len(actual) == len(expected), actual
    for got, want in zip(actual, expected, strict=True):
        for column, value in zip(columns, want, strict=True):
            ok = (
                close(got[column], value)
                if isinstance(value, int | Fraction)
                else (got[column] == value)
            )
            assert ok, f"{column}: got {got[column]!r}, want {value!r} in {got}"


RATIO_COLUMNS = {"availability", "performance", "quality", "oee", "teep"}
DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"


def declared_types() -> dict[tuple[str, str], str]:
    """(mart, column) -> data_type as the marts' YAML documents it for BI."""
    specs = [
        yaml.safe_load(path.read_text())
        for path in sorted((DBT_PROJECT / "models" / "marts").glob("_*__models.yml"))
    ]
    return {
        (model["name"], column["name"]): column["data_type"]
        for spec in specs
        for model in spec["models"]
        for column in model.get("columns", [])
        if "data_type" in column
    }


def mart_snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {
        mart: sorted(map(tuple, conn.execute(f"select * from marts.{mart}").fetchall()), key=repr)
        for mart in MARTS
    }


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """One uniquely named warehouse (and MariaDB source) for the module, dropped afterwards."""
    pg = create_pg_database("shutter_dbt")
    mysql = create_mysql_database("shutter_dbt")
    try:
        yield pg, mysql, tmp_path_factory.mktemp("dbt")
    finally:
        drop_pg_database(pg)
        drop_mysql_database(mysql)


@pytest.fixture(scope="module")
def built(warehouse):
    """Batch 1 of the logs + the orders, a first build, batch 2, an incremental build."""
    pg, mysql, tmp = warehouse
    batch1, batch2 = load.log_batches()
    load.ingest_logs(pg, batch1, tmp / "drop")
    load.load_orders(pg, mysql)
    dbt(pg, tmp / "target", "build")
    load.ingest_logs(pg, batch2, tmp / "drop")
    statuses = dbt(pg, tmp / "target", "build")
    with pg.connect(autocommit=True) as conn:
        yield conn, statuses


def test_every_dbt_test_passes_and_only_the_unknown_program_warns(built):
    _, statuses = built
    tests = {uid: s for uid, s in statuses.items() if uid.startswith("test.")}
    assert len(tests) > 60
    warned = sorted(uid for uid, s in tests.items() if s == "warn")
    assert warned == ["test.shutter.assert_production_programs_in_seed"]
    assert all(s in ("pass", "warn") for s in tests.values()), tests
    models = {uid: s for uid, s in statuses.items() if uid.startswith("model.")}
    assert {uid.split(".")[-1] for uid in models} >= set(MARTS)
    assert set(models.values()) == {"success"}


def test_marts_carry_the_types_their_yaml_documents_for_bi(built):
    conn, _ = built
    declared = declared_types()
    assert set(declared.values()) == {"numeric(18,3)", "numeric(9,6)", "bigint"}
    actual = {
        (table, column): data_type if data_type != "numeric" else f"numeric({precision},{scale})"
        for table, column, data_type, precision, scale in conn.execute(
            "select table_name, column_name, data_type, numeric_precision, numeric_scale"
            " from information_schema.columns where table_schema = 'marts'"
        ).fetchall()
    }
    assert {key: actual.get(key) for key in declared} == declared
    # every column of seconds or ratios in any mart has its declared type (a new one too)
    figures = {
        key for key in actual if key[1].endswith(("_s", "_share")) or key[1] in RATIO_COLUMNS
    }
    assert figures - set(declared) == set()


def test_machine_oee_daily_holds_the_hand_computed_iso_22400_values(built):
    conn, _ = built
    actual = rows(
        conn, "select * from marts.machine_oee_daily order by machine_id, production_date"
    )
    assert [list(r) for r in actual] == [list(e) for e in EXPECTED_OEE]  # exact column list
    for got, want in zip(actual, EXPECTED_OEE, strict=True):
        for column, value in want.items():
            if isinstance(value, str | date):
                assert got[column] == value
            else:
                assert close(got[column], value), f"{column}: {got[column]} != {value} ({got})"


def test_dst_day_counts_25_true_hours(built):
    conn, _ = built
    total = conn.execute(
        "select sum(duration_s) from intermediate.int_machine_state_daily "
        "where machine_id = 'AS-01' and production_date = '2026-10-25'"
    ).fetchone()[0]
    assert total == 25 * 3600


def test_machine_reliability_counts_entries_into_down(built):
    conn, _ = built
    actual = rows(conn, "select * from marts.machine_reliability order by 1, 2")
    assert_rows(
        actual,
        EXPECTED_RELIABILITY,
        ["machine_id", "production_date", "run_s", "down_s", "failure_count", "mtbf_s", "mttr_s"],
    )


def test_downtime_pareto_charges_down_time_to_the_alarm(built):
    conn, _ = built
    actual = rows(conn, "select * from marts.downtime_pareto order by machine_id, pareto_rank")
    assert_rows(
        actual,
        EXPECTED_PARETO,
        ["machine_id", "alarm_code", "down_s", "failure_count", "alarm_count", "alarm_active_s",
         "down_share", "cumulative_down_share", "pareto_rank"],
    )  # fmt: skip


def test_order_production_status_per_numero(built):
    conn, _ = built
    actual = rows(conn, "select * from marts.order_production_status order by numero")
    # CMD-2026-000106 was deleted at the source: it must not appear
    assert_rows(
        actual,
        EXPECTED_ORDERS,
        ["numero", "customer_id", "ordered_qty", "produced_qty", "good_qty", "scrap_qty",
         "first_event_at", "last_event_at", "date_livraison_prevue", "statut", "is_late"],
    )  # fmt: skip


def test_daily_throughput_per_day_type_and_program(built):
    conn, _ = built
    actual = rows(conn, "select * from marts.daily_throughput order by 1, 2, 3")
    assert_rows(
        actual,
        EXPECTED_THROUGHPUT,
        ["production_date", "machine_type", "program", "produced_qty", "good_qty", "scrap_qty",
         "cycle_count", "machine_count"],
    )  # fmt: skip


def test_dimensions_hold_reference_and_undeleted_erp_rows(built):
    conn, _ = built
    machines = rows(conn, "select * from marts.dim_machine order by machine_id")
    # every machine of the seed (written from the simulator's plant), with events or not
    assert [m["machine_id"] for m in machines] == sorted(m.machine_id for m in MACHINES)
    cu01 = next(m for m in machines if m["machine_id"] == "CU-01")
    assert (cu01["machine_type"], cu01["is_in_reference"]) == ("CU", True)
    assert (cu01["first_production_date"], cu01["last_production_date"]) == (D19, D19)
    as01 = next(m for m in machines if m["machine_id"] == "AS-01")
    assert (as01["first_production_date"], as01["last_production_date"]) == (DST, DST_NEXT)
    sc02 = next(m for m in machines if m["machine_id"] == "SC-02")
    assert sc02["first_production_date"] is None

    customers = rows(conn, "select * from marts.dim_customer")
    assert [(c["customer_id"], c["customer_name"], c["email"]) for c in customers] == [
        (1, "Menuiserie Dupont", "contact@dupont.fr")
    ]
    orders = rows(conn, "select * from marts.dim_order order by order_id")
    assert [o["order_id"] for o in orders] == [101, 102, 103, 104, 105]
    first = orders[0]
    assert (first["line_count"], first["ordered_qty"], first["lines_amount"]) == (
        2, 12, Decimal("1200.00")
    )  # fmt: skip
    products = rows(conn, "select * from marts.dim_product order by product_id")
    assert [(p["product_reference"], p["is_active"]) for p in products] == [
        ("VR-ALU-RADIO", True),
        ("VR-PVC-MANUEL", True),
        ("VR-PVC-SOLAIRE-V1", False),
    ]
    assert products[0]["assembly_ideal_s_per_part"] == 240


def test_docs_generate_and_source_freshness_work_on_the_built_warehouse(built, warehouse):
    pg, _, tmp = warehouse
    dbt(pg, tmp / "target", "docs", "generate")
    catalog = json.loads((tmp / "target" / "catalog.json").read_text())
    oee = catalog["nodes"]["model.shutter.machine_oee_daily"]
    assert oee["metadata"]["schema"] == "marts"
    assert list(oee["columns"]) == list(EXPECTED_OEE[0])
    dbt(pg, tmp / "target", "source", "freshness")
    sources = json.loads((tmp / "target" / "sources.json").read_text())["results"]
    statuses = {r["unique_id"].split(".", 2)[2]: r["status"] for r in sources}
    # just loaded: both sources with a loaded_at field are fresh
    assert statuses == {
        "raw.ingested_files": "pass",
        "raw_commandes.clients": "pass",
        "raw_commandes.produits": "pass",
        "raw_commandes.commandes": "pass",
        "raw_commandes.lignes_commande": "pass",
    }


def test_incremental_builds_equal_a_full_refresh(built, warehouse):
    """Runs last: rebuilding everything from raw gives exactly what the two increments gave."""
    conn, _ = built
    pg, _, tmp = warehouse
    after_incremental = mart_snapshot(conn)
    intervals = conn.execute(
        "select machine_id, state, started_at, ended_at, is_open "
        "from intermediate.int_machine_state_intervals order by 1, 3"
    ).fetchall()
    dbt(pg, tmp / "target", "build", "--full-refresh")
    assert mart_snapshot(conn) == after_incremental
    assert (
        conn.execute(
            "select machine_id, state, started_at, ended_at, is_open "
            "from intermediate.int_machine_state_intervals order by 1, 3"
        ).fetchall()
        == intervals
    )
