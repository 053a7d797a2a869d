"""``/v1/machines``: the plant's machines (dim_machine)."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from shutter_api.db import MartsVersion
from shutter_api.deps import get_reader
from shutter_api.filters import MACHINE_ID_PATTERN, MACHINE_TYPE_PATTERN, NOT_FOUND, READ_RESPONSES
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Reader, Result
from shutter_api.schemas import Machine, Page
from shutter_api.sql import fetch_one, fetch_page
from shutter_api.sql import machines as queries

router = APIRouter(prefix="/machines", tags=["machines"])
COLUMNS = list(Machine.model_fields)


async def require_machine(conn: psycopg.AsyncConnection, machine_id: str | None) -> None:
    """404 when a machine filter names a machine the marts do not know."""
    if machine_id is not None and not await fetch_one(
        conn, queries.MACHINE, {"machine_id": machine_id}
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Unknown machine {machine_id!r}.")


@router.get("", response_model=Page[Machine], responses=READ_RESPONSES)
async def list_machines(
    machine_type: str | None = Query(
        None, pattern=MACHINE_TYPE_PATTERN, description="Only this machine type (CU, SC, AS)."
    ),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """Every machine, in machine_id order."""
    params = {"machine_type": machine_type}

    async def compute(conn: psycopg.AsyncConnection, version: MartsVersion | None) -> Result:
        rows, total = await fetch_page(conn, queries.MACHINES, params, page)
        items = [Machine.model_validate(r) for r in rows]
        body = Page[Machine](
            data_version=version and version.version, total=total, items=items, **page.model_dump()
        )
        return Result(body, [i.model_dump(mode="json") for i in items], COLUMNS, total)

    return await reader.respond("machines", params, compute, page)


@router.get("/{machine_id}", response_model=Machine, responses={**READ_RESPONSES, **NOT_FOUND})
async def get_machine(
    machine_id: str = Path(pattern=MACHINE_ID_PATTERN, description="Machine code, e.g. CU-01."),
    reader: Reader = Depends(get_reader),
) -> Response:
    """One machine; 404 when the marts do not know it."""

    async def compute(conn: psycopg.AsyncConnection, version: MartsVersion | None) -> Result:
        row = await fetch_one(conn, queries.MACHINE, {"machine_id": machine_id})
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"Unknown machine {machine_id!r}.")
        machine = Machine.model_validate(row)
        return Result(machine, [machine.model_dump(mode="json")], COLUMNS)

    return await reader.respond("machine", {"machine_id": machine_id}, compute)
