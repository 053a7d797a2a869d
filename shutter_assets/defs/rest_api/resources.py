"""The ``api_access`` resource, in its own module (a module holding a ``@dg.definitions`` function
contributes only what that function returns)."""

import dagster as dg

from shutter_assets.defs.resources import as_resources
from shutter_assets.lib.warehouse_roles import ApiAccessSettings

# ``API_DB_USER`` / ``API_DB_PASSWORD``: the REST API's read-only role (lib/warehouse_roles.py).
ApiAccessResource = dg.ResourceParam[ApiAccessSettings]


@dg.definitions
def rest_api_resources() -> dg.Definitions:
    return dg.Definitions(resources=as_resources(ApiAccessSettings.from_env()))
