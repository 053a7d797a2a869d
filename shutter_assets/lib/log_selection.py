"""Which log files to load, and when: settling, batching and the sensor's cursor. No Dagster.

Plain functions over drop listings, so the sensor and the asset stay thin wrappers and their rules
are unit-testable: a file is settled when the same version (path, size, mtime) has been seen for
``min_age_s``; temporary names (``.part``/``.tmp``) wait for their rename; unsafe names are
refused; a backlog is cut into ceil(N / batch_size) batches with a key stable across ticks. What
the registry already holds comes from ``log_registry``, passed in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shutter_assets.lib.drop.base import RemoteFile
from shutter_assets.lib.log_names import is_safe_path, is_temporary

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_US = timedelta(microseconds=1)


def candidates(listing: Iterable[RemoteFile]) -> tuple[list[RemoteFile], list[str]]:
    """Split a listing into loadable candidates and refused (unsafe) names; temp names dropped."""
    ok: list[RemoteFile] = []
    refused: list[str] = []
    for f in listing:
        if is_temporary(f.path):
            continue
        if not is_safe_path(f.path):
            refused.append(f.path)
            continue
        ok.append(f)
    return ok, refused


FAILING_AFTER_ATTEMPTS = 3  # offered a third time: two runs did not load it
BACKOFF_CAP = 16  # the wait before a retry doubles per attempt, up to 16 x retry_after_s


@dataclass(frozen=True)
class FailingFile:
    """A file version the sensor offered ``attempts`` times without it being ingested."""

    path: str
    size: int
    mtime: datetime
    attempts: int
    exhausted: bool  # max_attempts reached: no longer offered until its version changes


@dataclass
class TickDecision:
    settled: list[RemoteFile]
    cursor: str
    waiting: int
    refused: list[str]
    attempts: dict[str, int] = field(default_factory=dict)  # path -> attempt, retries only
    failing: list[FailingFile] = field(default_factory=list)
    held: int = 0  # settled (or due for a retry) but held back: a run is still queued


def _mtime_key(f: RemoteFile) -> int:
    """The mtime in whole milliseconds, computed exactly (no float rounding)."""
    return (f.mtime - _EPOCH) // _MS if f.mtime is not None else 0


def _mtime_us(f: RemoteFile) -> int:
    return (f.mtime - _EPOCH) // _US if f.mtime is not None else 0


def _version_token(f: RemoteFile) -> str:
    """11 characters naming one version (path, size, mtime) of a file in the cursor."""
    digest = hashlib.blake2b(
        f"{f.path}\x00{f.size}\x00{_mtime_key(f)}".encode(), digest_size=8
    ).digest()
    return base64.urlsafe_b64encode(digest)[:11].decode()


def _by_time(groups: dict[str, str]) -> dict[str, int]:
    return {tok: int(ts) for ts, toks in groups.items() for tok in toks.split()}


def _group(tokens: dict[str, int]) -> dict[str, str]:
    out: dict[int, list[str]] = {}
    for tok, ts in tokens.items():
        out.setdefault(ts, []).append(tok)
    return {str(ts): " ".join(toks) for ts, toks in out.items()}


_CURSOR_VERSION = 3


@dataclass
class _Cursor:
    """The sensor cursor, decoded: version token -> the second it was first seen (``seen``) or
    last requested (``req``); retried versions -> [attempt, path, size, mtime in us] (``retry``).
    Tokens keep listing order, so the cursor written for a listing is deterministic."""

    seen: dict[str, int] = field(default_factory=dict)
    requested: dict[str, int] = field(default_factory=dict)
    retries: dict[str, list] = field(default_factory=dict)

    @classmethod
    def parse(cls, cursor: str | None) -> _Cursor:
        """An empty cursor for none, or for one of another version (its files are seen anew)."""
        state = json.loads(cursor) if cursor else {}
        if state.get("v") != _CURSOR_VERSION:
            return cls()
        return cls(
            _by_time(state.get("seen", {})),
            _by_time(state.get("req", {})),
            state.get("retry", {}),
        )

    def dump(self) -> str:
        out = {"v": _CURSOR_VERSION, "seen": _group(self.seen), "req": _group(self.requested)}
        if self.retries:
            out["retry"] = self.retries
        return json.dumps(out, separators=(",", ":"))

    def carry(self, old: _Cursor, tok: str, ts: int) -> None:
        """Keep what ``old`` knows of a version still waiting (first sighting: now if none)."""
        self.seen[tok] = old.seen.get(tok, ts)
        if tok in old.requested:
            self.requested[tok] = old.requested[tok]
            if tok in old.retries:
                self.retries[tok] = old.retries[tok]


def _backoff_s(attempt: int, retry_after_s: float) -> float:
    """Seconds to wait after attempt n before n + 1: retry_after_s x 2^(n - 1), capped."""
    return retry_after_s * min(2 ** (attempt - 1), BACKOFF_CAP)


def _due_attempt(
    old: _Cursor,
    tok: str,
    ts: int,
    *,
    min_age_s: float,
    retry_after_s: float,
    max_attempts: int,
) -> int | None:
    """The attempt as which a version is to be requested at ``ts``: 1 once settled, n + 1 once
    attempt n's back-off has passed; None while it settles, while its run is queued or running,
    and once it has used ``max_attempts``."""
    requested_at = old.requested.get(tok)
    if requested_at is None:
        first_seen = old.seen.get(tok)
        return 1 if first_seen is not None and ts - first_seen >= min_age_s else None
    attempt = old.retries[tok][0] if tok in old.retries else 1
    if ts - requested_at < _backoff_s(attempt, retry_after_s) or attempt >= max_attempts:
        return None
    return attempt + 1


def _request(
    decision: TickDecision, new: _Cursor, f: RemoteFile, tok: str, ts: int, attempt: int
) -> None:
    """Offer ``f`` in this tick's run as ``attempt``; a retry keeps its version in the cursor."""
    decision.settled.append(f)
    new.requested[tok] = ts
    if attempt > 1:
        new.retries[tok] = [attempt, f.path, f.size, _mtime_us(f)]
        decision.attempts[f.path] = attempt


