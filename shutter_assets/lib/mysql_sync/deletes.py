"""Delete reconciliation: find mirror rows gone at the source, and rows that came back.

A hard delete leaves no trace in ``date_maj``, so primary keys are compared. For a single integer
key, both databases compute ``(count, sum of keys)`` per bucket of ``reconcile_bucket`` keys and
only mismatching buckets have their keys streamed from MySQL and compared row by row; other keys
are compared whole. Everything runs in the caller's snapshot and PostgreSQL transaction.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
from psycopg import sql

from shutter_assets.lib.mysql_sync.mirror import (
    UpsertCounts,
    copy_rows,
    staged_upsert,
    target,
)
from shutter_assets.lib.mysql_sync.snapshot import Snapshot, SourceTable
from shutter_assets.lib.mysql_sync.specs import DELETED_AT
from shutter_assets.lib.mysql_sync.streaming import Batch, stream
from shutter_assets.lib.mysql_sync.typemap import pg_type, quote_mysql

_KEYS = sql.Identifier("_source_keys")


def reconcile(
    pgc: psycopg.Connection,
    my: Snapshot,
    table: SourceTable,
    bucket: int,
    fetch_rows: int,
) -> UpsertCounts:
    """Mark rows gone at the source as deleted; re-read and un-delete rows that came back."""
    scope, scope_params, mysql_where = sql.SQL("true"), (), ""
    if table.has_int_key:
        buckets = mismatched_buckets(pgc, my, table, bucket)
        if not buckets:
            return UpsertCounts()
        scope = sql.SQL("(m.{} / %s) = any(%s)").format(sql.Identifier(table.pk[0]))
        scope_params = (bucket, buckets)
        q = quote_mysql(table.pk[0])
        mysql_where = " OR ".join(
            f"{q} BETWEEN {lo} AND {hi}" for lo, hi in bucket_ranges(buckets, bucket)
        )
    _load_source_keys(pgc, my, table, mysql_where, fetch_rows)
    join_on = sql.SQL(" and ").join(
        sql.SQL("m.{0} = k.{0}").format(sql.Identifier(k)) for k in table.pk
    )
    deleted_at = sql.Identifier(DELETED_AT)
    deleted = pgc.execute(
        sql.SQL(
            "update {} m set {} = now() where m.{} is null and {}"
            " and not exists (select 1 from {} k where {})"
        ).format(target(table.name), deleted_at, deleted_at, scope, _KEYS, join_on),
        scope_params,
    ).rowcount
    back = pgc.execute(
        sql.SQL(
            "select {} from {} m where m.{} is not null and {}"
            " and exists (select 1 from {} k where {})"
        ).format(
            sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(k)) for k in table.pk),
            target(table.name),
            deleted_at,
            scope,
            _KEYS,
            join_on,
        ),
        scope_params,
    ).fetchall()
    counts = refetch(pgc, my, table, back, fetch_rows) if back else UpsertCounts()
    counts.deleted += deleted
    return counts


def _load_source_keys(
    pgc: psycopg.Connection,
    my: Snapshot,
    table: SourceTable,
    mysql_where: str,
    fetch_rows: int,
) -> None:
    """The source's primary keys (those in ``mysql_where``) into the temp table ``_source_keys``."""
    key_cols = table.key_columns()
    pgc.execute(
        sql.SQL("create temp table {} ({}) on commit drop").format(
            _KEYS,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(pg_type(c)))
                for c in key_cols
            ),
        )
    )
    keys = stream(my, table, mysql_where, (), fetch_rows, columns=key_cols)
    copy_rows(pgc, _KEYS, table.pk, keys)
    pgc.execute(sql.SQL("analyze {}").format(_KEYS))


def refetch(
    pgc: psycopg.Connection,
    my: Snapshot,
    table: SourceTable,
    keys: list[tuple],
    fetch_rows: int,
) -> UpsertCounts:
    """Re-read rows that reappeared at the source (their values may have changed) and upsert.

    The upsert clears ``_deleted_at`` and counts them as un-deleted.
    """
    cols = ", ".join(quote_mysql(k) for k in table.pk)
    tuple_sql = "(" + ", ".join(["%s"] * len(table.pk)) + ")"

    def batches() -> Iterator[Batch]:
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            where = f"({cols}) IN ({', '.join([tuple_sql] * len(chunk))})"
            params = tuple(v for key in chunk for v in key)
            yield from stream(my, table, where, params, fetch_rows)

    return staged_upsert(pgc, table, batches(), exact_deletes=False, stage_name="reappeared")


def mismatched_buckets(
    pgc: psycopg.Connection, my: Snapshot, table: SourceTable, bucket: int
) -> list[int]:
    """Buckets of ``bucket`` keys whose (count, sum) differ between the two sides."""
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


def bucket_ranges(buckets: list[int], width: int) -> list[tuple[int, int]]:
    """Inclusive key ranges covering the buckets (truncating division, as both servers do)."""
    ranges: list[tuple[int, int]] = []
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
