"""Query parameters shared by several endpoints, validated with messages a person understands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, Query, status

from shutter_api.responses import Known
from shutter_api.schemas import Grain, GroupBy, Problem
from shutter_api.sql.machines import MACHINE

MAX_RANGE_DAYS = 3660
MACHINE_ID_PATTERN = r"^[A-Z]{2}-[0-9]{2}$"
MACHINE_TYPE_PATTERN = r"^[A-Z]{2,10}$"
SHIFT_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{0,29}$"
BADGE_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"

# Documented on every authenticated endpoint (schemathesis checks each status is declared).
READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
    304: {"description": "Not modified: the If-None-Match ETag is still current."},
    401: {"model": Problem, "description": "No API key, or an unknown one."},
    403: {"model": Problem, "description": "Revoked API key."},
    414: {"model": Problem, "description": "Query string too long."},
    422: {"model": Problem, "description": "Invalid parameter (bad date, inverted range...)."},
    503: {"model": Problem, "description": "The warehouse is unreachable or not built yet."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "Unknown machine, order or operator badge."}
}


@dataclass(frozen=True)
class DateRange:
    start: dt.date
    end: dt.date


def date_range(
    from_: dt.date = Query(
        ..., alias="from", description="First plant-local day, inclusive (YYYY-MM-DD)."
    ),
    to: dt.date = Query(..., description="Last plant-local day, inclusive (YYYY-MM-DD)."),
) -> DateRange:
    return checked_range(from_, to, "from", "to")


def checked_range(start: dt.date, end: dt.date, start_name: str, end_name: str) -> DateRange:
    """The range, or 422 when it is inverted or longer than MAX_RANGE_DAYS."""
    if end < start:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"The date range is inverted: '{start_name}' ({start}) is after '{end_name}' ({end}).",
        )
    if (end - start).days >= MAX_RANGE_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"The date range spans {(end - start).days + 1} days; ask for at most "
            f"{MAX_RANGE_DAYS} days at a time.",
        )
    return DateRange(start, end)


@dataclass(frozen=True)
class MachineFilter:
    group_by: GroupBy
    machine_id: str | None
    machine_type: str | None


def machine_filter(
    group_by: GroupBy = Query(GroupBy.machine, description="Group rows by machine, type or plant."),
    machine_id: str | None = Query(
        None, pattern=MACHINE_ID_PATTERN, description="Only this machine (e.g. CU-01)."
    ),
    machine_type: str | None = Query(
        None, pattern=MACHINE_TYPE_PATTERN, description="Only this machine type (CU, SC, AS)."
    ),
) -> MachineFilter:
    return MachineFilter(group_by, machine_id, machine_type)


def known_machine(machine_id: str | None) -> list[Known]:
    """The 404 check of a machine filter (none when the filter is absent)."""
    if machine_id is None:
        return []
    return [Known(MACHINE, {"machine_id": machine_id}, f"Unknown machine {machine_id!r}.")]


@dataclass(frozen=True)
class MachinePeriods:
    """A date range cut into periods of a grain, rows grouped by machine, type or plant."""

    dates: DateRange
    grain: Grain
    machines: MachineFilter

    @property
    def params(self) -> dict[str, Any]:
        return {
            "from": self.dates.start,
            "to": self.dates.end,
            "grain": self.grain.value,
            "group_by": self.machines.group_by.value,
            "machine_id": self.machines.machine_id,
            "machine_type": self.machines.machine_type,
        }

    @property
    def known(self) -> list[Known]:
        return known_machine(self.machines.machine_id)


def machine_periods(default_grain: Grain) -> Callable[..., MachinePeriods]:
    """The dependency of the period endpoints: from, to, grain (default ``default_grain``),
    group_by, machine_id, machine_type; 422 on a bad value, as ``date_range`` says."""

    def periods(
        dates: DateRange = Depends(date_range),
        grain: Grain = Query(
            default_grain, description="day, week (ISO, Monday), month, or range (one period)."
        ),
        machines: MachineFilter = Depends(machine_filter),
    ) -> MachinePeriods:
        return MachinePeriods(dates, grain, machines)

    return periods


# The dependencies, one per default grain (module-level: one object for FastAPI to cache).
periods_by_day = machine_periods(Grain.day)
periods_by_week = machine_periods(Grain.week)
periods_by_range = machine_periods(Grain.range)


@dataclass(frozen=True)
class ShiftPeriods(MachinePeriods):
    shift_code: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {**super().params, "shift_code": self.shift_code}


def shift_periods(
    periods: MachinePeriods = Depends(periods_by_day),
    shift_code: str | None = Query(
        None, pattern=SHIFT_CODE_PATTERN, description="Only this shift (e.g. NIGHT, NO_SHIFT)."
    ),
) -> ShiftPeriods:
    """The dependency of the per-shift endpoints: ``periods_by_day``'s plus ``shift_code``
    (bound as ``%(shift_code)s``; an unknown code selects nothing)."""
    return ShiftPeriods(periods.dates, periods.grain, periods.machines, shift_code)