def decide_tick(
    cursor: str | None,
    listing: Sequence[RemoteFile],
    ingested: set[str],
    *,
    now: datetime,
    min_age_s: float,
    retry_after_s: float,
    max_attempts: int = 6,
    hold: bool = False,
) -> TickDecision:
    """Which files are settled now (or due for a retry), and the next cursor.

    A file is settled when this tick sees the same version (path, size, mtime) as an earlier tick
    and that first sighting is at least ``min_age_s`` old (our clock, immune to the server's).
    The cursor only holds versions present in the drop and not yet ingested, as 11-character
    tokens grouped by the second they were first seen (``seen``) or requested (``req``), so it
    never grows with history and stays about 12 bytes per waiting file.

    A requested file its run did not ingest (the run failed, e.g. the warehouse was briefly
    unreachable) is offered again once ``retry_after_s`` x 2^(attempt - 1) has passed (capped at
    ``BACKOFF_CAP`` x ``retry_after_s``), as attempt n + 1: ``attempts`` gives the sensor a fresh
    run key. After ``max_attempts`` it is no longer offered (never an endless retry) until its
    version changes. Retried files (few) keep their path, size, mtime and attempt count in the
    cursor (``retry``); from their third attempt, or once exhausted, they are ``failing``.

    ``hold`` (a run requested earlier still waits in the queue): nothing is requested; files that
    would be are kept as seen (``held``) and go, all together, into the first run requested after
    the queue moved. So a loaded platform gets fewer, larger runs instead of a growing queue of
    one-file runs, each paying a process start (docs/machine_logs.md, "Freshness").
    """
    old, new = _Cursor.parse(cursor), _Cursor()
    ts = int(now.timestamp())
    files, refused = candidates(listing)
    decision = TickDecision(settled=[], cursor="", waiting=0, refused=refused)
    for f in files:
        if f.path in ingested:
            continue
        tok = _version_token(f)
        new.carry(old, tok, ts)
        attempt = _due_attempt(
            old,
            tok,
            ts,
            min_age_s=min_age_s,
            retry_after_s=retry_after_s,
            max_attempts=max_attempts,
        )
        if attempt is None:
            if tok not in old.requested:
                decision.waiting += 1
        elif hold:
            decision.held += 1
        else:
            _request(decision, new, f, tok, ts, attempt)
    decision.cursor = new.dump()
    decision.failing = failing_files(decision.cursor, max_attempts=max_attempts)
    return decision


def failing_files(cursor: str | None, *, max_attempts: int) -> list[FailingFile]:
    """The retried files of a sensor cursor that count as failing (see ``decide_tick``)."""
    state = json.loads(cursor) if cursor else {}
    out = []
    for attempts, path, size, mtime_us in state.get("retry", {}).values():
        if attempts >= FAILING_AFTER_ATTEMPTS or attempts >= max_attempts:
            mtime = _EPOCH + timedelta(microseconds=mtime_us)
            out.append(FailingFile(path, size, mtime, attempts, attempts >= max_attempts))
    return sorted(out, key=lambda f: f.path)


