"""Marts rebuild by themselves after new raw data: declarative automation, running by default.

Every dbt asset (and ``bi/readonly_role``) carries ``AutomationCondition.eager()``; this sensor
evaluates those conditions. Dagster would otherwise create ``default_automation_condition_sensor``
stopped, to be switched on by hand in the UI; this one starts RUNNING with the daemon, so a log
ingestion or a MySQL sync is followed by a dbt run of exactly the affected models.

It evaluates every ``DBT_AUTOMATION_INTERVAL_S`` seconds (default 10, read when the definitions
load). Builds never pile up: ``eager()`` does not request an asset whose run is queued or in
progress, and dagster.yaml's tag limit runs one dbt build at a time; raw updates meanwhile are
all picked up by the next build.
"""

from dataclasses import dataclass

import dagster as dg

from shutter_assets.defs.dbt.assets import shutter_dbt
from shutter_assets.defs.dbt.bi_access import bi_readonly_role
from shutter_assets.lib.settings import FromEnv, setting


@dataclass(frozen=True)
class AutomationSettings(FromEnv):
    """``interval_s``: seconds between two evaluations of the automation conditions."""

    interval_s: int = setting("DBT_AUTOMATION_INTERVAL_S", 10)


dbt_automation_sensor = dg.AutomationConditionSensorDefinition(
    "dbt_automation_sensor",
    target=dg.AssetSelection.assets(shutter_dbt, bi_readonly_role),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=AutomationSettings.from_env().interval_s,
    # dagster.yaml queues runs with this tag one at a time: builds lock the marts BI reads.
    run_tags={"shutter/pipeline": "dbt"},
    description="Rebuilds the dbt models downstream of newly materialized raw tables.",
)
