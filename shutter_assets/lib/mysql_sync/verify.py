"""The content sweep: every source row is compared with its mirror row within one interval.

``date_maj`` is only a hint. A long ERP transaction commits rows whose ``date_maj`` is older than
the high-water mark already read (minus the overlap); a writer sets ``date_maj`` itself, or leaves
it unchanged; a client clock runs behind. The incremental read never sees those changes, and the
delete reconciliation does not either (the keys are all there). So each run also re-reads a slice
of the primary-key space in its snapshot and upserts it: the upsert changes exactly the rows that
differ, and marks deleted the rows of the slice gone at the source (``deletes.reread_ranges``).

The slice is proportional to the time since the previous run: ``elapsed / verify_interval_s`` of
the key span (at least one bucket), starting where the previous slice ended and wrapping around.
Whatever the schedule, every key is re-read at least once per ``verify_interval_s`` (plus one
run), which bounds the delay of any committed change. The sweep costs that fraction of a full
read; it is exact (no hash that could collide) and needs nothing stored but where to resume.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import psycopg

from shutter_assets.lib.mysql_sync.deletes import KeyRange, reread_ranges
from shutter_assets.lib.mysql_sync.mirror import UpsertCounts
from shutter_assets.lib.mysql_sync.snapshot import Snapshot, SourceTable, integer
from shutter_assets.lib.mysql_sync.typemap import quote_mysql


@dataclass(frozen=True)
class SweepPlan:
    """Key ranges to re-read this run, and the key the next run starts at."""

    ranges: list[KeyRange]
    next_key: int | None


def plan_sweep(
    my: Snapshot,
    table: SourceTable,
    next_key: int | None,
    elapsed_s: float,
    interval_s: int,
    bucket: int,
) -> SweepPlan:
    """The slice of the source's key span this run re-reads (empty for an empty table)."""
    q = quote_mysql(table.pk[0])
    lo, hi = my.query(f"SELECT MIN({q}), MAX({q}) FROM {quote_mysql(table.name)}")[0]
    lo, hi = integer(lo), integer(hi)
    if lo is None:
        return SweepPlan([], next_key)
    span = hi - lo + 1
    fraction = min(1.0, max(0.0, elapsed_s) / interval_s)
    width = max(bucket, math.ceil(span * fraction))
    start = next_key if next_key is not None and lo <= next_key <= hi else lo
    if width >= span:
        return SweepPlan([(lo, hi)], start)
    end = start + width - 1
    if end <= hi:
        return SweepPlan([(start, end)], end + 1 if end < hi else lo)
    wrapped = lo + (end - hi) - 1
    return SweepPlan([(lo, wrapped), (start, hi)], wrapped + 1)


def sweep(
    pgc: psycopg.Connection,
    my: Snapshot,
    table: SourceTable,
    plan: SweepPlan,
    fetch_rows: int,
    cleaned: Counter,
    width: int,
) -> UpsertCounts:
    """Re-read the planned ranges and make the mirror equal to the source there (``width``: the
    bucket width of the key summaries to refresh)."""
    if not plan.ranges:
        return UpsertCounts()
    return reread_ranges(pgc, my, table, plan.ranges, fetch_rows, cleaned, width, "sweep")
