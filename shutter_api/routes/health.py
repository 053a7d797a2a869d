"""``/health`` (liveness: the process answers) and ``/ready`` (database and cache), both open."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status
from psycopg_pool import AsyncConnectionPool

from shutter_api.cache import ResponseCache
from shutter_api.db import read_version
from shutter_api.deps import get_cache, get_pool
from shutter_api.schemas import Health, Ready

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: answers as long as the process serves requests (touches nothing else)."""
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "The warehouse cannot be reached."}},
)
async def ready(
    response: Response,
    pool: AsyncConnectionPool = Depends(get_pool),
    cache: ResponseCache = Depends(get_cache),
) -> Ready:
    """Ready when the warehouse answers; 'degraded' when Redis does not (answers come uncached)."""
    version, database = None, "ok"
    try:
        async with pool.connection(timeout=2.0) as conn:
            recorded = await read_version(conn)
        version = recorded.version if recorded else None
    except Exception:  # any failure to reach the warehouse means not ready
        database = "unavailable"
    cache_state = ("ok" if await cache.ping() else "unavailable") if cache.enabled else "disabled"
    if database != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        overall = "unavailable"
    else:
        overall = "ok" if cache_state == "ok" else "degraded"
    return Ready(status=overall, database=database, cache=cache_state, data_version=version)
