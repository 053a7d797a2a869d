"""``bi/readonly_role``: the BI tools' read-only role, re-granted after the marts are rebuilt.

A Dagster asset downstream of every mart (rather than a dbt on-run-end hook) so the role's state
is visible in the UI, it runs once per rebuild through the same eager automation, and the work
stays in plain Python (``shutter_assets.lib.bi_access``). ``materialize_readonly_role`` is the
body of this asset and of the REST API's ``api/readonly_role``.
"""

import dagster as dg

from shutter_assets.defs.dbt.assets import shutter_dbt
from shutter_assets.defs.dbt.resources import BIAccessResource
from shutter_assets.defs.resources import WarehouseResource
from shutter_assets.lib.bi_access import MARTS_SCHEMA, ensure_readonly_role

MART_KEYS = [key for key in shutter_dbt.keys if key.path[0] == MARTS_SCHEMA]


@dg.asset(
    key=["bi", "readonly_role"],
    deps=MART_KEYS,
    group_name="marts",
    kinds={"postgres"},
    automation_condition=dg.AutomationCondition.eager(),
)
def bi_readonly_role(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, bi_access: BIAccessResource
) -> dg.MaterializeResult:
    """Read-only role (BI_READONLY_ROLE) with USAGE/SELECT on the marts schema only."""
    return materialize_readonly_role(
        context, warehouse, bi_access.role, bi_access.password, setting="BI_READONLY_ROLE"
    )


def materialize_readonly_role(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    role: str,
    password: str,
    setting: str,
) -> dg.MaterializeResult:
    """Create ``role`` if missing (``password``: empty keeps any existing one) and grant it
    SELECT on ``marts`` only; metadata: role, created, readable_mart_tables (SELECT grants).

    ``setting`` names the environment variable of the role in error messages.
    """
    with warehouse.connect() as conn:
        created = ensure_readonly_role(conn, role, password or None, setting=setting)
        tables = conn.execute(
            "select count(*) from information_schema.role_table_grants "
            "where grantee = %s and table_schema = %s and privilege_type = 'SELECT'",
            (role, MARTS_SCHEMA),
        ).fetchone()[0]
    context.log.info(f"role {role!r} {'created' if created else 'already present'}")
    return dg.MaterializeResult(
        metadata={
            "role": role,
            "created": created,
            "readable_mart_tables": dg.MetadataValue.int(tables),
        }
    )
