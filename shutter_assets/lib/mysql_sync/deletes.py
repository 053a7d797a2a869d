"""Delete reconciliation: find mirror rows gone at the source (and rows that came back) every run.

A hard delete leaves no trace in ``date_maj``, so primary keys are compared. For a single integer
key, both databases compute ``(count, sum of keys)`` per bucket of ``reconcile_bucket`` keys (an
index scan on MySQL, no row is sent); only mismatching buckets are re-read whole and upserted,
with every live mirror row of those buckets that the re-read did not bring marked deleted. A row
that reappeared is in a mismatching bucket too (the mirror counts live rows only), so it is re-read
and un-deleted. A table without a single integer key is re-read whole. Everything runs in the
caller's snapshot and PostgreSQL transaction.
"""

from __future__ import annotations

from collections import Counter

import psycopg
from psycopg import sql

from shutter_assets.lib.mysql_sync.mirror import UpsertCounts, staged_upsert, target
from shutter_assets.lib.mysql_sync.snapshot import Snapshot, SourceTable
from shutter_assets.lib.mysql_sync.specs import DELETED_AT
from shutter_assets.lib.mysql_sync.streaming import stream
from shutter_assets.lib.mysql_sync.typemap import quote_mysql

KeyRange = tuple[int, int]  # inclusive


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
    buckets = mismatched_buckets(pgc, my, table, bucket)
    if not buckets:
        return UpsertCounts()
    return reread_ranges(pgc, my, table, bucket_ranges(buckets, bucket), fetch_rows, cleaned)


def reread_ranges(
    pgc: psycopg.Connection,
    my: Snapshot,
    table: SourceTable,
    ranges: list[KeyRange],
    fetch_rows: int,
    cleaned: Counter,
) -> UpsertCounts:
    """Re-read every source row with its key in ``ranges`` and make the mirror's ranges equal."""
    q = quote_mysql(table.pk[0])
    where = " OR ".join(f"{q} BETWEEN {int(lo)} AND {int(hi)}" for lo, hi in ranges)
    key = sql.Identifier("m", table.pk[0])
    scope = sql.SQL(" or ").join(
        sql.SQL("{} between {} and {}").format(key, sql.Literal(lo), sql.Literal(hi))
        for lo, hi in ranges
    )
    rows = stream(my, table, where, (), fetch_rows)
    return staged_upsert(pgc, table, rows, cleaned, deletes_in=scope, stage_name="reread")


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
    mirror = {
        int(r[0]): (int(r[1]), int(r[2]))
        for r in pgc.execute(
            sql.SQL(
                "select ({k} / %s)::bigint, count(*), sum({k}) from {t}"
                " where {d} is null group by 1"
            ).format(
                k=sql.Identifier(table.pk[0]),
                t=target(table.name),
                d=sql.Identifier(DELETED_AT),
            ),
            (bucket,),
        ).fetchall()
    }
    return sorted(k for k in source.keys() | mirror.keys() if source.get(k) != mirror.get(k))


def bucket_ranges(buckets: list[int], width: int) -> list[KeyRange]:
    """Inclusive key ranges covering the buckets (truncating division, as both servers do)."""
    ranges: list[KeyRange] = []
    for k in buckets:
        if k > 0:
            lo, hi = k * width, k * width + width - 1
        elif k == 0:
            lo, hi = -(width - 1), width - 1
        else:
            lo, hi = k * width - width + 1, k * width
        if ranges and ranges[-1][1] + 1 >= lo:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], hi))
        else:
            ranges.append((lo, hi))
    return ranges
