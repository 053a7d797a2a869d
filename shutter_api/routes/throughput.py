"""``/v1/throughput``: parts produced per plant-local day, machine type and program."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from shutter_api.deps import get_reader
from shutter_api.filters import MACHINE_TYPE_PATTERN, READ_RESPONSES, DateRange, date_range
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Reader
from shutter_api.schemas import Page, ThroughputRow
from shutter_api.sql.throughput import THROUGHPUT

router = APIRouter(prefix="/throughput", tags=["throughput"])


@router.get("", response_model=Page[ThroughputRow], responses=READ_RESPONSES)
async def throughput(
    dates: DateRange = Depends(date_range),
    machine_type: str | None = Query(None, pattern=MACHINE_TYPE_PATTERN, description="CU, SC, AS."),
    program: str | None = Query(None, max_length=60, description="Only this NC program."),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """Daily output, ordered by day, machine type and program."""
    params = {
        "from": dates.start,
        "to": dates.end,
        "machine_type": machine_type,
        "program": program,
    }
    return await reader.page("throughput", ThroughputRow, THROUGHPUT, params, page)
