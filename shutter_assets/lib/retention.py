"""Bounded disk use of the files the platform writes: dbt invocation folders, captured logs.

dagster-dbt gives every dbt invocation its own folder ``dbt_project/target/<op>-<run>-<id>/``
(artifacts and ``dbt.log``, about 4 MB each) and nothing removes them. Dagster's
``LocalComputeLogManager`` keeps every run's stdout/stderr under ``<base_dir>/<run_id>/`` and
the logs of every sensor/schedule tick (and backfill) under
``<base_dir>/<repository>/<sensor or schedule>/<tick_id>.err`` (``__repository__`` for a
``Definitions`` location); Dagster's own tick retention (``retention:`` in dagster.yaml) deletes
the ticks from its database but not these files. All are pruned here, by age or count, never the
folder of something still running. The run history in Dagster's database is pruned by the
``purge_history`` job; the drop's archive folder by the FTP server
(docker/vsftpd/prune-archive.sh). docs/deploy.md section 2.2 lists every setting.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from shutter_assets.lib.settings import FromEnv, setting


@dataclass(frozen=True)
class RetentionSettings(FromEnv):
    """What is kept: finished runs with their event logs and captured run logs (days), dbt
    invocation folders under ``dbt_project/target/`` (count)."""

    run_days: int = setting("DAGSTER_RUN_RETENTION_DAYS", 90)
    compute_log_days: int = setting("DAGSTER_COMPUTE_LOG_RETENTION_DAYS", 14)
    dbt_target_keep: int = setting("DBT_TARGET_KEEP", 5)


def tree_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (0 if missing)."""
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def last_activity(path: Path) -> float:
    """Newest modification time (epoch seconds) of ``path`` or anything under it."""
    newest = path.stat().st_mtime
    for p in path.rglob("*"):
        try:
            newest = max(newest, p.stat().st_mtime)
        except FileNotFoundError:  # removed while we walk: a writer is active, newest anyway
            return time.time()
    return newest


def prune_dbt_targets(
    target_dir: Path, prefix: str, keep: int, current: Path | None = None
) -> list[Path]:
    """Delete all but the ``keep`` most recently active ``<prefix>-*`` folders of ``target_dir``.

    ``current`` (the invocation that just finished) is always kept, so ``keep=0`` still leaves
    it for the next one to remove. A folder another build is still writing is among the most
    recent (its ``dbt.log`` moves), so it survives as long as ``keep`` covers the builds that
    can run at once (one, ``shutter/pipeline=dbt`` in dagster.yaml). Returns the deleted folders.
    Raises ValueError for a negative ``keep``.
    """
    if keep < 0:
        raise ValueError(f"DBT_TARGET_KEEP={keep} must be 0 or more")
    folders = [p for p in target_dir.glob(f"{prefix}-*") if p.is_dir()]
    current = current.resolve() if current else None
    candidates = [p for p in folders if p.resolve() != current]
    candidates.sort(key=last_activity, reverse=True)
    kept = max(keep - (1 if current else 0), 0)
    removed = []
    for folder in candidates[kept:]:
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def is_run_folder(path: Path) -> bool:
    """A run's captured-log folder: named by its run id (a UUID); tick and backfill logs live
    under other names (the repository's, ``backfill``)."""
    try:
        uuid.UUID(path.name)
    except ValueError:
        return False
    return path.is_dir()


def stale_compute_log_runs(
    base_dir: Path, older_than_s: float, now: float | None = None
) -> Iterable[str]:
    """Run ids whose log folder ``<base_dir>/<run_id>`` saw no write for ``older_than_s``."""
    if not base_dir.is_dir():
        return []
    cutoff = (now if now is not None else time.time()) - older_than_s
    return [p.name for p in base_dir.iterdir() if is_run_folder(p) and last_activity(p) < cutoff]


def prune_tick_logs(base_dir: Path, older_than_s: float, now: float | None = None) -> list[Path]:
    """Delete the captured logs of sensor/schedule ticks and backfills not written for
    ``older_than_s`` seconds: every file below a top-level folder of ``base_dir`` that is not a
    run's, one by one by its own age (the sensor's folder is written at every tick, so it never
    looks idle as a whole), then the folders left empty. A tick writes its log while it runs
    (seconds), so an old file is a finished tick's. Returns the deleted files.
    """
    if not base_dir.is_dir():
        return []
    cutoff = (now if now is not None else time.time()) - older_than_s
    removed = []
    for top in base_dir.iterdir():
        if not top.is_dir() or is_run_folder(top):
            continue
        for path in sorted(top.rglob("*"), reverse=True):  # children before their folder
            try:
                if path.is_dir():
                    if path != top and not any(path.iterdir()):
                        path.rmdir()
                elif path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:  # written or removed meanwhile by a tick
                continue
    return removed


def prune_compute_logs(
    base_dir: Path,
    older_than_s: float,
    is_finished: Callable[[str], bool],
    delete: Callable[[str], None],
    now: float | None = None,
) -> list[str]:
    """Delete (``delete(run_id)``, the compute log manager's own call) the captured logs of
    finished runs idle for ``older_than_s`` seconds; returns their run ids."""
    removed = []
    for run_id in stale_compute_log_runs(base_dir, older_than_s, now):
        if is_finished(run_id):
            delete(run_id)
            removed.append(run_id)
    return removed
