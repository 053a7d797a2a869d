"""Rendering simulated events to the log format of DESIGN.md section 4, with each file's truth.

A ``Plan`` is one file to write (its events in file order plus the defects the messy-reality
injectors asked for); ``render`` turns it into bytes in the machine's ``Style`` and, in the same
pass, the ``FileTruth`` of every accepted and rejected line, numbered as physical lines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from shutter_assets.simulator.plant import Machine
from shutter_assets.simulator.session import SimEvent, to_instant
from shutter_assets.simulator.truth import QUANTITY_EVENTS, EventTruth, FileTruth, RejectTruth

HEADER = "timestamp;machine_id;event;order_ref;program;value;message"


@dataclass(frozen=True)
class Style:
    """How one machine's controller writes its files."""

    encoding: str = "utf-8"  # "utf-8", "utf-8-sig" (BOM) or "cp1252"
    newline: str = "\n"
    ms_sep: str = ""  # "" (whole seconds), "," or "."
    decimal_comma: bool = False
    quote_text: bool = False


@dataclass
class Plan:
    """One file to write: its events in file order and the defects to inject."""

    rel_path: str
    m: Machine
    style: Style
    events: list[SimEvent]
    # (index in events before which to insert, raw line, reason)
    bad_lines: list[tuple[int, str, str]] = field(default_factory=list)
    truncated_tail: str | None = None
    features: list[str] = field(default_factory=list)


def _quote(value: str, always: bool) -> str:
    if ";" in value or '"' in value or (always and value):
        return '"' + value.replace('"', '""') + '"'
    return value


def wall_text(instant_ms: int, zone: ZoneInfo, ms_sep: str) -> str:
    """The plant wall-clock timestamp of an instant, as the controller writes it."""
    wall = to_instant(instant_ms).astimezone(zone)
    text = f"{wall:%Y-%m-%d %H:%M:%S}"
    return f"{text}{ms_sep}{instant_ms % 1000:03d}" if ms_sep else text


def _value_text(e: SimEvent, style: Style) -> str:
    if style.decimal_comma and e.event in QUANTITY_EVENTS:
        return f"{e.value},0"
    return e.value


def event_line(e: SimEvent, machine_id: str, style: Style, zone: ZoneInfo) -> str:
    """One event as a ``;``-separated line (no line ending)."""
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


def _lines(plan: Plan, zone: ZoneInfo) -> tuple[list[str], list[EventTruth], list[RejectTruth]]:
    """Header, events and injected bad lines in file order, with the truth of each line."""
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
        lines.append(event_line(e, plan.m.machine_id, plan.style, zone))
        events.append(
            EventTruth(
                line_no=len(lines),
                instant=to_instant(e.instant_ms),
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
    return lines, events, rejected


def render(plan: Plan, zone: ZoneInfo) -> tuple[bytes, FileTruth]:
    """The file's bytes and its truth (accepted events, rejected lines, digest, size)."""
    lines, events, rejected = _lines(plan, zone)
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
    """``{machine_id}_{YYYYMMDD}_{HHMMSS}.log`` after a wall-clock start (DESIGN.md section 4)."""
    return f"{machine_id}_{wall:%Y%m%d_%H%M%S}.log"


def rel_path(machine_id: str, name: str, subfolders: bool) -> str:
    """Where a file goes in the drop: at the top or in a sub-folder per machine."""
    return f"{machine_id}/{name}" if subfolders else name
