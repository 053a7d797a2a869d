"""The ``dbt``, ``dbt_targets`` and ``bi_access`` resources, in their own module: a module holding a
``@dg.definitions`` function contributes only what that function returns."""

import dagster as dg
from dagster_dbt import DbtCliResource

from shutter_assets.defs.dbt.project import DBT_EXECUTABLE, dbt_project
from shutter_assets.lib.retention import RetentionSettings
from shutter_assets.lib.warehouse_roles import BIAccessSettings

# ``BI_READONLY_ROLE`` / ``BI_READONLY_PASSWORD`` (lib/warehouse_roles.py).
BIAccessResource = dg.ResourceParam[BIAccessSettings]
# ``DBT_TARGET_KEEP``: dbt invocation folders (``target/shutter_dbt-*``) kept (lib/retention.py).
DbtTargetRetention = dg.ResourceParam[RetentionSettings]


@dg.definitions
def dbt_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
            "dbt_targets": RetentionSettings.from_env(),
            "bi_access": BIAccessSettings.from_env(),
        }
    )
