"""The ``api_access`` resource, in its own module (a module holding a ``@dg.definitions`` function
contributes only what that function returns)."""

import dagster as dg

from shutter_assets.defs.resources import _env


class ApiAccessResource(dg.ConfigurableResource):
    """Name and (optional) password of the read-only role the REST API connects with."""

    role: str = "api_reader"
    password: str = ""


@dg.definitions
def rest_api_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "api_access": ApiAccessResource(
                role=_env("API_DB_USER", "api_reader"),
                password=_env("API_DB_PASSWORD", ""),
            )
        }
    )