def ingest_order(f: RemoteFile) -> tuple:
    """Oldest first; at equal mtime ``X.log`` before its re-upload ``X (1).log``, so the copy is
    the one recorded as the duplicate."""
    stem = f.path[:-4] if f.path.endswith(".log") else f.path
    return (_mtime_key(f), stem)


def batches(files: Sequence[RemoteFile], batch_size: int) -> list[list[RemoteFile]]:
    """ceil(N / batch_size) batches in ingestion order (see ``ingest_order``)."""
    size = max(1, batch_size)
    ordered = sorted(files, key=ingest_order)
    return [ordered[i * size : (i + 1) * size] for i in range(math.ceil(len(ordered) / size))]


def batch_key(batch: Sequence[RemoteFile], attempts: Mapping[str, int] | None = None) -> str:
    """A run key that names exactly this batch of file versions (path, size, mtime) and, for a
    retry, each file's attempt number: Dagster skips a run key it has seen, so a retry needs its
    own (a first attempt's key is unchanged)."""
    attempts = attempts or {}
    h = hashlib.sha1(usedforsecurity=False)
    for f in batch:
        again = f"#{attempts[f.path]}" if attempts.get(f.path, 1) > 1 else ""
        h.update(f"{f.path}\x00{f.size}\x00{_mtime_key(f)}{again}\n".encode())
    return f"machine_logs:{h.hexdigest()[:20]}"


def refused_name_message(path: str) -> str:
    """What the sensor and the asset log for a name ``candidates`` refused (one wording)."""
    return (
        f"refused remote name {path!r} in the log drop: absolute, containing '..' or a control "
        "character; rename it on the server"
    )


@dataclass
class RunSelection:
    """What one ingestion run loads (in ingestion order) and what it could not."""

    files: list[RemoteFile]
    missing: list[str] = field(default_factory=list)  # requested, no longer in the drop
    refused: list[str] = field(default_factory=list)  # unsafe names seen in the listing


def settled_by_sensor(
    cursor: str | None, listing: Sequence[RemoteFile], *, now: datetime, min_age_s: float
) -> list[RemoteFile]:
    """Files of ``listing`` that the sensor's ``cursor`` has seen in this same version (path,
    size, mtime) for at least ``min_age_s`` and never requested: settled now by ``decide_tick``'s
    own rule, though no tick has requested them yet. Retried versions are left to the sensor."""
    old, ts = _Cursor.parse(cursor), int(now.timestamp())
    files, _ = candidates(listing)
    return [
        f
        for f in files
        if (tok := _version_token(f)) not in old.requested
        and _due_attempt(old, tok, ts, min_age_s=min_age_s, retry_after_s=0, max_attempts=1) == 1
    ]


def select_run_files(
    listing: Sequence[RemoteFile],
    requested: Sequence[str],
    *,
    now: datetime,
    min_age_s: float,
    ingested: Callable[[list[RemoteFile]], set[str]],
    sensor_cursor: str | None = None,
    limit: int = 0,
) -> RunSelection:
    """The files one run of ``raw/machine_events`` loads: the one place that decides it.

    ``requested`` paths (the sensor's batch, or a run config written by hand) are loaded as
    listed now, when still present and safe; the loader itself skips a version already
    registered. A run the sensor requested also takes, up to ``limit`` files in all, those its
    ``sensor_cursor`` (read when the run starts) shows settled since the request and not
    ingested (``settled_by_sensor``): a run that waited in the queue loads what settled
    meanwhile instead of leaving it to the next run (docs/machine_logs.md, "Freshness").
    With no request (materialized by hand, no sensor history), every safe file whose mtime is at
    least ``min_age_s`` old and whose version ``ingested`` does not report. The result is sorted
    by ``ingest_order``.
    """
    files, refused = candidates(listing)
    if requested:
        by_path = {f.path: f for f in files}
        listed = {f.path for f in listing}
        chosen = [by_path[p] for p in requested if p in by_path]
        missing = [p for p in requested if p not in listed]
        if sensor_cursor and len(chosen) < limit:
            asked = set(requested)
            extra = [
                f
                for f in settled_by_sensor(sensor_cursor, files, now=now, min_age_s=min_age_s)
                if f.path not in asked
            ]
            done = ingested(extra) if extra else set()
            chosen += [f for f in extra if f.path not in done][: limit - len(chosen)]
    else:
        chosen = [f for f in files if (now - f.mtime).total_seconds() >= min_age_s]
        done = ingested(chosen)
        chosen = [f for f in chosen if f.path not in done]
        missing = []
    chosen.sort(key=ingest_order)
    return RunSelection(files=chosen, missing=missing, refused=refused)
