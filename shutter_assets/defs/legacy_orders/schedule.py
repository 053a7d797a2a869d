"""``legacy_orders_schedule``: every 15 minutes, sync every legacy table (the old cron service).

The time zone is the plant's (``PLANT_TIMEZONE``), read when the definitions load, not at import.
"""

import dagster as dg

from shutter_assets.defs.legacy_orders.assets import LEGACY_ORDERS_SELECTION
from shutter_assets.lib.plant import PlantSettings

SCHEDULE_NAME = "legacy_orders_schedule"
JOB_NAME = "legacy_orders_sync_job"


def build_legacy_orders_schedule(
    timezone: str = PlantSettings().timezone,
) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=SCHEDULE_NAME,
        cron_schedule="*/15 * * * *",
        execution_timezone=timezone,
        job=dg.define_asset_job(
            JOB_NAME,
            selection=LEGACY_ORDERS_SELECTION,
            description="Sync every db_commandes table into raw_commandes.",
            # dagster.yaml queues runs with this tag one at a time: the ERP is fragile.
            tags={"shutter/pipeline": "legacy_orders"},
        ),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Incremental sync of db_commandes every 15 minutes.",
    )


@dg.definitions
def legacy_orders_schedule_defs() -> dg.Definitions:
    return dg.Definitions(
        schedules=[build_legacy_orders_schedule(PlantSettings.from_env().timezone)]
    )
