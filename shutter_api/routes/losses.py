"""``/v1/losses``: the six big losses per period and group (marts.oee_losses), by plant-local
day; ``/v1/losses/shifts`` by shift instance or shift code."""

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
from shutter_api.schemas import LossRow, Page, ShiftLossRow
from shutter_api.sql.losses import LOSSES, SHIFT_LOSSES

router = APIRouter(prefix="/losses", tags=["losses"])


@router.get("", response_model=Page[LossRow], responses={**READ_RESPONSES, **NOT_FOUND})
async def losses(
    periods: MachinePeriods = Depends(periods_by_day),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """Breakdowns, setup, minor stops, speed loss, startup and production rejects (seconds) per
    period and group, by the plant-local day of the seconds. Every row closes exactly:
    planned_busy_s - the six losses = ideal_good_s. Ordered by period_start, then group."""
    return await reader.page("losses", LossRow, LOSSES, periods.params, page, periods.known)


@router.get("/shifts", response_model=Page[ShiftLossRow], responses={**READ_RESPONSES, **NOT_FOUND})
async def shift_losses(
    periods: ShiftPeriods = Depends(shift_periods),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """The six big losses per shift instance (grain=day: the local day the shift starts on, a
    night shift whole) or per shift code over a longer period; NO_SHIFT outside every shift.
    Ordered by period_start, group, shift_code."""
    return await reader.page(
        "losses_shifts", ShiftLossRow, SHIFT_LOSSES, periods.params, page, periods.known
    )
