"""The truth of the shift-level marts (DESIGN.md s.6), computed from the simulated events.

Plain Python over the events the simulator wrote and the calendar of ``calendar.py`` (expanded
with ``zoneinfo``), independent of the dbt models: precedence of planned downtime, the shift grain
with its "no shift" time, the six big losses with stops classified by their whole duration,
microstops, changeovers, TEEP and operator attribution. Durations are kept in integer
milliseconds (instants have millisecond precision), so sums are exact.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shutter_assets.simulator.calendar import ShiftInstance, planned_windows, shift_instances
from shutter_assets.simulator.plant import PROGRAMS, machine
from shutter_assets.simulator.truth import EventTruth

MICROSTOP_THRESHOLD_MS = 120_000  # dbt var microstop_threshold_s
STARTUP_WINDOW_MS = 600_000  # dbt var startup_window_s
NO_SHIFT = "NO_SHIFT"
UNASSIGNED = "unassigned"
PRU = {p.program: p.ideal_s_per_part for p in PROGRAMS}
STATE_FIELD = {"RUNNING": "run", "SETUP": "setup", "DOWN": "down", "IDLE": "idle", "OFF": "off"}

# (machine_id, production_date, shift_code or None, shift_date or None, badge or None)
Key = tuple[str, date, str | None, date | None, str | None]


@dataclass
class Components:
    """Sums of one key; seconds as integer milliseconds, ideal times in seconds."""

    run: int = 0
    setup: int = 0  # outside planned windows (as down and idle)
    down: int = 0
    idle: int = 0
    off: int = 0
    planned: int = 0  # SETUP, DOWN and IDLE inside planned windows
    breakdown: int = 0
    breakdown_count: int = 0
    minor_stop: int = 0
    microstop: int = 0
    microstop_count: int = 0
    produced_qty: int = 0
    scrap_qty: int = 0
    cycle_count: int = 0
    ideal_run_s: float = 0.0
    startup_reject_s: float = 0.0
    production_reject_s: float = 0.0

    def add(self, other: Components) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def planned_busy(self) -> int:
        return self.run + self.setup + self.down + self.idle

    @property
    def ideal_good_s(self) -> float:
        return self.ideal_run_s - self.startup_reject_s - self.production_reject_s


@dataclass(frozen=True)
class Interval:
    state: str
    previous: str | None
    start: int  # ms since the epoch
    end: int
    stop_start: int  # start of the run of this state the interval belongs to
    stop_ms: int  # whole duration of that run


@dataclass(frozen=True)
class Segment:
    machine_id: str
    state: str
    start: int
    end: int
    planned: bool


@dataclass(frozen=True)
class Changeover:
    machine_id: str
    previous_order_ref: str
    order_ref: str
    start: int
    end: int
    changeover_ms: int  # SETUP, DOWN and IDLE outside planned downtime
    setup_ms: int  # SETUP outside planned downtime
    planned_ms: int  # SETUP, DOWN and IDLE inside planned windows
    off_ms: int  # state OFF


def _ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def _intervals(events: list[EventTruth]) -> list[Interval]:
    """STATE intervals (to the next STATE, the last to the latest event) grouped into stops."""
    latest = _ms(events[-1].instant)
    states = [e for e in events if e.event == "STATE"]
    raw = []
    for i, s in enumerate(states):
        end = _ms(states[i + 1].instant) if i + 1 < len(states) else latest
        previous = states[i - 1].value if i else None
        raw.append((s.value, previous, _ms(s.instant), end))
    out: list[Interval] = []
    i = 0
    while i < len(raw):
        j = i + 1
        while j < len(raw) and raw[j][0] == raw[i][0]:
            j += 1
        stop_start, stop_ms = raw[i][2], raw[j - 1][3] - raw[i][2]
        out.extend(Interval(*r, stop_start, stop_ms) for r in raw[i:j])
        i = j
    return out


class _MachineDay:
    """Locates instants of one machine: local day, shift instance, planned window, badge."""

    def __init__(self, machine_id: str, events: list[EventTruth], zone: ZoneInfo) -> None:
        self.zone = zone
        first = events[0].instant.astimezone(zone).date() - timedelta(days=1)
        last = events[-1].instant.astimezone(zone).date() + timedelta(days=1)
        self.shifts = shift_instances(first, last, zone)
        self.shift_starts = [_ms(s.start) for s in self.shifts]
        m = machine(machine_id)
        self.windows = [(_ms(s), _ms(e)) for s, e, _ in planned_windows(m, first, last, zone)]
        badges = [(_ms(e.instant), e.value) for e in events if e.event == "OPERATOR"]
        self.badge_at = [b[0] for b in badges]
        self.badge_value = [b[1] for b in badges]

    def day(self, t: int) -> date:
        return datetime.fromtimestamp(t / 1000, UTC).astimezone(self.zone).date()

    def shift(self, t: int) -> ShiftInstance | None:
        i = bisect_right(self.shift_starts, t) - 1
        return self.shifts[i] if i >= 0 and t < _ms(self.shifts[i].end) else None

    def in_window(self, t: int) -> bool:
        return any(s <= t < e for s, e in self.windows)

    def badge(self, t: int, shift: ShiftInstance | None) -> str | None:
        """The latest badge read at or before ``t`` within the same shift instance."""
        i = bisect_right(self.badge_at, t) - 1
        if shift is None or i < 0 or self.badge_at[i] < _ms(shift.start):
            return None
        return self.badge_value[i]

    def key(self, machine_id: str, t: int) -> Key:
        shift = self.shift(t)
        return (
            machine_id,
            self.day(t),
            shift.shift_code if shift else None,
            shift.shift_date if shift else None,
            self.badge(t, shift),
        )

    def cuts(self, start: int, end: int) -> list[int]:
        """``start`` and every midnight, shift edge, window edge and badge read inside."""
        points = {start}
        day = self.day(start) + timedelta(days=1)
        while (midnight := _ms(datetime.combine(day, time(0), self.zone))) < end:
            points.add(midnight)
            day += timedelta(days=1)
        edges = [_ms(s.start) for s in self.shifts] + [_ms(s.end) for s in self.shifts]
        edges += [x for w in self.windows for x in w] + self.badge_at
        points.update(x for x in edges if start < x < end)
        return sorted(points)


def _add_segment(c: Components, iv: Interval, seg_start: int, ms: int, planned: bool) -> None:
    if planned:
        c.planned += ms
    else:
        field = STATE_FIELD.get(iv.state, "off")
        setattr(c, field, getattr(c, field) + ms)
    if planned or iv.state not in ("DOWN", "IDLE"):
        return
    micro = iv.stop_ms < MICROSTOP_THRESHOLD_MS
    starts = seg_start == iv.stop_start
    if iv.state == "DOWN" and not micro:
        c.breakdown += ms
        c.breakdown_count += starts
    else:
        c.minor_stop += ms
        if micro:
            c.microstop += ms
            c.microstop_count += starts


def _machine_components(
    machine_id: str, events: list[EventTruth], zone: ZoneInfo, out: dict[Key, Components]
) -> list[Segment]:
    """Add one machine's sums to ``out``; return its segments (for changeovers)."""
    where = _MachineDay(machine_id, events, zone)
    intervals = _intervals(events)
    segments = []
    for iv in intervals:
        cuts = where.cuts(iv.start, iv.end)
        for i, c in enumerate(cuts):
            end = cuts[i + 1] if i + 1 < len(cuts) else iv.end
            planned = iv.state in ("SETUP", "DOWN", "IDLE") and where.in_window(c)
            _add_segment(out[where.key(machine_id, c)], iv, c, end - c, planned)
            segments.append(Segment(machine_id, iv.state, c, end, planned))
    transitions = [iv.start for iv in intervals if iv.state == "RUNNING" and iv.previous == "SETUP"]
    for e in events:
        if e.event not in ("CYCLE_END", "SCRAP"):
            continue
        t = _ms(e.instant)
        c = out[where.key(machine_id, t)]
        ideal = PRU.get(e.program, 0.0) * int(e.value)
        if e.event == "CYCLE_END":
            c.produced_qty += int(e.value)
            c.cycle_count += 1
            c.ideal_run_s += ideal
        else:
            c.scrap_qty += int(e.value)
            if any(t - STARTUP_WINDOW_MS < s <= t for s in transitions):
                c.startup_reject_s += ideal
            else:
                c.production_reject_s += ideal
    return segments


