"""Legacy orders sync: db_commandes (MySQL, read only) → ``raw_commandes`` (PostgreSQL).

No Dagster here: the assets in ``shutter_assets/defs/legacy_orders`` call ``sync_tables``, and so
can the demo, the benchmark and the dbt tests.
"""

from shutter_assets.lib.mysql_sync.result import LegacySyncError, TableSyncResult
from shutter_assets.lib.mysql_sync.snapshot import open_snapshot
from shutter_assets.lib.mysql_sync.specs import (
    SPECS_BY_NAME,
    TABLE_SPECS,
    TARGET_SCHEMA,
    SyncOptions,
    TableSpec,
)
from shutter_assets.lib.mysql_sync.state import ensure_state_table, read_state
from shutter_assets.lib.mysql_sync.sync import sync_table, sync_tables
from shutter_assets.lib.mysql_sync.typemap import SourceColumn, pg_type

__all__ = [
    "SPECS_BY_NAME",
    "TABLE_SPECS",
    "TARGET_SCHEMA",
    "LegacySyncError",
    "SourceColumn",
    "SyncOptions",
    "TableSpec",
    "TableSyncResult",
    "ensure_state_table",
    "open_snapshot",
    "pg_type",
    "read_state",
    "sync_table",
    "sync_tables",
]
