"""The ``legacy_orders_sync`` resource: ``SyncOptions`` from ``LEGACY_ORDERS_*`` (.env.example).

``SyncOptions`` (lib/mysql_sync/specs.py) holds every default once and says what each knob trades.
"""

from collections.abc import Mapping

import dagster as dg

from shutter_assets.defs.resources import as_resources
from shutter_assets.lib.mysql_sync import SyncOptions
from shutter_assets.lib.settings import from_env

LegacyOrdersSyncResource = dg.ResourceParam[SyncOptions]
# Not a deployment setting: the width of the compared key ranges is the sync's own business.
NOT_FROM_ENV = ("reconcile_bucket",)


def sync_options_from_env(environ: Mapping[str, str] | None = None) -> SyncOptions:
    """``LEGACY_ORDERS_<FIELD>`` variables; raises ``SettingsError`` on a bad value."""
    return from_env(SyncOptions, environ, prefix="LEGACY_ORDERS_", skip=NOT_FROM_ENV)


@dg.definitions
def legacy_orders_resources() -> dg.Definitions:
    return dg.Definitions(resources=as_resources(sync_options_from_env()))
