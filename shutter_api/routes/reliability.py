"""``/v1/reliability``: MTBF, MTTR, failures and microstops over a range (or per day, week,
month)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from shutter_api.deps import get_reader
from shutter_api.filters import NOT_FOUND, READ_RESPONSES, MachinePeriods, periods_by_range
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Reader
from shutter_api.schemas import Page, ReliabilityRow
from shutter_api.sql.reliability import RELIABILITY

router = APIRouter(prefix="/reliability", tags=["reliability"])


@router.get("", response_model=Page[ReliabilityRow], responses={**READ_RESPONSES, **NOT_FOUND})
async def reliability(
    periods: MachinePeriods = Depends(periods_by_range),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """MTBF = sum(run_s) / failures and MTTR = sum(down_s) / failures per period and group;
    microstops summed. grain defaults to range (the whole range as one period)."""
    return await reader.page(
        "reliability", ReliabilityRow, RELIABILITY, periods.params, page, periods.known
    )
