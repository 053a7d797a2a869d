"""Mirror legacy MySQL tables into ``raw_commandes`` on PostgreSQL, incrementally and exactly.

Contract (DESIGN.md sections 5 and 6, issue 4):

- Every table of ``TABLE_SPECS`` is mirrored in ``raw_commandes.<table>`` with the source's column
  names and primary key, plus ``_synced_at`` and ``_deleted_at``.
- One PostgreSQL transaction per table holds everything a sync changes: schema drift DDL, the
  upserted rows, delete marks and the ``raw_commandes._sync_state`` row (high-water mark, last
  reconcile, columns seen). A failure anywhere, including a MySQL connection cut mid-extract,
  rolls it all back: the mirror and its high-water mark stay as they were and a rerun is exact.
- MySQL is only read: a ``READ ONLY`` transaction ``WITH CONSISTENT SNAPSHOT`` in REPEATABLE READ,
  plus session settings (``time_zone``, ``sql_mode``). Nothing is ever written there.

Why no row is lost or doubled at the cursor boundary: the high-water mark ``H`` (``MAX(date_maj)``)
and the rows are read in the same snapshot, and the rows read are ``date_maj`` in
``[previous H - overlap, H]``; the next run starts again at ``H - overlap``. A row committed after
the snapshot with ``date_maj <= H`` (same second, or a long ERP transaction) is inside the next
run's overlap window. Rows are upserted by primary key, so re-reading is harmless, and a re-read
row that did not change is not counted as updated.

Parallel full reads: each worker has its own connection, hence its own snapshot taken slightly
after the coordinator's. Every worker reads ``date_maj <= H`` with the coordinator's ``H``; a row
changed after the coordinator's snapshot either still satisfies the bound (its value at the worker's
snapshot is loaded, and the next run re-reads it if it changes again) or has ``date_maj > H`` and is
left for the next run. No row with ``date_maj <= H`` in every snapshot can be missed, and the PK
ranges do not overlap, so nothing is doubled. Deletes after a full read are reconciled against the
coordinator's snapshot; a row that a later worker snapshot saw but the coordinator did not (inserted
in between) may be marked deleted for one run and is un-deleted by the next reconcile.

Deletes: primary keys are compared by ranges (count and sum per bucket of ``reconcile_bucket``
keys, computed by both databases); only mismatching buckets have their keys streamed and compared
row by row. Rows missing at the source get ``_deleted_at``; a row that reappears is un-deleted.

Schema drift: the source columns are read from ``information_schema`` each run. A new column is
added to the mirror (existing rows NULL) and triggers a full re-read of that table, so old rows get
their values for it; a column whose mapped type changed is altered the same way; a column dropped at
the source is kept in the mirror (old values stay) and reported.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
import pymysql
import pymysql.converters
import pymysql.cursors
from psycopg import sql

from shutter_assets.lib.connections import MySQLSettings, PostgresSettings
from shutter_assets.lib.mysql_sync.specs import (
    DELETED_AT,
    SPECS_BY_NAME,
    STATE_TABLE,
    SYNCED_AT,
    TABLE_SPECS,
    TARGET_SCHEMA,
    SyncOptions,
    TableSpec,
)
from shutter_assets.lib.mysql_sync.typemap import (
    SourceColumn,
    copy_line_expression,
    pg_type,
    quote_mysql,
)

# Values arrive as raw bytes (no per-value Python conversion): the rows are already COPY text.
_RAW_CONV = dict(pymysql.converters.encoders)
_INT_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}
_MYSQL_ERRORS = (pymysql.err.MySQLError,)


class LegacySyncError(RuntimeError):
    """A sync of one legacy table failed; nothing of that table's run was committed."""


