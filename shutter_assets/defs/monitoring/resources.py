"""``alerting``: the ALERT_* settings, the incident store and the configured channels.

Settings are read from the environment each time a sensor tick or a check uses them (never at
import), through ``AlertSettings.from_env`` which holds every default once.
"""

import dagster as dg

from shutter_assets.defs.resources import WarehouseResource
from shutter_assets.lib.monitoring.channels import Channel, configured_channels
from shutter_assets.lib.monitoring.incidents import IncidentStore
from shutter_assets.lib.monitoring.settings import AlertSettings


class AlertingResource(dg.ConfigurableResource):
    """Thresholds and alert destinations (docs/operations.md), from ``ALERT_*`` variables."""

    def settings(self) -> AlertSettings:
        return AlertSettings.from_env()

    def store(self, warehouse: WarehouseResource) -> IncidentStore:
        store = IncidentStore(warehouse.settings, self.settings())
        store.ensure_schema()
        return store

    def channels(self) -> list[Channel]:
        return configured_channels(self.settings())


@dg.definitions
def monitoring_resources() -> dg.Definitions:
    return dg.Definitions(resources={"alerting": AlertingResource()})
