"""Streaming parser for the machines' log files (DESIGN.md section 4). No Dagster imports.

Contract kept here:

* The file is read line by line from a binary stream; memory does not grow with the file size
  (a line longer than ``MAX_LINE_BYTES`` is rejected, not accumulated). ``log_decoding`` first
  makes every line end with ``\n`` (``\r\n`` and a bare ``\r`` are line ends too) and
  transcodes a UTF-16 file (BOM, LE or BE) to UTF-8, reported as ``utf-16-le`` / ``utf-16-be``.
* Otherwise encoding is decided per line: a UTF-8 BOM is dropped; each line is decoded as UTF-8
  and, when that fails, as Windows-1252 (bytes cp1252 leaves undefined fall back to Latin-1). A
  file written by an old controller is therefore read correctly even when its first lines are pure
  ASCII, and a file that switches encoding mid-way (concatenated sessions) loses no accent.
  ``encoding`` reports what was seen: ``utf-8``, ``utf-8-sig``, ``windows-1252`` or ``mixed``.
* The first line must be exactly the header; otherwise the whole file is refused with
  ``LogHeaderError`` (the caller records it, it is never silently skipped). Both it and
  ``LogDecodeError`` are ``LogFileError``: the file as a whole cannot be read.
* A line holding a NUL byte (which PostgreSQL ``text`` cannot store) is a reject whose reason
  gives the NUL's positions; the loader stores its raw text with each NUL shown as ``NUL_SHOWN_AS``.
* Every other line yields either an ``Event`` or a ``Reject`` (line number, raw decoded text,
  precise reason). Line numbers are physical: the header is line 1.
* Timestamps are plant wall-clock times converted to true instants with the plant's IANA zone.
  Inside the autumn repeated hour a time is the first occurrence until the wall time goes
  backwards inside that hour; from then on it is the second occurrence (``fold=1``). Wall times
  that do not exist (spring-forward gap) are rejects. Backward jumps elsewhere are valid lines.

Events carry text ready for PostgreSQL: ``event_at`` is the wall time with its UTC offset
(``2026-10-25 02:30:00.000+01:00``) and ``value_num`` uses a decimal point, so the loader never
builds a Python ``datetime`` or ``Decimal`` per line.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import BinaryIO, NamedTuple
from zoneinfo import ZoneInfo

from shutter_assets.lib.log_decoding import LogFileError, line_stream
from shutter_assets.lib.log_names import machine_from_path

HEADER = ("timestamp", "machine_id", "event", "order_ref", "program", "value", "message")
N_FIELDS = len(HEADER)
MAX_LINE_BYTES = 64 * 1024
_MINUTE_CACHE = 4096
_SMALL_CACHE = 4096
_SECONDS = frozenset(f":{i:02d}" for i in range(60))
_MILLIS = frozenset(f"{i:03d}" for i in range(1000))
STATES = frozenset({"RUNNING", "IDLE", "SETUP", "DOWN", "OFF"})
EVENT_TYPES = frozenset(
    {"STATE", "CYCLE_START", "CYCLE_END", "SCRAP", "ALARM", "ALARM_CLEAR", "OPERATOR"}
)
TRUNCATED = "truncated line (no newline at end of file)"
NUL_SHOWN_AS = "\u2400"  # SYMBOL FOR NULL: where a NUL byte was, in stored text

_MACHINE_RE = re.compile(r"[A-Z]{2}-[0-9]{2}")
_ORDER_RE = re.compile(r"CMD-[0-9]{4}-[0-9]{6}")
_TS_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-5][0-9])(?:[,.]([0-9]{3}))?"
)
_NUMBER_RE = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")

# What a minute of wall time is in the plant's zone: normal, repeated (autumn), or nonexistent.
_NORMAL, _AMBIGUOUS, _GAP, _INVALID = 0, 1, 2, 3


class LogHeaderError(LogFileError):
    """The file does not start with the contract's header: the whole file is refused."""


class Event(NamedTuple):
    line_no: int
    machine_id: str
    event_type: str
    local_ts: str  # 'YYYY-MM-DD HH:MM:SS.mmm', the plant wall clock as written
    event_at: str  # the same with its UTC offset: the true instant
    order_ref: str | None
    program: str | None
    value_text: str | None
    value_num: str | None  # decimal point, ready for numeric
    message: str | None

    @property
    def instant(self) -> datetime:
        return datetime.fromisoformat(self.event_at)


_new_event = partial(tuple.__new__, Event)  # skips NamedTuple's Python-level __new__


class Reject(NamedTuple):
    line_no: int
    raw_line: str
    reason: str


def _nul_reason(text: str) -> str:
    positions = [i + 1 for i, c in enumerate(text) if c == "\x00"]
    where = ", ".join(map(str, positions[:5])) + (", ..." if len(positions) > 5 else "")
    return (
        f"NUL byte (0x00) at character {where}: PostgreSQL text cannot hold it; the raw text "
        f"shows it as {NUL_SHOWN_AS}"
    )