@dataclass
class TableSyncResult:
    """What one table's sync did; every field ends up in the materialization metadata."""

    table: str
    strategy: str
    mode: str = "incremental"  # initial | full | incremental
    full_read_reason: str | None = None
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    undeleted: int = 0
    new_columns: list[str] = field(default_factory=list)
    retyped_columns: list[str] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)
    high_water_mark: datetime | None = None
    previous_high_water_mark: datetime | None = None
    reconciled: bool = False
    workers: int = 1
    duration_s: float = 0.0

    def as_dict(self) -> dict:
        out = asdict(self)
        for key in ("high_water_mark", "previous_high_water_mark"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


# --------------------------------------------------------------------------------------------
# Public entry points


def sync_tables(
    mysql: MySQLSettings,
    pg: PostgresSettings,
    tables: list[str] | None = None,
    options: SyncOptions | None = None,
) -> dict[str, TableSyncResult]:
    """Sync the named tables (all of ``TABLE_SPECS`` by default), one transaction per table."""
    names = list(tables) if tables else [spec.name for spec in TABLE_SPECS]
    unknown = [n for n in names if n not in SPECS_BY_NAME]
    if unknown:
        raise ValueError(
            f"unknown legacy table(s) {unknown}; the mirrored tables are {sorted(SPECS_BY_NAME)} "
            "(shutter_assets/lib/mysql_sync/specs.py)"
        )
    opts = options or SyncOptions()
    return {name: sync_table(mysql, pg, SPECS_BY_NAME[name], opts) for name in names}


def sync_table(
    mysql: MySQLSettings,
    pg: PostgresSettings,
    spec: TableSpec,
    options: SyncOptions | None = None,
) -> TableSyncResult:
    """Sync one table; see the module docstring for the guarantees."""
    opts = options or SyncOptions()
    started = time.perf_counter()
    ensure_state_table(pg)
    result = TableSyncResult(table=spec.name, strategy=spec.strategy)
    where = f"{mysql.database}.{spec.name} → {TARGET_SCHEMA}.{spec.name}"
    try:
        with pg.connect() as pgc:
            pgc.execute(
                "select pg_advisory_xact_lock(hashtext(%s))", (f"{TARGET_SCHEMA}.{spec.name}",)
            )
            my = open_snapshot(mysql)
            try:
                _TableSync(pgc, my, mysql, spec, opts, result).run()
            finally:
                _close_quietly(my)
    except _MYSQL_ERRORS as exc:
        raise LegacySyncError(
            f"MySQL failed while syncing {where} after {result.rows_read} rows: {exc}. "
            "Nothing was committed: the mirror and its high-water mark are unchanged. "
            f"Check that MySQL at {mysql.host}:{mysql.port} is reachable and rerun the sync."
        ) from exc
    except psycopg.Error as exc:
        raise LegacySyncError(
            f"PostgreSQL refused the sync of {where}: {exc}. Nothing was committed for this "
            "table; if a value was refused, fix its mapping in "
            "shutter_assets/lib/mysql_sync/typemap.py, then rerun."
        ) from exc
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


def ensure_state_table(pg: PostgresSettings) -> None:
    """Create ``raw_commandes`` and its sync-state table if missing (idempotent, serialized)."""
    with pg.connect() as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (TARGET_SCHEMA,))
        conn.execute(
            sql.SQL("create schema if not exists {}").format(sql.Identifier(TARGET_SCHEMA))
        )
        conn.execute(
            sql.SQL(
                """
                create table if not exists {} (
                    table_name text primary key,
                    strategy text not null,
                    cursor_column text,
                    high_water_mark timestamptz,
                    last_full_reconcile timestamptz,
                    columns_seen jsonb not null default '[]'::jsonb,
                    last_synced_at timestamptz not null,
                    last_mode text,
                    last_rows_read bigint
                )
                """
            ).format(sql.Identifier(TARGET_SCHEMA, STATE_TABLE))
        )


def read_state(pg: PostgresSettings, table: str) -> dict | None:
    """The stored sync state of one table (for tests, the demo and operators)."""
    with pg.connect() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        exists = cur.execute(
            "select to_regclass(%s) is not null as ok", (f"{TARGET_SCHEMA}.{STATE_TABLE}",)
        ).fetchone()
        if not exists["ok"]:
            return None
        return cur.execute(
            sql.SQL("select * from {} where table_name = %s").format(
                sql.Identifier(TARGET_SCHEMA, STATE_TABLE)
            ),
            (table,),
        ).fetchone()


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
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
    except BaseException:
        _close_quietly(conn)
        raise
    return conn


