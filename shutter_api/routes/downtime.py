"""``/v1/downtime/pareto``: down time by alarm code, ranked within machine, type or plant."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from shutter_api.deps import get_reader
from shutter_api.filters import (
    MACHINE_ID_PATTERN,
    MACHINE_TYPE_PATTERN,
    NOT_FOUND,
    READ_RESPONSES,
    known_machine,
)
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Reader
from shutter_api.schemas import GroupBy, Page, ParetoRow
from shutter_api.sql.downtime import PARETO

router = APIRouter(prefix="/downtime", tags=["downtime"])


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
    known = known_machine(machine_id)
    return await reader.page("pareto", ParetoRow, PARETO, params, page, known)
