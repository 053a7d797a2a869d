"""Reading the source: one consistent, read-only MySQL snapshot and what the sync asks of it.

Everything one table's sync reads from MySQL (its columns and primary key, the high-water mark,
the rows, the bucket summaries of the reconcile) comes from one ``READ ONLY`` transaction ``WITH
CONSISTENT SNAPSHOT`` in REPEATABLE READ, so the pieces agree with each other. Nothing is ever
written to MySQL.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

import pymysql
import pymysql.converters

from shutter_assets.lib.connections import MySQLSettings
from shutter_assets.lib.mysql_sync.result import LegacySyncError
from shutter_assets.lib.mysql_sync.specs import ROW_HASH, TableSpec
from shutter_assets.lib.mysql_sync.typemap import SourceColumn, copy_line_expression, quote_mysql

# Values arrive as raw bytes (no per-value Python conversion): the rows are already COPY text.
_RAW_CONV = dict(pymysql.converters.encoders)
_INT_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}
# GROUP_CONCAT's limit in the snapshot session (a chunk of lines is one value, streaming.py);
# longer values are cut, with a warning, here or at the server's max_allowed_packet
CHUNK_VALUE_MAX_BYTES = 4_294_967_295


def open_snapshot(settings: MySQLSettings) -> pymysql.connections.Connection:
    """A MySQL connection inside a read-only, consistent-snapshot REPEATABLE READ transaction.

    The session time zone is UTC so TIMESTAMP values are not shifted; ``sql_mode`` is fixed so
    the generated SQL means the same on every server; ``net_write_timeout`` is raised because a
    parallel worker may wait on PostgreSQL while its result set is half read.
    """
    conn = settings.connect(use_unicode=False, conv=_RAW_CONV)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00'")
            cur.execute("SET SESSION sql_mode = ''")
            cur.execute("SET SESSION net_write_timeout = 600")
            cur.execute(f"SET SESSION group_concat_max_len = {int(CHUNK_VALUE_MAX_BYTES)}")
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
    except BaseException:
        close_quietly(conn)
        raise
    return conn


def close_quietly(conn: pymysql.connections.Connection) -> None:
    with contextlib.suppress(Exception):  # already gone or closed: closing is best effort
        conn.close()


class Snapshot:
    """One MySQL connection inside its consistent snapshot, with the settings that opened it."""

    def __init__(self, settings: MySQLSettings) -> None:
        self.settings = settings
        self.conn = open_snapshot(settings)

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        close_quietly(self.conn)

    def query(self, statement: str, params: tuple = ()) -> list[tuple]:
        """A small buffered query (metadata, aggregates) in the snapshot; values as raw bytes."""
        with self.conn.cursor() as cur:
            cur.execute(statement, params)
            return list(cur.fetchall())


def text(value: bytes | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.decode("utf-8")


def integer(value: bytes | int | None) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class SourceTable:
    """One source table as this run's snapshot shows it: the values every step is given."""

    name: str
    columns: tuple[SourceColumn, ...]
    pk: tuple[str, ...]
    cursor_column: str | None

    @property
    def has_int_key(self) -> bool:
        """A single integer primary key: PK ranges and reconcile buckets work on it."""
        if len(self.pk) != 1:
            return False
        by_name = {c.name: c for c in self.columns}
        return by_name[self.pk[0]].data_type.lower() in _INT_TYPES

    def key_columns(self) -> list[SourceColumn]:
        by_name = {c.name: c for c in self.columns}
        return [by_name[k] for k in self.pk]

    def select_list(self, columns: list[SourceColumn] | None = None) -> str:
        """The extract expression: one COPY text line per row, its content hash last."""
        return copy_line_expression(list(columns or self.columns))

    @property
    def copy_names(self) -> list[str]:
        """The mirror columns a line of ``select_list`` fills, in order."""
        return [*(c.name for c in self.columns), ROW_HASH]


