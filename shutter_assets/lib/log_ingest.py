"""Load machine log files from the drop into ``raw`` PostgreSQL tables, exactly once. No Dagster.

Contract (DESIGN.md sections 4 and 6):

* The tables are created and upgraded by the Alembic migrations of ``raw_schema``
  (``ensure_raw_schema``, called before every run).
* ``ingest_files(...)`` loads each file in **one transaction**: its registry row, its events
  (PostgreSQL ``COPY``) and its rejects commit together, so a crash at any point leaves the file
  either fully loaded or absent. The file is streamed (never held in memory) and hashed while it
  streams.
* Files are identified by content: when the sha256 is already registered for another file, the
  events are rolled back to a savepoint and only a ``duplicate`` registry row is kept. An advisory
  lock on the hash plus a partial unique index make this safe between concurrent runs.
* A file already registered with the same path, size and mtime is skipped (a repeated run is
  harmless); an advisory lock on the path serialises two runs that race on the same file.
* A path has one current version: a new version (size or mtime changed, e.g. an upload that
  stalled, was loaded, and resumed) supersedes the earlier one in its own transaction — the
  earlier rows are deleted, its registry row stays as ``superseded`` (history).
* A file whose header is wrong is registered as ``rejected`` with the reason, never skipped.
* The optional move to the archive folder happens only after the transaction committed.
* ``reprocess_file(...)`` re-reads one named file as a new version of its path.

Which files to load (settling, batching, the sensor's cursor) is ``log_selection``'s job.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from shutter_assets.lib.connections import PostgresSettings
from shutter_assets.lib.drop.base import LogDrop, RemoteFile
from shutter_assets.lib.log_copy import HashingReader, OnFlush, copy_file
from shutter_assets.lib.log_decoding import LogFileError
from shutter_assets.lib.log_format import NUL_SHOWN_AS, LogParser
from shutter_assets.lib.log_names import check_drop_path
from shutter_assets.lib.raw_schema import ensure_raw_schema


class FileChangedError(RuntimeError):
    """The file's size changed between the listing and the end of the download."""


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
    replaced: int = 0  # earlier versions of the path this one superseded
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
    def replaced(self) -> int:
        return sum(f.replaced for f in self.files)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def rejects(self) -> int:
        return sum(f.rejects for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.size_bytes for f in self.files if f.status not in ("skipped", "failed"))


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


# -- one file: claim, load, finish ------------------------------------------------------------


def _claim(
    conn: psycopg.Connection, rf: RemoteFile, run_id: str, res: FileResult, *, reprocess: bool
) -> bool:
    """Lock the path and register this version as its current one; False when there is nothing
    to do (this very version is already the path's current one, and this is no reprocessing).

    DESIGN.md section 4, one current version per path: the path's earlier current row becomes
    ``superseded`` (``superseded_by`` the new row) and its events and rejects are deleted, in the
    file's transaction, so the new version's rows replace them atomically (``res.replaced``).
    A path whose current row is a duplicate cannot be reprocessed: its content is loaded under
    the file it duplicates. Sets ``res.file_id``.
    """
    _lock(conn, "raw.ingested_files/path/" + rf.path)
    current = conn.execute(
        "select file_id, status, duplicate_of, size_bytes, mtime from raw.ingested_files "
        "where path = %s and status <> 'superseded'",
        (rf.path,),
    ).fetchone()
    if current is not None:
        earlier_id, status, duplicate_of, size, mtime = current
        if reprocess and status == "duplicate":
            raise ValueError(
                f"{rf.path} was recorded as a duplicate of file_id {duplicate_of} "
                f"(see raw.ingested_files); reprocess that file instead."
            )
        if not reprocess and (size, mtime) == (rf.size, rf.mtime):
            res.file_id = earlier_id
            return False
        # First out of the current slot (one current row per path is a unique index), then
        # pointed at its successor once that has an id.
        conn.execute(
            "update raw.ingested_files set status = 'superseded', superseded_at = now() "
            "where file_id = %s",
            (earlier_id,),
        )
        conn.execute("delete from raw.machine_events where file_id = %s", (earlier_id,))
        conn.execute("delete from raw.machine_event_rejects where file_id = %s", (earlier_id,))
    (res.file_id,) = conn.execute(
        "insert into raw.ingested_files (path, size_bytes, mtime, sha256, status, run_id) "
        "values (%s, %s, %s, 'pending:' || gen_random_uuid(), 'loaded', %s) "
        "returning file_id",
        (rf.path, rf.size, rf.mtime, run_id),
    ).fetchone()
    if current is not None:
        conn.execute(
            "update raw.ingested_files set superseded_by = %s where file_id = %s",
            (res.file_id, current[0]),
        )
        res.replaced = 1
    return True


