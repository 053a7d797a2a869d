"""``/v1/operators``: OEE components per operator badge and period (marts.operator_performance)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from shutter_api.deps import get_reader
from shutter_api.filters import (
    BADGE_PATTERN,
    NOT_FOUND,
    READ_RESPONSES,
    DateRange,
    date_range,
)
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Known, Reader
from shutter_api.schemas import Grain, OperatorRow, Page
from shutter_api.sql.oee import OPERATOR, OPERATORS

router = APIRouter(prefix="/operators", tags=["operators"])


@router.get("", response_model=Page[OperatorRow], responses={**READ_RESPONSES, **NOT_FOUND})
async def operators(
    dates: DateRange = Depends(date_range),
    grain: Grain = Query(Grain.range, description="range (default), day, week or month."),
    operator_badge: str | None = Query(
        None, pattern=BADGE_PATTERN, description="Only this badge (or 'unassigned')."
    ),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """Per badge (group) and period: the seconds and parts of the time attributed to the badge
    (the latest OPERATOR badge of the machine within the shift instance; none: 'unassigned'),
    ratios recomputed from the sums. 404 for a badge the marts never saw. Ordered by
    period_start, then badge."""
    params = {
        "from": dates.start,
        "to": dates.end,
        "grain": grain.value,
        "operator_badge": operator_badge,
    }
    known = []
    if operator_badge is not None:
        message = f"Unknown operator badge {operator_badge!r}."
        known.append(Known(OPERATOR, {"badge": operator_badge}, message))
    return await reader.page("operators", OperatorRow, OPERATORS, params, page, known)
