"""``/v1/changeovers``: changeovers between consecutive orders on a machine (marts.changeovers);
``/v1/changeovers/averages``: their average per period and group."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from shutter_api.deps import get_reader
from shutter_api.filters import (
    NOT_FOUND,
    READ_RESPONSES,
    DateRange,
    MachineFilter,
    MachinePeriods,
    date_range,
    known_machine,
    machine_filter,
    periods_by_week,
)
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Reader
from shutter_api.schemas import Changeover, ChangeoverAverageRow, Page
from shutter_api.sql.changeovers import CHANGEOVER_AVERAGES, CHANGEOVERS

router = APIRouter(prefix="/changeovers", tags=["changeovers"])


@router.get("", response_model=Page[Changeover], responses={**READ_RESPONSES, **NOT_FOUND})
async def changeovers(
    dates: DateRange = Depends(date_range),
    machines: MachineFilter = Depends(machine_filter),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """Each changeover that started on a plant-local day of [from, to], ordered by start time
    then machine (group_by does not apply to the list)."""
    params = {
        "from": dates.start,
        "to": dates.end,
        "machine_id": machines.machine_id,
        "machine_type": machines.machine_type,
    }
    known = known_machine(machines.machine_id)
    return await reader.page("changeovers", Changeover, CHANGEOVERS, params, page, known)


@router.get(
    "/averages",
    response_model=Page[ChangeoverAverageRow],
    responses={**READ_RESPONSES, **NOT_FOUND},
)
async def changeover_averages(
    periods: MachinePeriods = Depends(periods_by_week),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """Average changeover = sum(changeover_s) / count per period (default: ISO week) and group,
    by the day each changeover started. Ordered by period_start, then group."""
    return await reader.page(
        "changeover_averages",
        ChangeoverAverageRow,
        CHANGEOVER_AVERAGES,
        periods.params,
        page,
        periods.known,
    )
