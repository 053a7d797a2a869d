"""``/v1/downtime/pareto``: down time by alarm code, ranked within machine, type or plant."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Depends, Query, Response

from shutter_api.db import MartsVersion
from shutter_api.deps import get_reader
from shutter_api.filters import MACHINE_ID_PATTERN, MACHINE_TYPE_PATTERN, NOT_FOUND, READ_RESPONSES
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Reader, Result
from shutter_api.routes.machines import require_machine
from shutter_api.schemas import GroupBy, Page, ParetoRow
from shutter_api.sql import fetch_page
from shutter_api.sql.downtime import PARETO

router = APIRouter(prefix="/downtime", tags=["downtime"])
COLUMNS = list(ParetoRow.model_fields)


@router.get("/pareto", response_model=Page[ParetoRow], responses={**READ_RESPONSES, **NOT_FOUND})
async def pareto(
    group_by: GroupBy = Query(GroupBy.plant, description="Rank codes per machine, type or plant."),
    machine_id: str | None = Query(None, pattern=MACHINE_ID_PATTERN, description="Only CU-01..."),
    machine_type: str | None = Query(None, pattern=MACHINE_TYPE_PATTERN, description="CU, SC, AS."),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """All-time Pareto (the mart has no date): shares recomputed from the group's summed seconds."""
    params = {"group_by": group_by.value, "machine_id": machine_id, "machine_type": machine_type}

    async def compute(conn: psycopg.AsyncConnection, version: MartsVersion | None) -> Result:
        await require_machine(conn, machine_id)
        rows, total = await fetch_page(conn, PARETO, params, page)
        items = [ParetoRow.model_validate(r) for r in rows]
        body = Page[ParetoRow](
            data_version=version and version.version, total=total, items=items, **page.model_dump()
        )
        return Result(body, [i.model_dump(mode="json") for i in items], COLUMNS, total)

    return await reader.respond("pareto", params, compute, page)
