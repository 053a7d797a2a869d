"""Load machine log files from the drop into ``raw`` PostgreSQL tables, exactly once. No Dagster.

Contract (DESIGN.md sections 4 and 6):

* ``ensure_raw_schema(conn)`` creates ``raw.ingested_files``, ``raw.machine_events`` and
  ``raw.machine_event_rejects`` idempotently (safe to call concurrently).
* ``ingest_files(...)`` loads each file in **one transaction**: its registry row, its events
  (PostgreSQL ``COPY``) and its rejects commit together, so a crash at any point leaves the file
  either fully loaded or absent. The file is streamed (never held in memory) and hashed while it
  streams.
* Files are identified by content: when the sha256 is already registered for another file, the
  events are rolled back to a savepoint and only a ``duplicate`` registry row is kept. An advisory
  lock on the hash plus a partial unique index make this safe between concurrent runs.
* A file already registered with the same path, size and mtime is skipped (a repeated run is
  harmless); an advisory lock on the path serialises two runs that race on the same file.
* A file whose header is wrong is registered as ``rejected`` with the reason, never skipped.
* The optional move to the archive folder happens only after the transaction committed.
* ``reprocess_file(...)`` re-reads one named file and replaces its earlier rows in one transaction.

Which files to load (settling, batching, the sensor's cursor) is ``log_selection``'s job.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import psycopg
from psycopg import sql

from shutter_assets.lib.connections import PostgresSettings
from shutter_assets.lib.drop.base import LogDrop, RemoteFile
from shutter_assets.lib.log_format import Event, LogHeaderError, LogParser
from shutter_assets.lib.log_names import check_drop_path

COPY_BATCH_ROWS = 5000
_SCHEMA_LOCK = 0x5348_5554_0001  # advisory lock key: one schema creation at a time
_N = "\\N"

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.ingested_files (
    file_id bigint generated always as identity primary key,
    path text not null,
    size_bytes bigint not null,
    mtime timestamptz,
    sha256 text not null,
    status text not null check (status in ('loaded', 'duplicate', 'rejected')),
    duplicate_of bigint null references raw.ingested_files,
    encoding text,
    line_count int,
    event_count int,
    reject_count int,
    error text,
    run_id text,
    ingested_at timestamptz not null default now()
);
create unique index if not exists ingested_files_sha256_uniq
    on raw.ingested_files (sha256) where status <> 'duplicate';
create index if not exists ingested_files_path_idx
    on raw.ingested_files (path, size_bytes, mtime);
create table if not exists raw.machine_events (
    file_id bigint not null references raw.ingested_files,
    line_no int not null,
    machine_id text not null,
    event_type text not null,
    event_local_ts timestamp(3) not null,
    event_at timestamptz not null,
    order_ref text,
    program text,
    value_text text,
    value_num numeric,
    message text,
    primary key (file_id, line_no)
);
create table if not exists raw.machine_event_rejects (
    file_id bigint not null references raw.ingested_files,
    line_no int not null,
    raw_line text not null,
    reason text not null,
    primary key (file_id, line_no)
);
comment on table raw.ingested_files is
    'One row per log file content ingested from the drop (loaded, duplicate or rejected whole).';
comment on table raw.machine_events is
    'One row per accepted machine log line, keyed by (file_id, line_no).';
comment on table raw.machine_event_rejects is
    'Log lines that broke the format contract, with their raw text and the reason.';
"""

EVENT_COLUMNS = (
    "file_id",
    "line_no",
    "machine_id",
    "event_type",
    "event_local_ts",
    "event_at",
    "order_ref",
    "program",
    "value_text",
    "value_num",
    "message",
)


class FileChangedError(RuntimeError):
    """The file's size changed between the listing and the end of the download."""


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    """Create the ``raw`` schema and its three tables if missing; idempotent and race-safe."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        conn.execute(RAW_DDL)


# -- results -------------------------------------------------------------------------------


@dataclass
class FileResult:
    path: str
    status: str  # loaded | duplicate | rejected | skipped | failed
    size_bytes: int = 0
    file_id: int | None = None
    sha256: str | None = None
    rows: int = 0
    rejects: int = 0
    lines: int = 0
    encoding: str | None = None
    duplicate_of: int | None = None
    error: str | None = None
    archived_to: str | None = None
    archive_error: str | None = None


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def loaded_files(self) -> int:
        return self._count("loaded")

    @property
    def duplicates(self) -> int:
        return self._count("duplicate")

    @property
    def rejected_files(self) -> int:
        return self._count("rejected")

    @property
    def skipped(self) -> int:
        return self._count("skipped")

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def rejects(self) -> int:
        return sum(f.rejects for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.size_bytes for f in self.files if f.status not in ("skipped", "failed"))


# -- streaming ------------------------------------------------------------------------------


class _HashingReader(io.RawIOBase):
    """Reads the drop's stream, hashing and counting every byte that passes."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.sha = hashlib.sha256()
        self.nbytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha.update(data)
        self.nbytes += n
        return n