def _load_content(
    conn: psycopg.Connection,
    drop: LogDrop,
    rf: RemoteFile,
    res: FileResult,
    *,
    plant_tz: str,
    on_flush: OnFlush | None,
) -> None:
    """Stream the file into raw.machine_events / rejects under ``res.file_id``; fill ``res``.

    A file that cannot be read as a log (wrong header, a UTF-16 BOM its bytes do not follow)
    makes ``res`` a whole-file ``rejected``; the rest of the file is still read, to hash it, and
    the caller rolls its rows back. Raises ``FileChangedError`` when the bytes read differ from
    the listed size.
    """
    with drop.open_read(rf.path) as remote:
        reader = HashingReader(remote)
        buffered = io.BufferedReader(reader, buffer_size=1 << 20)
        parser = None
        try:
            parser = LogParser(buffered, path=rf.path, plant_tz=plant_tz)
            copy_file(conn, parser, res.file_id, rf.path, on_flush)
        except LogFileError as exc:
            res.status, res.error = "rejected", str(exc).replace("\x00", NUL_SHOWN_AS)
            while buffered.read(1 << 20):
                pass
    if reader.nbytes != rf.size:
        raise FileChangedError(
            f"{rf.path}: listed as {rf.size} bytes but {reader.nbytes} were read; "
            f"the file changed while being loaded. Nothing was kept; it will be "
            f"picked up again once it is settled."
        )
    res.sha256 = reader.sha.hexdigest()
    if parser is not None:  # None: the file failed before its first line could be read
        res.encoding = parser.encoding
        res.lines, res.rows = parser.line_count, parser.event_count
        res.rejects = parser.reject_count


def _duplicate_of(conn: psycopg.Connection, sha256: str, file_id: int) -> int | None:
    """The file already holding this content, if any; the lock on the hash serialises two runs
    loading the same content under two names until the first commits."""
    _lock(conn, "raw.ingested_files/sha256/" + sha256)
    row = conn.execute(
        "select file_id from raw.ingested_files where sha256 = %s "
        "and status in ('loaded', 'rejected') and file_id <> %s",
        (sha256, file_id),
    ).fetchone()
    return row[0] if row else None


def _finish(conn: psycopg.Connection, res: FileResult) -> None:
    """Write the outcome into the registry row claimed for this file."""
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
            res.file_id,
        ),
    )


def _load_one(
    conn: psycopg.Connection,
    drop: LogDrop,
    rf: RemoteFile,
    *,
    plant_tz: str,
    run_id: str,
    reprocess: bool = False,
    on_flush: OnFlush | None = None,
) -> FileResult:
    """Load one file in one transaction (the caller's connection must not be in autocommit).

    Any exception rolls the whole transaction back: the warehouse keeps what it had for the path
    (nothing, or its earlier version) and the file is retried. A duplicate content rolls back to
    the savepoint taken after the claim, keeping only the registry row that points at the file
    holding that content (and the superseding of the path's earlier version, if any).
    """
    check_drop_path(rf.path)
    res = FileResult(path=rf.path, status="loaded", size_bytes=rf.size)
    with conn.transaction():
        if not _claim(conn, rf, run_id, res, reprocess=reprocess):
            res.status = "skipped"
            return res
        _skip_fk_checks(conn)
        conn.execute("savepoint file_content")
        _load_content(conn, drop, rf, res, plant_tz=plant_tz, on_flush=on_flush)
        if res.status == "rejected":  # rows a mid-file decoding error left behind go
            conn.execute("rollback to savepoint file_content")
            res.rows = res.rejects = 0
        res.duplicate_of = _duplicate_of(conn, res.sha256, res.file_id)
        if res.duplicate_of is None:
            conn.execute("release savepoint file_content")
        else:
            conn.execute("rollback to savepoint file_content")
            res.status, res.error = "duplicate", None
            res.rows = res.rejects = 0
        _finish(conn, res)
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

    The file is loaded as a new version of its path even when unchanged: a new registry row (a
    new ``file_id``, so dbt's incremental models pick its rows up), the earlier one kept as
    ``superseded`` with its events and rejects deleted in the same transaction. A path never
    ingested is simply ingested. Raises when the file is not in the drop.
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
        return _load_one(conn, drop, rf, plant_tz=plant_tz, run_id=run_id, reprocess=True)
