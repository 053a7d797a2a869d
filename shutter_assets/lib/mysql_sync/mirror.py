"""The PostgreSQL mirror of one source table: its DDL, schema drift, COPY and staged upsert.

Every function runs inside the caller's transaction (one per table), so drift DDL, rows and
delete marks commit together or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from shutter_assets.lib.mysql_sync.snapshot import SourceTable
from shutter_assets.lib.mysql_sync.specs import DELETED_AT, ROW_HASH, SYNCED_AT, TARGET_SCHEMA
from shutter_assets.lib.mysql_sync.streaming import Batch
from shutter_assets.lib.mysql_sync.typemap import SourceColumn, pg_type, strip_marks


def target(table: str) -> sql.Identifier:
    return sql.Identifier(TARGET_SCHEMA, table)


def _idents(names: Iterable[str]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def _column_defs(columns: Iterable[SourceColumn]) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(pg_type(c))) for c in columns
    )


def _key_match(pk: tuple[str, ...], left: str, right: str) -> sql.Composable:
    return sql.SQL(" and ").join(
        sql.SQL("{}.{} = {}.{}").format(
            sql.Identifier(left), sql.Identifier(k), sql.Identifier(right), sql.Identifier(k)
        )
        for k in pk
    )


@dataclass
class Drift:
    """How the mirror had to change to follow the source's columns this run."""

    created: bool = False
    new_columns: list[str] = field(default_factory=list)
    retyped_columns: list[str] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)
    old_key: tuple[str, ...] | None = None  # the mirror's primary key, when the source's differs
    dropped_views: list[str] = field(default_factory=list)
    hash_added: bool = False  # the mirror predates row hashes: its rows have none yet


def mirror_columns(pgc: psycopg.Connection, table: str) -> dict[str, str]:
    """Mirror column name → type as ``format_type()`` prints it (empty if no mirror yet)."""
    rows = pgc.execute(
        """
        select a.attname, format_type(a.atttypid, a.atttypmod)
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped
        order by a.attnum
        """,
        (TARGET_SCHEMA, table),
    ).fetchall()
    return dict(rows)


def _create(pgc: psycopg.Connection, table: SourceTable, strategy: str) -> None:
    pgc.execute(
        sql.SQL(
            "create table {} ({}, {} timestamptz not null default now(), {} timestamptz,"
            " {} bigint, primary key ({}))"
        ).format(
            target(table.name),
            _column_defs(table.columns),
            sql.Identifier(SYNCED_AT),
            sql.Identifier(DELETED_AT),
            sql.Identifier(ROW_HASH),
            _idents(table.pk),
        )
    )
    _index_deleted(pgc, table)
    pgc.execute(
        sql.SQL("comment on table {} is {}").format(
            target(table.name),
            sql.Literal(
                f"Mirror of db_commandes.{table.name} ({strategy}); "
                "_deleted_at is set when the row is gone at the source; _row_hash is the "
                "source row's content hash (MySQL CRC32), compared by the reconcile."
            ),
        )
    )


def _index_deleted(pgc: psycopg.Connection, table: SourceTable) -> None:
    """A small partial index on the rows marked deleted, so that finding which staged rows come
    back (``staged_upsert``) never scans the whole mirror."""
    pgc.execute(
        sql.SQL("create index if not exists {} on {} ({}) where {} is not null").format(
            sql.Identifier(f"{table.name}_deleted_{'_'.join(table.pk)}"[:63]),
            target(table.name),
            _idents(table.pk),
            sql.Identifier(DELETED_AT),
        )
    )


def apply_schema(pgc: psycopg.Connection, table: SourceTable, strategy: str) -> Drift:
    """Create the mirror, or add new source columns and alter retyped ones; report the drift.

    A column dropped at the source stays in the mirror (its old values are kept) and is reported.
    """
    mirror = mirror_columns(pgc, table.name)
    if not mirror:
        _create(pgc, table, strategy)
        return Drift(created=True)
    drift = Drift()
    if ROW_HASH not in mirror:  # a mirror synced before row hashes: the caller re-reads it
        pgc.execute(
            sql.SQL("alter table {} add column {} bigint").format(
                target(table.name), sql.Identifier(ROW_HASH)
            )
        )
        drift.hash_added = True
    for col in table.columns:
        wanted = pg_type(col)
        name = sql.Identifier(col.name)
        if col.name not in mirror:
            pgc.execute(
                sql.SQL("alter table {} add column {} {}").format(
                    target(table.name), name, sql.SQL(wanted)
                )
            )
            drift.new_columns.append(col.name)
        elif mirror[col.name] != wanted:
            drift.dropped_views += _retype(pgc, table.name, col.name, mirror[col.name], wanted)
            drift.retyped_columns.append(f"{col.name}: {mirror[col.name]} -> {wanted}")
    source_names = {c.name for c in table.columns}
    drift.dropped_columns = [
        name
        for name in mirror
        if name not in source_names and name not in (SYNCED_AT, DELETED_AT, ROW_HASH)
    ]
    key = mirror_key(pgc, table.name)
    if key != table.pk:
        drift.old_key = key
    else:
        _index_deleted(pgc, table)  # mirrors created before the index existed
    return drift


