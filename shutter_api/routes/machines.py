"""``/v1/machines``: the plant's machines (dim_machine) and ``/v1/machines/status``, each
machine's live state and silence (marts.machine_status, docs/operations.md)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Response
from psycopg_pool import AsyncConnectionPool

from shutter_api.deps import get_pool, get_reader, require_api_key
from shutter_api.filters import (
    MACHINE_ID_PATTERN,
    MACHINE_TYPE_PATTERN,
    NOT_FOUND,
    READ_RESPONSES,
    known_machine,
)
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Reader
from shutter_api.schemas import Machine, MachineStatus, Page
from shutter_api.sql import fetch_all
from shutter_api.sql import machines as queries

router = APIRouter(prefix="/machines", tags=["machines"])


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
    return await reader.page("machines", Machine, queries.MACHINES, params, page)


@router.get(
    "/status",
    response_model=list[MachineStatus],
    responses={code: READ_RESPONSES[code] for code in (401, 403, 503)},
)
async def machine_status(
    response: Response,
    _client: str = Depends(require_api_key),
    pool: AsyncConnectionPool = Depends(get_pool),
) -> list[MachineStatus]:
    """Each machine's last state and whether it is silent, computed at the request.

    A view evaluated at query time (silence grows while nothing is built), so never cached
    and without a data version: ``Cache-Control: no-store``.
    """
    async with pool.connection() as conn:
        rows = await fetch_all(conn, queries.STATUS, {})
    response.headers["Cache-Control"] = "no-store"
    return [MachineStatus.model_validate(r) for r in rows]


@router.get("/{machine_id}", response_model=Machine, responses={**READ_RESPONSES, **NOT_FOUND})
async def get_machine(
    machine_id: str = Path(pattern=MACHINE_ID_PATTERN, description="Machine code, e.g. CU-01."),
    reader: Reader = Depends(get_reader),
) -> Response:
    """One machine; 404 when the marts do not know it."""
    [known] = known_machine(machine_id)
    return await reader.one("machine", Machine, known)
