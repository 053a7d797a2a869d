"""The machine session model: what one machine does between two instants, on the true time line.

A session is simulated in UTC milliseconds and knows nothing of wall clocks, encodings or
defects: rendering (``render.py``) and the messy realities (``mess.py``) come afterwards, so the
truth is a property of the simulation and never of the text written.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shutter_assets.simulator.order_book import OrderBook
from shutter_assets.simulator.plant import (
    ALARMS,
    IDLE_REASONS,
    SCRAP_REASONS,
    Machine,
    Program,
    program,
    programs_for,
)

SHIFTS = [(time(6, 0), time(14, 0)), (time(14, 0), time(22, 0))]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SessionCalendar:
    """What the plant's calendar asks of one session (see ``calendar.session_calendar``)."""

    windows: tuple[tuple[int, int, str], ...] = ()  # planned downtime: (start ms, end ms, kind)
    reliefs: tuple[int, ...] = ()  # shift edges inside the session: a new operator badges in


@dataclass(frozen=True)
class SimEvent:
    instant_ms: int  # true instant, milliseconds since the Unix epoch (UTC)
    event: str
    order_ref: str = ""
    program: str = ""
    value: str = ""
    message: str = ""
    machine_id: str = ""  # set only when a line must carry another machine's id


def to_ms(dt: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime."""
    return int((dt - EPOCH) / timedelta(milliseconds=1))


def to_instant(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return EPOCH + timedelta(milliseconds=ms)


def local_ms(day: date, t: time, zone: ZoneInfo) -> int:
    """Epoch milliseconds of a plant wall-clock time (the first occurrence when ambiguous)."""
    return to_ms(datetime.combine(day, t, zone))


class _Session:
    """Simulates one machine between two instants: the states, cycles, scrap and alarms.

    Every draw comes from ``rng`` in a fixed order; changing the order of the draws changes every
    file written for a seed.
    """

    def __init__(
        self,
        rng: random.Random,
        m: Machine,
        book: OrderBook,
        ms_precision: bool,
        calendar: SessionCalendar | None = None,
        extra: random.Random | None = None,
    ) -> None:
        self.rng = rng
        # The calendar's behaviours (breaks, maintenance, reliefs, microstops, startup scrap)
        # draw from their own generator, so they leave the main sequence of draws alone.
        self.extra = extra or random.Random(0)
        self.m = m
        self.book = book
        self.ms_precision = ms_precision
        self.calendar = calendar
        self.pending_windows = list(calendar.windows) if calendar else []
        self.pending_reliefs = list(calendar.reliefs) if calendar else []
        self.badge = ""
        self.events: list[SimEvent] = []
        self.orders = [c.numero for c in book.produced_orders()] or book.numeros

    def emit(self, t: float, event: str, **kw: str) -> None:
        ms = int(t)
        if not self.ms_precision:
            ms -= ms % 1000
        self.events.append(SimEvent(ms, event, **kw))

    def job(self) -> tuple[str, str]:
        rng = self.rng
        order = rng.choice(self.orders)
        if self.m.machine_type == "AS":
            return order, self.book.assembly_program(order)
        name = rng.choice(programs_for(self.m.machine_type)).program
        return ("" if rng.random() < 0.1 else order), name

    def seconds(self, lo: float, hi: float) -> float:
        return self.rng.uniform(lo, hi) * 1000

    def run(self, begin_ms: int, end_ms: int) -> list[SimEvent]:
        """Badge-in, then jobs (setup, run a batch) until two minutes before the end, badge-out."""
        rng = self.rng
        t = begin_ms + self.seconds(3, 90)
        stop = end_ms - 120_000
        self.badge = f"B{rng.randint(1000, 9999)}"
        self.emit(t, "OPERATOR", value=self.badge, message="Opérateur connecté")
        while t < stop:
            t = self._calendar_events(t)
            order, prog = self.job()
            t += self.seconds(2, 20)
            self.emit(t, "STATE", value="SETUP", message=f"Réglage {prog}")
            t += self.seconds(240, 900)
            if t >= stop:
                t = stop
                break
            self.emit(t, "STATE", value="RUNNING")
            t = self._batch(t, stop, order, program(prog))
        t = max(t, stop) + self.seconds(10, 50)
        self.emit(t, "OPERATOR", value=self.badge, message="Fin de poste, opérateur déconnecté")
        self.emit(t + self.seconds(1, 20), "STATE", value="OFF")
        return self.events

    def _batch(self, t: float, stop: float, order: str, spec: Program) -> float:
        """Cycles of one job, each possibly followed by scrap and a stoppage; returns the time."""
        rng = self.rng
        prog = spec.program
        batch = rng.randint(3, 15) if self.m.machine_type == "AS" else rng.randint(10, 60)
        for k in range(batch):
            duration = spec.ideal_s_per_part * spec.parts_per_cycle * rng.uniform(1.05, 1.4)
            if t + duration * 1000 + 30_000 >= stop:
                return stop
            t = self._calendar_events(t)
            t += self.seconds(1, 8)
            self.emit(t, "CYCLE_START", order_ref=order, program=prog)
            t += duration * 1000
            parts = spec.parts_per_cycle
            if parts > 1 and rng.random() < 0.03:
                parts -= 1
            self.emit(t, "CYCLE_END", order_ref=order, program=prog, value=str(parts))
            if rng.random() < 0.05:
                t += self.seconds(2, 20)
                bad = 2 if parts > 1 and rng.random() < 0.2 else 1
                self.emit(
                    t,
                    "SCRAP",
                    order_ref=order,
                    program=prog,
                    value=str(bad),
                    message=rng.choice(SCRAP_REASONS),
                )
            t = self._extras(t, k == 0, order, prog)
            t = self._stoppage(t, stop)
        return t

    def _calendar_events(self, t: float) -> float:
        """Reliefs and planned windows whose time has come (the cycle under way finished first,
        so a machine runs into a window for a while: RUNNING there stays production time)."""
        if not self.calendar:
            return t
        while self.pending_reliefs and self.pending_reliefs[0] <= t:
            self.pending_reliefs.pop(0)
            self.badge = f"B{self.extra.randint(1000, 9999)}"
            self.emit(t, "OPERATOR", value=self.badge, message="Relève de poste")
        while self.pending_windows and self.pending_windows[0][0] <= t:
            _, end, kind = self.pending_windows.pop(0)
            if t >= end or kind not in ("break", "maintenance"):
                continue
            if kind == "break":
                self.emit(t, "STATE", value="IDLE", message="Pause")
            else:  # the controller in maintenance mode: no failure, no alarm
                self.emit(t, "STATE", value="SETUP", message="Maintenance préventive")
            t = end + self.extra.uniform(0, 90) * 1000
            self.emit(t, "STATE", value="RUNNING")
        return t

    def _extras(self, t: float, first_cycle: bool, order: str, prog: str) -> float:
        """Startup scrap after a job's first cycle, and now and then a microstop (< 120 s)."""
        if not self.calendar:
            return t
        extra = self.extra
        if first_cycle and extra.random() < 0.35:
            t += extra.uniform(2, 20) * 1000
            self.emit(
                t, "SCRAP", order_ref=order, program=prog, value="1", message="Pièce de réglage"
            )
        if extra.random() < 0.04:
            t += extra.uniform(1, 10) * 1000
            if extra.random() < 0.5:
                self.emit(t, "STATE", value="IDLE", message="Micro-arrêt")
                t += extra.uniform(10, 100) * 1000
            else:  # a short jam: an alarm like any failure, cleared within the threshold
                code, text = extra.choice(ALARMS[self.m.machine_type])
                self.emit(t, "ALARM", value=code, message=text)
                self.emit(t, "STATE", value="DOWN")
                t += extra.uniform(10, 100) * 1000
                self.emit(t, "ALARM_CLEAR", value=code)
            self.emit(t, "STATE", value="RUNNING")
        return t

    def _stoppage(self, t: float, stop: float) -> float:
        """Now and then a breakdown (ALARM + DOWN) or an idle pause after a cycle."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.015 and t + 1_700_000 < stop:
            code, text = rng.choice(ALARMS[self.m.machine_type])
            t += self.seconds(1, 30)
            self.emit(t, "ALARM", value=code, message=text)
            self.emit(t, "STATE", value="DOWN")
            t += self.seconds(120, 1500)
            self.emit(t, "ALARM_CLEAR", value=code)
            self.emit(t, "STATE", value="RUNNING")
        elif roll < 0.025 and t + 800_000 < stop:
            t += self.seconds(1, 30)
            self.emit(t, "STATE", value="IDLE", message=rng.choice(IDLE_REASONS))
            t += self.seconds(60, 720)
            self.emit(t, "STATE", value="RUNNING")
        return t


def simulate(
    seed: int,
    m: Machine,
    begin_ms: int,
    end_ms: int,
    book: OrderBook,
    ms_precision: bool,
    tag: str = "",
    calendar: SessionCalendar | None = None,
) -> list[SimEvent]:
    """The events of machine ``m`` between two instants; a pure function of its arguments.

    With a ``calendar`` the session also takes the plant's breaks (IDLE) and maintenance
    windows (SETUP), badges a new operator in at shift edges, scraps a setup part now and then
    after a job's first cycle and has short microstops.
    """
    identity = f"{seed}:{m.machine_id}:{begin_ms}:{end_ms}:{tag}"
    rng = random.Random(f"session:{identity}")
    extra = random.Random(f"calendar:{identity}")
    return _Session(rng, m, book, ms_precision, calendar, extra).run(begin_ms, end_ms)
