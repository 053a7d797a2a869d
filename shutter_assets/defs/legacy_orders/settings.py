"""Tuning of the legacy orders sync, from the environment (``LEGACY_ORDERS_*`` in .env.example)."""

import dagster as dg

from shutter_assets.defs.resources import _env_int
from shutter_assets.lib.mysql_sync import SyncOptions

_DEFAULTS = SyncOptions()  # the one place the defaults are declared


class LegacyOrdersSyncSettings(dg.ConfigurableResource):
    """Overlap window, reconcile cadence and content-comparison interval, parallel workers and
    fetch size of the sync.

    Resolved when a run starts (``dg.EnvVar``), never at import; see ``SyncOptions`` for what
    each knob trades.
    """

    overlap_s: int = _DEFAULTS.overlap_s
    reconcile_interval_s: int = _DEFAULTS.reconcile_interval_s
    verify_interval_s: int = _DEFAULTS.verify_interval_s
    workers: int = _DEFAULTS.workers
    parallel_min_rows: int = _DEFAULTS.parallel_min_rows
    fetch_rows: int = _DEFAULTS.fetch_rows

    @property
    def options(self) -> SyncOptions:
        return SyncOptions(
            overlap_s=self.overlap_s,
            reconcile_interval_s=self.reconcile_interval_s,
            verify_interval_s=self.verify_interval_s,
            workers=self.workers,
            parallel_min_rows=self.parallel_min_rows,
            fetch_rows=self.fetch_rows,
        )


def build_legacy_orders_sync_settings() -> LegacyOrdersSyncSettings:
    return LegacyOrdersSyncSettings(
        overlap_s=_env_int("LEGACY_ORDERS_OVERLAP_S", _DEFAULTS.overlap_s),
        reconcile_interval_s=_env_int(
            "LEGACY_ORDERS_RECONCILE_INTERVAL_S", _DEFAULTS.reconcile_interval_s
        ),
        verify_interval_s=_env_int("LEGACY_ORDERS_VERIFY_INTERVAL_S", _DEFAULTS.verify_interval_s),
        workers=_env_int("LEGACY_ORDERS_WORKERS", _DEFAULTS.workers),
        parallel_min_rows=_env_int("LEGACY_ORDERS_PARALLEL_MIN_ROWS", _DEFAULTS.parallel_min_rows),
        fetch_rows=_env_int("LEGACY_ORDERS_FETCH_ROWS", _DEFAULTS.fetch_rows),
    )


@dg.definitions
def legacy_orders_resources() -> dg.Definitions:
    return dg.Definitions(resources={"legacy_orders_sync": build_legacy_orders_sync_settings()})
