"""Reading FTP folder listings in every dialect the plant's servers speak. No I/O, no Dagster.

* ``MLSD`` (RFC 3659), when the server's ``FEAT`` offers ``MLST``: machine-readable facts, exact
  sizes and second-precision UTC times (pyftpdlib, ProFTPD, FileZilla Server, IIS). vsftpd has none.
* ``LIST`` in the Unix dialect (vsftpd, ProFTPD, Pure-FTPd) or the MS-DOS dialect (IIS, many PLC
  and Windows FTP servers: ``11-20-26  06:05AM   102 CU-01_20261120_060000.log``, ``<DIR>``,
  two- or four-digit years, 12- or 24-hour clock).
  Both are read by ftputil's parsers (``ftputil.stat.UnixParser``/``MSParser``), the well-kept
  ones, rather than by a parser of our own. ``LIST`` dates are minutes or days: ``MDTM`` gives the
  exact time afterwards.

A line that no dialect reads raises ``ListingError`` naming the line: a listing is never quietly
shorter than the folder (issue "Field-proof ingestion", item 5). Names are decoded as UTF-8 with
``surrogateescape``, so a stray byte in one name never hides the others; ``log_names`` then
refuses that name and the drop reports it.
"""

from __future__ import annotations

import re
import stat
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

with warnings.catch_warnings():
    # ftputil warns at import about FTPHost's future default path encoding; we only use its
    # listing parsers, on text we decode ourselves.
    warnings.simplefilter("ignore", DeprecationWarning)
    import ftputil.error
    import ftputil.stat

FILE, FOLDER, OTHER = "file", "folder", "other"
# GNU ls and some servers add an 11th mode character: ACL (+), SELinux context (.), xattrs (@).
_MODE_SUFFIX = re.compile(r"^([-dlbcps?][-rwxsStT]{9})[+.@](?=\s)")


class ListingError(ValueError):
    """A listing line that no known dialect reads; the message quotes the line."""


@dataclass(frozen=True)
class Entry:
    """One line of a folder listing. ``mtime`` is UTC; ``exact`` when it is to the second (MLSD),
    otherwise the ``LIST`` date (minute or day) that ``MDTM`` should replace."""

    name: str
    kind: str  # FILE | FOLDER | OTHER (links, devices, the folder itself)
    size: int | None
    timestamp: float | None  # seconds since the epoch (UTC); None when the line gives none
    exact: bool

    @property
    def mtime(self) -> datetime | None:
        """``timestamp`` as an aware UTC datetime (built on demand: most are replaced by MDTM)."""
        return None if self.timestamp is None else datetime.fromtimestamp(self.timestamp, UTC)


def split_lines(data: bytes) -> list[str]:
    """The lines of a listing's data transfer, each decoded on its own (``surrogateescape``).

    Servers end listing lines with CRLF (RFC 959); when they do, a bare LF is part of a name (a
    file named ``bad\\nname.log`` on a Linux disk) and stays there, for ``log_names`` to refuse,
    instead of cutting the listing into a line no dialect reads.
    """
    end = b"\r\n" if b"\r\n" in data else b"\n"
    return [
        line.rstrip(b"\r").decode("utf-8", "surrogateescape")
        for line in data.split(end)
        if line.strip()
    ]


def server_offers_mlsd(feat_reply: str) -> bool:
    """Whether a ``FEAT`` reply lists ``MLST`` (which, by RFC 3659, brings ``MLSD``)."""
    return any(line.strip().upper().startswith("MLST") for line in feat_reply.splitlines()[1:])


def parse_mlsd_line(line: str) -> Entry:
    """``type=file;size=102;modify=20261120050500; CU-01_20261120_060000.log`` as an Entry."""
    facts_text, sep, name = line.partition(" ")
    if not sep or not name:
        raise ListingError(f"unexpected MLSD line {line!r}: no facts or no name")
    facts = {}
    for fact in facts_text.split(";"):
        key, has_value, value = fact.partition("=")
        if has_value:
            facts[key.strip().lower()] = value
    kind_fact = facts.get("type", "").lower()
    kind = {"file": FILE, "dir": FOLDER}.get(kind_fact, OTHER)  # cdir, pdir, OS.unix=slink...
    if kind == OTHER:
        return Entry(name, OTHER, None, None, exact=False)
    try:
        size = int(facts["size"]) if "size" in facts else None
        mtime = parse_timeval(facts["modify"]).timestamp() if "modify" in facts else None
    except ValueError as exc:
        raise ListingError(f"unexpected MLSD line {line!r}: {exc}") from exc
    if kind == FILE and size is None:
        raise ListingError(
            f"MLSD line {line!r} gives no size; the server must offer the 'size' fact"
        )
    return Entry(name, kind, size, mtime, exact=mtime is not None)


