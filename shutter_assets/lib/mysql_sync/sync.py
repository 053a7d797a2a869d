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

``date_maj`` is only a hint, though: the stored ``H`` never passes MySQL's clock, and every run
reconciles the mirror with the source bucket by bucket (``reconcile.py``): the keys of every
bucket (count and sum: deletes and inserts of any date are found by the next run) and the
content hash of a slice of the buckets, so a change committed with a ``date_maj`` outside the
window (a transaction open longer than the overlap, a writer that sets ``date_maj`` itself or
leaves it, a clock behind) reaches the mirror within ``reconcile_interval_s`` plus at most one
schedule period (the first run once the interval has passed). Buckets
that differ are re-read whole; rows missing at the source get ``_deleted_at``, a row that
reappears is un-deleted.

Schema drift: the source columns are read from ``information_schema`` each run. A new column is
added to the mirror (existing rows NULL) and triggers a full re-read of that table, so old rows get
their values for it; a column whose mapped type changed is altered the same way; a column dropped at
the source is kept in the mirror (old values stay) and reported; a changed primary key rebuilds the
mirror by a full read in the same transaction.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
import pymysql
from psycopg import sql

from shutter_assets.lib.connections import MySQLSettings, PostgresSettings
from shutter_assets.lib.mysql_sync import buckets, mirror, reconcile, snapshot, state, typemap
from shutter_assets.lib.mysql_sync.mirror import UpsertCounts
from shutter_assets.lib.mysql_sync.result import LegacySyncError, TableSyncResult
from shutter_assets.lib.mysql_sync.snapshot import SourceTable
from shutter_assets.lib.mysql_sync.specs import (
    SPECS_BY_NAME,
    TABLE_SPECS,
    TARGET_SCHEMA,
    SyncOptions,
    TableSpec,
)
from shutter_assets.lib.mysql_sync.state import StoredState
from shutter_assets.lib.mysql_sync.streaming import Batch, parallel_stream, stream


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
    """Sync one table; see the module docstring for the guarantees.

    Raises ``LegacySyncError`` (nothing of this table committed) on any MySQL or PostgreSQL error.
    """
    opts = options or SyncOptions()
    started = time.perf_counter()
    result = TableSyncResult(table=spec.name, strategy=spec.strategy)
    where = f"{mysql.database}.{spec.name} → {TARGET_SCHEMA}.{spec.name}"
    try:
        with pg.connect() as pgc:
            state.ensure_bookkeeping(pgc)
            pgc.execute(
                "select pg_advisory_xact_lock(hashtext(%s))", (f"{TARGET_SCHEMA}.{spec.name}",)
            )
            # the statements here touch a few index ranges each, but the planner cannot know
            # how few (ranges joined from a list): JIT compiling them cost more than running them
            pgc.execute("set local jit = off")
            with snapshot.Snapshot(mysql) as my:
                _run(pgc, my, spec, opts, result)
    except pymysql.err.MySQLError as exc:
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


def _run(
    pgc: psycopg.Connection,
    my: snapshot.Snapshot,
    spec: TableSpec,
    opts: SyncOptions,
    result: TableSyncResult,
) -> None:
    """One table's run inside its PostgreSQL transaction and MySQL snapshot."""
    table = snapshot.read_source_table(my, spec)
    drift = mirror.apply_schema(pgc, table, spec.strategy)
    result.new_columns = drift.new_columns
    result.retyped_columns = drift.retyped_columns
    result.dropped_columns = drift.dropped_columns
    result.dropped_views = drift.dropped_views
    result.type_fallbacks = {
        c.name: why for c in table.columns if (why := typemap.type_fallback(c)) is not None
    }
    stored = state.lock_state(pgc, spec.name)
    result.previous_high_water_mark = stored.high_water_mark if stored else None
    result.full_read_reason = _full_read_reason(table, drift, stored)
    # Cleaned values are counted in the rows of the incremental or full read; re-reads of the
    # same rows (reconcile) are cleaned the same way but not counted twice.
    cleaned: Counter = Counter()
    recounted: Counter = Counter()

    new_hwm, deletes_exact = _read_rows(pgc, my, table, drift, stored, opts, result, cleaned)
    next_key = stored.verify_next_key if stored else None
    if not deletes_exact:  # an incremental read, or parallel ranges: compare with the source
        elapsed = stored.seconds_since_reconcile if stored else 0.0
        done = reconcile.reconcile(pgc, my, table, opts, next_key, elapsed, recounted)
        _add(result, done.counts)
        result.content_checked_keys = done.content_checked
        result.reread_keys = done.reread
        result.reconcile_changes = done.counts.inserted + done.counts.updated
        result.reconcile_changes += done.counts.undeleted
        next_key = done.next_key
    result.reconciled = True
    reconciled_at = pgc.execute("select now()").fetchone()[0]
    result.high_water_mark = new_hwm
    _report_cleaned(result, cleaned)
    state.save_state(
        pgc, spec, table.columns, new_hwm, reconciled_at, result.mode, result.rows_read, next_key
    )


