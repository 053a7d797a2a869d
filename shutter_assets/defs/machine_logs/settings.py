"""The ``machine_logs`` resource: the ``LOGS_*`` tuning of ``lib/log_settings.py``."""

import dagster as dg

from shutter_assets.defs.resources import as_resources
from shutter_assets.lib.log_settings import MachineLogsSettings

MachineLogsResource = dg.ResourceParam[MachineLogsSettings]


@dg.definitions
def machine_logs_resources() -> dg.Definitions:
    return dg.Definitions(resources=as_resources(MachineLogsSettings.from_env()))
