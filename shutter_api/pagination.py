"""Offset pagination with a stable order and RFC 8288 ``Link`` headers."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Query
from pydantic import BaseModel

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 2000


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: int = Query(
        DEFAULT_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"Items per page (1 to {MAX_PAGE_SIZE}).",
    ),
    offset: int = Query(0, ge=0, le=10_000_000, description="Items to skip (the page's start)."),
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


def link_header(path: str, params: dict[str, str], page: PageParams, total: int) -> str:
    """``first``/``prev``/``next``/``last`` links, relative to the request (behind any prefix).

    ``path`` is the route's last path segment, so the links resolve against the request URL
    whatever prefix a reverse proxy adds (``/api/v1/oee`` or ``/v1/oee``).
    """
    last_offset = max(0, (total - 1) // page.limit * page.limit) if total else 0
    targets = {"first": 0, "last": last_offset}
    if page.offset > 0:
        targets["prev"] = max(0, page.offset - page.limit)
    if page.offset + page.limit < total:
        targets["next"] = page.offset + page.limit
    links = []
    for rel in ("first", "prev", "next", "last"):
        if rel in targets:
            query = urlencode({**params, "limit": page.limit, "offset": targets[rel]})
            links.append(f'<{path}?{query}>; rel="{rel}"')
    return ", ".join(links)
