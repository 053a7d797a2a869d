"""Machine log files in the DESIGN.md section 4 format, with the truth the ingestion must match.

Every session is simulated on the true (UTC) time line first (``session.py``) and only then
written as plant wall-clock text (``render.py``), so the autumn repeated hour, milliseconds and
encodings are properties of the writer while the truth (``truth.py``: instants, quantities,
accepted and rejected lines) comes straight from the simulation and never from re-parsing the
files. The messy realities (``mess.py``) are injected into the planned files before rendering.
Everything derives from ``random.Random`` seeded with the seed and the file's identity: same seed
and arguments give byte-identical files.

Line numbers are 1-based physical lines of the file: line 1 is the header, events start at 2.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from shutter_assets.lib.plant import PlantSettings
from shutter_assets.simulator.calendar import session_calendar
from shutter_assets.simulator.mess import (
    GrowingFile,
    Mess,
    Picker,
    TempUpload,
    backwards_session,
    bad_lines,
    dst_plan,
    style_for,
    truncated_last_line,
)
from shutter_assets.simulator.order_book import (
    DEFAULT_ORDERS,
    DEFAULT_START,
    OrderBook,
    build_order_book,
)
from shutter_assets.simulator.plant import MACHINES, Machine, machine
from shutter_assets.simulator.render import HEADER, Plan, file_name, rel_path, render
from shutter_assets.simulator.session import SHIFTS, local_ms, simulate, to_instant, to_ms
from shutter_assets.simulator.truth import (
    REJECT_REASONS,
    DayTruth,
    EventTruth,
    FileTruth,
    LogsTruth,
    RejectTruth,
)

DEFAULT_TZ = PlantSettings().timezone  # the one default of PLANT_TIMEZONE


def _plan_shifts(
    seed: int,
    chosen: list[Machine],
    start: date,
    days: int,
    mess: Mess,
    zone: ZoneInfo,
    book: OrderBook,
    subfolders: bool,
) -> list[Plan]:
    """One clean file per day, shift and machine, in that order."""
    plans: list[Plan] = []
    for d in range(days):
        day = start + timedelta(days=d)
        for shift_begin, shift_end in SHIFTS:
            for m in chosen:
                style = style_for(m, mess)
                begin = local_ms(day, shift_begin, zone)
                end = local_ms(day, shift_end, zone)
                plan_calendar = session_calendar(m, to_instant(begin), to_instant(end), zone)
                events = simulate(
                    seed, m, begin, end, book, bool(style.ms_sep), calendar=plan_calendar
                )
                name = file_name(m.machine_id, datetime.combine(day, shift_begin))
                plans.append(Plan(rel_path(m.machine_id, name, subfolders), m, style, events))
    return plans


@dataclass
class _Injected:
    """The planned files that a write must treat specially (None when the flag is off)."""

    duplicate: Plan | None
    growing: Plan | None
    pending: Plan | None


def _inject(
    plans: list[Plan],
    seed: int,
    start: date,
    days: int,
    ids: list[str],
    mess: Mess,
    zone: ZoneInfo,
    book: OrderBook,
    subfolders: bool,
) -> _Injected:
    """Apply the one-off defects of ``mess``; the order of the picks is part of the output."""
    picker = Picker(plans)
    pick = picker.pick
    rng = random.Random(f"mess:{seed}:{start.isoformat()}:{days}:{','.join(ids)}")
    duplicate = pick() if mess.duplicate_upload else None
    if mess.backwards_session:
        plan = pick(lambda p: p.m.machine_type == "AS" and "_060000" in p.rel_path)
        if plan:
            backwards_session(plan, seed, book)
    if mess.truncated_last_line:
        last_day = f"_{start + timedelta(days=days - 1):%Y%m%d}_"
        second = ids[1] if len(ids) > 1 else ids[0]
        plan = pick(lambda p: p.m.machine_id == second and last_day in p.rel_path)
        if plan:
            truncated_last_line(plan, zone)
    growing = pick(lambda p: p is plans[-1]) if mess.growing_file else None
    pending = pick(lambda p: p is plans[-2]) if (mess.temp_names and len(plans) > 1) else None
    if mess.invalid_lines:
        for kinds in (["unknown_event", "bad_timestamp"], ["machine_mismatch", "bad_timestamp"]):
            plan = pick()
            if plan:
                bad_lines(rng, plan, kinds, ids, zone)
    if mess.dst_file:
        m = machine(ids[0])
        plans.append(dst_plan(seed, m, style_for(m, mess), start, zone, book, subfolders))
    return _Injected(duplicate, growing, pending)


def _same_bytes(path: Path, data: bytes) -> bool:
    return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data


def duplicate_name(rel_path: str) -> str:
    """``NAME (1).log`` for ``NAME.log``: how an FTP client names a file uploaded a second time.

    Still a log file name of the same machine (``log_names.machine_from_path`` reads it), so the
    platform reads it and records it as a duplicate of the file with the same content.
    """
    return f"{rel_path[: -len('.log')]} (1).log"


def _duplicate_truth(truth: FileTruth, dup_rel: str, features: tuple[str, ...]) -> FileTruth:
    """The truth of a copy: the original's content, its own path, ``duplicate_of`` the original."""
    return FileTruth(
        **{**truth.__dict__, "path": dup_rel, "duplicate_of": truth.path, "features": features}
    )


