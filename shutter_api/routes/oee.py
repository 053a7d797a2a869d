"""``/v1/oee``: ISO 22400-2 OEE and its components at a grain, per machine, type or plant;
``/v1/oee/shifts`` the same per shift instance or shift code (marts.machine_oee_shift)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from shutter_api.deps import get_reader
from shutter_api.filters import (
    NOT_FOUND,
    READ_RESPONSES,
    MachinePeriods,
    ShiftPeriods,
    periods_by_day,
    shift_periods,
)
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Reader
from shutter_api.schemas import OeeRow, Page, ShiftOeeRow
from shutter_api.sql.oee import OEE, SHIFT_OEE

router = APIRouter(prefix="/oee", tags=["oee"])


@router.get("", response_model=Page[OeeRow], responses={**READ_RESPONSES, **NOT_FOUND})
async def oee(
    periods: MachinePeriods = Depends(periods_by_day),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """OEE per period and group, every ratio recomputed from the period's summed seconds and parts.

    Only the days inside [from, to] count: a week or month cut by the range is partial.
    Ordered by period_start, then group.
    """
    return await reader.page("oee", OeeRow, OEE, periods.params, page, periods.known)


@router.get("/shifts", response_model=Page[ShiftOeeRow], responses={**READ_RESPONSES, **NOT_FOUND})
async def shift_oee(
    periods: ShiftPeriods = Depends(shift_periods),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """OEE per shift: with grain=day one row per shift instance and group (a night shift is one
    instance, on the local day it starts); over a week, month or range, per shift code. NO_SHIFT
    rows hold the time outside every shift, so the rows of a range add up to /v1/oee's.

    Ratios are recomputed from the summed components. Ordered by period_start, group, shift_code.
    """
    return await reader.page(
        "oee_shifts", ShiftOeeRow, SHIFT_OEE, periods.params, page, periods.known
    )
