"""Answers repeated reads from the memory tier before FastAPI routes and validates them.

Why: a cache hit costs a dictionary lookup, but FastAPI's dependency and parameter validation
cost several times the whole ``/health`` request. A raw request (path, query string, format)
always validates to the same cache key, so once ``Reader.respond`` has served it, its key is
known (``ResponseCache.learn_route``); the next identical request with a valid key is answered
here, from the memory tier of the current version, or with 304. Anything else - an unknown or
revoked key, an unknown version, a miss - goes through FastAPI as usual, so every error and
every miss keeps one code path.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from shutter_api.keys import KeyStatus
from shutter_api.responses import (
    cached_response,
    etag_for,
    etag_matches,
    not_modified,
    request_id,
    response_format,
)


class CacheHitFastPath:
    """Pure ASGI middleware serving memory-tier hits of ``/v1`` GETs for valid API keys."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and "/v1/" in scope["path"]:
            response = self._hit(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _hit(self, scope: Scope):
        state = scope["app"].state
        versions = getattr(state, "versions", None)
        if versions is None or not versions.known or versions.current is None:
            return None
        headers = dict(scope["headers"])
        if headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers:
            return None
        scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or state.settings.keys.check(key)[0] is not KeyStatus.VALID:
            return None
        fmt = response_format(headers.get(b"accept", b"").decode("latin-1"))
        tail = state.cache.route(request_id(scope, fmt))
        if tail is None:
            return None
        version = versions.current
        cache_key = f"{version.version}:{tail}"
        etag = etag_for(cache_key)
        if etag_matches(headers.get(b"if-none-match", b"").decode("latin-1") or None, etag):
            return not_modified(etag, version)
        payload = state.cache.local(cache_key)
        return None if payload is None else cached_response(payload, fmt, etag, version, "HIT")
