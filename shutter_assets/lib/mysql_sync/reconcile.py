"""The reconcile: the mirror made equal to the source bucket by bucket, whatever ``date_maj`` says.

``date_maj`` is only a hint. A hard delete leaves no trace in it; an insert can carry an old one;
a long ERP transaction commits rows whose ``date_maj`` is already below the next read window; a
writer sets it itself or leaves it unchanged; a client clock runs behind. So every run that
does not settle deletes by a full read compares the two sides per bucket of
``reconcile_bucket`` keys (``buckets.py``) in the run's snapshot:

- the **keys** of every bucket: MySQL's ``(count, key sum)`` from an index (no row is read)
  against the mirror's kept summaries, so deletes and inserts of any date are found by the run
  after them;
- the **content** of a slice of the buckets: MySQL hashes the slice's rows (the expression that
  computed the ``_row_hash`` stored with each mirror row) and their weighted hash sum is
  compared with the mirror's. The slice is the share ``time since the previous reconcile /
  reconcile_interval_s`` of the non-empty buckets (at least one, rounded up), starting where
  the previous slice ended and wrapping around, so the slices of the runs of any
  ``reconcile_interval_s`` seconds cover every bucket: **each bucket's content is compared
  again by the first run at least one interval after it was last compared**; 0 compares every
  bucket at every run.

Only buckets that differ are re-read whole in the snapshot and upserted; live mirror rows of
those buckets that the re-read did not bring are marked deleted, rows that came back are
un-deleted, and the buckets' summaries follow. A table without a single integer key is re-read
whole instead. Everything runs in the caller's snapshot and PostgreSQL transaction.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from shutter_assets.lib.mysql_sync import buckets
from shutter_assets.lib.mysql_sync.buckets import KeyRange
from shutter_assets.lib.mysql_sync.mirror import UpsertCounts, staged_upsert
from shutter_assets.lib.mysql_sync.snapshot import Snapshot, SourceTable
from shutter_assets.lib.mysql_sync.specs import SyncOptions
from shutter_assets.lib.mysql_sync.streaming import stream
from shutter_assets.lib.mysql_sync.typemap import quote_mysql


@dataclass
class Reconciled:
    """What one reconcile did: the rows it changed, the key ranges whose content it compared
    and those it re-read, and the key the next content slice starts at."""

    counts: UpsertCounts = field(default_factory=UpsertCounts)
    content_checked: list[KeyRange] = field(default_factory=list)
    reread: list[KeyRange] = field(default_factory=list)
    next_key: int | None = None


def reconcile(
    pgc: psycopg.Connection,
    my: Snapshot,
    table: SourceTable,
    opts: SyncOptions,
    next_key: int | None,
    elapsed_s: float,
    cleaned: Counter,
) -> Reconciled:
    """Compare the buckets, re-read those that differ; see the module docstring."""
    if not table.has_int_key:
        rows = stream(my, table, "", (), opts.fetch_rows)
        counts = staged_upsert(pgc, table, rows, cleaned, deletes_in=sql.SQL("true"))
        return Reconciled(counts, reread=[], next_key=next_key)
    width = opts.reconcile_bucket
    source = buckets.source_keys(my, table, width)
    mirror = buckets.read(pgc, table.name, table.pk[0], width)
    checked, next_key = content_slice(
        sorted(source), next_key, elapsed_s, opts.reconcile_interval_s, width
    )
    ranges = buckets.bucket_ranges(checked, width)
    hashes = buckets.source_hashes(my, table, width, ranges)
    differing = sorted(
        b
        for b in source.keys() | mirror.keys()
        if source.get(b) != mirror.get(b, (None, None))[0]
        or (b in hashes and hashes[b] != mirror[b][1])
    )
    outcome = Reconciled(content_checked=ranges, next_key=next_key)
    if differing:
        outcome.reread = buckets.bucket_ranges(differing, width)
        outcome.counts = reread_ranges(
            pgc, my, table, outcome.reread, opts.fetch_rows, cleaned, width
        )
    return outcome


def content_slice(
    source_buckets: list[int],
    next_key: int | None,
    elapsed_s: float,
    interval_s: int,
    width: int,
) -> tuple[list[int], int | None]:
    """The non-empty buckets whose content this reconcile compares, and the key the next slice
    starts at: ``elapsed_s / interval_s`` of them (all when ``interval_s`` is 0), at least one,
    from the bucket of ``next_key`` on, wrapping around."""
    if not source_buckets:
        return [], next_key
    n = len(source_buckets)
    share = 1.0 if interval_s <= 0 else min(1.0, max(0.0, elapsed_s) / interval_s)
    count = min(n, max(1, math.ceil(n * share)))
    first = 0
    if next_key is not None:
        start = buckets.bucket_of(next_key, width)
        first = next((i for i, b in enumerate(source_buckets) if b >= start), 0)
    chosen = [source_buckets[(first + i) % n] for i in range(count)]
    following = source_buckets[(first + count) % n]
    return sorted(chosen), buckets.range_of(following, width)[0]


def reread_ranges(
    pgc: psycopg.Connection,
    my: Snapshot,
    table: SourceTable,
    ranges: list[KeyRange],
    fetch_rows: int,
    cleaned: Counter,
    width: int,
) -> UpsertCounts:
    """Re-read every source row with its key in ``ranges`` and make the mirror's ranges equal;
    the summaries of those buckets (``width`` keys wide) follow."""
    q = quote_mysql(table.pk[0])
    where = " OR ".join(f"{q} BETWEEN {int(lo)} AND {int(hi)}" for lo, hi in ranges)
    key = sql.Identifier("m", table.pk[0])
    scope = sql.SQL(" or ").join(
        sql.SQL("{} between {} and {}").format(key, sql.Literal(lo), sql.Literal(hi))
        for lo, hi in ranges
    )
    rows = stream(my, table, where, (), fetch_rows)
    counts = staged_upsert(pgc, table, rows, cleaned, deletes_in=scope, stage_name="reread")
    buckets.refresh(pgc, table.name, table.pk[0], width, ranges)
    return counts
