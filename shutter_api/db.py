"""The connection pool to the warehouse, as the API's read-only role, and the marts' version."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from shutter_api.settings import ApiSettings

# Written by the Dagster asset api/marts_data_version (shutter_assets/lib/marts_version.py),
# which also notifies this channel at commit.
_VERSION = "select version, built_at from marts.data_version"
NOTIFY_CHANNEL = "shutter_marts_version"
_RETRY_S = 1.0

log = logging.getLogger("shutter_api")


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


class VersionWatcher:
    """The current marts version, pushed by PostgreSQL (LISTEN) instead of read per request.

    Why: a cached answer then costs no database round trip at all. The writer notifies at
    commit, so the version is known here before the Dagster run even reports success. While the
    listening connection is down (start-up, a PostgreSQL restart) ``known`` is False and callers
    read the version from the database on every request, so nothing stale is ever served.
    """

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._known = False
        self._current: MartsVersion | None = None
        self._task: asyncio.Task | None = None

    @property
    def known(self) -> bool:
        return self._known

    @property
    def current(self) -> MartsVersion | None:
        return self._current

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, row_factory=dict_row
                )
                async with conn:
                    await conn.execute("listen " + NOTIFY_CHANNEL)
                    # listening before reading: a build recorded in between is not missed
                    self._current, self._known = await read_version(conn), True
                    async for notify in conn.notifies():
                        pushed = json.loads(notify.payload)
                        self._current = MartsVersion(
                            pushed["version"], datetime.fromisoformat(pushed["built_at"])
                        )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: fall back to per-request reads, retry
                if self._known:
                    log.warning("marts version listener lost (%s); reading per request", exc)
            self._known = False
            await asyncio.sleep(_RETRY_S)