def _text(value: str | None) -> str:
    if value is None:
        return _N
    if "\\" in value or "\t" in value or "\r" in value or "\n" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\r", "\\r")
            .replace("\n", "\\n")
        )
    return value


class _Rollback(Exception):
    pass


OnFlush = Callable[[str, int, int], None]  # (path, rows so far, loading backend pid)


def _copy_file(
    conn: psycopg.Connection,
    parser: LogParser,
    file_id: int,
    path: str,
    on_flush: OnFlush | None,
) -> None:
    """COPY the parser's events, spooling rejects, then COPY the rejects."""
    parser.read_header()
    prefix = f"{file_id}\t"
    with (
        tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+", encoding="utf-8") as rejects,
        conn.cursor() as cur,
    ):
        copy_sql = sql.SQL("copy raw.machine_events ({}) from stdin").format(
            sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS))
        )
        with cur.copy(copy_sql) as copy:
            rows: list[str] = []
            append = rows.append
            done = 0
            for item in parser:
                if type(item) is Event:
                    ln, mid, ev, lts, eat, oref, prog, vt, vn, msg = item
                    free = f"{prog}{vt}{msg}"  # the only fields no regex has vetted
                    if "\\" in free or "\t" in free or "\r" in free:
                        row = (
                            f"{prefix}{ln}\t{mid}\t{ev}\t{lts}\t{eat}\t{oref or _N}\t"
                            f"{_text(prog)}\t{_text(vt)}\t{vn or _N}\t{_text(msg)}\n"
                        )
                    else:
                        row = (
                            f"{prefix}{ln}\t{mid}\t{ev}\t{lts}\t{eat}\t{oref or _N}\t"
                            f"{prog or _N}\t{vt or _N}\t{vn or _N}\t{msg or _N}\n"
                        )
                    append(row)
                    if len(rows) >= COPY_BATCH_ROWS:
                        copy.write("".join(rows))
                        done += len(rows)
                        rows.clear()
                        if on_flush is not None:
                            on_flush(path, done, conn.info.backend_pid)
                else:
                    rejects.write(f"{prefix}{item[0]}\t{_text(item[1])}\t{_text(item[2])}\n")
            if rows:
                copy.write("".join(rows))
        if parser.reject_count:
            rejects.seek(0)
            with cur.copy(
                "copy raw.machine_event_rejects (file_id, line_no, raw_line, reason) from stdin"
            ) as copy:
                while chunk := rejects.read(1 << 20):
                    copy.write(chunk)


