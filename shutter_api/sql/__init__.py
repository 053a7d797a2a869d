"""SQL of the API, one module per resource: static statements, every value bound, never formatted.

Paged statements select ``count(*) over () as total`` and end with
``limit %(limit)s offset %(offset)s`` after an ``order by`` that makes the order total.
"""

from __future__ import annotations

from typing import Any

import psycopg

from shutter_api.pagination import PageParams


async def fetch_all(
    conn: psycopg.AsyncConnection, query: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    return await (await conn.execute(query, params)).fetchall()


async def fetch_one(
    conn: psycopg.AsyncConnection, query: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    return await (await conn.execute(query, params)).fetchone()


async def fetch_page(
    conn: psycopg.AsyncConnection, query: str, params: dict[str, Any], page: PageParams
) -> tuple[list[dict[str, Any]], int]:
    """One page of rows and the total over all pages (one statement, a second past the end)."""
    rows = await fetch_all(conn, query, {**params, "limit": page.limit, "offset": page.offset})
    if rows:
        return rows, rows[0]["total"]
    if page.offset == 0:
        return rows, 0
    first = await fetch_all(conn, query, {**params, "limit": 1, "offset": 0})
    return rows, first[0]["total"] if first else 0
