"""The plant's shift calendar and planned downtime (DESIGN.md s.6), as the simulator knows them.

The dbt seeds ``shift_calendar`` and ``planned_downtime`` are written from these constants and
tests/test_dbt_seeds.py checks both agree. The expansions below (shift instances, merged windows
per machine) are the truth model's own, in plain Python and ``zoneinfo``, independent of the dbt
models that do the same in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shutter_assets.simulator.plant import Machine


@dataclass(frozen=True)
class ShiftTemplate:
    shift_code: str
    weekdays: tuple[int, ...]  # ISO weekdays the shift starts on (1 = Monday)
    local_start: time
    local_end: time  # not after local_start: the next day
    label: str


@dataclass(frozen=True)
class DowntimeWindow:
    window_id: str
    scope: str  # plant, machine_type or machine
    scope_id: str  # "" for plant
    kind: str  # break, maintenance, holiday, other
    recurrence: str  # weekly or once
    weekdays: tuple[int, ...]  # weekly only
    local_start: str  # "HH:MM" (weekly) or "YYYY-MM-DD HH:MM" (once)
    local_end: str
    description: str

    def applies_to(self, m: Machine) -> bool:
        return (
            self.scope == "plant"
            or (self.scope == "machine_type" and self.scope_id == m.machine_type)
            or (self.scope == "machine" and self.scope_id == m.machine_id)
        )


WORKDAYS = (1, 2, 3, 4, 5)

SHIFT_CALENDAR: list[ShiftTemplate] = [
    ShiftTemplate("MORNING", WORKDAYS, time(5), time(13), "Poste du matin"),
    ShiftTemplate("AFTERNOON", WORKDAYS, time(13), time(21), "Poste d'après-midi"),
    ShiftTemplate("NIGHT", WORKDAYS, time(21), time(5), "Poste de nuit"),
]

PLANNED_DOWNTIME: list[DowntimeWindow] = [
    DowntimeWindow(
        "BRK-MATIN", "plant", "", "break", "weekly", WORKDAYS, "09:00", "09:20", "Pause du matin"
    ),
    DowntimeWindow(
        "BRK-APM",
        "plant",
        "",
        "break",
        "weekly",
        WORKDAYS,
        "17:00",
        "17:20",
        "Pause de l'après-midi",
    ),
    DowntimeWindow(
        "BRK-NUIT",
        "plant",
        "",
        "break",
        "weekly",
        (2, 3, 4, 5, 6),
        "01:00",
        "01:20",
        "Pause de nuit",
    ),
    DowntimeWindow(
        "MAINT-SC-01-20261120",
        "machine",
        "SC-01",
        "maintenance",
        "once",
        (),
        "2026-11-20 10:00",
        "2026-11-20 11:30",
        "Maintenance préventive scie",
    ),
    DowntimeWindow(
        "MAINT-AS-02-20261120",
        "machine",
        "AS-02",
        "maintenance",
        "once",
        (),
        "2026-11-20 15:00",
        "2026-11-20 16:00",
        "Maintenance préventive ligne d'assemblage",
    ),
    DowntimeWindow(
        "HOL-2026-12-25",
        "plant",
        "",
        "holiday",
        "once",
        (),
        "2026-12-25 00:00",
        "2026-12-26 00:00",
        "Noël",
    ),
    DowntimeWindow(
        "HOL-2027-01-01",
        "plant",
        "",
        "holiday",
        "once",
        (),
        "2027-01-01 00:00",
        "2027-01-02 00:00",
        "Jour de l'an",
    ),
]


@dataclass(frozen=True)
class ShiftInstance:
    shift_code: str
    shift_date: date  # the plant-local day it starts on
    start: datetime  # aware, UTC
    end: datetime


def _at(day: date, t: time, zone: ZoneInfo) -> datetime:
    # UTC: aware datetimes sharing one tzinfo compare by wall time, wrong across a DST change
    return datetime.combine(day, t, zone).astimezone(UTC)


def shift_instances(first: date, last: date, zone: ZoneInfo) -> list[ShiftInstance]:
    """Every shift instance starting on a local day in [first, last], sorted by start."""
    out = []
    day = first
    while day <= last:
        for s in SHIFT_CALENDAR:
            if day.isoweekday() in s.weekdays:
                end_day = day + timedelta(days=1) if s.local_end <= s.local_start else day
                out.append(
                    ShiftInstance(
                        s.shift_code,
                        day,
                        _at(day, s.local_start, zone),
                        _at(end_day, s.local_end, zone),
                    )
                )
        day += timedelta(days=1)
    return sorted(out, key=lambda i: i.start)


def planned_windows(
    m: Machine, first: date, last: date, zone: ZoneInfo
) -> list[tuple[datetime, datetime, str]]:
    """The machine's windows occurring on local days [first, last], merged where they overlap or
    touch: (start, end, kinds) with kinds the distinct kinds, sorted and comma-separated."""
    raw: list[tuple[datetime, datetime, str]] = []
    for w in PLANNED_DOWNTIME:
        if not w.applies_to(m):
            continue
        if w.recurrence == "once":
            start = datetime.fromisoformat(w.local_start).replace(tzinfo=zone).astimezone(UTC)
            end = datetime.fromisoformat(w.local_end).replace(tzinfo=zone).astimezone(UTC)
            raw.append((start, end, w.kind))
            continue
        t0, t1 = time.fromisoformat(w.local_start), time.fromisoformat(w.local_end)
        day = first
        while day <= last:
            if day.isoweekday() in w.weekdays:
                end_day = day + timedelta(days=1) if t1 <= t0 else day
                raw.append((_at(day, t0, zone), _at(end_day, t1, zone), w.kind))
            day += timedelta(days=1)
    merged: list[tuple[datetime, datetime, set[str]]] = []
    for start, end, kind in sorted((r for r in raw if r[1] > r[0]), key=lambda r: (r[0], r[1])):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end), merged[-1][2] | {kind})
        else:
            merged.append((start, end, {kind}))
    return [(s, e, ",".join(sorted(k))) for s, e, k in merged]


def session_calendar(m: Machine, begin: datetime, end: datetime, zone: ZoneInfo):
    """What the calendar asks of machine ``m`` between two aware instants: its planned windows
    overlapping them (kind ``maintenance`` wins over ``break`` in a merged window) and the
    shift-instance starts strictly inside (a new operator badges in)."""
    from shutter_assets.simulator.session import SessionCalendar  # session imports no calendar

    first = begin.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    windows = []
    for start, stop, kinds in planned_windows(m, first, last, zone):
        if start < end and stop > begin:
            kind = next((k for k in ("maintenance", "break") if k in kinds.split(",")), kinds)
            windows.append((_ms(start), _ms(stop), kind))
    reliefs = [_ms(s.start) for s in shift_instances(first, last, zone) if begin < s.start < end]
    return SessionCalendar(tuple(windows), tuple(reliefs))


def _ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)
