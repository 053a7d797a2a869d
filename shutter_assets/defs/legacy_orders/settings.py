"""Tuning of the legacy orders sync, from the environment (``LEGACY_ORDERS_*`` in .env.example)."""

import dagster as dg

from shutter_assets.defs.resources import _env_int
from shutter_assets.lib.mysql_sync import SyncOptions


class LegacyOrdersSyncSettings(dg.ConfigurableResource):
    """Overlap window, delete-reconcile cadence, parallel workers and fetch size of the sync.

    Resolved when a run starts (``dg.EnvVar``), never at import; see ``SyncOptions`` for what
    each knob trades.
    """

    overlap_s: int = 600
    reconcile_interval_s: int = 3600
    workers: int = 2
    parallel_min_rows: int = 200_000
    fetch_rows: int = 5_000

    @property
    def options(self) -> SyncOptions:
        return SyncOptions(
            overlap_s=self.overlap_s,
            reconcile_interval_s=self.reconcile_interval_s,
            workers=self.workers,
            parallel_min_rows=self.parallel_min_rows,
            fetch_rows=self.fetch_rows,
        )


def build_legacy_orders_sync_settings() -> LegacyOrdersSyncSettings:
    return LegacyOrdersSyncSettings(
        overlap_s=_env_int("LEGACY_ORDERS_OVERLAP_S", 600),
        reconcile_interval_s=_env_int("LEGACY_ORDERS_RECONCILE_INTERVAL_S", 3600),
        workers=_env_int("LEGACY_ORDERS_WORKERS", 2),
        parallel_min_rows=_env_int("LEGACY_ORDERS_PARALLEL_MIN_ROWS", 200_000),
        fetch_rows=_env_int("LEGACY_ORDERS_FETCH_ROWS", 5_000),
    )


@dg.definitions
def legacy_orders_resources() -> dg.Definitions:
    return dg.Definitions(resources={"legacy_orders_sync": build_legacy_orders_sync_settings()})
