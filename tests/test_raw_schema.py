"""The raw schema's Alembic migrations on real PostgreSQL: fresh, concurrent, and adopted by a
warehouse that the pre-Alembic ``create table if not exists`` DDL built."""

from __future__ import annotations

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from shutter_assets.lib.raw_schema import (
    SCRIPT_LOCATION,
    current_revision,
    ensure_raw_schema,
    head_revision,
)
from tests.fixtures.concurrency import run_concurrently


def revision_module(revision: str):
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    return ScriptDirectory.from_config(cfg).get_revision(revision).module


def raw_tables(conn) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' "
            "order by table_name"
        ).fetchall()
    ]


@pytest.mark.integration
def test_a_fresh_warehouse_gets_every_revision(pg_conn):
    assert current_revision(pg_conn) is None
    ensure_raw_schema(pg_conn)
    assert current_revision(pg_conn) == head_revision()
    assert raw_tables(pg_conn) == [
        "alembic_version",
        "ingested_files",
        "machine_event_rejects",
        "machine_events",
    ]


@pytest.mark.integration
def test_a_warehouse_built_by_the_old_ddl_upgrades_and_keeps_each_line_once(pg_conn):
    # What ensure_raw_schema executed before the migrations existed, verbatim.
    pg_conn.execute(revision_module("0001").BASELINE_DDL)
    pg_conn.execute(
        "insert into raw.ingested_files (path, size_bytes, sha256, status, event_count) "
        "values ('CU-01_20261120_060000.log', 120, repeat('a', 64), 'loaded', 1)"
    )
    pg_conn.execute(
        "insert into raw.machine_events (file_id, line_no, machine_id, event_type, "
        "event_local_ts, event_at, value_num) values (1, 2, 'CU-01', 'CYCLE_END', "
        "'2026-11-20 06:00:00', '2026-11-20 05:00:00+00', 4)"
    )
    pg_conn.execute(
        "insert into raw.machine_event_rejects values (1, 3, 'bad', 'expected 7 fields, got 1')"
    )
    # The bug revision 0002 repairs: the same path loaded twice (an upload that resumed after
    # its first part was loaded), both versions counted.
    pg_conn.execute(
        "insert into raw.ingested_files (path, size_bytes, sha256, status, event_count) "
        "values ('CU-01_20261120_060000.log', 180, repeat('b', 64), 'loaded', 2), "
        "('CU-02_20261120_060000.log', 90, repeat('c', 64), 'loaded', 1)"
    )
    pg_conn.execute(
        "insert into raw.machine_events (file_id, line_no, machine_id, event_type, "
        "event_local_ts, event_at, value_num) select 2, n, 'CU-01', 'CYCLE_END', "
        "timestamp '2026-11-20 06:00:00', timestamptz '2026-11-20 05:00:00+00', 4 "
        "from generate_series(2, 3) n union all select 3, 2, 'CU-02', 'CYCLE_END', "
        "timestamp '2026-11-20 06:00:00', timestamptz '2026-11-20 05:00:00+00', 1"
    )
    assert current_revision(pg_conn) is None

    ensure_raw_schema(pg_conn)
    ensure_raw_schema(pg_conn)  # idempotent once at head

    assert current_revision(pg_conn) == head_revision()
    assert pg_conn.execute(
        "select file_id, path, status, superseded_by from raw.ingested_files order by file_id"
    ).fetchall() == [
        (1, "CU-01_20261120_060000.log", "superseded", 2),
        (2, "CU-01_20261120_060000.log", "loaded", None),
        (3, "CU-02_20261120_060000.log", "loaded", None),
    ]
    assert pg_conn.execute(
        "select file_id, line_no, value_num from raw.machine_events order by 1, 2"
    ).fetchall() == [(2, 2, 4), (2, 3, 4), (3, 2, 1)]
    assert pg_conn.execute("select count(*) from raw.machine_event_rejects").fetchone() == (0,)
    (versions,) = pg_conn.execute("select count(*) from raw.alembic_version").fetchone()
    assert versions == 1


@pytest.mark.integration
def test_concurrent_runs_apply_the_migrations_once(pg_settings):
    def migrate() -> None:
        with pg_settings.connect() as conn:
            ensure_raw_schema(conn)

    assert run_concurrently(migrate, 3) == []
    with pg_settings.connect() as conn:
        assert current_revision(conn) == head_revision()