def _skip_fk_checks(conn: psycopg.Connection) -> bool:
    """Skip the per-row foreign-key triggers for the rest of this load transaction, if allowed.

    Checking ``file_id`` row by row costs the server as much as the COPY itself, and here it is
    guaranteed by construction: the referenced registry row was inserted (or locked by update) in
    this very transaction, so nobody else can see or delete it. ``session_replication_role``
    needs a superuser or, on PostgreSQL 15+, ``GRANT SET ON PARAMETER session_replication_role``
    to the loading role; without it the checks simply run. No other trigger exists on raw.*.
    """
    try:
        with conn.transaction():
            conn.execute("set local session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def _lock(conn: psycopg.Connection, key: str) -> None:
    conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


def _load_one(
    conn: psycopg.Connection,
    drop: LogDrop,
    rf: RemoteFile,
    *,
    plant_tz: str,
    run_id: str,
    replace: bool = False,
    on_flush: OnFlush | None = None,
) -> FileResult:
    """Load one file in one transaction (the caller's connection must not be in autocommit)."""
    check_drop_path(rf.path)
    res = FileResult(path=rf.path, status="loaded", size_bytes=rf.size)
    with conn.transaction():
        _lock(conn, "raw.ingested_files/path/" + rf.path)
        if replace:
            row = conn.execute(
                "select file_id, status, duplicate_of from raw.ingested_files where path = %s "
                "order by (status <> 'duplicate') desc, file_id desc limit 1",
                (rf.path,),
            ).fetchone()
            if row is None:
                replace = False
            elif row[1] == "duplicate":
                raise ValueError(
                    f"{rf.path} was recorded as a duplicate of file_id {row[2]} "
                    f"(see raw.ingested_files); reprocess that file instead."
                )
            else:
                file_id = row[0]
                conn.execute("delete from raw.machine_events where file_id = %s", (file_id,))
                conn.execute("delete from raw.machine_event_rejects where file_id = %s", (file_id,))
                conn.execute(
                    "update raw.ingested_files set sha256 = 'pending:' || file_id, "
                    "size_bytes = %s, mtime = %s, run_id = %s, ingested_at = now() "
                    "where file_id = %s",
                    (rf.size, rf.mtime, run_id, file_id),
                )
        if not replace:
            seen = conn.execute(
                "select file_id from raw.ingested_files where path = %s and size_bytes = %s "
                "and mtime is not distinct from %s order by file_id desc limit 1",
                (rf.path, rf.size, rf.mtime),
            ).fetchone()
            if seen is not None:
                res.status, res.file_id = "skipped", seen[0]
                return res
            (file_id,) = conn.execute(
                "insert into raw.ingested_files (path, size_bytes, mtime, sha256, status, run_id) "
                "values (%s, %s, %s, 'pending:' || gen_random_uuid(), 'loaded', %s) "
                "returning file_id",
                (rf.path, rf.size, rf.mtime, run_id),
            ).fetchone()
        res.file_id = file_id
        _skip_fk_checks(conn)

        duplicate_of: int | None = None
        try:
            with conn.transaction(), drop.open_read(rf.path) as remote:
                reader = _HashingReader(remote)
                buffered = io.BufferedReader(reader, buffer_size=1 << 20)
                parser = LogParser(buffered, path=rf.path, plant_tz=plant_tz)
                try:
                    _copy_file(conn, parser, file_id, rf.path, on_flush)
                except LogHeaderError as exc:
                    res.status, res.error = "rejected", str(exc)
                    while buffered.read(1 << 20):
                        pass
                if reader.nbytes != rf.size:
                    raise FileChangedError(
                        f"{rf.path}: listed as {rf.size} bytes but {reader.nbytes} were read; "
                        f"the file changed while being loaded. Nothing was kept; it will be "
                        f"picked up again once it is settled."
                    )
                res.sha256 = reader.sha.hexdigest()
                res.encoding = parser.encoding
                res.lines, res.rows, res.rejects = (
                    parser.line_count,
                    parser.event_count,
                    parser.reject_count,
                )
                _lock(conn, "raw.ingested_files/sha256/" + res.sha256)
                dup = conn.execute(
                    "select file_id from raw.ingested_files where sha256 = %s "
                    "and status <> 'duplicate' and file_id <> %s",
                    (res.sha256, file_id),
                ).fetchone()
                if dup is not None:
                    duplicate_of = dup[0]
                    raise _Rollback
        except _Rollback:
            res.status, res.duplicate_of = "duplicate", duplicate_of
            res.rows = res.rejects = 0
            res.error = None
        conn.execute(
            "update raw.ingested_files set sha256 = %s, status = %s, duplicate_of = %s, "
            "encoding = %s, line_count = %s, event_count = %s, reject_count = %s, error = %s "
            "where file_id = %s",
            (
                res.sha256,
                res.status,
                res.duplicate_of,
                res.encoding,
                res.lines,
                res.rows,
                res.rejects,
                res.error,
                file_id,
            ),
        )
    return res


def _archive(drop: LogDrop, res: FileResult) -> None:
    try:
        res.archived_to = drop.archive(res.path)
    except Exception as exc:
        res.archive_error = (
            f"{res.path} was loaded but could not be moved to the archive folder ({exc}); "
            f"it stays in the drop and will not be loaded twice."
        )


def ingest_files(
    pg: PostgresSettings,
    drop: LogDrop,
    files: Sequence[RemoteFile],
    *,
    plant_tz: str,
    run_id: str,
    archive: bool = False,
    on_flush: OnFlush | None = None,
) -> IngestReport:
    """Load each file in its own transaction; one file's failure never stops the others.

    A failed file (drop connection lost, database backend killed, file still changing, unsafe
    name) is reported with ``status='failed'`` and left untouched in the warehouse, so the next
    run loads it exactly once. ``on_flush`` is a test hook called after each COPY batch.
    """
    report = IngestReport()
    conn = pg.connect()
    try:
        ensure_raw_schema(conn)
        conn.commit()
        for rf in files:
            try:
                res = _load_one(conn, drop, rf, plant_tz=plant_tz, run_id=run_id, on_flush=on_flush)
            except Exception as exc:
                res = FileResult(path=rf.path, status="failed", size_bytes=rf.size)
                res.error = f"{rf.path}: {type(exc).__name__}: {exc}".strip()
                if conn.broken or conn.closed:
                    conn.close()
                    conn = pg.connect()
                else:
                    conn.rollback()
            if archive and res.status in ("loaded", "duplicate", "rejected"):
                _archive(drop, res)
            report.files.append(res)
    finally:
        conn.close()
    return report


def reprocess_file(
    pg: PostgresSettings, drop: LogDrop, path: str, *, plant_tz: str, run_id: str
) -> FileResult:
    """Re-read ``path`` from the drop and replace its earlier rows atomically.

    Its registry row keeps its ``file_id``; events and rejects are deleted and reloaded in the same
    transaction. A path never ingested is simply ingested. Raises when the file is not in the drop.
    """
    check_drop_path(path)
    listing = {f.path: f for f in drop.list_files()}
    rf = listing.get(path)
    if rf is None:
        raise FileNotFoundError(
            f"{path} is not in the log drop (was it archived? move it back from the archive "
            f"folder to reprocess it)"
        )
    with pg.connect() as conn:
        ensure_raw_schema(conn)
        conn.commit()
        return _load_one(conn, drop, rf, plant_tz=plant_tz, run_id=run_id, replace=True)
