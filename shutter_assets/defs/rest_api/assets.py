"""What the REST API (``shutter_api``, DESIGN.md section 8) needs from each marts build.

- ``api/readonly_role``: the API's PostgreSQL role (``API_DB_USER``), SELECT on ``marts`` only,
  (re)granted like the BI role (``shutter_assets.lib.bi_access``).
- ``api/marts_data_version``: a new data version after the marts are rebuilt; the API keys its
  Redis cache by it, so this materialization invalidates every cached response at once.

Both sit downstream of every mart with eager automation, so they run once per rebuild, in the
same automation tick as ``bi/readonly_role``.
"""

import dagster as dg

from shutter_assets.defs.dbt.bi_access import MART_KEYS, materialize_readonly_role
from shutter_assets.defs.resources import WarehouseResource
from shutter_assets.defs.rest_api.resources import ApiAccessResource
from shutter_assets.lib.marts_version import record_marts_version


@dg.asset(
    key=["api", "readonly_role"],
    deps=MART_KEYS,
    group_name="marts",
    kinds={"postgres"},
    automation_condition=dg.AutomationCondition.eager(),
)
def api_readonly_role(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, api_access: ApiAccessResource
) -> dg.MaterializeResult:
    """Read-only role (API_DB_USER) with USAGE/SELECT on the marts schema only."""
    return materialize_readonly_role(
        context, warehouse, api_access.role, api_access.password, setting="API_DB_USER"
    )


@dg.asset(
    key=["api", "marts_data_version"],
    deps=[*MART_KEYS, api_readonly_role],
    group_name="marts",
    kinds={"postgres"},
    automation_condition=dg.AutomationCondition.eager(),
)
def marts_data_version(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """marts.data_version (the REST API's cache key) and marts.machine_freshness, replaced."""
    with warehouse.connect() as conn:
        recorded = record_marts_version(conn, context.run_id)
    return dg.MaterializeResult(
        metadata={
            "version": recorded.version,
            "built_at": dg.MetadataValue.timestamp(recorded.built_at),
            "machines": dg.MetadataValue.int(recorded.machines),
        },
        data_version=dg.DataVersion(recorded.version),
    )
