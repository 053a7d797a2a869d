"""``/v1/freshness``: when the marts were last built, and the newest event per machine."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Depends, Response

from shutter_api.db import MartsVersion
from shutter_api.deps import get_reader
from shutter_api.filters import READ_RESPONSES
from shutter_api.responses import Reader, Result
from shutter_api.schemas import Freshness, MachineFreshness
from shutter_api.sql import fetch_all
from shutter_api.sql.freshness import MACHINES

router = APIRouter(prefix="/freshness", tags=["freshness"])
COLUMNS = ["data_version", "marts_built_at", *MachineFreshness.model_fields]


@router.get("", response_model=Freshness, responses=READ_RESPONSES)
async def freshness(reader: Reader = Depends(get_reader)) -> Response:
    """The recorded build (version, time) and, per machine, its newest event in the marts."""

    async def compute(conn: psycopg.AsyncConnection, version: MartsVersion | None) -> Result:
        machines = [MachineFreshness.model_validate(r) for r in await fetch_all(conn, MACHINES, {})]
        body = Freshness(
            data_version=version and version.version,
            marts_built_at=version and version.built_at,
            machines=machines,
        )
        common = {"data_version": body.data_version, "marts_built_at": body.marts_built_at}
        rows = [{**common, **m.model_dump(mode="json")} for m in machines]
        return Result(body, lambda: rows, COLUMNS)

    return await reader.respond("freshness", {}, compute)
