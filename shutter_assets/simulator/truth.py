"""The truth model: what the ingestion and the marts must end up with, straight from the simulation.

Nothing here re-parses a file: each ``FileTruth`` is built by the renderer from the simulated
events, and ``LogsTruth`` derives the expected totals and the ISO 22400 daily components of
DESIGN.md section 6 from those events with plain Python, independently of the dbt models.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from shutter_assets.simulator.plant import program

if TYPE_CHECKING:
    from shutter_assets.simulator.mess import GrowingFile, Mess, TempUpload

QUANTITY_EVENTS = ("CYCLE_END", "SCRAP")
REJECT_REASONS = ("truncated", "bad_timestamp", "unknown_event", "machine_mismatch")


@dataclass(frozen=True)
class EventTruth:
    line_no: int
    instant: datetime  # true instant, aware UTC
    wall: str  # the timestamp text as written
    event: str
    order_ref: str
    program: str
    value: str  # canonical: quantities as plain integers ("4"), other values verbatim
    message: str

    @property
    def quantity(self) -> int | None:
        return int(self.value) if self.event in QUANTITY_EVENTS else None


@dataclass(frozen=True)
class RejectTruth:
    line_no: int
    reason: str  # one of REJECT_REASONS
    raw: str  # the line's decoded text, without its line ending


@dataclass
class FileTruth:
    path: str  # POSIX path relative to the output folder
    machine_id: str
    encoding: str
    newline: str
    sha256: str
    size: int
    line_count: int  # physical lines including the header and a truncated last line
    events: list[EventTruth]
    rejected: list[RejectTruth]
    duplicate_of: str | None = None
    features: tuple[str, ...] = ()

    @property
    def accepted(self) -> int:
        return len(self.events)

    @property
    def first_instant(self) -> datetime:
        return min(e.instant for e in self.events)

    @property
    def last_instant(self) -> datetime:
        return max(e.instant for e in self.events)


@dataclass
class MachineTotals:
    produced_qty: int = 0
    scrap_qty: int = 0
    event_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class OrderTotals:
    produced_qty: int = 0
    scrap_qty: int = 0
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None


@dataclass
class DayTruth:
    """One machine and plant-local day, by the ISO 22400 rules of DESIGN.md section 6."""

    run_s: float = 0.0
    setup_s: float = 0.0
    down_s: float = 0.0
    idle_s: float = 0.0
    off_s: float = 0.0
    produced_qty: int = 0
    scrap_qty: int = 0
    ideal_run_s: float = 0.0
    failures: int = 0

    @property
    def planned_busy_s(self) -> float:
        return self.run_s + self.setup_s + self.down_s + self.idle_s


@dataclass
class LogsTruth:
    out_dir: Path
    seed: int
    start: date
    days: int
    machines: list[str]
    tz: str
    mess: Mess
    files: list[FileTruth]
    growing: GrowingFile | None = None
    pending: TempUpload | None = None

    def file(self, path: str) -> FileTruth:
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(path)

    @property
    def duplicates(self) -> dict[str, str]:
        return {f.path: f.duplicate_of for f in self.files if f.duplicate_of}

    def unique_files(self) -> list[FileTruth]:
        """The files whose content must be loaded once (duplicates of another file excluded)."""
        return [f for f in self.files if f.duplicate_of is None]

    def events(self) -> list[tuple[str, EventTruth]]:
        """Every event that must land in ``raw.machine_events`` once: (machine_id, event)."""
        return [(f.machine_id, e) for f in self.unique_files() for e in f.events]

    @property
    def accepted_total(self) -> int:
        return sum(f.accepted for f in self.unique_files())

    @property
    def rejected_total(self) -> int:
        return sum(len(f.rejected) for f in self.unique_files())

    def totals(self) -> dict[str, MachineTotals]:
        out: dict[str, MachineTotals] = defaultdict(MachineTotals)
        for machine_id, e in self.events():
            t = out[machine_id]
            t.event_counts[e.event] = t.event_counts.get(e.event, 0) + 1
            if e.event == "CYCLE_END":
                t.produced_qty += int(e.value)
            elif e.event == "SCRAP":
                t.scrap_qty += int(e.value)
        return dict(out)

    def order_totals(self) -> dict[str, OrderTotals]:
        out: dict[str, OrderTotals] = defaultdict(OrderTotals)
        for _, e in self.events():
            if not e.order_ref:
                continue
            t = out[e.order_ref]
            t.first_event_at = min(filter(None, [t.first_event_at, e.instant]))
            t.last_event_at = max(filter(None, [t.last_event_at, e.instant]))
            if e.event == "CYCLE_END":
                t.produced_qty += int(e.value)
            elif e.event == "SCRAP":
                t.scrap_qty += int(e.value)
        return dict(out)

    def daily(self) -> dict[tuple[str, date], DayTruth]:
        """State seconds and counts per machine and plant-local day (DESIGN.md section 6).

        A state lasts until the machine's next STATE event; the last one ends at the machine's
        latest event; intervals are split at local midnight and measured in true elapsed time.
        """
        zone = ZoneInfo(self.tz)
        out: dict[tuple[str, date], DayTruth] = defaultdict(DayTruth)
        by_machine: dict[str, list[EventTruth]] = defaultdict(list)
        for machine_id, e in self.events():
            by_machine[machine_id].append(e)
        for machine_id, events in by_machine.items():
            events.sort(key=lambda e: e.instant)
            latest = events[-1].instant
            states = [e for e in events if e.event == "STATE"]
            previous = None
            for i, s in enumerate(states):
                end = states[i + 1].instant if i + 1 < len(states) else latest
                _add_state(out, machine_id, s.value, s.instant, end, zone)
                if s.value == "DOWN" and previous != "DOWN":
                    out[(machine_id, s.instant.astimezone(zone).date())].failures += 1
                previous = s.value
            for e in events:
                if e.event in QUANTITY_EVENTS:
                    day = out[(machine_id, e.instant.astimezone(zone).date())]
                    if e.event == "CYCLE_END":
                        day.produced_qty += int(e.value)
                        day.ideal_run_s += program(e.program).ideal_s_per_part * int(e.value)
                    else:
                        day.scrap_qty += int(e.value)
        return dict(out)

    def to_json(self) -> str:
        """The truth as JSON (``--truth FILE``), for tests and demos in other processes."""
        totals = self.totals()
        return json.dumps(
            {
                "seed": self.seed,
                "start": self.start.isoformat(),
                "days": self.days,
                "machines": self.machines,
                "tz": self.tz,
                "accepted_total": self.accepted_total,
                "rejected_total": self.rejected_total,
                "files": [
                    {
                        "path": f.path,
                        "machine_id": f.machine_id,
                        "encoding": f.encoding,
                        "newline": f.newline,
                        "sha256": f.sha256,
                        "size": f.size,
                        "line_count": f.line_count,
                        "accepted": f.accepted,
                        "rejected": [
                            {"line_no": r.line_no, "reason": r.reason, "raw": r.raw}
                            for r in f.rejected
                        ],
                        "first_instant": f.first_instant.isoformat(),
                        "last_instant": f.last_instant.isoformat(),
                        "duplicate_of": f.duplicate_of,
                        "features": list(f.features),
                    }
                    for f in self.files
                ],
                "totals": {
                    m: {
                        "produced_qty": t.produced_qty,
                        "scrap_qty": t.scrap_qty,
                        "event_counts": dict(sorted(t.event_counts.items())),
                    }
                    for m, t in sorted(totals.items())
                },
            },
            ensure_ascii=False,
            indent=2,
        )


def _add_state(
    out: dict[tuple[str, date], DayTruth],
    machine_id: str,
    state: str,
    begin: datetime,
    end: datetime,
    zone: ZoneInfo,
) -> None:
    attr = {"RUNNING": "run_s", "SETUP": "setup_s", "DOWN": "down_s", "IDLE": "idle_s"}.get(
        state, "off_s"
    )
    while begin < end:
        local_day = begin.astimezone(zone).date()
        midnight = datetime.combine(local_day + timedelta(days=1), time(0), zone).astimezone(UTC)
        stop = min(end, midnight)
        day = out[(machine_id, local_day)]
        setattr(day, attr, getattr(day, attr) + (stop - begin).total_seconds())
        begin = stop
