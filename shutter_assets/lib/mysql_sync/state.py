"""``raw_commandes._sync_state``: one row per mirrored table, written with the table's rows.

It holds the high-water mark, when deletes were last reconciled, and the columns seen, so a run
knows where the previous one stopped; it commits (or rolls back) in the table's transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from shutter_assets.lib.connections import PostgresSettings
from shutter_assets.lib.mysql_sync import buckets
from shutter_assets.lib.mysql_sync.specs import STATE_TABLE, TARGET_SCHEMA, TableSpec
from shutter_assets.lib.mysql_sync.typemap import SourceColumn, pg_type

_STATE = sql.Identifier(TARGET_SCHEMA, STATE_TABLE)


def ensure_state_table(pg: PostgresSettings) -> None:
    """Create ``raw_commandes`` and its bookkeeping tables if missing (idempotent, serialized)."""
    with pg.connect() as conn:
        ensure_bookkeeping(conn)


def ensure_bookkeeping(conn: psycopg.Connection) -> None:
    """``ensure_state_table`` on the caller's connection, committing only when it had to create
    or alter something; a warehouse that has everything costs one catalog query (every run of
    every table pays it, so it stays off the common path's DDL, locks and connections).
    """
    ready = conn.execute(
        "select count(*) = 2 from pg_attribute where not attisdropped and"
        " ((attrelid = to_regclass(%s) and attname = 'verify_next_key')"
        " or (attrelid = to_regclass(%s) and attname = 'hash_sum'))",
        (f"{TARGET_SCHEMA}.{STATE_TABLE}", f"{TARGET_SCHEMA}.{buckets.BUCKETS_TABLE}"),
    ).fetchone()[0]
    if ready:
        return
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (TARGET_SCHEMA,))
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(TARGET_SCHEMA)))
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
        ).format(_STATE)
    )
    buckets.ensure_table(conn)
    # where the reconcile's content slice resumes (reconcile.py); a warehouse synced
    # before gets it here
    add_missing_column(conn, STATE_TABLE, "verify_next_key", "numeric")
    # added with the content comparison; a warehouse synced before gets it here (its
    # mirrors are re-read in full once, which rebuilds their buckets: drift.hash_added)
    add_missing_column(conn, buckets.BUCKETS_TABLE, "hash_sum", "numeric not null default 0")
    conn.commit()


def add_missing_column(conn: psycopg.Connection, table: str, column: str, definition: str) -> None:
    """Add a column to a ``raw_commandes`` bookkeeping table of an older warehouse.

    Only when it is missing: ``ALTER TABLE`` locks the table exclusively even when the column
    exists, which would deadlock with a sync of another table holding it.
    """
    missing = conn.execute(
        "select not exists (select 1 from information_schema.columns"
        " where table_schema = %s and table_name = %s and column_name = %s)",
        (TARGET_SCHEMA, table, column),
    ).fetchone()[0]
    if missing:
        conn.execute(
            sql.SQL("alter table {} add column {} {}").format(
                sql.Identifier(TARGET_SCHEMA, table), sql.Identifier(column), sql.SQL(definition)
            )
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
            sql.SQL("select * from {} where table_name = %s").format(_STATE), (table,)
        ).fetchone()


@dataclass(frozen=True)
class StoredState:
    """What the previous run left: where it stopped, when the table was last reconciled, how
    long ago that was (seconds: since the last reconcile or the last run, whichever is longer)
    and the key the reconcile's content slice resumes at."""

    high_water_mark: datetime | None
    last_full_reconcile: datetime | None
    seconds_since_reconcile: float
    verify_next_key: int | None


def lock_state(pgc: psycopg.Connection, table: str) -> StoredState | None:
    """The table's state row, locked for this transaction; None before the first sync."""
    row = pgc.execute(
        sql.SQL(
            "select high_water_mark, last_full_reconcile,"
            " extract(epoch from now() - least(last_synced_at, coalesce(last_full_reconcile,"
            " last_synced_at)))::float8, verify_next_key"
            " from {} where table_name = %s for update"
        ).format(_STATE),
        (table,),
    ).fetchone()
    if row is None:
        return None
    return StoredState(row[0], row[1], row[2], None if row[3] is None else int(row[3]))


def save_state(
    pgc: psycopg.Connection,
    spec: TableSpec,
    columns: tuple[SourceColumn, ...],
    hwm: datetime | None,
    reconciled_at: datetime | None,
    mode: str,
    rows_read: int,
    verify_next_key: int | None,
) -> None:
    seen = [{"name": c.name, "mysql_type": c.column_type, "pg_type": pg_type(c)} for c in columns]
    pgc.execute(
        sql.SQL(
            """
            insert into {} (table_name, strategy, cursor_column, high_water_mark,
                last_full_reconcile, columns_seen, last_synced_at, last_mode, last_rows_read,
                verify_next_key)
            values (%s, %s, %s, %s, %s, %s::jsonb, now(), %s, %s, %s)
            on conflict (table_name) do update set
                strategy = excluded.strategy,
                cursor_column = excluded.cursor_column,
                high_water_mark = excluded.high_water_mark,
                last_full_reconcile = excluded.last_full_reconcile,
                columns_seen = excluded.columns_seen,
                last_synced_at = excluded.last_synced_at,
                last_mode = excluded.last_mode,
                last_rows_read = excluded.last_rows_read,
                verify_next_key = excluded.verify_next_key
            """
        ).format(_STATE),
        (
            spec.name,
            spec.strategy,
            spec.cursor_column,
            hwm,
            reconciled_at,
            json.dumps(seen),
            mode,
            rows_read,
            verify_next_key,
        ),
    )
