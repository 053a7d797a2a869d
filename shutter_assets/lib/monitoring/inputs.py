"""What the monitoring checks read from the warehouse: silent machines and stuck log files.

No Dagster here. Each function returns plain rows naming what is wrong; the checks turn them into
failing results and the alert sensor into one incident per name.

Column assumptions on ``raw.ingested_files`` (DESIGN.md section 6): ``path``, ``status``
(``loaded | duplicate | rejected | superseded``), ``error``, ``ingested_at``, ``file_id``. Files
whose loads keep failing are not here: the machine-logs sensor counts their attempts and reports
them in its ``files_failing`` check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg


@dataclass(frozen=True)
class SilentMachine:
    machine_id: str
    last_state: str
    last_event_at: datetime
    silent_for_s: float


@dataclass(frozen=True)
class StuckFile:
    path: str
    reason: str  # "rejected" (refused whole)
    detail: str


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return bool(conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0])


def silent_machines(conn: psycopg.Connection) -> list[SilentMachine] | None:
    """Rows of ``marts.machine_status`` with ``is_silent``; None until dbt has built the view."""
    if not _exists(conn, "marts.machine_status"):
        return None
    rows = conn.execute(
        "select machine_id, last_state, last_event_at, silent_for_s from marts.machine_status "
        "where is_silent order by machine_id"
    ).fetchall()
    return [SilentMachine(m, s, at, float(f)) for m, s, at, f in rows]


def rejected_files(conn: psycopg.Connection, *, since: datetime) -> list[StuckFile]:
    """Files rejected whole since ``since`` whose path has no later loaded version."""
    if not _exists(conn, "raw.ingested_files"):
        return []
    rows = conn.execute(
        """
        select rejected.path, rejected.error
        from raw.ingested_files as rejected
        where rejected.status = 'rejected'
          and rejected.ingested_at >= %s
          and not exists (
              select 1 from raw.ingested_files as later
              where later.path = rejected.path
                and later.file_id > rejected.file_id
                and later.status in ('loaded', 'duplicate')
          )
        order by rejected.path, rejected.file_id
        """,
        (since,),
    ).fetchall()
    seen: dict[str, StuckFile] = {}
    for path, error in rows:
        seen[path] = StuckFile(path, "rejected", f"rejected whole: {error or 'no reason recorded'}")
    return list(seen.values())


def rejected_since(now: datetime, window_s: int) -> datetime:
    return now - timedelta(seconds=window_s)
