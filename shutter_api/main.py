"""The FastAPI application: routers under ``/v1``, the pool and the cache opened per process.

``create_app()`` is the uvicorn factory (``uvicorn --factory shutter_api.main:create_app``);
``python -m shutter_api`` runs it with the ``API_*`` settings.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import APIRouter, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from shutter_api.cache import ResponseCache
from shutter_api.db import VersionWatcher, open_pool
from shutter_api.fastpath import CacheHitFastPath
from shutter_api.limits import RequestLimits
from shutter_api.routes import (
    changeovers,
    downtime,
    freshness,
    health,
    losses,
    machines,
    oee,
    operators,
    orders,
    reliability,
    throughput,
)
from shutter_api.settings import ApiSettings

log = logging.getLogger("shutter_api")
LOCAL_CACHE_BYTES = 32 * 1024 * 1024

DESCRIPTION = """
Read-only figures of the roller-shutter plant, from the warehouse's marts (ISO 22400-2 OEE per
day and per shift, the six big losses, reliability and microstops, downtime, changeovers,
operators, throughput, orders). Every ratio is recomputed from summed seconds and
parts at the asked grain, never averaged. Units are in each field's description and in `x-unit`.

Send `Authorization: Bearer <key>`; `Accept: text/csv` for CSV. Lists are paginated (`limit`,
`offset`, `Link` and `X-Total-Count` headers). Responses carry an `ETag`: send it back in
`If-None-Match` for a 304 until the marts are rebuilt.
"""


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.pool = open_pool(settings)
        app.state.cache = ResponseCache(
            settings.redis_url,
            settings.cache_prefix,
            ttl_s=settings.cache_ttl_s,
            lock_timeout_s=settings.cache_lock_timeout_s,
            retry_after_s=settings.cache_retry_after_s,
            # REDIS_URL empty means no cache at all: every answer from PostgreSQL
            local_bytes=LOCAL_CACHE_BYTES if settings.redis_url else 0,
        )
        app.state.versions = VersionWatcher(settings.conninfo())
        await app.state.pool.open(wait=False)  # start even while the warehouse is down
        app.state.versions.start()
        try:
            yield
        finally:
            await app.state.versions.stop()
            await app.state.pool.close()
            await app.state.cache.close()

    app = FastAPI(
        title="Shutter plant API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    v1 = APIRouter(prefix="/v1")
    for module in (
        machines,
        oee,
        losses,
        reliability,
        downtime,
        changeovers,
        operators,
        throughput,
        orders,
        freshness,
    ):
        v1.include_router(module.router)
    app.include_router(health.router)
    app.include_router(v1)
    _add_error_handlers(app)
    app.add_middleware(RequestLimits, max_query_bytes=settings.max_query_bytes)
    app.add_middleware(CacheHitFastPath)  # outermost: before the limits and FastAPI's routing
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with one sentence per bad parameter, plus the structured list."""
        messages = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
            value = error.get("input")
            shown = f" (got {value!r})" if value is not None and not isinstance(value, dict) else ""
            messages.append(f"{where}: {error.get('msg', 'invalid')}{shown}")
        return JSONResponse(
            {"detail": "; ".join(messages), "errors": _plain(exc.errors())},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(psycopg.errors.UndefinedTable)
    async def marts_missing(request: Request, exc: Exception) -> JSONResponse:
        log.warning("marts missing: %s", exc)
        return JSONResponse(
            {"detail": "The marts are not built yet: materialize the dbt assets in Dagster."},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("warehouse unavailable: %s", exc)
        return JSONResponse(
            {"detail": "The warehouse is unavailable; retry in a moment."},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )


def _plain(errors: list[dict]) -> list[dict]:
    """Validation errors without their exception objects (JSON-serialisable)."""
    return [
        {
            k: (v if isinstance(v, str | int | float | list | tuple | None) else str(v))
            for k, v in e.items()
            if k != "ctx"
        }
        for e in errors
    ]