def _retype(pgc: psycopg.Connection, table: str, column: str, old: str, new: str) -> list[str]:
    """``ALTER COLUMN … TYPE``; returns the views that had to be dropped for it.

    PostgreSQL refuses to retype a column a view reads (the dbt staging views do). Those views
    are dropped in this transaction and listed: the next dbt build recreates them from their
    models, which are the ones that must follow the new type anyway. The table is re-read right
    after, so the ``USING`` conversion only has to succeed, through text when no cast exists.
    """
    name = sql.Identifier(column)
    via = sql.SQL("::integer") if old == "boolean" else sql.SQL("")
    views = [
        r[0]
        for r in pgc.execute(
            """
            select distinct v.oid::regclass::text
            from pg_attribute a
            join pg_depend d on d.refobjid = a.attrelid and d.refobjsubid = a.attnum
            join pg_rewrite r on r.oid = d.objid
            join pg_class v on v.oid = r.ev_class
            where a.attrelid = %s::regclass and a.attname = %s and v.oid <> a.attrelid
            """,
            (f'"{TARGET_SCHEMA}"."{table}"', column),
        ).fetchall()
    ]
    for view in views:
        pgc.execute(sql.SQL("drop view if exists {} cascade").format(sql.SQL(view)))
    pgc.execute(
        sql.SQL("alter table {} alter column {} type {} using {}{}::{}").format(
            target(table), name, sql.SQL(new), name, via, sql.SQL(new)
        )
    )
    return views


def mirror_key(pgc: psycopg.Connection, table: str) -> tuple[str, ...]:
    """The mirror's primary-key columns, in key order."""
    rows = pgc.execute(
        """
        select a.attname
        from pg_constraint c
        cross join lateral unnest(c.conkey) with ordinality as k(attnum, pos)
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
        where c.conrelid = %s::regclass and c.contype = 'p'
        order by k.pos
        """,
        (f'"{TARGET_SCHEMA}"."{table}"',),
    ).fetchall()
    return tuple(r[0] for r in rows)


def clear_for_rebuild(
    pgc: psycopg.Connection, table: SourceTable, old_key: tuple[str, ...]
) -> None:
    """Empty the mirror before a full read under a new primary key (same transaction).

    Old key columns no longer at the source stay as dropped columns, so they must accept NULL.
    """
    pgc.execute(sql.SQL("truncate {}").format(target(table.name)))
    name = _key_constraint(pgc, table.name)
    pgc.execute(
        sql.SQL("alter table {} drop constraint {}").format(
            target(table.name), sql.Identifier(name)
        )
    )
    source_names = {c.name for c in table.columns}
    for column in old_key:
        if column not in source_names:
            pgc.execute(
                sql.SQL("alter table {} alter column {} drop not null").format(
                    target(table.name), sql.Identifier(column)
                )
            )
    pgc.execute(
        sql.SQL("alter table {} add constraint {} primary key ({})").format(
            target(table.name), sql.Identifier(name), _idents(table.pk)
        )
    )
    _index_deleted(pgc, table)


def _key_constraint(pgc: psycopg.Connection, table: str) -> str:
    return pgc.execute(
        "select conname from pg_constraint where conrelid = %s::regclass and contype = 'p'",
        (f'"{TARGET_SCHEMA}"."{table}"',),
    ).fetchone()[0]


def is_empty(pgc: psycopg.Connection, table: str) -> bool:
    return not pgc.execute(
        sql.SQL("select exists (select 1 from {})").format(target(table))
    ).fetchone()[0]


def copy_rows(
    pgc: psycopg.Connection,
    into: sql.Composable,
    columns: list[str],
    batches: Iterator[Batch],
    cleaned: Counter | None = None,
) -> int:
    """``COPY into (columns) FROM STDIN`` from the batches; returns the rows copied.

    Values cleaned on the way (``typemap.strip_marks``) are counted in ``cleaned`` by
    ``(kind, column)``.
    """
    counts = Counter() if cleaned is None else cleaned
    copied = 0
    with (
        pgc.cursor() as cur,
        cur.copy(sql.SQL("copy {} ({}) from stdin").format(into, _idents(columns))) as copy,
    ):
        for data, n in batches:
            copy.write(strip_marks(data, columns, counts))
            copied += n
    return copied


def bulk_load(
    pgc: psycopg.Connection, table: SourceTable, batches: Iterator[Batch], cleaned: Counter
) -> int:
    """COPY straight into the empty mirror, building its primary key once at the end.

    Sorting the keys once is much cheaper than a B-tree insert per row; a duplicate key (the
    source broke its own primary key) fails the ADD and rolls the whole load back.
    """
    name = _key_constraint(pgc, table.name)
    pgc.execute(
        sql.SQL("alter table {} drop constraint {}").format(
            target(table.name), sql.Identifier(name)
        )
    )
    copied = copy_rows(pgc, target(table.name), table.copy_names, batches, cleaned)
    pgc.execute(
        sql.SQL("alter table {} add constraint {} primary key ({})").format(
            target(table.name), sql.Identifier(name), _idents(table.pk)
        )
    )
    return copied


