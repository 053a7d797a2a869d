"""Machine log files in the DESIGN.md section 4 format, with the truth the ingestion must match.

Every session is simulated on the true (UTC) time line first and only then written as plant
wall-clock text, so the autumn repeated hour, milliseconds and encodings are properties of the
writer while the truth (instants, quantities, accepted and rejected lines) comes straight from the
simulation and never from re-parsing the files. Everything derives from ``random.Random`` seeded
with the seed and the file's identity: same seed and arguments give byte-identical files.

Line numbers are 1-based physical lines of the file: line 1 is the header, events start at 2.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from shutter_assets.simulator.orders import (
    DEFAULT_ORDERS,
    DEFAULT_START,
    OrderBook,
    build_order_book,
)
from shutter_assets.simulator.plant import (
    ALARMS,
    IDLE_REASONS,
    MACHINES,
    SCRAP_REASONS,
    Machine,
    machine,
    program,
    programs_for,
)

HEADER = "timestamp;machine_id;event;order_ref;program;value;message"
DEFAULT_TZ = "Europe/Paris"
SHIFTS = [(time(6, 0), time(14, 0)), (time(14, 0), time(22, 0))]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
QUANTITY_EVENTS = ("CYCLE_END", "SCRAP")
REJECT_REASONS = ("truncated", "bad_timestamp", "unknown_event", "machine_mismatch")


@dataclass(frozen=True)
class Mess:
    """Which messy realities of DESIGN.md section 4 to write (``Mess.all()`` for ``--messy``).

    Encodings and formats follow the machine: SC-* are older (Windows-1252, CRLF, decimal
    commas), AS-* write UTF-8 with BOM, ``.mmm`` milliseconds and quote text fields, CU-02 writes
    ``,mmm`` milliseconds and CRLF. The one-off defects land on distinct files chosen by rule.
    """

    cp1252: bool = False
    bom: bool = False
    crlf: bool = False
    decimal_comma: bool = False
    milliseconds: bool = False
    quoted_fields: bool = False
    invalid_lines: bool = False
    truncated_last_line: bool = False
    dst_file: bool = False
    backwards_session: bool = False
    duplicate_upload: bool = False
    growing_file: bool = False
    temp_names: bool = False

    @classmethod
    def all(cls) -> Mess:
        return cls(**{f.name: True for f in fields(cls)})

    @classmethod
    def parse(cls, text: str) -> Mess:
        """``"cp1252,bom"`` -> those flags only; ``"all"`` -> every flag. Unknown names raise."""
        names = {n.strip() for n in text.split(",") if n.strip()}
        if names == {"all"}:
            return cls.all()
        known = [f.name for f in fields(cls)]
        unknown = sorted(names - set(known))
        if unknown:
            raise ValueError(
                f"unknown mess flag(s) {', '.join(unknown)}; known: {', '.join(known)}"
            )
        return cls(**{n: True for n in names})


@dataclass(frozen=True)
class Style:
    """How one machine's controller writes its files."""

    encoding: str = "utf-8"  # "utf-8", "utf-8-sig" (BOM) or "cp1252"
    newline: str = "\n"
    ms_sep: str = ""  # "" (whole seconds), "," or "."
    decimal_comma: bool = False
    quote_text: bool = False


def style_for(m: Machine, mess: Mess) -> Style:
    if m.machine_type == "SC":
        return Style(
            encoding="cp1252" if mess.cp1252 else "utf-8",
            newline="\r\n" if mess.crlf else "\n",
            decimal_comma=mess.decimal_comma,
        )
    if m.machine_type == "AS":
        return Style(
            encoding="utf-8-sig" if mess.bom else "utf-8",
            ms_sep="." if mess.milliseconds else "",
            quote_text=mess.quoted_fields,
        )
    if m.machine_id == "CU-02":
        return Style(newline="\r\n" if mess.crlf else "\n", ms_sep="," if mess.milliseconds else "")
    return Style()


@dataclass(frozen=True)
class SimEvent:
    instant_ms: int  # true instant, milliseconds since the Unix epoch (UTC)
    event: str
    order_ref: str = ""
    program: str = ""
    value: str = ""
    message: str = ""
    machine_id: str = ""  # set only when a line must carry another machine's id


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


