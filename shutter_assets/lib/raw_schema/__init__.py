"""The ``raw`` schema of the machine logs, as versioned Alembic migrations. No Dagster.

``ensure_raw_schema(conn)`` brings a warehouse to the newest revision: an empty database gets the
three tables, a warehouse created by the pre-Alembic ``create table if not exists`` DDL is adopted
by the baseline revision (written with ``if not exists``, so it changes nothing there) and then
upgraded. The loader calls it before every run, so the code location applies a new revision the
first time it runs against an older warehouse; the advisory lock makes concurrent runs take turns.

A change to a ``raw.*`` table is a new file in ``versions/`` (``down_revision`` = the current
head); the version is kept in ``raw.alembic_version``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import psycopg

SCRIPT_LOCATION = Path(__file__).parent
VERSION_TABLE = "alembic_version"
VERSION_SCHEMA = "raw"
_SCHEMA_LOCK = 0x5348_5554_0001  # advisory lock key: one migration at a time


def _config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    return cfg


@cache
def head_revision() -> str:
    """The newest revision in ``versions/`` (read once per process)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: psycopg.Connection) -> str | None:
    """The revision the warehouse is at; None before the first migration (or before Alembic)."""
    with conn.transaction():
        exists = conn.execute(
            "select to_regclass(%s) is not null", (f"{VERSION_SCHEMA}.{VERSION_TABLE}",)
        ).fetchone()[0]
        if not exists:
            return None
        row = conn.execute(f"select version_num from {VERSION_SCHEMA}.{VERSION_TABLE}").fetchone()
    return row[0] if row else None


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    """Upgrade the warehouse ``conn`` points at to the newest revision; idempotent, race-safe.

    Already at head costs one query. Otherwise Alembic runs every pending revision in one
    transaction on its own connection (same server, database and role as ``conn``), under an
    advisory lock, so two runs starting together never apply a revision twice.
    """
    if current_revision(conn) == head_revision():
        return
    from alembic import command
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    params = conn.info.get_parameters()
    password = conn.info.password

    def connect() -> psycopg.Connection:
        return psycopg.connect(**params, password=password or None)

    engine = create_engine("postgresql+psycopg://", creator=connect, poolclass=NullPool)
    try:
        with engine.begin() as sa_conn:
            sa_conn.exec_driver_sql("select pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            cfg = _config()
            cfg.attributes["connection"] = sa_conn
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()
