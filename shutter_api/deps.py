"""Dependencies shared by the routers, injected with ``Depends``: settings, pool, cache, API key."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from shutter_api.cache import ResponseCache
from shutter_api.db import VersionWatcher
from shutter_api.keys import KeyStatus
from shutter_api.responses import Reader
from shutter_api.settings import ApiSettings

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from the operator (python -m shutter_api.keys): Bearer <key>.",
)


def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


def get_pool(request: Request) -> AsyncConnectionPool:
    return request.app.state.pool


def get_cache(request: Request) -> ResponseCache:
    return request.app.state.cache


def get_versions(request: Request) -> VersionWatcher:
    return request.app.state.versions


def require_api_key(
    credentials: HTTPAuthorizationCredentials | None = Security(_bearer),
    settings: ApiSettings = Depends(get_settings),
) -> str:
    """The client's name for a valid key; 401 without or with an unknown key, 403 if revoked."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "An API key is required: send the header 'Authorization: Bearer <key>'.",
            headers=challenge,
        )
    key_status, name = settings.keys.check(credentials.credentials)
    if key_status is KeyStatus.REVOKED:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"This API key ({name}) has been revoked; ask the platform's operator for a new one.",
        )
    if key_status is not KeyStatus.VALID:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "This API key is not valid.", headers=challenge
        )
    return name or ""


def get_reader(
    request: Request,
    client: str = Depends(require_api_key),
    pool: AsyncConnectionPool = Depends(get_pool),
    cache: ResponseCache = Depends(get_cache),
    versions: VersionWatcher = Depends(get_versions),
) -> Reader:
    """Reads marts for an authenticated client, through the cache (ETag, CSV, pagination)."""
    return Reader(request=request, pool=pool, cache=cache, versions=versions, client=client)