def _write_duplicate(out: Path, plan: Plan, data: bytes, truth: FileTruth) -> FileTruth:
    """The same bytes again as ``NAME (1).log``; its truth points at the original."""
    dup_rel = duplicate_name(plan.rel_path)
    if not _same_bytes(out / dup_rel, data):
        (out / dup_rel).write_bytes(data)
    return _duplicate_truth(truth, dup_rel, ("duplicate",))


def _write_all(
    out: Path,
    plans: list[Plan],
    special: _Injected,
    mess: Mess,
    zone: ZoneInfo,
    leave_pending: bool,
) -> tuple[list[FileTruth], GrowingFile | None, TempUpload | None]:
    """Render and write every plan the way its upload happens; the truths in file order."""
    truths: list[FileTruth] = []
    growing_file = None
    pending_upload = None
    for i, plan in enumerate(plans):
        if plan is special.growing:
            plan.features.append("growing")
        if plan is special.pending:
            plan.features.append("temp_name")
        data, truth = render(plan, zone)
        target = out / plan.rel_path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not leave_pending and _same_bytes(target, data):
            pass  # already uploaded: rewriting would only touch its mtime and look like a re-upload
        elif plan is special.growing:
            growing_file = GrowingFile(target, data)
            growing_file.start()
            if not leave_pending:
                growing_file.finish()
        elif mess.temp_names:
            upload = TempUpload(target, data, ".part" if i % 2 == 0 else ".tmp")
            upload.write()
            if plan is special.pending:
                pending_upload = upload
                if leave_pending:
                    truths.append(truth)
                    continue
            upload.rename()
        else:
            target.write_bytes(data)
        truths.append(truth)
        if plan is special.duplicate:
            truths.append(_write_duplicate(out, plan, data, truth))
    return truths, growing_file, pending_upload


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
    plans = _plan_shifts(seed, chosen, start, days, mess, zone, book, subfolders)
    special = _inject(plans, seed, start, days, ids, mess, zone, book, subfolders)
    truths, growing, pending = _write_all(out, plans, special, mess, zone, leave_pending)
    return LogsTruth(
        out_dir=out,
        seed=seed,
        start=start,
        days=days,
        machines=ids,
        tz=tz,
        mess=mess,
        files=truths,
        growing=growing,
        pending=pending,
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
    begin = to_ms(begin_wall.replace(tzinfo=zone))
    end = begin + minutes * 60_000
    events = simulate(seed, m, begin, end, book, bool(style.ms_sep), tag="live")
    name = file_name(m.machine_id, begin_wall)
    data, truth = render(Plan(name, m, style, events, features=["live"]), zone)
    return name, data, truth


# The live feed re-uploads an earlier file after every k-th file with k % 7 == 5 (issue 11).
LIVE_REUPLOAD_EVERY = 7
LIVE_REUPLOAD_AT = 5
LIVE_REUPLOAD_BACK = 3  # which earlier file: the one delivered three files before


def live_reupload_of(k: int) -> int | None:
    """The index of the earlier live file re-uploaded after the ``k``-th one, or None.

    Files 5, 12, 19, ... are each followed by a copy of the file three before (2, 9, 16, ...),
    delivered some intervals earlier: usually already loaded when its copy arrives, as when an
    operator uploads a folder again.
    """
    if k % LIVE_REUPLOAD_EVERY == LIVE_REUPLOAD_AT:
        return k - LIVE_REUPLOAD_BACK
    return None


def live_reupload(seed: int, k: int, **feed) -> tuple[str, bytes, FileTruth] | None:
    """The re-upload that follows the ``k``-th live file (``live_reupload_of``), or None;
    ``feed``: the keyword arguments of the feed's ``live_file`` calls.

    The same bytes as the earlier file under ``duplicate_name`` (same machine, another name);
    the truth is that file's, with ``duplicate_of`` its name: the platform records the copy as a
    duplicate and loads its lines once (docs/machine_logs.md, "Loading: exactly once").
    """
    of = live_reupload_of(k)
    if of is None:
        return None
    name, data, truth = live_file(seed, of, **feed)
    copy = duplicate_name(name)
    return copy, data, _duplicate_truth(truth, copy, ("live", "duplicate"))


def tree_digest(out_dir: Path | str) -> dict[str, str]:
    """sha256 of every file under ``out_dir`` by relative POSIX path (determinism checks)."""
    root = Path(out_dir)
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


__all__ = [
    "DEFAULT_TZ",
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
    "duplicate_name",
    "live_file",
    "live_reupload",
    "live_reupload_of",
    "tree_digest",
    "write_logs",
]
