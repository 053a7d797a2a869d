"""Marts rebuild by themselves after new raw data: declarative automation, running by default.

Every dbt asset (and ``bi/readonly_role``) carries ``AutomationCondition.eager()``; this sensor
evaluates those conditions. Dagster would otherwise create ``default_automation_condition_sensor``
stopped, to be switched on by hand in the UI; this one starts RUNNING with the daemon, so a MySQL
sync (or a reprocessed log file) is followed by a dbt run of exactly the affected models. Log
files loaded by the sensor are built in their own run (``machine_logs_to_marts``), which leaves
this sensor nothing to request: the sensor's run requests name the job's assets, and ``eager()``
ignores a parent's update made by a run that selected the model too (docs/machine_logs.md,
"Freshness": without it a tick while the next run was created but not yet queued requested the
models the current run was building).

It evaluates every ``DBT_AUTOMATION_INTERVAL_S`` seconds (default 10, read when the definitions
load). Builds never pile up: ``eager()`` does not request an asset whose run is queued or in
progress, and dagster.yaml's ``shutter/dbt`` tag limit runs one dbt build at a time (this
sensor's or a ``machine_logs_to_marts`` run's); raw updates meanwhile go into the next build.
"""

from dataclasses import dataclass

import dagster as dg

from shutter_assets.defs.dbt.assets import shutter_dbt
from shutter_assets.defs.dbt.bi_access import bi_readonly_role
from shutter_assets.defs.execution import DBT_BUILD_TAGS
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
    # dagster.yaml queues runs with these tags one at a time: builds lock the marts BI reads.
    run_tags={"shutter/pipeline": "dbt", **DBT_BUILD_TAGS},
    description="Rebuilds the dbt models downstream of newly materialized raw tables.",
)