def read_source_table(my: Snapshot, spec: TableSpec) -> SourceTable:
    """Columns and primary key from ``information_schema``; refuses a table it cannot mirror."""
    settings = my.settings
    where = f"{settings.database}.{spec.name}"
    rows = my.query(
        "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE,"
        " CHARACTER_SET_NAME, IS_NULLABLE FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (spec.name,),
    )
    if not rows:
        raise LegacySyncError(
            f"table {where} not found in MySQL at {settings.host}:{settings.port}; check "
            "MYSQL_DATABASE and that the sync account has SELECT on it (docs/legacy_orders.md)"
        )
    columns = tuple(
        SourceColumn(
            text(r[0]), text(r[1]), text(r[2]), integer(r[3]), integer(r[4]), text(r[5]),
            text(r[6]) != "NO",
        )
        for r in rows
    )  # fmt: skip
    pk = tuple(
        text(r[0])
        for r in my.query(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s"
            " AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            (spec.name,),
        )
    )
    if not pk:
        raise LegacySyncError(
            f"table {where} has no primary key; the mirror upserts by primary key, "
            "so this table cannot be synced as specified"
        )
    if spec.cursor_column and spec.cursor_column not in {c.name for c in columns}:
        raise LegacySyncError(
            f"table {where} has no column {spec.cursor_column!r} any more; set its "
            "cursor_column to None in shutter_assets/lib/mysql_sync/specs.py (full refresh) or "
            "restore the column"
        )
    return SourceTable(spec.name, columns, pk, spec.cursor_column)


def parse_mysql_ts(value: bytes | None) -> datetime | None:
    """A MySQL DATETIME/TIMESTAMP text (UTC session) as an aware datetime; zero dates → None."""
    value = text(value)
    if not value or value.startswith("0000-00-00"):
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def mysql_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def high_water_mark(my: Snapshot, table: SourceTable) -> tuple[datetime | None, datetime]:
    """``MAX(cursor_column)`` in the snapshot (None: full-refresh or empty table), and MySQL's now.

    A row dated in the future by a client whose clock runs ahead must not carry the stored mark
    past the server's clock, or every correctly dated change after it would fall below the next
    read's window; the caller stores ``min(max, now)``.
    """
    if table.cursor_column is None:
        return None, datetime.now(UTC)
    row = my.query(
        f"SELECT CAST(MAX({quote_mysql(table.cursor_column)}) AS CHAR), CAST(NOW(6) AS CHAR)"
        f" FROM {quote_mysql(table.name)}",
    )[0]
    return parse_mysql_ts(row[0]), parse_mysql_ts(row[1])


def cursor_bound(table: SourceTable, hwm: datetime | None) -> tuple[str, tuple]:
    """Rows a full read takes: every row up to the snapshot's high-water mark."""
    if table.cursor_column is None or hwm is None:
        return "", ()
    c = quote_mysql(table.cursor_column)
    return f"({c} IS NULL OR {c} <= %s)", (mysql_ts(hwm),)


def changed_since(table: SourceTable, lower: datetime, hwm: datetime) -> tuple[str, tuple]:
    """Rows an incremental read takes: cursor column in ``[lower, hwm]``."""
    c = quote_mysql(table.cursor_column)
    return f"{c} >= %s AND {c} <= %s", (mysql_ts(lower), mysql_ts(hwm))


def pk_ranges(
    my: Snapshot, table: SourceTable, workers: int, min_rows: int
) -> list[tuple[int | None, int | None]]:
    """PK ranges for parallel workers; ends unbounded so no key can fall outside."""
    if workers <= 1 or not table.has_int_key:
        return [(None, None)]
    q = quote_mysql(table.pk[0])
    lo, hi = my.query(f"SELECT MIN({q}), MAX({q}) FROM {quote_mysql(table.name)}")[0]
    lo, hi = integer(lo), integer(hi)
    if lo is None or hi - lo + 1 < min_rows:
        return [(None, None)]
    step = (hi - lo + 1) // workers + 1
    bounds = [None, *(lo + step * k for k in range(1, workers)), None]
    return list(itertools.pairwise(bounds))


def range_jobs(
    table: SourceTable,
    where: str,
    params: tuple,
    ranges: list[tuple[int | None, int | None]],
) -> list[tuple[str, tuple]]:
    """One (where, params) per PK range, each also bounded by ``where``."""
    q = quote_mysql(table.pk[0])
    jobs = []
    for lo, hi in ranges:
        parts = [where] if where else []
        part_params = list(params)
        if lo is not None:
            parts.append(f"{q} >= %s")
            part_params.append(lo)
        if hi is not None:
            parts.append(f"{q} < %s")
            part_params.append(hi)
        jobs.append((" AND ".join(parts), tuple(part_params)))
    return jobs
