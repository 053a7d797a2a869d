"""Serving a read: data version, ETag/304, Redis cache, JSON or CSV, pagination headers.

Every authenticated endpoint goes through ``Reader.respond``: it reads the marts' data version,
derives the cache key and ETag from (version, endpoint, validated parameters, format), answers
304 when the client already holds that ETag, else serves the cached bytes or computes them once.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from fastapi import HTTPException, Request, Response, status
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, TypeAdapter

from shutter_api.cache import CacheStatus, ResponseCache
from shutter_api.db import MartsVersion, VersionWatcher, read_version
from shutter_api.pagination import PageParams, link_header
from shutter_api.schemas import Page
from shutter_api.sql import fetch_one, fetch_page

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
JSON_MEDIA_TYPE = "application/json"


@dataclass
class Result:
    """What an endpoint computed: the JSON body, the rows a CSV holds, the total for paging."""

    body: BaseModel
    csv_rows: Callable[[], list[dict[str, Any]]]  # only called for a CSV answer
    csv_columns: list[str]
    total: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


Compute = Callable[[psycopg.AsyncConnection, MartsVersion | None], Awaitable[Result]]


async def page_result(
    conn: psycopg.AsyncConnection,
    version: MartsVersion | None,
    model: type[BaseModel],
    query: str,
    params: dict[str, Any],
    page: PageParams,
) -> Result:
    """One page of ``query``'s rows as ``Page[model]`` (JSON) and as CSV rows."""
    rows, total = await fetch_page(conn, query, params, page)
    items = _list_adapter(model).validate_python(rows)  # one call into pydantic-core
    body = Page[model](
        data_version=version and version.version, total=total, items=items, **page.model_dump()
    )
    return Result(
        body, lambda: [i.model_dump(mode="json") for i in items], list(model.model_fields), total
    )


@functools.cache
def _list_adapter(model: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(list[model])


@dataclass(frozen=True)
class Known:
    """A filter value that must name a row of the marts: 404 with ``not_found`` otherwise."""

    query: str
    params: dict[str, Any]
    not_found: str


async def require_row(conn: psycopg.AsyncConnection, known: Known) -> dict[str, Any]:
    """The first row of ``known.query``; HTTPException 404 with ``known.not_found`` if none."""
    row = await fetch_one(conn, known.query, known.params)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, known.not_found)
    return row


def response_format(accept: str | None) -> str:
    """``csv`` when the client accepts text/csv, else ``json``."""
    return "csv" if accept and "text/csv" in accept.lower() else "json"


def request_id(scope: dict, fmt: str) -> tuple:
    """What identifies a raw request for the cache: path, query string, format."""
    return scope["path"], scope.get("query_string", b""), fmt


def etag_for(key: str) -> str:
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def cached_response(
    payload: bytes, fmt: str, etag: str | None, version: MartsVersion | None, cache: str
) -> Response:
    """The HTTP response of a stored payload (its header line, then the body)."""
    header_line, _, body = payload.partition(b"\n")
    headers = {**json.loads(header_line), **_common(etag, version, cache)}
    media = CSV_MEDIA_TYPE if fmt == "csv" else JSON_MEDIA_TYPE
    return Response(content=body, media_type=media, headers=headers)


def not_modified(etag: str, version: MartsVersion) -> Response:
    return Response(status_code=304, headers=_common(etag, version, "REVALIDATED"))


@dataclass
class Reader:
    request: Request
    pool: AsyncConnectionPool
    cache: ResponseCache
    versions: VersionWatcher
    client: str

    async def respond(
        self,
        endpoint: str,
        params: dict[str, Any],
        compute: Compute,
        page: PageParams | None = None,
    ) -> Response:
        """The response of ``endpoint`` for validated ``params`` (the cache key, never raw URLs)."""
        fmt = response_format(self.request.headers.get("accept"))
        if self.versions.known:
            version = self.versions.current
        else:
            async with self.pool.connection() as conn:
                version = await read_version(conn)
        public = {k: _text(v) for k, v in params.items() if v is not None}
        link_path = self.request.url.path.rstrip("/").rsplit("/", 1)[-1]

        async def render() -> bytes:
            async with self.pool.connection() as conn:
                result = await compute(conn, version)
            headers = dict(result.headers)
            if page is not None and result.total is not None:
                headers["X-Total-Count"] = str(result.total)
                headers["Link"] = link_header(link_path, public, page, result.total)
            body = _csv(result) if fmt == "csv" else result.body.model_dump_json().encode()
            return json.dumps(headers).encode() + b"\n" + body

        if version is None:  # no build recorded: nothing to key a cache by
            payload, status, etag = await render(), CacheStatus.BYPASS, None
        else:
            query = json.dumps(
                {**public, **(page.model_dump() if page else {})}, sort_keys=True
            ).encode()
            tail = f"{endpoint}:{fmt}:{hashlib.sha256(query).hexdigest()[:32]}"
            self.cache.learn_route(request_id(self.request.scope, fmt), tail)
            key = f"{version.version}:{tail}"
            etag = etag_for(key)
            if etag_matches(self.request.headers.get("if-none-match"), etag):
                return not_modified(etag, version)
            payload, status = await self.cache.get_or_compute(key, render)
        return cached_response(payload, fmt, etag, version, status.value)

    async def page(
        self,
        endpoint: str,
        model: type[BaseModel],
        query: str,
        params: dict[str, Any],
        page: PageParams,
        known: Sequence[Known] = (),
    ) -> Response:
        """A page of ``query`` as ``Page[model]``, after checking each ``known`` filter (404)."""

        async def compute(conn: psycopg.AsyncConnection, version: MartsVersion | None) -> Result:
            for each in known:
                await require_row(conn, each)
            return await page_result(conn, version, model, query, params, page)

        return await self.respond(endpoint, params, compute, page)

    async def one(self, endpoint: str, model: type[BaseModel], known: Known) -> Response:
        """The single row of ``known.query`` as ``model``; 404 with ``known.not_found``."""

        async def compute(conn: psycopg.AsyncConnection, version: MartsVersion | None) -> Result:
            item = model.model_validate(await require_row(conn, known))
            return Result(item, lambda: [item.model_dump(mode="json")], list(model.model_fields))

        return await self.respond(endpoint, known.params, compute)


def _common(etag: str | None, version: MartsVersion | None, cache: str) -> dict[str, str]:
    headers = {"Cache-Control": "private, no-cache", "Vary": "Accept", "X-Cache": cache}
    if etag:
        headers["ETag"] = etag
    if version:
        headers["X-Data-Version"] = version.version
    return headers


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


def _csv(result: Result) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=result.csv_columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(result.csv_rows())
    return out.getvalue().encode()