def _changeovers(machine_id: str, events: list[EventTruth], segments: list[Segment]):
    """Order changes between blocks of consecutive completed cycles of one order."""
    cycle_events = [e for e in events if e.event in ("CYCLE_START", "CYCLE_END")]
    ends = [
        (_ms(nxt.instant), start.order_ref)
        for start, nxt in itertools.pairwise(cycle_events)
        if start.event == "CYCLE_START" and nxt.event == "CYCLE_END" and start.order_ref
    ]
    blocks: list[list] = []  # [order_ref, first end, last end]
    for t, order in ends:
        if blocks and blocks[-1][0] == order:
            blocks[-1][2] = t
        else:
            blocks.append([order, t, t])
    out = []
    for prev, cur in itertools.pairwise(blocks):
        a, b = prev[2], cur[1]
        inside = [
            (s, min(s.end, b) - max(s.start, a)) for s in segments if s.start < b and s.end > a
        ]
        busy = sum(ms for s, ms in inside if s.state in ("SETUP", "DOWN", "IDLE") and not s.planned)
        setup = sum(ms for s, ms in inside if s.state == "SETUP" and not s.planned)
        planned = sum(ms for s, ms in inside if s.planned)
        off = sum(ms for s, ms in inside if s.state == "OFF")
        out.append(Changeover(machine_id, prev[0], cur[0], a, b, busy, setup, planned, off))
    return out


