"""Streams of COPY text from MySQL, read in keyset-ordered chunks; or parallel key ranges.

Rows arrive already rendered as PostgreSQL ``COPY`` text lines (see ``typemap``), as raw bytes, so
Python only moves them from one socket to the other. Each chunk is one ordinary (buffered) query
of at most ``fetch_rows`` rows that resumes after the last key of the previous chunk, in the same
snapshot: memory is a few chunks whatever the table size, and a read that stops early (an error,
the consumer gave up) leaves nothing half-read on the connection. MySQL cannot stop a result set
it has started sending, so an unbuffered cursor would have to be drained or its connection torn
down mid-protocol.

A table read by a single integer key (full reads, the reconcile's re-reads) gets each chunk as
**one value**: MySQL joins the chunk's lines with ``GROUP_CONCAT`` over the key range that holds
its next ``fetch_rows`` rows. The driver (PyMySQL, pure Python) then parses one row per chunk
instead of one per source row, which was the largest CPU cost of a full load (about 1.7 µs per
row, more than MySQL's rendering). A chunk ``GROUP_CONCAT`` cut (longer than the session's
``group_concat_max_len`` or the server's ``max_allowed_packet``) is seen by its lines
(``_whole``) and read again row by row, so no value is ever truncated.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from shutter_assets.lib.connections import MySQLSettings
from shutter_assets.lib.mysql_sync.snapshot import Snapshot, SourceTable
from shutter_assets.lib.mysql_sync.typemap import SourceColumn, quote_mysql

Batch = tuple[bytes, int]  # (COPY text lines, each ending in a newline; number of rows)
_INT_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}


def _after(keys: list[str]) -> str:
    """``(k1, k2, …) > (%s, %s, …)`` spelled so the optimizer sees a range on ``k1``."""
    q = [quote_mysql(k) for k in keys]
    condition = f"{q[-1]} > %s"
    for k in reversed(q[:-1]):
        condition = f"{k} > %s OR ({k} = %s AND ({condition}))"
    return f"{q[0]} >= %s AND ({condition})"


def _after_params(values: tuple) -> tuple:
    inner: list = [values[-1]]
    for v in reversed(values[:-1]):
        inner = [v, v, *inner]
    return (values[0], *inner)


def _key_value(column: SourceColumn, raw: bytes | None) -> int | str | None:
    """A key value as read, bound back as the same type (so text compares by its collation)."""
    if raw is None:
        return None
    return int(raw) if column.data_type.lower() in _INT_TYPES else raw.decode("utf-8")


def stream(
    snap: Snapshot,
    table: SourceTable,
    where: str,
    params: tuple,
    fetch_rows: int,
    *,
    columns: list[SourceColumn] | None = None,
    order: tuple[str, ...] | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Batch]:
    """Yield the rows of ``table`` matching ``where`` (all ``columns``), in chunks.

    ``order`` is a unique key to page on: the primary key by default (served by the clustered
    index; one value per chunk when it is a single integer, see the module docstring), or
    ``(cursor column, *pk)`` for an incremental read (served by the cursor's index).
    """
    order = order or table.pk
    if order == table.pk and table.has_int_key:
        yield from _key_range_chunks(snap, table, where, params, fetch_rows, columns, stop)
    else:
        yield from _row_pages(snap, table, where, params, fetch_rows, columns, order, stop)


def _row_pages(
    snap: Snapshot,
    table: SourceTable,
    where: str,
    params: tuple,
    fetch_rows: int,
    columns: list[SourceColumn] | None,
    order: tuple[str, ...],
    stop: threading.Event | None,
) -> Iterator[Batch]:
    """One result row per source row, ``ORDER BY order LIMIT fetch_rows`` per chunk."""
    by_name = {c.name: c for c in table.columns}
    line = table.select_list(columns)
    keys = ", ".join(quote_mysql(k) for k in order)
    hint = " FORCE INDEX (PRIMARY)" if order == table.pk else ""
    last: tuple | None = None
    while stop is None or not stop.is_set():
        parts = [f"({where})"] if where else []
        page_params = list(params)
        if last is not None:
            parts.append(f"({_after(list(order))})")
            page_params.extend(_after_params(last))
        statement = (
            f"SELECT {line}, {keys} FROM {quote_mysql(table.name)}{hint}"
            + (f" WHERE {' AND '.join(parts)}" if parts else "")
            + f" ORDER BY {keys} LIMIT {int(fetch_rows)}"
        )
        rows = snap.query(statement, tuple(page_params))
        if rows:
            yield b"\n".join(r[0] for r in rows) + b"\n", len(rows)
        if len(rows) < fetch_rows:
            return
        last = tuple(_key_value(by_name[k], v) for k, v in zip(order, rows[-1][1:], strict=True))


def _whole(value: bytes | None, count: int) -> bool:
    """Whether a chunk value holds all its ``count`` lines: each line ends with a newline and
    none holds one (COPY text escapes it), so a value MySQL cut (at ``group_concat_max_len``
    or ``max_allowed_packet``, with a warning a caller could miss) lacks its last newline or
    lines, and a value it refused is NULL."""
    if count == 0:
        return True
    return value is not None and value.endswith(b"\n") and value.count(b"\n") == count


def _key_range_chunks(
    snap: Snapshot,
    table: SourceTable,
    where: str,
    params: tuple,
    fetch_rows: int,
    columns: list[SourceColumn] | None,
    stop: threading.Event | None,
) -> Iterator[Batch]:
    """One value per chunk: the ``GROUP_CONCAT`` of the lines of the key range ``(last, bound]``,
    ``bound`` the ``fetch_rows``-th matching key after ``last`` (none: the rest of the table).

    Finding ``bound`` reads keys only, through the primary key; the chunk is then an index
    range scan of exactly those rows.
    """
    q = quote_mysql(table.pk[0])
    source = f"{quote_mysql(table.name)} FORCE INDEX (PRIMARY)"
    line = table.select_list(columns)
    last: int | None = None
    while stop is None or not stop.is_set():
        parts = [f"({where})"] if where else []
        after = list(params)
        if last is not None:
            parts.append(f"{q} > %s")
            after.append(last)
        found = snap.query(
            f"SELECT {q} FROM {source}"
            + (f" WHERE {' AND '.join(parts)}" if parts else "")
            + f" ORDER BY {q} LIMIT 1 OFFSET {int(fetch_rows) - 1}",
            tuple(after),
        )
        bound = int(found[0][0]) if found else None
        chunk, chunk_params = list(parts), list(after)
        if bound is not None:
            chunk.append(f"{q} <= %s")
            chunk_params.append(bound)
        condition = " AND ".join(chunk)
        value, count = snap.query(
            f"SELECT GROUP_CONCAT(CONCAT({line}, '\\n') SEPARATOR ''), COUNT(*) FROM {source}"
            + (f" WHERE {condition}" if condition else ""),
            tuple(chunk_params),
        )[0]
        count = int(count)
        if _whole(value, count):
            if count:
                yield value, count
        else:  # cut by MySQL (too long for one value): this range row by row
            yield from _row_pages(
                snap, table, condition, tuple(chunk_params), fetch_rows, columns, table.pk, stop
            )
        if bound is None:
            return
        last = bound


_DONE = object()


def parallel_stream(
    settings: MySQLSettings,
    table: SourceTable,
    jobs: list[tuple[str, tuple]],
    fetch_rows: int,
) -> Iterator[Batch]:
    """Read each (where, params) on its own connection and snapshot; yield batches as they come.

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

    def work(where: str, params: tuple) -> None:
        snap = None
        try:
            snap = Snapshot(settings)
            for batch in stream(snap, table, where, params, fetch_rows, stop=stop):
                if not put(batch):
                    return
            put(_DONE)
        except BaseException as exc:
            put(exc)
        finally:
            if snap is not None:
                snap.close()

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
