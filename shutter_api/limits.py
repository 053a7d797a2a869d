"""Bounded requests: a read-only API takes no body and only short query strings (413 / 414).

Pure ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware wraps every
request in extra tasks and streams, which would cost every request (``/health`` included) more
than the check itself.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class RequestLimits:
    def __init__(self, app: ASGIApp, max_query_bytes: int) -> None:
        self.app = app
        self.max_query_bytes = max_query_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        if len(scope.get("query_string", b"")) > self.max_query_bytes:
            return JSONResponse(
                {"detail": f"The query string is longer than {self.max_query_bytes} bytes."},
                status_code=414,
            )
        headers = dict(scope["headers"])
        if headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers:
            return JSONResponse(
                {"detail": "This API is read-only and accepts no request body."}, status_code=413
            )
        return None
