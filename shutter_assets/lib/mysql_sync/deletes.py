"""Delete reconciliation: find mirror rows gone at the source (and rows that came back) every run.

A hard delete leaves no trace in ``date_maj``, so primary keys are compared. For a single integer
key, MySQL computes ``(count, sum of keys)`` per bucket of ``reconcile_bucket`` keys (an index
scan, no row is sent) and the mirror's side is read from its kept summaries (``buckets.py``);
only mismatching buckets are re-read whole and upserted,
with every live mirror row of those buckets that the re-read did not bring marked deleted. A row
that reappeared is in a mismatching bucket too (the mirror counts live rows only), so it is re-read
and un-deleted. A table without a single integer key is re-read whole. Everything runs in the
caller's snapshot and PostgreSQL transaction.
"""

from __future__ import annotations

from collections import Counter

import psycopg
from psycopg import sql

from shutter_assets.lib.mysql_sync import buckets
from shutter_assets.lib.mysql_sync.mirror import UpsertCounts, staged_upsert
from shutter_assets.lib.mysql_sync.snapshot import Snapshot, SourceTable
from shutter_assets.lib.mysql_sync.streaming import stream
from shutter_assets.lib.mysql_sync.typemap import quote_mysql

KeyRange = buckets.KeyRange


def reconcile(
    pgc: psycopg.Connection,
    my: Snapshot,
    table: SourceTable,
    bucket: int,
    fetch_rows: int,
    cleaned: Counter,
) -> UpsertCounts:
    """Mark rows gone at the source as deleted; re-read the buckets where the two sides differ."""
    if not table.has_int_key:
        rows = stream(my, table, "", (), fetch_rows)
        return staged_upsert(pgc, table, rows, cleaned, deletes_in=sql.SQL("true"))
    differing = mismatched_buckets(pgc, my, table, bucket)
    if not differing:
        return UpsertCounts()
    ranges = buckets.bucket_ranges(differing, bucket)
    return reread_ranges(pgc, my, table, ranges, fetch_rows, cleaned, bucket)


def reread_ranges(
    pgc: psycopg.Connection,
    my: Snapshot,
    table: SourceTable,
    ranges: list[KeyRange],
    fetch_rows: int,
    cleaned: Counter,
    width: int,
    stage_name: str = "reread",
) -> UpsertCounts:
    """Re-read every source row with its key in ``ranges`` and make the mirror's ranges equal;
    the key summaries of those ranges follow (``width``: their bucket width)."""
    q = quote_mysql(table.pk[0])
    where = " OR ".join(f"{q} BETWEEN {int(lo)} AND {int(hi)}" for lo, hi in ranges)
    key = sql.Identifier("m", table.pk[0])
    scope = sql.SQL(" or ").join(
        sql.SQL("{} between {} and {}").format(key, sql.Literal(lo), sql.Literal(hi))
        for lo, hi in ranges
    )
    rows = stream(my, table, where, (), fetch_rows)
    counts = staged_upsert(pgc, table, rows, cleaned, deletes_in=scope, stage_name=stage_name)
    buckets.refresh(pgc, table.name, table.pk[0], width, ranges)
    return counts


def mismatched_buckets(
    pgc: psycopg.Connection, my: Snapshot, table: SourceTable, bucket: int
) -> list[int]:
    """Buckets of ``bucket`` keys whose (count, sum of keys) differ between the two sides."""
    q = quote_mysql(table.pk[0])
    source = {
        int(r[0]): (int(r[1]), int(r[2]))
        for r in my.query(
            f"SELECT {q} DIV %s, COUNT(*), SUM({q}) FROM {quote_mysql(table.name)} GROUP BY 1",
            (bucket,),
        )
    }
    mirror = buckets.read(pgc, table.name, table.pk[0], bucket)
    return sorted(k for k in source.keys() | mirror.keys() if source.get(k) != mirror.get(k))