class _UnixParser(ftputil.stat.UnixParser):
    """ftputil's Unix parser, remembering the dates and modes it has read: a folder's files share
    a few of each, and working each one out again was most of the parsing cost (measured with
    ``bench/drop_listing.py``)."""

    def __init__(self) -> None:
        self._times: dict[tuple, tuple[float, float]] = {}
        self._modes: dict[str, int] = {}

    def parse_unix_mode(self, mode_string):
        if mode_string not in self._modes:
            self._modes[mode_string] = super().parse_unix_mode(mode_string)
        return self._modes[mode_string]

    def parse_unix_time(self, month, day, year_or_time, time_shift, with_precision=False):
        key = (month, day, year_or_time, time_shift)
        if key not in self._times:
            self._times[key] = super().parse_unix_time(
                month, day, year_or_time, time_shift, with_precision=True
            )
        return self._times[key] if with_precision else self._times[key][0]


class _MsDosParser(ftputil.stat.MSParser):
    """ftputil's MS-DOS parser, also reading the 24-hour clock some PLC servers write
    (``11-20-26  18:05``) besides IIS's ``06:05PM``."""

    def parse_ms_time(self, date, time_, time_shift, with_precision=False):
        if len(time_) == 5 and time_[2] == ":" and time_[:2].isdigit():
            hour = int(time_[:2])
            time_ = f"{(hour % 12) or 12:02d}:{time_[3:]}{'PM' if hour >= 12 else 'AM'}"
        return super().parse_ms_time(date, time_, time_shift, with_precision)


class ListReader:
    """Reads the ``LIST`` lines of one listing in the Unix or the MS-DOS dialect (ftputil's
    parsers), trying first the dialect that read the previous line. Use one per listing.

    Unix ``LIST`` dates are taken as UTC (vsftpd's default ``use_localtime=NO``); MS-DOS dates are
    the server's wall clock, read as UTC too. Either way they are only a fallback for ``MDTM``.
    """

    def __init__(self) -> None:
        self._parsers: list[ftputil.stat.Parser] = [_UnixParser(), _MsDosParser()]

    def parse(self, line: str) -> Entry | None:
        """One line as an Entry; None for a summary (``total 12``); ListingError if no dialect
        reads it."""
        if line.startswith("total") and self._parsers[0].ignores_line(line):
            return None
        text = line
        if len(line) > 10 and line[10] in "+.@":
            text = _MODE_SUFFIX.sub(r"\1", line, count=1)
        problems = []
        for parser in self._parsers:
            try:
                result = parser.parse_line(text)
            except (ftputil.error.ParserError, ValueError) as exc:
                problems.append(f"{type(parser).__name__}: {str(exc).splitlines()[0]}")
                continue
            if parser is not self._parsers[0]:
                self._parsers.remove(parser)
                self._parsers.insert(0, parser)
            # StatResult is a tuple: st_mode [0], st_size [6], st_mtime [8]
            mode, size, stamp = result[0] or 0, result[6], result[8]
            kind = FILE if stat.S_ISREG(mode) else FOLDER if stat.S_ISDIR(mode) else OTHER
            return Entry(result._st_name, kind, size, stamp or None, exact=False)
        raise ListingError(
            f"unexpected LIST line {line!r}: neither the Unix nor the MS-DOS dialect reads it "
            f"({'; '.join(problems)})"
        )


def parse_list_line(line: str) -> Entry | None:
    """One ``LIST`` line on its own (see ``ListReader``, which a whole listing should use)."""
    return ListReader().parse(line)


def parse_timeval(stamp: str) -> datetime:
    """``YYYYMMDDHHMMSS[.fff]`` (UTC, RFC 3659 ``time-val``) as an aware datetime."""
    if len(stamp) < 14 or not stamp[:14].isdigit():
        raise ValueError(f"not a YYYYMMDDHHMMSS time: {stamp!r}")
    whole = datetime(
        int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]),
        int(stamp[8:10]), int(stamp[10:12]), int(stamp[12:14]), tzinfo=UTC,
    )  # fmt: skip
    fraction = float(f"0{stamp[14:]}") if len(stamp) > 15 else 0.0
    return whole + timedelta(seconds=fraction)
