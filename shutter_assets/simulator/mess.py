"""The messy realities of DESIGN.md section 4, injected into planned files.

Which realities to write is a ``Mess``; how each machine's controller writes (encoding, line
endings, milliseconds, quoting) is its ``Style``; the one-off defects (a duplicate upload, a
backwards session, a truncated last line, a growing file, temporary names, invalid lines, a file
across the autumn change) each land on a distinct file chosen by rule, in a fixed order, so the
same seed always damages the same files in the same way.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from shutter_assets.simulator.order_book import OrderBook
from shutter_assets.simulator.plant import Machine
from shutter_assets.simulator.render import Plan, Style, event_line, file_name, rel_path, wall_text
from shutter_assets.simulator.session import SimEvent, local_ms, simulate, to_ms


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


def style_for(m: Machine, mess: Mess) -> Style:
    """How machine ``m`` writes its files under ``mess`` (see ``Mess``)."""
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


def autumn_fold_ms(year: int, zone: ZoneInfo) -> int | None:
    """The UTC instant (ms) where the zone's clocks go back in autumn, None without DST."""
    t = datetime(year, 10, 1, tzinfo=UTC)
    end = datetime(year, 11, 30, tzinfo=UTC)
    offset = t.astimezone(zone).utcoffset()
    while t < end:
        nxt = t + timedelta(hours=1)
        nxt_offset = nxt.astimezone(zone).utcoffset()
        if nxt_offset is not None and offset is not None and nxt_offset < offset:
            return to_ms(nxt)
        t, offset = nxt, nxt_offset
    return None


class Picker:
    """Hands out each planned file at most once, preferring those a rule asks for."""

    def __init__(self, plans: list[Plan]) -> None:
        self.plans = plans
        self.used: set[int] = set()

    def pick(self, pred: Callable[[Plan], bool] = lambda p: True) -> Plan | None:
        """The first unused plan matching ``pred``, else the first unused one, else None."""
        plans = self.plans
        for candidates in ([i for i, p in enumerate(plans) if pred(p)], range(len(plans))):
            for i in candidates:
                if i not in self.used:
                    self.used.add(i)
                    return plans[i]
        return None


def _bogus_timestamp(rng: random.Random, wall: str) -> str:
    """A timestamp that breaks the format: a day that does not exist, ``dd/mm/yyyy``, hour 25."""
    day = wall[:10]
    bogus = rng.choice(
        [
            f"{day[:8]}31 {wall[11:]}",
            f"{day[8:10]}/{day[5:7]}/{day[:4]} {wall[11:]}",
            f"{day} 25:{wall[14:]}",
        ]
    )
    if bogus.startswith(day[:8] + "31") and day[5:7] in ("01", "03", "05", "07", "08", "10", "12"):
        bogus = f"{day[:8]}32 {wall[11:]}"
    return bogus


def bad_lines(
    rng: random.Random, plan: Plan, kinds: list[str], others: list[str], zone: ZoneInfo
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
            raw = f"{_bogus_timestamp(rng, wall)};{mid};STATE;;;IDLE;"
        else:  # machine_mismatch
            other = next((o for o in others if o != mid), "XX-99")
            raw = f"{wall};{other};CYCLE_END;;{near.program or ''};7;"
        plan.bad_lines.append((index, raw, kind))
        if "invalid_lines" not in plan.features:
            plan.features.append("invalid_lines")


def backwards_session(plan: Plan, seed: int, book: OrderBook) -> None:
    """Append an earlier session (05:00–05:45 before the file's start): timestamps jump back."""
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


def truncated_last_line(plan: Plan, zone: ZoneInfo) -> None:
    """An extra last line cut inside its event field, without a line ending."""
    last = plan.events[-1]
    line = event_line(
        SimEvent(last.instant_ms + 2000, "OPERATOR", value="B0000", message="Fin"),
        plan.m.machine_id,
        plan.style,
        zone,
    )
    cut = line.index(";", line.index(";") + 1) + 4  # inside the event field
    plan.truncated_tail = line[:cut]
    plan.features.append("truncated_last_line")


def dst_plan(
    seed: int, m: Machine, style: Style, start: date, zone: ZoneInfo, book: OrderBook, sub: bool
) -> Plan:
    """A night file 00:00–04:00 on the last Sunday of October of ``start``'s year."""
    fold = autumn_fold_ms(start.year, zone)
    sunday = date(start.year, 10, 31)
    sunday -= timedelta(days=(sunday.weekday() + 1) % 7)
    begin = local_ms(sunday, time(0, 0), zone)
    end = local_ms(sunday, time(4, 0), zone)
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
    return Plan(rel_path(m.machine_id, name, sub), m, style, events, features=["dst"])
