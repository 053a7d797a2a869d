"""Per-bucket key summaries of the mirror, kept up to date so delete reconciliation never scans it.

Delete reconciliation compares ``(count, sum of keys)`` per bucket of ``width`` keys between the
source and the mirror's live rows on every run. MySQL has to scan an index for its side; the
mirror's side is kept in ``raw_commandes._sync_buckets`` instead and refreshed, in the table's
transaction, only for the key ranges a run wrote (or whole after a full read), so a run that
changes little reads little here.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from shutter_assets.lib.mysql_sync.specs import DELETED_AT, TARGET_SCHEMA

BUCKETS_TABLE = "_sync_buckets"
_BUCKETS = sql.Identifier(TARGET_SCHEMA, BUCKETS_TABLE)
KeyRange = tuple[int, int]  # inclusive


def ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        sql.SQL(
            """
            create table if not exists {} (
                table_name text not null,
                width integer not null,
                bucket bigint not null,
                row_count bigint not null,
                key_sum numeric not null,
                primary key (table_name, bucket)
            )
            """
        ).format(_BUCKETS)
    )


def read(pgc: psycopg.Connection, table: str, key: str, width: int) -> dict[int, tuple[int, int]]:
    """The mirror's live (count, sum) per bucket; rebuilt first if missing or of another width."""
    widths = {
        r[0]
        for r in pgc.execute(
            sql.SQL("select distinct width from {} where table_name = %s").format(_BUCKETS),
            (table,),
        ).fetchall()
    }
    if widths != {width}:
        rebuild(pgc, table, key, width)
    rows = pgc.execute(
        sql.SQL("select bucket, row_count, key_sum from {} where table_name = %s").format(_BUCKETS),
        (table,),
    ).fetchall()
    return {int(b): (int(c), int(s)) for b, c, s in rows}


def rebuild(pgc: psycopg.Connection, table: str, key: str, width: int) -> None:
    """Recompute every bucket (after a full read: one scan of a table just written anyway)."""
    pgc.execute(sql.SQL("delete from {} where table_name = %s").format(_BUCKETS), (table,))
    _insert(pgc, table, key, width, sql.SQL("true"), ())


def refresh(
    pgc: psycopg.Connection, table: str, key: str, width: int, ranges: list[KeyRange]
) -> None:
    """Recompute the buckets of ``ranges`` (whole buckets), through the primary-key index."""
    if not ranges:
        return
    buckets = sorted({b for lo, hi in ranges for b in _buckets_of(lo, hi, width)})
    pgc.execute(
        sql.SQL("delete from {} where table_name = %s and bucket = any(%s)").format(_BUCKETS),
        (table, buckets),
    )
    k = sql.Identifier(key)
    # one statement (one index range scan) per run of adjacent buckets: an OR of many ranges in
    # one statement can be planned as a scan of the whole mirror
    for lo, hi in bucket_ranges(buckets, width):
        _insert(pgc, table, key, width, sql.SQL("{} between %s and %s").format(k), (lo, hi))


def touched(pgc: psycopg.Connection, stage: sql.Identifier, key: str, width: int) -> list[KeyRange]:
    """Key ranges (whole buckets) of the keys in a staging table."""
    rows = pgc.execute(
        sql.SQL("select distinct ({} / %s)::bigint from {}").format(sql.Identifier(key), stage),
        (width,),
    ).fetchall()
    return [_range_of(int(r[0]), width) for r in rows]


def _insert(
    pgc: psycopg.Connection,
    table: str,
    key: str,
    width: int,
    scope: sql.Composable,
    params: tuple,
) -> None:
    k = sql.Identifier(key)
    pgc.execute(
        sql.SQL(
            "insert into {buckets} (table_name, width, bucket, row_count, key_sum)"
            " select %s, %s, ({k} / %s)::bigint, count(*), sum({k}) from {mirror}"
            " where {deleted} is null and ({scope}) group by 3"
        ).format(
            buckets=_BUCKETS,
            k=k,
            mirror=sql.Identifier(TARGET_SCHEMA, table),
            deleted=sql.Identifier(DELETED_AT),
            scope=scope,
        ),
        (table, width, width, *params),
    )


def _range_of(bucket: int, width: int) -> KeyRange:
    """Inclusive keys of a bucket (truncating division, as both servers do)."""
    if bucket > 0:
        return bucket * width, bucket * width + width - 1
    if bucket == 0:
        return -(width - 1), width - 1
    return bucket * width - width + 1, bucket * width


def _buckets_of(lo: int, hi: int, width: int) -> range:
    def bucket(k: int) -> int:  # truncating division, exact for any integer
        return (abs(k) // width) * (1 if k >= 0 else -1)

    return range(bucket(lo), bucket(hi) + 1)


def bucket_ranges(buckets: list[int], width: int) -> list[KeyRange]:
    """Inclusive key ranges covering the buckets, adjacent ones merged."""
    ranges: list[KeyRange] = []
    for b in sorted(buckets):
        lo, hi = _range_of(b, width)
        if ranges and ranges[-1][1] + 1 >= lo:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], hi))
        else:
            ranges.append((lo, hi))
    return ranges
