"""What one table's sync reports, and the one error it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
    dropped_views: list[str] = field(default_factory=list)  # views that blocked a column retype
    # Values PostgreSQL cannot hold, per column, in the rows read this run (DESIGN.md section 5):
    invalid_dates: dict[str, int] = field(default_factory=dict)  # dates that do not exist → NULL
    nul_bytes_removed: dict[str, int] = field(default_factory=dict)  # text values cleaned
    type_fallbacks: dict[str, str] = field(default_factory=dict)  # column → how it lands instead
    high_water_mark: datetime | None = None
    previous_high_water_mark: datetime | None = None
    reconciled: bool = False
    # The reconcile (reconcile.py): key ranges whose content hash was compared, key ranges
    # re-read because their buckets differed, and the rows it inserted, updated or un-deleted,
    # i.e. changes the incremental read had missed (late commits, date_maj set by hand or left
    # unchanged, inserts dated in the past); the rows it marked deleted are in ``deleted``.
    content_checked_keys: list[tuple[int, int]] = field(default_factory=list)
    reread_keys: list[tuple[int, int]] = field(default_factory=list)
    reconcile_changes: int = 0
    workers: int = 1
    duration_s: float = 0.0