def _read_rows(
    pgc: psycopg.Connection,
    my: snapshot.Snapshot,
    table: SourceTable,
    drift: mirror.Drift,
    stored: StoredState | None,
    opts: SyncOptions,
    result: TableSyncResult,
    cleaned: Counter,
) -> tuple[datetime | None, bool]:
    """The incremental or full read; returns the high-water mark to store and whether deletes
    are thereby settled exactly.

    The stored mark never passes MySQL's clock (``snapshot.high_water_mark``), while the read
    itself goes up to the largest ``date_maj`` there is.
    """
    hwm, source_now = snapshot.high_water_mark(my, table)
    if result.full_read_reason is None:
        result.mode = "incremental"
        prev = stored.high_water_mark
        if hwm is not None:
            lower = min(prev, source_now) - timedelta(seconds=opts.overlap_s)
            where, params = snapshot.changed_since(table, lower, hwm)
            order = (table.cursor_column, *table.pk)
            rows = _counted(stream(my, table, where, params, opts.fetch_rows, order=order), result)
            follow = None
            if table.has_int_key:  # keep the reconcile's bucket summaries current
                key, width = table.pk[0], opts.reconcile_bucket

                def follow(stage: sql.Identifier) -> None:
                    buckets.add_upsert_delta(pgc, table.name, key, width, stage)

            _add(result, mirror.staged_upsert(pgc, table, rows, cleaned, before_upsert=follow))
        newest = max(h for h in (prev, hwm) if h is not None)
        return min(newest, source_now), False
    empty = mirror.is_empty(pgc, table.name)
    result.mode = "initial" if empty else "full"
    if drift.old_key:  # rows cannot be matched across keys: start over, in this transaction
        mirror.clear_for_rebuild(pgc, table, drift.old_key)
    direct = empty or drift.old_key is not None
    exact = _full_read(pgc, my, table, opts, result, hwm, direct, cleaned)
    # fresh statistics, or the planner takes the rewritten mirror for an empty table next time
    pgc.execute(sql.SQL("analyze {}").format(mirror.target(table.name)))
    if table.has_int_key:
        buckets.rebuild(pgc, table.name, table.pk[0], opts.reconcile_bucket)
    return (None if hwm is None else min(hwm, source_now)), exact


def _full_read_reason(
    table: SourceTable, drift: mirror.Drift, stored: StoredState | None
) -> str | None:
    """Why this run reads the whole table, or None for an incremental read."""
    if drift.old_key:
        return (
            f"primary key changed at the source: ({', '.join(drift.old_key)}) -> "
            f"({', '.join(table.pk)}); the mirror is rebuilt by a full read"
        )
    if table.cursor_column is None:
        return "no change-tracking column: full refresh"
    if drift.created or stored is None:
        return "first sync"
    if drift.hash_added:
        return "the mirror predates row hashes: re-read so every row gets its content hash"
    if drift.new_columns or drift.retyped_columns:
        return "schema drift: re-read so existing rows get the new/changed columns"
    if stored.high_water_mark is None:
        return "no high-water mark yet"
    return None


def _full_read(
    pgc: psycopg.Connection,
    my: snapshot.Snapshot,
    table: SourceTable,
    opts: SyncOptions,
    result: TableSyncResult,
    hwm: datetime | None,
    direct: bool,
    cleaned: Counter,
) -> bool:
    """Read the whole table (up to ``hwm``); True when deletes are thereby settled exactly.

    One stream in the coordinator's snapshot sees every row there is, so a mirror row it did
    not return is deleted at the source; a load into an empty mirror has nothing to delete.
    Parallel ranges come from later snapshots, so the caller reconciles instead.
    """
    where, params = snapshot.cursor_bound(table, hwm)
    ranges = snapshot.pk_ranges(my, table, opts.workers, opts.parallel_min_rows)
    result.workers = len(ranges)
    if len(ranges) == 1:
        batches = stream(my, table, where, params, opts.fetch_rows)
    else:
        jobs = snapshot.range_jobs(table, where, params, ranges)
        batches = parallel_stream(my.settings, table, jobs, opts.fetch_rows)
    batches = _counted(batches, result)
    if direct:
        result.inserted = mirror.bulk_load(pgc, table, batches, cleaned)
        return True
    exact = len(ranges) == 1 or table.cursor_column is None
    deletes_in = sql.SQL("true") if exact else None
    _add(result, mirror.staged_upsert(pgc, table, batches, cleaned, deletes_in=deletes_in))
    return exact


def _counted(batches: Iterator[Batch], result: TableSyncResult) -> Iterator[Batch]:
    """Pass batches through, counting rows read as they come (an error message reports them)."""
    for batch in batches:
        result.rows_read += batch[1]
        yield batch


def _report_cleaned(result: TableSyncResult, cleaned: Counter) -> None:
    for (kind, column), n in sorted(cleaned.items()):
        if kind == typemap.INVALID_DATE:
            result.invalid_dates[column] = n
        elif kind == typemap.NUL_REMOVED:
            result.nul_bytes_removed[column] = n


def _add(result: TableSyncResult, counts: UpsertCounts) -> None:
    result.inserted += counts.inserted
    result.updated += counts.updated
    result.undeleted += counts.undeleted
    result.deleted += counts.deleted