def stage_table(table: str, stage_name: str) -> sql.Identifier:
    """The temp table ``staged_upsert`` fills (it lives until the transaction ends)."""
    return sql.Identifier(f"_{stage_name}_{table}")


@dataclass
class UpsertCounts:
    """Rows an upsert inserted, really changed, brought back from deleted, or marked deleted."""

    inserted: int = 0
    updated: int = 0
    undeleted: int = 0
    deleted: int = 0


def staged_upsert(
    pgc: psycopg.Connection,
    table: SourceTable,
    batches: Iterator[Batch],
    cleaned: Counter,
    deletes_in: sql.Composable | None = None,
    stage_name: str = "stage",
    before_upsert: Callable[[sql.Identifier], None] | None = None,
) -> UpsertCounts:
    """COPY into a temp table, then upsert by PK counting inserts and real changes exactly.

    ``deletes_in`` (a condition on mirror alias ``m``, ``true`` for the whole table) says the
    batches hold every source row of that scope in one snapshot, so every live mirror row in it
    that they did not bring is marked deleted. ``before_upsert`` is called with the filled
    staging table while the mirror still holds the old rows.
    """
    stage = stage_table(table.name, stage_name)
    names = table.copy_names
    pgc.execute(
        sql.SQL("create temp table {} ({}, {} bigint) on commit drop").format(
            stage, _column_defs(table.columns), sql.Identifier(ROW_HASH)
        )
    )
    counts = UpsertCounts()
    if copy_rows(pgc, stage, names, batches, cleaned) == 0 and deletes_in is None:
        return counts
    join_on = _key_match(table.pk, "m", "s")
    pgc.execute(sql.SQL("analyze {}").format(stage))  # a temp table has no statistics otherwise
    if before_upsert is not None:
        before_upsert(stage)
    undeleted = pgc.execute(
        sql.SQL(
            "select count(*) from {} m where m.{} is not null and exists (select 1 from {} s"
            " where {})"
        ).format(target(table.name), sql.Identifier(DELETED_AT), stage, join_on)
    ).fetchone()[0]
    inserted, updated = pgc.execute(_upsert_statement(table, stage)).fetchone()
    counts.inserted, counts.updated, counts.undeleted = inserted, updated - undeleted, undeleted
    if deletes_in is not None:
        counts.deleted = pgc.execute(
            sql.SQL(
                "update {} m set {} = now() where m.{} is null and ({})"
                " and not exists (select 1 from {} s where {})"
            ).format(
                target(table.name),
                sql.Identifier(DELETED_AT),
                sql.Identifier(DELETED_AT),
                deletes_in,
                stage,
                join_on,
            )
        ).rowcount
    return counts


def _upsert_statement(table: SourceTable, stage: sql.Identifier) -> sql.Composable:
    """Insert new keys, update a row only if a value differs (or it was marked deleted), and
    refresh a row hash that alone differs.

    ``RETURNING (xmax = 0)`` tells inserts from updates, and ``_synced_at = now()`` real updates
    from hash refreshes (which keep the row's ``_synced_at``): a re-read row that did not change
    is neither, so counts are exact however wide the overlap window. A hash alone differs when
    the hashed columns changed (a column dropped at the source) or when two source values land
    as one mirror value (a NUL byte removed, two impossible dates both NULL).
    """
    t, e = sql.Identifier("t"), sql.Identifier("excluded")
    non_pk = [sql.Identifier(c.name) for c in table.columns if c.name not in table.pk]
    synced, deleted, row_hash = (sql.Identifier(n) for n in (SYNCED_AT, DELETED_AT, ROW_HASH))
    changed = sql.SQL("({}) is distinct from ({}) or {}.{} is not null").format(
        sql.SQL(", ").join(sql.SQL("{}.{}").format(t, c) for c in non_pk) or sql.SQL("null"),
        sql.SQL(", ").join(sql.SQL("{}.{}").format(e, c) for c in non_pk) or sql.SQL("null"),
        t,
        deleted,
    )
    sets = [sql.SQL("{0} = excluded.{0}").format(c) for c in non_pk]
    sets.append(sql.SQL("{0} = case when {1} then now() else t.{0} end").format(synced, changed))
    sets.append(sql.SQL("{} = null").format(deleted))
    sets.append(sql.SQL("{0} = excluded.{0}").format(row_hash))
    cols = _idents(table.copy_names)
    return sql.SQL(
        """
        with up as (
            insert into {target} as t ({cols}) select {cols} from {stage}
            on conflict ({pk}) do update set {sets}
            where {changed} or t.{row_hash} is distinct from excluded.{row_hash}
            returning (xmax = 0) as ins, {synced} = now() as real
        )
        select count(*) filter (where ins), count(*) filter (where not ins and real) from up
        """
    ).format(
        target=target(table.name),
        cols=cols,
        stage=stage,
        pk=_idents(table.pk),
        sets=sql.SQL(", ").join(sets),
        changed=changed,
        row_hash=row_hash,
        synced=synced,
    )
