"""``/v1/reliability``: MTBF, MTTR and failures over a range (or per day, week, month)."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Depends, Query, Response

from shutter_api.db import MartsVersion
from shutter_api.deps import get_reader
from shutter_api.filters import (
    NOT_FOUND,
    READ_RESPONSES,
    DateRange,
    MachineFilter,
    date_range,
    machine_filter,
)
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Reader, Result, page_result
from shutter_api.routes.machines import require_machine
from shutter_api.routes.oee import period_params
from shutter_api.schemas import Grain, Page, ReliabilityRow
from shutter_api.sql.reliability import RELIABILITY

router = APIRouter(prefix="/reliability", tags=["reliability"])


@router.get("", response_model=Page[ReliabilityRow], responses={**READ_RESPONSES, **NOT_FOUND})
async def reliability(
    dates: DateRange = Depends(date_range),
    grain: Grain = Query(Grain.range, description="range (the whole range), day, week or month."),
    machines: MachineFilter = Depends(machine_filter),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """MTBF = sum(run_s) / failures and MTTR = sum(down_s) / failures per period and group."""
    params = period_params(dates, grain, machines)

    async def compute(conn: psycopg.AsyncConnection, version: MartsVersion | None) -> Result:
        await require_machine(conn, machines.machine_id)
        return await page_result(conn, version, ReliabilityRow, RELIABILITY, params, page)

    return await reader.respond("reliability", params, compute, page)
