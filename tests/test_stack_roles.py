"""The stack's warehouse roles (``python -m shutter_assets.lib.warehouse_roles``, compose
``warehouse-init``) against the real PostgreSQL server: the pipeline's owner role and the BI role.

Each test uses its own databases and role names (roles are server-wide) and removes them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace

import psycopg
import pytest
from psycopg import sql

from shutter_assets.lib.bi_access import ensure_readonly_role
from shutter_assets.lib.connections import PostgresSettings
from shutter_assets.lib.warehouse_roles import BIAccessSettings, PipelineOwnerSettings
from tests.fixtures.databases import server_postgres, unique_name
from tests.fixtures.settings import settings_env

pytestmark = pytest.mark.integration


@dataclass
class Stack:
    admin: PostgresSettings
    warehouse: str
    dagster_db: str
    pipeline: str
    bi: str

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            **settings_env(
                replace(self.admin, dbname=self.warehouse),
                PipelineOwnerSettings(self.pipeline, "pipe$line'pw", self.dagster_db),
                BIAccessSettings(self.bi, "bi-pw-1"),
            ),
            **extra,
        }

    def init(self, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "shutter_assets.lib.warehouse_roles"],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def as_pipeline(self, dbname: str) -> psycopg.Connection:
        settings = PostgresSettings(self.admin.host, self.admin.port, self.pipeline, "", dbname)
        return settings.connect(autocommit=True)


@pytest.fixture
def stack() -> Iterator[Stack]:
    admin = server_postgres()
    s = Stack(
        admin,
        unique_name("shutter_test_dw"),
        unique_name("shutter_test_dagster"),
        unique_name("shutter_pipe"),
        unique_name("shutter_bi"),
    )
    # The warehouse exists already, as the postgres image creates POSTGRES_DB as the superuser.
    with admin.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(s.warehouse)))
    try:
        yield s
    finally:
        with admin.connect(autocommit=True) as conn:
            for db in (s.warehouse, s.dagster_db):
                conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db))
                )
            for role in (s.bi, s.pipeline):
                if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
                    conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
                    conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def test_pipeline_role_owns_its_databases_and_nothing_more(stack):
    # A deployment of the former stack: the superuser created raw tables and Dagster's tables.
    with stack.admin.with_db(stack.warehouse).connect(autocommit=True) as conn:
        conn.execute("create schema raw")
        conn.execute("create table raw.ingested_files (id bigserial primary key, path text)")
        conn.execute("create view raw.files_v as select * from raw.ingested_files")
    result = stack.init()
    assert result.returncode == 0, result.stderr
    assert stack.init().returncode == 0  # every `docker compose up` runs it again

    with stack.admin.connect(autocommit=True) as conn:
        attrs = conn.execute(
            "select rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolpassword is not null "
            "from pg_authid where rolname = %s",
            (stack.pipeline,),
        ).fetchone()
        assert attrs == (False, False, False, True, True)
        owners = dict(
            conn.execute(
                "select datname, pg_get_userbyid(datdba) from pg_database where datname = any(%s)",
                ([stack.warehouse, stack.dagster_db],),
            ).fetchall()
        )
    assert owners == {stack.warehouse: stack.pipeline, stack.dagster_db: stack.pipeline}

    with stack.as_pipeline(stack.warehouse) as conn:
        # the former superuser's objects were handed over, data included
        conn.execute("insert into raw.ingested_files (path) values ('a.log')")
        assert conn.execute("select count(*) from raw.files_v").fetchone() == (1,)
        conn.execute("drop view raw.files_v")
        # what dbt and the loaders do: new schemas and tables, the loader's FK shortcut
        conn.execute("create schema staging")  # marts: created by warehouse-init, as the pipeline
        conn.execute("create table marts.machine_oee_daily (machine_id text, oee numeric)")
        conn.execute("insert into marts.machine_oee_daily values ('CU-01', 0.5)")
        with conn.transaction():
            conn.execute("set local session_replication_role = replica")
        # the bi/readonly_role asset as the pipeline: re-grants without CREATEROLE
        assert ensure_readonly_role(conn, stack.bi) is False
        # and nothing beyond its databases
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("create role {}").format(sql.Identifier(stack.bi + "_x")))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(stack.bi + "_x")))
    with stack.as_pipeline(stack.dagster_db) as conn:
        conn.execute("create table runs (run_id text primary key)")  # Dagster's storage tables

    bi = PostgresSettings(stack.admin.host, stack.admin.port, stack.bi, "", stack.warehouse)
    with bi.connect(autocommit=True) as conn:
        assert conn.execute("select machine_id from marts.machine_oee_daily").fetchall() == [
            ("CU-01",)
        ]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from raw.ingested_files")


def test_a_password_changed_in_env_reaches_the_existing_roles(stack):
    assert stack.init().returncode == 0

    def hashes() -> tuple:
        with stack.admin.connect(autocommit=True) as conn:
            return conn.execute(
                "select array_agg(rolpassword order by rolname) from pg_authid "
                "where rolname = any(%s)",
                ([stack.pipeline, stack.bi],),
            ).fetchone()[0]

    before = hashes()
    result = stack.init(POSTGRES_PIPELINE_PASSWORD="rotated-1", BI_READONLY_PASSWORD="rotated-2")
    assert result.returncode == 0, result.stderr
    after = hashes()
    assert all(a and b and a != b for a, b in zip(after, before, strict=True))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"POSTGRES_PIPELINE_USER": "postgres"}, "dedicated role"),
        ({"POSTGRES_PIPELINE_PASSWORD": ""}, "POSTGRES_PIPELINE_PASSWORD"),
        ({"POSTGRES_PIPELINE_USER": ""}, "POSTGRES_PIPELINE_USER"),
    ],
)
def test_init_refuses_the_superuser_or_an_unset_credential(stack, override, message):
    result = stack.init(**override)
    assert result.returncode != 0
    assert message in result.stderr
