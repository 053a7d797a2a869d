"""``/v1/oee``: ISO 22400-2 OEE and its components at a grain, per machine, type or plant."""

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
from shutter_api.schemas import Grain, OeeRow, Page
from shutter_api.sql.oee import OEE

router = APIRouter(prefix="/oee", tags=["oee"])


def period_params(dates: DateRange, grain: Grain, machines: MachineFilter) -> dict:
    return {
        "from": dates.start,
        "to": dates.end,
        "grain": grain.value,
        "group_by": machines.group_by.value,
        "machine_id": machines.machine_id,
        "machine_type": machines.machine_type,
    }


@router.get("", response_model=Page[OeeRow], responses={**READ_RESPONSES, **NOT_FOUND})
async def oee(
    dates: DateRange = Depends(date_range),
    grain: Grain = Query(Grain.day, description="day, week (ISO, Monday), month or range."),
    machines: MachineFilter = Depends(machine_filter),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """OEE per period and group, every ratio recomputed from the period's summed seconds and parts.

    Only the days inside [from, to] count: a week or month cut by the range is partial.
    Ordered by period_start, then group.
    """
    params = period_params(dates, grain, machines)

    async def compute(conn: psycopg.AsyncConnection, version: MartsVersion | None) -> Result:
        await require_machine(conn, machines.machine_id)
        return await page_result(conn, version, OeeRow, OEE, params, page)

    return await reader.respond("oee", params, compute, page)