@dataclass
class ShiftTruth:
    """The expected shift-level marts: components per key, and the changeovers."""

    zone: ZoneInfo
    components: dict[Key, Components]
    changeovers: list[Changeover]

    def _grouped(self, key_of) -> dict:
        out: dict = defaultdict(Components)
        for key, c in self.components.items():
            out[key_of(key)].add(c)
        return dict(out)

    def daily(self) -> dict[tuple[str, date], Components]:
        """machine_oee_daily: (machine_id, production_date)."""
        return self._grouped(lambda k: (k[0], k[1]))

    def shifts(self) -> dict[tuple[str, date, str], Components]:
        """machine_oee_shift: (machine_id, shift_date, shift_code), NO_SHIFT by local day."""
        return self._grouped(lambda k: (k[0], k[3] or k[1], k[2] or NO_SHIFT))

    def losses(self) -> dict[tuple[str, date, date, str], Components]:
        """oee_losses: (machine_id, production_date, shift_date, shift_code)."""
        return self._grouped(lambda k: (k[0], k[1], k[3] or k[1], k[2] or NO_SHIFT))

    def operators(self) -> dict[tuple[str, date], Components]:
        """operator_performance: (operator_badge, production_date)."""
        return self._grouped(lambda k: (k[4] or UNASSIGNED, k[1]))

    def calendar_s(self, day: date) -> int:
        """True length of the local day in seconds (23, 24 or 25 hours)."""
        start = datetime.combine(day, time(0), self.zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), self.zone).astimezone(UTC)
        return int((end - start).total_seconds())


def shift_truth(events: list[tuple[str, EventTruth]], tz: str) -> ShiftTruth:
    """The shift-level truth of every (machine_id, event) that must land once."""
    zone = ZoneInfo(tz)
    by_machine: dict[str, list[EventTruth]] = defaultdict(list)
    for machine_id, e in events:
        by_machine[machine_id].append(e)
    components: dict[Key, Components] = defaultdict(Components)
    changeovers = []
    for machine_id, machine_events in sorted(by_machine.items()):
        machine_events.sort(key=lambda e: e.instant)
        segments = _machine_components(machine_id, machine_events, zone, components)
        changeovers += _changeovers(machine_id, machine_events, segments)
    return ShiftTruth(zone, dict(components), changeovers)