# --------------------------------------------------------------------------------------------
# One table's run


def _s(value: bytes | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.decode("utf-8")


def _i(value: bytes | int | None) -> int | None:
    return None if value is None else int(value)


def _close_quietly(conn: pymysql.connections.Connection) -> None:
    with contextlib.suppress(Exception):  # already gone: closing is best effort
        conn.close()


def _parse_mysql_ts(value: bytes | None) -> datetime | None:
    """A MySQL DATETIME/TIMESTAMP text (UTC session) as an aware datetime; zero dates → None."""
    text = _s(value)
    if not text or text.startswith("0000-00-00"):
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _mysql_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class _TableSync:
    """The steps of one table's sync, sharing its two connections and its result."""

    def __init__(
        self,
        pgc: psycopg.Connection,
        my: pymysql.connections.Connection,
        mysql: MySQLSettings,
        spec: TableSpec,
        opts: SyncOptions,
        result: TableSyncResult,
    ) -> None:
        self.pgc = pgc
        self.my = my
        self.mysql = mysql
        self.spec = spec
        self.opts = opts
        self.result = result
        self.target = sql.Identifier(TARGET_SCHEMA, spec.name)

    # ---- orchestration

    def run(self) -> None:
        spec, result = self.spec, self.result
        columns, pk = self._source_columns()
        self.columns, self.pk = columns, pk
        created = self._apply_schema(columns, pk)
        state = self._state()
        result.previous_high_water_mark = state["high_water_mark"] if state else None

        hwm = self._source_high_water_mark()
        if spec.cursor_column is None:
            reason = "no change-tracking column: full refresh"
        elif created or not state:
            reason = "first sync"
        elif result.new_columns or result.retyped_columns:
            reason = "schema drift: re-read so existing rows get the new/changed columns"
        elif state["high_water_mark"] is None:
            reason = "no high-water mark yet"
        else:
            reason = None
        result.full_read_reason = reason

        if reason is None:
            result.mode = "incremental"
            prev = state["high_water_mark"]
            self._incremental(prev, hwm)
            new_hwm = max(h for h in (prev, hwm) if h is not None)
            deletes_exact = False
        else:
            empty = not self.pgc.execute(
                sql.SQL("select exists (select 1 from {})").format(self.target)
            ).fetchone()[0]
            result.mode = "initial" if empty else "full"
            deletes_exact = self._full(hwm, direct=empty)
            new_hwm = hwm

        reconciled_at = state["last_full_reconcile"] if state else None
        if deletes_exact:
            result.reconciled = True
            reconciled_at = self.pgc.execute("select now()").fetchone()[0]
        elif self._reconcile_due(reason, reconciled_at):
            self._reconcile()
            result.reconciled = True
            reconciled_at = self.pgc.execute("select now()").fetchone()[0]
        result.high_water_mark = new_hwm
        self._save_state(new_hwm, reconciled_at, columns)

    def _reconcile_due(self, full_reason: str | None, last: datetime | None) -> bool:
        if full_reason is not None or last is None or self.opts.reconcile_interval_s <= 0:
            return True
        age = self.pgc.execute("select now() - %s::timestamptz", (last,)).fetchone()[0]
        return age >= timedelta(seconds=self.opts.reconcile_interval_s)

    # ---- source metadata

    def _query(self, statement: str, params: tuple = ()) -> list[tuple]:
        with self.my.cursor() as cur:
            cur.execute(statement, params)
            return list(cur.fetchall())

    def _source_columns(self) -> tuple[list[SourceColumn], list[str]]:
        rows = self._query(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE,"
            " CHARACTER_SET_NAME, IS_NULLABLE FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (self.spec.name,),
        )
        if not rows:
            raise LegacySyncError(
                f"table {self.mysql.database}.{self.spec.name} not found in MySQL at "
                f"{self.mysql.host}:{self.mysql.port}; check MYSQL_DATABASE and that the sync "
                "account has SELECT on it (docs/legacy_orders.md)"
            )
        columns = [
            SourceColumn(
                _s(r[0]), _s(r[1]), _s(r[2]), _i(r[3]), _i(r[4]), _s(r[5]), _s(r[6]) != "NO"
            )
            for r in rows
        ]
        pk = [
            _s(r[0])
            for r in self._query(
                "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE"
                " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s"
                " AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
                (self.spec.name,),
            )
        ]
        if not pk:
            raise LegacySyncError(
                f"table {self.mysql.database}.{self.spec.name} has no primary key; the mirror "
                "upserts by primary key, so this table cannot be synced as specified"
            )
        names = {c.name for c in columns}
        if self.spec.cursor_column and self.spec.cursor_column not in names:
            raise LegacySyncError(
                f"table {self.mysql.database}.{self.spec.name} has no column "
                f"{self.spec.cursor_column!r} any more; set its cursor_column to None in "
                "shutter_assets/lib/mysql_sync/specs.py (full refresh) or restore the column"
            )
        return columns, pk

    def _source_high_water_mark(self) -> datetime | None:
        if self.spec.cursor_column is None:
            return None
        row = self._query(
            f"SELECT CAST(MAX({quote_mysql(self.spec.cursor_column)}) AS CHAR)"
            f" FROM {quote_mysql(self.spec.name)}"
        )[0]
        return _parse_mysql_ts(row[0])

    # ---- mirror schema

    def _mirror_columns(self) -> dict[str, str]:
        rows = self.pgc.execute(
            """
            select a.attname, format_type(a.atttypid, a.atttypmod)
            from pg_attribute a
            join pg_class c on c.oid = a.attrelid
            join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped
            order by a.attnum
            """,
            (TARGET_SCHEMA, self.spec.name),
        ).fetchall()
        return dict(rows)

    def _apply_schema(self, columns: list[SourceColumn], pk: list[str]) -> bool:
        """Create the mirror or bring it up to the source's columns; True if created."""
        mirror = self._mirror_columns()
        if not mirror:
            defs = [
                sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(pg_type(c)))
                for c in columns
            ]
            defs.append(
                sql.SQL("{} timestamptz not null default now()").format(sql.Identifier(SYNCED_AT))
            )
            defs.append(sql.SQL("{} timestamptz").format(sql.Identifier(DELETED_AT)))
            defs.append(
                sql.SQL("primary key ({})").format(sql.SQL(", ").join(map(sql.Identifier, pk)))
            )
            self.pgc.execute(
                sql.SQL("create table {} ({})").format(self.target, sql.SQL(", ").join(defs))
            )
            self.pgc.execute(
                sql.SQL("comment on table {} is {}").format(
                    self.target,
                    sql.Literal(
                        f"Mirror of db_commandes.{self.spec.name} ({self.spec.strategy}); "
                        "_deleted_at is set when the row is gone at the source."
                    ),
                )
            )
            return True
        source_names = {c.name for c in columns}
        for col in columns:
            wanted = pg_type(col)
            if col.name not in mirror:
                self.pgc.execute(
                    sql.SQL("alter table {} add column {} {}").format(
                        self.target, sql.Identifier(col.name), sql.SQL(wanted)
                    )
                )
                self.result.new_columns.append(col.name)
            elif mirror[col.name] != wanted:
                self.pgc.execute(
                    sql.SQL("alter table {} alter column {} type {} using {}::{}").format(
                        self.target,
                        sql.Identifier(col.name),
                        sql.SQL(wanted),
                        sql.Identifier(col.name),
                        sql.SQL(wanted),
                    )
                )
                self.result.retyped_columns.append(f"{col.name}: {mirror[col.name]} -> {wanted}")
        self.result.dropped_columns = [
            name
            for name in mirror
            if name not in source_names and name not in (SYNCED_AT, DELETED_AT)
        ]
        return False

    # ---- state

    def _state(self) -> dict | None:
        with self.pgc.cursor(row_factory=psycopg.rows.dict_row) as cur:
            return cur.execute(
                sql.SQL(
                    "select high_water_mark, last_full_reconcile from {} where table_name = %s"
                    " for update"
                ).format(sql.Identifier(TARGET_SCHEMA, STATE_TABLE)),
                (self.spec.name,),
            ).fetchone()

    def _save_state(
        self, hwm: datetime | None, reconciled_at: datetime | None, columns: list[SourceColumn]
    ) -> None:
        seen = [
            {"name": c.name, "mysql_type": c.column_type, "pg_type": pg_type(c)} for c in columns
        ]
        self.pgc.execute(
            sql.SQL(
                """
                insert into {} (table_name, strategy, cursor_column, high_water_mark,
                    last_full_reconcile, columns_seen, last_synced_at, last_mode, last_rows_read)
                values (%s, %s, %s, %s, %s, %s::jsonb, now(), %s, %s)
                on conflict (table_name) do update set
                    strategy = excluded.strategy,
                    cursor_column = excluded.cursor_column,
                    high_water_mark = excluded.high_water_mark,
                    last_full_reconcile = excluded.last_full_reconcile,
                    columns_seen = excluded.columns_seen,
                    last_synced_at = excluded.last_synced_at,
                    last_mode = excluded.last_mode,
                    last_rows_read = excluded.last_rows_read
                """
            ).format(sql.Identifier(TARGET_SCHEMA, STATE_TABLE)),
            (
                self.spec.name,
                self.spec.strategy,
                self.spec.cursor_column,
                hwm,
                reconciled_at,
                json.dumps(seen),
                self.result.mode,
                self.result.rows_read,
            ),
        )

    # ---- extract

    def _select(self, where: str) -> str:
        return f"SELECT {copy_line_expression(self.columns)} FROM {quote_mysql(self.spec.name)}" + (
            f" WHERE {where}" if where else ""
        )

    def _cursor_bound(self, hwm: datetime | None) -> tuple[str, tuple]:
        if self.spec.cursor_column is None or hwm is None:
            return "", ()
        c = quote_mysql(self.spec.cursor_column)
        return f"({c} IS NULL OR {c} <= %s)", (_mysql_ts(hwm),)

    def _ranges(self) -> list[tuple[int | None, int | None]]:
        """PK ranges for parallel workers; ends unbounded so no key can fall outside."""
        workers = max(1, self.opts.workers)
        if workers == 1 or len(self.pk) != 1 or not self._pk_is_int():
            return [(None, None)]
        q = quote_mysql(self.pk[0])
        lo, hi = self._query(f"SELECT MIN({q}), MAX({q}) FROM {quote_mysql(self.spec.name)}")[0]
        lo, hi = _i(lo), _i(hi)
        if lo is None or hi - lo + 1 < self.opts.parallel_min_rows:
            return [(None, None)]
        step = (hi - lo + 1) // workers + 1
        cuts = [lo + step * k for k in range(1, workers)]
        bounds = [None, *cuts, None]
        return list(itertools.pairwise(bounds))

    def _pk_is_int(self) -> bool:
        by_name = {c.name: c for c in self.columns}
        return by_name[self.pk[0]].data_type.lower() in _INT_TYPES

    def _full(self, hwm: datetime | None, direct: bool) -> bool:
        """Read the whole table (up to ``hwm``); True when deletes are thereby settled exactly.

        One stream in the coordinator's snapshot sees every row there is, so a mirror row it did
        not return is deleted at the source; a load into an empty mirror has nothing to delete.
        Parallel ranges come from later snapshots, so the caller reconciles instead.
        """
        where, params = self._cursor_bound(hwm)
        ranges = self._ranges()
        self.result.workers = len(ranges)
        if len(ranges) == 1:
            batches = _stream(self.my, self._select(where), params, self.opts.fetch_rows)
        else:
            q = quote_mysql(self.pk[0])
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
                jobs.append((self._select(" AND ".join(parts)), tuple(part_params)))
            batches = _parallel_stream(self.mysql, jobs, self.opts)
        if direct:
            self.result.inserted = self._bulk_load(batches)
            return True
        exact = len(ranges) == 1 or self.spec.cursor_column is None
        self._staged_upsert(batches, exact_deletes=exact)
        return exact

    def _bulk_load(self, batches: Iterator[tuple[bytes, int]]) -> int:
        """COPY straight into the empty mirror, building its primary key once at the end.

        Sorting the keys once is much cheaper than a B-tree insert per row; a duplicate key (the
        source broke its own primary key) fails the ADD and rolls the whole load back.
        """
        name = self.pgc.execute(
            "select conname from pg_constraint where conrelid = %s::regclass and contype = 'p'",
            (f'"{TARGET_SCHEMA}"."{self.spec.name}"',),
        ).fetchone()[0]
        self.pgc.execute(
            sql.SQL("alter table {} drop constraint {}").format(self.target, sql.Identifier(name))
        )
        copied = self._copy(self.target, batches)
        self.pgc.execute(
            sql.SQL("alter table {} add constraint {} primary key ({})").format(
                self.target,
                sql.Identifier(name),
                sql.SQL(", ").join(map(sql.Identifier, self.pk)),
            )
        )
        return copied

    def _incremental(self, prev: datetime, hwm: datetime | None) -> None:
        if hwm is None:
            return
        c = quote_mysql(self.spec.cursor_column)
        lower = prev - timedelta(seconds=self.opts.overlap_s)
        batches = _stream(
            self.my,
            self._select(f"{c} >= %s AND {c} <= %s"),
            (_mysql_ts(lower), _mysql_ts(hwm)),
            self.opts.fetch_rows,
        )
        self._staged_upsert(batches, exact_deletes=False)

    # ---- load

    def _column_list(self) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(c.name) for c in self.columns)

    def _copy(self, table: sql.Composable, batches: Iterator[tuple[bytes, int]]) -> int:
        copied = 0
        with (
            self.pgc.cursor() as cur,
            cur.copy(sql.SQL("copy {} ({}) from stdin").format(table, self._column_list())) as copy,
        ):
            for data, n in batches:
                copy.write(data)
                copied += n
                self.result.rows_read += n
        return copied

    def _staged_upsert(
        self, batches: Iterator[tuple[bytes, int]], exact_deletes: bool, stage_name: str = "stage"
    ) -> None:
        """COPY into a temp table, then upsert by PK counting inserts and real changes exactly."""
        stage = sql.Identifier(f"_{stage_name}_{self.spec.name}")
        defs = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(pg_type(c)))
            for c in self.columns
        )
        self.pgc.execute(sql.SQL("create temp table {} ({}) on commit drop").format(stage, defs))
        if self._copy(stage, batches) == 0 and not exact_deletes:
            return
        pk = sql.SQL(", ").join(map(sql.Identifier, self.pk))
        t, e = sql.Identifier("t"), sql.Identifier("excluded")
        cols = [sql.Identifier(c.name) for c in self.columns]
        non_pk = [sql.Identifier(c.name) for c in self.columns if c.name not in self.pk]
        join_on = sql.SQL(" and ").join(
            sql.SQL("m.{0} = s.{0}").format(sql.Identifier(k)) for k in self.pk
        )
        undeleted = self.pgc.execute(
            sql.SQL("select count(*) from {} m join {} s on {} where m.{} is not null").format(
                self.target, stage, join_on, sql.Identifier(DELETED_AT)
            )
        ).fetchone()[0]
        sets = [sql.SQL("{0} = excluded.{0}").format(c) for c in non_pk]
        sets.append(sql.SQL("{} = now()").format(sql.Identifier(SYNCED_AT)))
        sets.append(sql.SQL("{} = null").format(sql.Identifier(DELETED_AT)))
        changed = sql.SQL("({}) is distinct from ({}) or {}.{} is not null").format(
            sql.SQL(", ").join(sql.SQL("{}.{}").format(t, c) for c in non_pk) or sql.SQL("null"),
            sql.SQL(", ").join(sql.SQL("{}.{}").format(e, c) for c in non_pk) or sql.SQL("null"),
            t,
            sql.Identifier(DELETED_AT),
        )
        column_list = sql.SQL(", ").join(cols)
        inserted, updated = self.pgc.execute(
            sql.SQL(
                """
                with up as (
                    insert into {target} as t ({cols}) select {cols} from {stage}
                    on conflict ({pk}) do update set {sets} where {changed}
                    returning (xmax = 0) as ins
                )
                select count(*) filter (where ins), count(*) filter (where not ins) from up
                """
            ).format(
                target=self.target,
                cols=column_list,
                stage=stage,
                pk=pk,
                sets=sql.SQL(", ").join(sets),
                changed=changed,
            )
        ).fetchone()
        self.result.inserted += inserted
        self.result.updated += updated - undeleted
        self.result.undeleted += undeleted
        if exact_deletes:
            self.result.deleted += self.pgc.execute(
                sql.SQL(
                    "update {} m set {} = now() where m.{} is null"
                    " and not exists (select 1 from {} s where {})"
                ).format(
                    self.target,
                    sql.Identifier(DELETED_AT),
                    sql.Identifier(DELETED_AT),
                    stage,
                    join_on,
                )
            ).rowcount

    # ---- deletes

    def _reconcile(self) -> None:
        """Mark rows gone at the source as deleted, un-delete rows that came back."""
        keys = sql.Identifier("_source_keys")
        key_defs = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(pg_type(c)))
            for c in self.columns
            if c.name in self.pk
        )
        key_cols = [c for c in self.columns if c.name in self.pk]
        key_cols.sort(key=lambda c: self.pk.index(c.name))
        join_on = sql.SQL(" and ").join(
            sql.SQL("m.{0} = k.{0}").format(sql.Identifier(k)) for k in self.pk
        )
        scope, scope_params, mysql_where = sql.SQL("true"), (), ""
        if len(self.pk) == 1 and self._pk_is_int():
            buckets = self._mismatched_buckets()
            if not buckets:
                return
            b = self.opts.reconcile_bucket
            scope = sql.SQL("(m.{} / %s) = any(%s)").format(sql.Identifier(self.pk[0]))
            scope_params = (b, buckets)
            q = quote_mysql(self.pk[0])
            mysql_where = " OR ".join(
                f"{q} BETWEEN {lo} AND {hi}" for lo, hi in _bucket_ranges(buckets, b)
            )
        self.pgc.execute(sql.SQL("create temp table {} ({}) on commit drop").format(keys, key_defs))
        statement = (
            f"SELECT {copy_line_expression(key_cols)} FROM {quote_mysql(self.spec.name)}"
            + (f" WHERE {mysql_where}" if mysql_where else "")
        )
        with (
            self.pgc.cursor() as cur,
            cur.copy(
                sql.SQL("copy {} ({}) from stdin").format(
                    keys, sql.SQL(", ").join(map(sql.Identifier, self.pk))
                )
            ) as copy,
        ):
            for data, _n in _stream(self.my, statement, (), self.opts.fetch_rows):
                copy.write(data)
        self.pgc.execute(sql.SQL("analyze {}").format(keys))
        deleted_at = sql.Identifier(DELETED_AT)
        self.result.deleted += self.pgc.execute(
            sql.SQL(
                "update {} m set {} = now() where m.{} is null and {}"
                " and not exists (select 1 from {} k where {})"
            ).format(self.target, deleted_at, deleted_at, scope, keys, join_on),
            scope_params,
        ).rowcount
        back = self.pgc.execute(
            sql.SQL(
                "select {} from {} m where m.{} is not null and {}"
                " and exists (select 1 from {} k where {})"
            ).format(
                sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(k)) for k in self.pk),
                self.target,
                deleted_at,
                scope,
                keys,
                join_on,
            ),
            scope_params,
        ).fetchall()
        if back:
            self._refetch(back)

    def _refetch(self, keys: list[tuple]) -> None:
        """Re-read rows that reappeared at the source (their values may have changed) and upsert.

        The upsert clears ``_deleted_at`` and counts them as un-deleted.
        """
        cols = ", ".join(quote_mysql(k) for k in self.pk)
        tuple_sql = "(" + ", ".join(["%s"] * len(self.pk)) + ")"

        def batches() -> Iterator[tuple[bytes, int]]:
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                statement = self._select(f"({cols}) IN ({', '.join([tuple_sql] * len(chunk))})")
                params = tuple(v for key in chunk for v in key)
                yield from _stream(self.my, statement, params, self.opts.fetch_rows)

        self._staged_upsert(batches(), exact_deletes=False, stage_name="reappeared")

    def _mismatched_buckets(self) -> list[int]:
        """Buckets of ``reconcile_bucket`` keys whose (count, sum) differ between the two sides."""
        b = self.opts.reconcile_bucket
        q = quote_mysql(self.pk[0])
        source = {
            int(r[0]): (int(r[1]), int(r[2]))
            for r in self._query(
                f"SELECT {q} DIV %s, COUNT(*), SUM({q}) FROM {quote_mysql(self.spec.name)}"
                " GROUP BY 1",
                (b,),
            )
        }
        mirror = {
            int(r[0]): (int(r[1]), int(r[2]))
            for r in self.pgc.execute(
                sql.SQL(
                    "select ({k} / %s)::bigint, count(*), sum({k}) from {t}"
                    " where {d} is null group by 1"
                ).format(k=sql.Identifier(self.pk[0]), t=self.target, d=sql.Identifier(DELETED_AT)),
                (b,),
            ).fetchall()
        }
        return sorted(k for k in source.keys() | mirror.keys() if source.get(k) != mirror.get(k))