def _format_offset(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{text}:{secs:02d}" if secs else text


class LogParser:
    """Iterate a log file's lines as ``Event`` / ``Reject``; statistics are filled while iterating.

    ``path`` is used for the file's machine (from its name) and in messages. Raises
    ``LogHeaderError`` on the first ``next()`` when the header is wrong or the file is empty.
    """

    def __init__(
        self, stream: BinaryIO, *, path: str, plant_tz: str, max_line_bytes: int = MAX_LINE_BYTES
    ) -> None:
        self.stream, self._file_encoding = line_stream(stream, path=path)
        self.path = path
        self.tz = ZoneInfo(plant_tz)
        self.tz_name = plant_tz
        self.max_line_bytes = max_line_bytes
        self.file_machine = machine_from_path(path)
        self.line_count = 0
        self.event_count = 0
        self.reject_count = 0
        self._bom = False
        self._saw_utf8 = False
        self._saw_cp1252 = False
        self._minutes: dict[str, tuple[int, str, str]] = {}
        self._last_ambiguous: dict[str, str] = {}
        self._second_occurrence: set[str] = set()
        self._header_read = False
        self._orders: set[str] = set()
        self._numbers: dict[str, str | None] = {}

    @property
    def encoding(self) -> str:
        if self._file_encoding is not None:
            return self._file_encoding
        if self._saw_cp1252:
            return "mixed" if (self._saw_utf8 or self._bom) else "windows-1252"
        return "utf-8-sig" if self._bom else "utf-8"

    # -- lines -----------------------------------------------------------------------------

    def _decode(self, raw: bytes) -> str:
        if raw.isascii():
            return raw.decode("ascii")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._saw_cp1252 = True
            try:
                return raw.decode("cp1252")
            except UnicodeDecodeError:
                return raw.decode("latin-1")
        self._saw_utf8 = True
        return text

    def _read_line(self) -> tuple[str, bool, str | None] | None:
        """The next line: (decoded text without terminator, had newline, problem) or None."""
        raw = self.stream.readline(self.max_line_bytes)
        if not raw:
            return None
        problem = None
        if raw.endswith(b"\n"):
            has_nl = True
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        else:
            has_nl = False
            if len(raw) >= self.max_line_bytes:
                problem = f"line longer than {self.max_line_bytes} bytes"
                self._skip_rest_of_line()
        return self._decode(raw), has_nl, problem

    def _skip_rest_of_line(self) -> None:
        while True:
            more = self.stream.readline(self.max_line_bytes)
            if not more or more.endswith(b"\n"):
                return

    # -- timestamps ------------------------------------------------------------------------

    def _minute(self, key: str, m: re.Match[str]) -> tuple[int, str, str]:
        """Classify one wall-clock minute (cached: a file spans few distinct minutes per hour)."""
        try:
            naive = datetime(
                int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5))
            )
        except ValueError:
            info = (_INVALID, "", "")
        else:
            first = naive.replace(tzinfo=self.tz, fold=0).utcoffset()
            second = naive.replace(tzinfo=self.tz, fold=1).utcoffset()
            assert first is not None and second is not None
            if first == second:
                info = (_NORMAL, _format_offset(first), "")
            elif first > second:
                info = (_AMBIGUOUS, _format_offset(first), _format_offset(second))
            else:
                info = (_GAP, "", "")
        if len(self._minutes) >= _MINUTE_CACHE:
            self._minutes.clear()  # lines are mostly in time order: keep memory flat
        self._minutes[key] = info
        return info

    def _number(self, value: str) -> str | None:
        """``value`` as a numeric literal with a decimal point, or None if it is not a number
        (cached: quantities and codes repeat all through a file)."""
        try:
            return self._numbers[value]
        except KeyError:
            pass
        num = value.replace(",", ".") if _NUMBER_RE.fullmatch(value) else None
        if len(self._numbers) >= _SMALL_CACHE:
            self._numbers.clear()
        self._numbers[value] = num
        return num

    # -- events ----------------------------------------------------------------------------

    def _check_header(self, text: str) -> None:
        try:
            fields = next(csv.reader([text], delimiter=";", quotechar='"'), [])
        except csv.Error as exc:
            fields, problem = [], f"unreadable as CSV: {exc}"
        else:
            problem = f"got {text[:120]!r}"
        if "\x00" in text:
            problem = (
                "it holds NUL bytes: UTF-16 saved without a byte-order mark, or not a text file; "
                "save it as UTF-8 or as UTF-16 with BOM"
            )
        if tuple(f.strip() for f in fields) != HEADER:
            raise LogHeaderError(
                f"{self.path}: first line is not the log header {';'.join(HEADER)!r} "
                f"({problem}); the whole file was refused. Fix the machine's export "
                f"and upload it again, or reprocess it once corrected."
            )

    def read_header(self) -> None:
        """Read and check the first line; raises ``LogHeaderError``. Idempotent."""
        if self._header_read:
            return
        self._header_read = True
        line = self._read_line()
        if line is None:
            raise LogHeaderError(
                f"{self.path}: the file is empty (no header line); the whole file was refused."
            )
        self.line_count = 1
        text = line[0]
        if text.startswith("\ufeff"):
            self._bom = True
            text = text[1:]
        self._check_header(text)

    def __iter__(self) -> Iterator[Event | Reject]:
        """One flat loop per line: this is the hot path of the ingestion."""
        self.read_header()
        readline = self.stream.readline
        limit = self.max_line_bytes
        validate = self._validate
        decode = self._decode
        line_no = self.line_count
        for raw in iter(partial(readline, limit), b""):
            line_no += 1
            self.line_count = line_no
            # The terminator handling of _read_line (the header's reader), inlined on purpose:
            # a method call per line would cost the hot path more than the repetition does.
            problem = None
            if raw.endswith(b"\n"):
                has_nl = True
                raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
            else:
                has_nl = False
                if len(raw) >= limit:
                    problem = f"line longer than {limit} bytes"
                    self._skip_rest_of_line()
            text = raw.decode("ascii") if raw.isascii() else decode(raw)
            result = problem or validate(text, line_no)
            if type(result) is Event:
                self.event_count += 1
                yield result
                continue
            if not has_nl and problem is None:
                result = TRUNCATED
            self.reject_count += 1
            yield Reject(line_no, text, result)

    def _validate(self, text: str, line_no: int) -> Event | str:
        """The line's Event, or the reason it breaks the contract. Called once per line."""
        # Long (~95 lines) on purpose: the checks run in contract order for every log line, and
        # helper calls per field would slow the parser, the ingestion's hot path
        # (bench/ingest_logs.py); each check is a few lines returning the reason.
        if not text:
            return "empty line"
        if "\x00" in text:
            return _nul_reason(text)
        if '"' in text:
            try:
                fields = next(csv.reader([text], delimiter=";", quotechar='"', strict=True))
            except csv.Error as exc:
                return f"malformed quoting ({exc})"
        else:
            fields = text.split(";")
        if len(fields) != N_FIELDS:
            return f"expected {N_FIELDS} fields, got {len(fields)}"
        ts, machine, event, order_ref, program, value, message = fields

        key = ts[:16]
        info = self._minutes.get(key)
        if info is None or not (
            (len(ts) == 19 or (len(ts) == 23 and ts[19] in ",." and ts[20:] in _MILLIS))
            and ts[16:19] in _SECONDS
        ):
            # Unseen minute or unusual shape: the full check (the cache only ever holds minutes
            # whose text matched the regex, so the shortcut above accepts nothing more).
            m = _TS_RE.fullmatch(ts)
            if m is None:
                return f"bad timestamp {ts!r}"
            info = info or self._minute(key, m)
        kind = info[0]
        local_ts = f"{ts[:19]}.{ts[20:23]}" if len(ts) == 23 else f"{ts}.000"
        if kind == _NORMAL:
            offset = info[1]
        elif kind == _AMBIGUOUS:
            day = key[:10]
            if day in self._second_occurrence:
                offset = info[2]
            else:
                last = self._last_ambiguous.get(day)
                if last is not None and local_ts < last:
                    self._second_occurrence.add(day)
                    offset = info[2]
                else:
                    self._last_ambiguous[day] = local_ts
                    offset = info[1]
        elif kind == _GAP:
            return (
                f"nonexistent local time {ts!r} (skipped by the spring-forward change "
                f"in {self.tz_name})"
            )
        else:
            return f"bad timestamp {ts!r}"

        if machine != self.file_machine:
            if _MACHINE_RE.fullmatch(machine) is None:
                return f"bad machine_id {machine!r} (expected like 'CU-01')"
            if self.file_machine is not None:
                return f"machine_id {machine!r} does not match file machine {self.file_machine!r}"
        if event not in EVENT_TYPES:
            return f"unknown event type {event!r}"
        if order_ref and order_ref not in self._orders:
            if _ORDER_RE.fullmatch(order_ref) is None:
                return f"bad order_ref {order_ref!r} (expected CMD-YYYY-NNNNNN or empty)"
            if len(self._orders) >= _SMALL_CACHE:
                self._orders.clear()
            self._orders.add(order_ref)

        value_num = None
        if event == "STATE":
            if value not in STATES:
                return f"bad STATE value {value!r} (expected one of {', '.join(sorted(STATES))})"
        elif event == "CYCLE_END" or event == "SCRAP":
            value_num = self._number(value)
            if value_num is None or value_num.startswith("-"):
                return f"bad {event} value {value!r} (expected a non-negative number)"
        elif event == "CYCLE_START":
            if value:
                value_num = self._number(value)
        elif not value:
            return f"missing {event} value ({'alarm code' if event != 'OPERATOR' else 'badge'})"
        else:
            value_num = self._number(value)

        return _new_event(
            (
                line_no,
                machine,
                event,
                local_ts,
                local_ts + offset,
                order_ref or None,
                program or None,
                value or None,
                value_num,
                message or None,
            )
        )
