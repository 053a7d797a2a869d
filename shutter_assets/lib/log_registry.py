"""Questions asked of the file registry ``raw.ingested_files``. No Dagster.

The registry is the warehouse's memory of which file versions were loaded (DESIGN.md sections 4
and 6); the sensor, the asset and the checks ask it here and nowhere else, so the selection rules
(``log_selection``) stay pure functions over listings.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from shutter_assets.lib.drop.base import RemoteFile
from shutter_assets.lib.log_names import is_safe_path


def _registry_exists(conn: psycopg.Connection) -> bool:
    row = conn.execute("select to_regclass('raw.ingested_files') is not null").fetchone()
    return bool(row and row[0])


def already_ingested(conn: psycopg.Connection, files: Iterable[RemoteFile]) -> set[str]:
    """Paths whose exact version (path, size, mtime) is already registered, in one query.

    Only names the loader accepts (``is_safe_path``) can be registered, so only they are asked:
    a name holding a control character (a NUL, which PostgreSQL ``text`` refuses, or a newline)
    never reaches the query. The paths travel as one newline-joined text, which keeps a
    10,000-file listing cheap to send; versions are compared here, exactly.
    """
    by_path: dict[str, list[RemoteFile]] = {}
    for f in files:
        if is_safe_path(f.path):
            by_path.setdefault(f.path, []).append(f)
    if not by_path or not _registry_exists(conn):
        return set()
    rows = conn.execute(
        "select path, size_bytes, mtime from raw.ingested_files "
        "where path = any(string_to_array(%s, E'\\n')) and status <> 'superseded'",
        ("\n".join(by_path),),
    ).fetchall()
    done: set[str] = set()
    for path, size, mtime in rows:
        if any(f.size == size and f.mtime == mtime for f in by_path[path]):
            done.add(path)
    return done


def files_over_reject_rate(
    conn: psycopg.Connection, run_id: str | None, max_rate: float
) -> tuple[str | None, int, list[tuple[str, int, int, float]]]:
    """Files of ``run_id`` (else of the latest run that loaded files) whose reject rate exceeds
    ``max_rate``: returns (run checked, files checked, [(path, rejects, lines, rate)])."""
    if not _registry_exists(conn):
        return None, 0, []
    if (
        not run_id
        or not conn.execute(
            "select 1 from raw.ingested_files where run_id = %s and status = 'loaded' limit 1",
            (run_id,),
        ).fetchone()
    ):
        row = conn.execute(
            "select run_id from raw.ingested_files where status = 'loaded' "
            "order by ingested_at desc, file_id desc limit 1"
        ).fetchone()
        run_id = row[0] if row else None
    if run_id is None:
        return None, 0, []
    rows = conn.execute(
        "select path, reject_count, event_count + reject_count from raw.ingested_files "
        "where run_id = %s and status = 'loaded' order by path",
        (run_id,),
    ).fetchall()
    offenders = [
        (path, rej, total, rej / total)
        for path, rej, total in rows
        if total and rej / total > max_rate
    ]
    return run_id, len(rows), offenders
