"""The BI read-only role: SELECT on marts (now and later tables), nothing anywhere else."""

from __future__ import annotations

import psycopg
import pytest

from shutter_assets.lib.bi_access import drop_readonly_role, ensure_readonly_role
from tests.fixtures.databases import unique_name

pytestmark = pytest.mark.integration


@pytest.fixture
def role(pg_conn):
    name = unique_name("bi_reader_test")
    try:
        yield name
    finally:
        drop_readonly_role(pg_conn, name)


def test_readonly_role_reads_marts_only_and_is_idempotent(pg_settings, pg_conn, role):
    pg_conn.execute("create schema marts; create schema raw")
    pg_conn.execute("create table marts.machine_oee_daily as select 'CU-01'::text as machine_id")
    pg_conn.execute("create table raw.machine_events as select 1 as file_id")

    assert ensure_readonly_role(pg_conn, role, "s3cret-pw") is True
    assert ensure_readonly_role(pg_conn, role, "s3cret-pw") is False  # idempotent
    # a mart rebuilt by dbt after the grant is readable too (default privileges)
    pg_conn.execute("create table marts.dim_machine as select 'CU-02'::text as machine_id")

    reader = pg_settings.__class__(
        pg_settings.host, pg_settings.port, role, "s3cret-pw", pg_settings.dbname
    )
    with reader.connect(autocommit=True) as conn:
        assert conn.execute("select machine_id from marts.machine_oee_daily").fetchall() == [
            ("CU-01",)
        ]
        assert conn.execute("select machine_id from marts.dim_machine").fetchall() == [("CU-02",)]
        for statement in (
            "select * from raw.machine_events",
            "insert into marts.machine_oee_daily values ('XX-99')",
            "create table marts.sneaky (x int)",
            "delete from marts.dim_machine",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    attrs = pg_conn.execute(
        "select rolcanlogin, rolsuper, rolcreaterole, rolcreatedb from pg_roles where rolname = %s",
        (role,),
    ).fetchone()
    assert attrs == (True, False, False, False)


def test_unusable_role_name_is_refused_with_the_variable_named(pg_conn):
    with pytest.raises(ValueError, match="BI_READONLY_ROLE"):
        ensure_readonly_role(pg_conn, "")
