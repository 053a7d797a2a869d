"""The connection pool to the warehouse, as the API's read-only role, and the marts' version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from shutter_api.settings import ApiSettings

# Written by the Dagster asset api/marts_data_version (shutter_assets/lib/marts_version.py).
_VERSION = "select version, built_at from marts.data_version"


@dataclass(frozen=True)
class MartsVersion:
    version: str
    built_at: datetime


def open_pool(settings: ApiSettings) -> AsyncConnectionPool:
    """An async pool (``API_DB_POOL_MIN``..``API_DB_POOL_MAX``); open it with ``await pool.open()``.

    Connections are autocommit (each read is one statement) and read-only by their session
    options (ApiSettings.conninfo); a broken connection is replaced at checkout.
    """
    return AsyncConnectionPool(
        settings.conninfo(),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": 1},
        check=AsyncConnectionPool.check_connection,
        open=False,
        timeout=10.0,
    )


async def read_version(conn: psycopg.AsyncConnection) -> MartsVersion | None:
    """The recorded version, or None when no build was recorded yet (then nothing is cached)."""
    try:
        row = await (await conn.execute(_VERSION)).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return MartsVersion(row["version"], row["built_at"]) if row else None