class GrowingFile:
    """A file written in place in two steps, as an FTP upload that is still running.

    ``start()`` writes the first part (cut mid-line), ``finish()`` appends the rest; the truth of
    the file describes the finished content.
    """

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.data = data
        split = int(len(data) * 0.6)
        while split < len(data) - 1 and data[split - 1 : split] == b"\n":
            split += 1
        self.split = split
        self.finished = False

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(self.data[: self.split])
        self.finished = False

    def finish(self) -> None:
        with self.path.open("ab") as fh:
            fh.write(self.data[self.split :])
        self.finished = True


class TempUpload:
    """A file uploaded under a temporary name (``.part`` or ``.tmp``) and renamed when complete."""

    def __init__(self, path: Path, data: bytes, suffix: str = ".part") -> None:
        self.path = path
        self.data = data
        self.temp_path = path.with_name(path.name + suffix)
        self.renamed = False

    def write(self) -> None:
        self.temp_path.parent.mkdir(parents=True, exist_ok=True)
        self.temp_path.write_bytes(self.data)

    def rename(self) -> None:
        os.replace(self.temp_path, self.path)
        self.renamed = True


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


def _ms(dt: datetime) -> int:
    return int((dt - EPOCH) / timedelta(milliseconds=1))


def _instant(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _local_ms(day: date, t: time, zone: ZoneInfo) -> int:
    return _ms(datetime.combine(day, t, zone))


class _Session:
    """Simulates one machine between two instants: the states, cycles, scrap and alarms."""

    def __init__(self, rng: random.Random, m: Machine, book: OrderBook, ms_precision: bool) -> None:
        self.rng = rng
        self.m = m
        self.book = book
        self.ms_precision = ms_precision
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
        rng = self.rng
        alarms = ALARMS[self.m.machine_type]
        t = begin_ms + self.seconds(3, 90)
        stop = end_ms - 120_000
        badge = f"B{rng.randint(1000, 9999)}"
        self.emit(t, "OPERATOR", value=badge, message="Opérateur connecté")
        while t < stop:
            order, prog = self.job()
            spec = program(prog)
            t += self.seconds(2, 20)
            self.emit(t, "STATE", value="SETUP", message=f"Réglage {prog}")
            t += self.seconds(240, 900)
            if t >= stop:
                t = stop
                break
            self.emit(t, "STATE", value="RUNNING")
            batch = rng.randint(3, 15) if self.m.machine_type == "AS" else rng.randint(10, 60)
            for _ in range(batch):
                duration = spec.ideal_s_per_part * spec.parts_per_cycle * rng.uniform(1.05, 1.4)
                if t + duration * 1000 + 30_000 >= stop:
                    t = stop
                    break
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
                roll = rng.random()
                if roll < 0.015 and t + 1_700_000 < stop:
                    code, text = rng.choice(alarms)
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
        t = max(t, stop) + self.seconds(10, 50)
        self.emit(t, "OPERATOR", value=badge, message="Fin de poste, opérateur déconnecté")
        self.emit(t + self.seconds(1, 20), "STATE", value="OFF")
        return self.events


def simulate(
    seed: int,
    m: Machine,
    begin_ms: int,
    end_ms: int,
    book: OrderBook,
    ms_precision: bool,
    tag: str = "",
) -> list[SimEvent]:
    """The events of machine ``m`` between two instants; a pure function of its arguments."""
    rng = random.Random(f"session:{seed}:{m.machine_id}:{begin_ms}:{end_ms}:{tag}")
    return _Session(rng, m, book, ms_precision).run(begin_ms, end_ms)


def _quote(value: str, always: bool) -> str:
    if ";" in value or '"' in value or (always and value):
        return '"' + value.replace('"', '""') + '"'
    return value


def wall_text(instant_ms: int, zone: ZoneInfo, ms_sep: str) -> str:
    wall = _instant(instant_ms).astimezone(zone)
    text = f"{wall:%Y-%m-%d %H:%M:%S}"
    return f"{text}{ms_sep}{instant_ms % 1000:03d}" if ms_sep else text


def _value_text(e: SimEvent, style: Style) -> str:
    if style.decimal_comma and e.event in QUANTITY_EVENTS:
        return f"{e.value},0"
    return e.value


def _event_line(e: SimEvent, machine_id: str, style: Style, zone: ZoneInfo) -> str:
    q = style.quote_text
    return ";".join(
        [
            wall_text(e.instant_ms, zone, style.ms_sep),
            e.machine_id or machine_id,
            e.event,
            _quote(e.order_ref, q),
            _quote(e.program, q),
            _value_text(e, style),
            _quote(e.message, q),
        ]
    )


@dataclass
class _Plan:
    """One file to write: its events in file order and the defects to inject."""

    rel_path: str
    m: Machine
    style: Style
    events: list[SimEvent]
    # (index in events before which to insert, raw line, reason)
    bad_lines: list[tuple[int, str, str]] = field(default_factory=list)
    truncated_tail: str | None = None
    features: list[str] = field(default_factory=list)


def _render(plan: _Plan, zone: ZoneInfo) -> tuple[bytes, FileTruth]:
    lines = [HEADER]
    events: list[EventTruth] = []
    rejected: list[RejectTruth] = []
    bad = sorted(plan.bad_lines, key=lambda b: b[0])
    bi = 0
    for index, e in enumerate(plan.events):
        while bi < len(bad) and bad[bi][0] <= index:
            lines.append(bad[bi][1])
            rejected.append(RejectTruth(len(lines), bad[bi][2], bad[bi][1]))
            bi += 1
        lines.append(_event_line(e, plan.m.machine_id, plan.style, zone))
        events.append(
            EventTruth(
                line_no=len(lines),
                instant=_instant(e.instant_ms),
                wall=wall_text(e.instant_ms, zone, plan.style.ms_sep),
                event=e.event,
                order_ref=e.order_ref,
                program=e.program,
                value=e.value,
                message=e.message,
            )
        )
    for _, raw, reason in bad[bi:]:
        lines.append(raw)
        rejected.append(RejectTruth(len(lines), reason, raw))
    nl = plan.style.newline
    text = nl.join(lines) + nl
    line_count = len(lines)
    if plan.truncated_tail is not None:
        text += plan.truncated_tail
        line_count += 1
        rejected.append(RejectTruth(line_count, "truncated", plan.truncated_tail))
    encoding = plan.style.encoding
    data = text.encode(encoding)
    truth = FileTruth(
        path=plan.rel_path,
        machine_id=plan.m.machine_id,
        encoding=encoding,
        newline=nl,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        line_count=line_count,
        events=events,
        rejected=rejected,
        features=tuple(plan.features),
    )
    return data, truth


def file_name(machine_id: str, wall: datetime) -> str:
    return f"{machine_id}_{wall:%Y%m%d_%H%M%S}.log"


def _rel(machine_id: str, name: str, subfolders: bool) -> str:
    return f"{machine_id}/{name}" if subfolders else name


def autumn_fold_ms(year: int, zone: ZoneInfo) -> int | None:
    """The UTC instant (ms) where the zone's clocks go back in autumn, None without DST."""
    t = datetime(year, 10, 1, tzinfo=UTC)
    end = datetime(year, 11, 30, tzinfo=UTC)
    offset = t.astimezone(zone).utcoffset()
    while t < end:
        nxt = t + timedelta(hours=1)
        nxt_offset = nxt.astimezone(zone).utcoffset()
        if nxt_offset is not None and offset is not None and nxt_offset < offset:
            return _ms(nxt)
        t, offset = nxt, nxt_offset
    return None


def _bad_lines(
    rng: random.Random, plan: _Plan, kinds: list[str], others: list[str], zone: ZoneInfo
) -> None:
    """Inject one invalid line per kind at seeded positions inside the file's events."""
    for kind in kinds:
        index = rng.randint(1, max(1, len(plan.events) - 1))
        near = plan.events[min(index, len(plan.events) - 1)]
        wall = wall_text(near.instant_ms, zone, "")
        mid = plan.m.machine_id
        if kind == "unknown_event":
            raw = f"{wall};{mid};HEARTBEAT;;;;Contrôleur actif"
        elif kind == "bad_timestamp":
            day = wall[:10]
            bogus = rng.choice(
                [
                    f"{day[:8]}31 {wall[11:]}",
                    f"{day[8:10]}/{day[5:7]}/{day[:4]} {wall[11:]}",
                    f"{day} 25:{wall[14:]}",
                ]
            )
            if bogus.startswith(day[:8] + "31") and day[5:7] in (
                "01",
                "03",
                "05",
                "07",
                "08",
                "10",
                "12",
            ):
                bogus = f"{day[:8]}32 {wall[11:]}"
            raw = f"{bogus};{mid};STATE;;;IDLE;"
        else:  # machine_mismatch
            other = next((o for o in others if o != mid), "XX-99")
            raw = f"{wall};{other};CYCLE_END;;{near.program or ''};7;"
        plan.bad_lines.append((index, raw, kind))
        if "invalid_lines" not in plan.features:
            plan.features.append("invalid_lines")


def _same_bytes(path: Path, data: bytes) -> bool:
    return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data


def write_logs(
    out_dir: Path | str,
    seed: int,
    start: date = DEFAULT_START,
    days: int = 2,
    machines: list[str] | None = None,
    mess: Mess | None = None,
    subfolders: bool = False,
    tz: str = DEFAULT_TZ,
    n_orders: int = DEFAULT_ORDERS,
    leave_pending: bool = False,
    messy: bool = False,
) -> LogsTruth:
    """Write one file per machine and shift (06:00–14:00, 14:00–22:00 plant time) per day.

    With ``mess`` (``messy=True`` is ``Mess.all()``) the extra files and defects of ``Mess`` are
    added. ``leave_pending`` stops the
    growing file after its first part and leaves the temporary-name upload un-renamed; the truth
    always describes the finished tree, and ``truth.growing.finish()`` /
    ``truth.pending.rename()`` complete it. Existing files of the same names are overwritten,
    unless they already hold the same bytes (a rerun then leaves the drop untouched).
    """
    out = Path(out_dir)
    mess = mess or (Mess.all() if messy else Mess())
    zone = ZoneInfo(tz)
    ids = [m.machine_id for m in MACHINES] if machines is None else list(machines)
    chosen = [machine(i) for i in ids]
    book = build_order_book(seed, n_orders, start)

    plans: list[_Plan] = []
    for d in range(days):
        day = start + timedelta(days=d)
        for shift_begin, shift_end in SHIFTS:
            for m in chosen:
                style = style_for(m, mess)
                begin = _local_ms(day, shift_begin, zone)
                end = _local_ms(day, shift_end, zone)
                events = simulate(seed, m, begin, end, book, bool(style.ms_sep))
                name = file_name(m.machine_id, datetime.combine(day, shift_begin))
                plans.append(_Plan(_rel(m.machine_id, name, subfolders), m, style, events))

    used: set[int] = set()

    def pick(pred=lambda p: True) -> _Plan | None:
        for candidates in ([i for i, p in enumerate(plans) if pred(p)], range(len(plans))):
            for i in candidates:
                if i not in used:
                    used.add(i)
                    return plans[i]
        return None

    rng = random.Random(f"mess:{seed}:{start.isoformat()}:{days}:{','.join(ids)}")
    duplicate = pick() if mess.duplicate_upload else None
    if mess.backwards_session:
        plan = pick(lambda p: p.m.machine_type == "AS" and "_060000" in p.rel_path)
        if plan:
            first = plan.events[0].instant_ms
            block = simulate(
                seed,
                plan.m,
                first - 3_600_000,
                first - 900_000,
                book,
                bool(plan.style.ms_sep),
                tag="earlier-session",
            )
            plan.events = plan.events + block
            plan.features.append("backwards_session")
    if mess.truncated_last_line:
        last_day = f"_{start + timedelta(days=days - 1):%Y%m%d}_"
        second = ids[1] if len(ids) > 1 else ids[0]
        plan = pick(lambda p: p.m.machine_id == second and last_day in p.rel_path)
        if plan:
            last = plan.events[-1]
            line = _event_line(
                SimEvent(last.instant_ms + 2000, "OPERATOR", value="B0000", message="Fin"),
                plan.m.machine_id,
                plan.style,
                zone,
            )
            cut = line.index(";", line.index(";") + 1) + 4  # inside the event field
            plan.truncated_tail = line[:cut]
            plan.features.append("truncated_last_line")
    growing = pick(lambda p: p is plans[-1]) if mess.growing_file else None
    pending = pick(lambda p: p is plans[-2]) if (mess.temp_names and len(plans) > 1) else None
    if mess.invalid_lines:
        plan = pick()
        if plan:
            _bad_lines(rng, plan, ["unknown_event", "bad_timestamp"], ids, zone)
        plan = pick()
        if plan:
            _bad_lines(rng, plan, ["machine_mismatch", "bad_timestamp"], ids, zone)
    if mess.dst_file:
        fold = autumn_fold_ms(start.year, zone)
        m = chosen[0]
        style = style_for(m, mess)
        sunday = date(start.year, 10, 31)
        sunday -= timedelta(days=(sunday.weekday() + 1) % 7)
        begin = _local_ms(sunday, time(0, 0), zone)
        end = _local_ms(sunday, time(4, 0), zone)
        events = simulate(seed, m, begin, end, book, bool(style.ms_sep), tag="dst-night")
        if fold is not None:
            # Badge reads on both sides of the fold make the repeated hour certain in the file.
            for offset in (-10_000, 10_000):
                events.append(
                    SimEvent(
                        fold + offset,
                        "OPERATOR",
                        value="B0042",
                        message="Ronde de nuit, contrôle sécurité",
                    )
                )
            events.sort(key=lambda e: e.instant_ms)
        name = file_name(m.machine_id, datetime.combine(sunday, time(0, 0)))
        plans.append(
            _Plan(_rel(m.machine_id, name, subfolders), m, style, events, features=["dst"])
        )

    truths: list[FileTruth] = []
    growing_file = None
    pending_upload = None
    for i, plan in enumerate(plans):
        if plan is growing:
            plan.features.append("growing")
        if plan is pending:
            plan.features.append("temp_name")
        data, truth = _render(plan, zone)
        target = out / plan.rel_path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not leave_pending and _same_bytes(target, data):
            pass  # already uploaded: rewriting would only touch its mtime and look like a re-upload
        elif plan is growing:
            growing_file = GrowingFile(target, data)
            growing_file.start()
            if not leave_pending:
                growing_file.finish()
        elif mess.temp_names:
            upload = TempUpload(target, data, ".part" if i % 2 == 0 else ".tmp")
            upload.write()
            if plan is pending:
                pending_upload = upload
                if leave_pending:
                    truths.append(truth)
                    continue
            upload.rename()
        else:
            target.write_bytes(data)
        truths.append(truth)
        if plan is duplicate:
            stem = plan.rel_path[: -len(".log")]
            dup_rel = f"{stem} (1).log"
            if not _same_bytes(out / dup_rel, data):
                (out / dup_rel).write_bytes(data)
            dup = FileTruth(
                **{
                    **truth.__dict__,
                    "path": dup_rel,
                    "duplicate_of": plan.rel_path,
                    "features": ("duplicate",),
                }
            )
            truths.append(dup)
    return LogsTruth(
        out_dir=out,
        seed=seed,
        start=start,
        days=days,
        machines=ids,
        tz=tz,
        mess=mess,
        files=truths,
        growing=growing_file,
        pending=pending_upload,
    )


def live_file(
    seed: int,
    k: int,
    start: date = DEFAULT_START,
    machines: list[str] | None = None,
    mess: Mess | None = None,
    tz: str = DEFAULT_TZ,
    n_orders: int = DEFAULT_ORDERS,
    minutes: int = 20,
    book: OrderBook | None = None,
    after_days: int = 0,
) -> tuple[str, bytes, FileTruth]:
    """The ``k``-th file of the live feed: machines take turns, each file covers ``minutes``.

    Sessions follow each other from 06:00 plant time on ``start + after_days`` (so a feed started
    after ``write_logs(days=N)`` with ``after_days=N`` continues it without name clashes); the
    order references come from the order book of ``start``. A feed can be replayed exactly.
    """
    zone = ZoneInfo(tz)
    mess = mess or Mess()
    ids = [m.machine_id for m in MACHINES] if machines is None else list(machines)
    m = machine(ids[k % len(ids)])
    book = book or build_order_book(seed, n_orders, start)
    style = style_for(m, mess)
    first = datetime.combine(start + timedelta(days=after_days), time(6, 0))
    begin_wall = first + timedelta(minutes=minutes * (k // len(ids)))
    begin = _ms(begin_wall.replace(tzinfo=zone))
    end = begin + minutes * 60_000
    events = simulate(seed, m, begin, end, book, bool(style.ms_sep), tag="live")
    name = file_name(m.machine_id, begin_wall)
    data, truth = _render(_Plan(name, m, style, events, features=["live"]), zone)
    return name, data, truth


def tree_digest(out_dir: Path | str) -> dict[str, str]:
    """sha256 of every file under ``out_dir`` by relative POSIX path (determinism checks)."""
    root = Path(out_dir)
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


__all__ = [
    "HEADER",
    "REJECT_REASONS",
    "DayTruth",
    "EventTruth",
    "FileTruth",
    "GrowingFile",
    "LogsTruth",
    "Mess",
    "RejectTruth",
    "TempUpload",
    "live_file",
    "tree_digest",
    "write_logs",
]
