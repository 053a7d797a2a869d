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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shutter_assets.lib.drop.base import RemoteFile
from shutter_assets.lib.log_ingest import is_safe_path, is_temporary

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


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


@dataclass
class TickDecision:
    settled: list[RemoteFile]
    cursor: str
    waiting: int
    refused: list[str]


def _mtime_key(f: RemoteFile) -> int:
    """The mtime in whole milliseconds, computed exactly (no float rounding)."""
    return (f.mtime - _EPOCH) // _MS if f.mtime is not None else 0


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


def decide_tick(
    cursor: str | None,
    listing: Sequence[RemoteFile],
    ingested: set[str],
    *,
    now: datetime,
    min_age_s: float,
    retry_after_s: float,
) -> TickDecision:
    """Which files are settled now, and the next cursor.

    A file is settled when this tick sees the same version (path, size, mtime) as an earlier tick
    and that first sighting is at least ``min_age_s`` old (our clock, immune to the server's).
    The cursor only holds versions present in the drop and not yet ingested, as 11-character
    tokens grouped by the second they were first seen (``seen``) or requested (``req``), so it
    never grows with history and stays about 12 bytes per waiting file. A requested file is
    offered again only after ``retry_after_s`` if its run did not ingest it.
    """
    state = json.loads(cursor) if cursor else {}
    if state.get("v") != 3:
        state = {}
    seen = _by_time(state.get("seen", {}))
    requested = _by_time(state.get("req", {}))
    ts = int(now.timestamp())
    files, refused = candidates(listing)
    new_seen: dict[str, int] = {}
    new_req: dict[str, int] = {}
    settled: list[RemoteFile] = []
    waiting = 0
    for f in files:
        if f.path in ingested:
            continue
        tok = _version_token(f)
        first_seen = seen.get(tok)
        new_seen[tok] = ts if first_seen is None else first_seen
        requested_at = requested.get(tok)
        if requested_at is not None and ts - requested_at < retry_after_s:
            new_req[tok] = requested_at  # its run is queued or running
        elif first_seen is not None and ts - first_seen >= min_age_s:
            settled.append(f)
            new_req[tok] = ts
        else:
            waiting += 1
    cursor_out = json.dumps(
        {"v": 3, "seen": _group(new_seen), "req": _group(new_req)}, separators=(",", ":")
    )
    return TickDecision(settled=settled, cursor=cursor_out, waiting=waiting, refused=refused)


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


def batch_key(batch: Sequence[RemoteFile]) -> str:
    """A run key that names exactly this batch of file versions (path, size, mtime)."""
    h = hashlib.sha1(usedforsecurity=False)
    for f in batch:
        h.update(f"{f.path}\x00{f.size}\x00{_mtime_key(f)}\n".encode())
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


def select_run_files(
    listing: Sequence[RemoteFile],
    requested: Sequence[str],
    *,
    now: datetime,
    min_age_s: float,
    ingested: Callable[[list[RemoteFile]], set[str]],
) -> RunSelection:
    """The files one run of ``raw/machine_events`` loads: the one place that decides it.

    ``requested`` paths (the sensor's batch, or a run config written by hand) are loaded as
    listed now, when still present and safe; the loader itself skips a version already
    registered. With no request (materialized by hand, no sensor history), every safe file whose
    mtime is at least ``min_age_s`` old and whose version ``ingested`` does not report. The result
    is sorted by ``ingest_order``.
    """
    files, refused = candidates(listing)
    if requested:
        by_path = {f.path: f for f in files}
        listed = {f.path for f in listing}
        chosen = [by_path[p] for p in requested if p in by_path]
        missing = [p for p in requested if p not in listed]
    else:
        chosen = [f for f in files if (now - f.mtime).total_seconds() >= min_age_s]
        done = ingested(chosen)
        chosen = [f for f in chosen if f.path not in done]
        missing = []
    chosen.sort(key=ingest_order)
    return RunSelection(files=chosen, missing=missing, refused=refused)
