"""The ``dbt``, ``dbt_targets`` and ``bi_access`` resources, in their own module: a module holding a
``@dg.definitions`` function contributes only what that function returns."""

import dagster as dg
from dagster_dbt import DbtCliResource

from shutter_assets.defs.dbt.project import DBT_EXECUTABLE, dbt_project
from shutter_assets.defs.resources import _env, _env_int


class BIAccessResource(dg.ConfigurableResource):
    """Name and (optional) password of the read-only role BI tools connect with."""

    role: str = "bi_reader"
    password: str = ""


class DbtTargetRetention(dg.ConfigurableResource):
    """How many dbt invocation folders (``target/shutter_dbt-*``) are kept (``DBT_TARGET_KEEP``)."""

    keep: int = 5


@dg.definitions
def dbt_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
            "dbt_targets": DbtTargetRetention(keep=_env_int("DBT_TARGET_KEEP", 5)),
            "bi_access": BIAccessResource(
                role=_env("BI_READONLY_ROLE", "bi_reader"),
                password=_env("BI_READONLY_PASSWORD", ""),
            ),
        }
    )