def _bucket_ranges(buckets: list[int], width: int) -> list[tuple[int, int]]:
    """Inclusive key ranges covering the buckets (truncating division, as both servers do)."""
    ranges = []
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


# --------------------------------------------------------------------------------------------
# Streaming


def _stream(
    conn: pymysql.connections.Connection,
    statement: str,
    params: tuple,
    fetch_rows: int,
    stop: threading.Event | None = None,
) -> Iterator[tuple[bytes, int]]:
    """Yield (COPY text, row count) batches from a server-side cursor; memory is one batch.

    If the stream ends early (an error, the consumer gave up, ``stop``), the half-read result is
    abandoned instead of drained: the caller closes the connection, which ends the query.
    """
    cur = conn.cursor(pymysql.cursors.SSCursor)
    finished = False
    try:
        cur.execute(statement, params)
        while stop is None or not stop.is_set():
            rows = cur.fetchmany(fetch_rows)
            if not rows:
                finished = True
                break
            yield b"\n".join(r[0] for r in rows) + b"\n", len(rows)
    finally:
        if finished:
            cur.close()
        else:
            _abandon(cur)


def _abandon(cur: pymysql.cursors.SSCursor) -> None:
    """Stop pymysql from reading the rest of an unbuffered result when the objects are freed."""
    result = cur._result
    if result is not None:
        result.unbuffered_active = False
    cur._result = None
    cur.connection = None


_DONE = object()


def _parallel_stream(
    settings: MySQLSettings, jobs: list[tuple[str, tuple]], opts: SyncOptions
) -> Iterator[tuple[bytes, int]]:
    """Run each (statement, params) on its own connection and snapshot; yield batches as they come.

    The queue is bounded, so memory stays at a few batches per worker however large the table.
    The first worker error stops the others and is raised to the caller.
    """
    out: queue.Queue = queue.Queue(maxsize=4 * len(jobs))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def work(statement: str, params: tuple) -> None:
        conn = None
        try:
            conn = open_snapshot(settings)
            for batch in _stream(conn, statement, params, opts.fetch_rows, stop):
                if not put(batch):
                    return
            put(_DONE)
        except BaseException as exc:
            put(exc)
        finally:
            if conn is not None:
                _close_quietly(conn)

    threads = [
        threading.Thread(target=work, args=job, name=f"mysql-range-{i}", daemon=True)
        for i, job in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    done = 0
    try:
        while done < len(threads):
            item = out.get()
            if item is _DONE:
                done += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
