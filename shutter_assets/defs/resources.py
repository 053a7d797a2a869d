"""Resources shared by every feature (warehouse, legacy orders, log drop, plant) and the one way
any resource is made from a settings object.

Settings live in Dagster-free dataclasses (``lib/connections.py``, ``lib/drop``, ``lib/plant.py``,
``lib/log_settings.py``...), each default written once and read from the environment by
``lib.settings.from_env`` when the definitions load (never at import; a run or a sensor tick
loads them in the code server's environment, DESIGN.md section 3). ``as_resources`` turns
settings objects into the resources the assets ask for, under their keys: the definitions and
the tests build resources the same way. The resources are plain Python objects, declared in
signatures with ``dg.ResourceParam`` (the ``*Resource`` aliases); they carry no Dagster config,
so no secret is ever shown in the UI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
import psycopg
import pymysql

from shutter_assets.lib.connections import MySQLSettings, PostgresSettings
from shutter_assets.lib.drop import DropSettings, LogDrop, open_drop
from shutter_assets.lib.log_settings import MachineLogsSettings
from shutter_assets.lib.mysql_sync import SyncOptions
from shutter_assets.lib.plant import PlantSettings
from shutter_assets.lib.retention import RetentionSettings
from shutter_assets.lib.warehouse_roles import ApiAccessSettings, BIAccessSettings


@dataclass(frozen=True)
class Warehouse:
    """The PostgreSQL warehouse (raw, raw_commandes, staging, intermediate, marts)."""

    settings: PostgresSettings

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        return self.settings.connect(autocommit=autocommit)


@dataclass(frozen=True)
class LegacyOrders:
    """The legacy MySQL ``db_commandes`` database; the platform only ever reads it."""

    settings: MySQLSettings

    def connect(self, **kwargs) -> pymysql.connections.Connection:
        return self.settings.connect(**kwargs)


@dataclass(frozen=True)
class LogDropSource:
    """Where the machines upload their log files: ftp, ftps, sftp or a local directory."""

    settings: DropSettings

    @contextmanager
    def open(self) -> Iterator[LogDrop]:
        with open_drop(self.settings) as drop:
            yield drop


WarehouseResource = dg.ResourceParam[Warehouse]
LegacyOrdersResource = dg.ResourceParam[LegacyOrders]
LogDropResource = dg.ResourceParam[LogDropSource]
PlantResource = dg.ResourceParam[PlantSettings]

# Settings class -> the resource keys it provides and how each is made from the settings.
_RESOURCES: dict[type, list[tuple[str, Callable[[Any], Any]]]] = {
    PostgresSettings: [("warehouse", Warehouse)],
    MySQLSettings: [("legacy_orders", LegacyOrders)],
    DropSettings: [("log_drop", LogDropSource)],
    PlantSettings: [("plant", lambda s: s)],
    MachineLogsSettings: [("machine_logs", lambda s: s)],
    SyncOptions: [("legacy_orders_sync", lambda s: s)],
    BIAccessSettings: [("bi_access", lambda s: s)],
    ApiAccessSettings: [("api_access", lambda s: s)],
    RetentionSettings: [("retention", lambda s: s), ("dbt_targets", lambda s: s)],
}


def as_resources(*settings: object) -> dict[str, Any]:
    """The resources of these settings objects, keyed as the assets ask for them.

    Raises ``TypeError`` for an object that is no settings class of a resource.
    """
    resources: dict[str, Any] = {}
    for item in settings:
        makers = _RESOURCES.get(type(item))
        if makers is None:
            raise TypeError(f"{type(item).__name__} is not the settings of a resource")
        for key, make in makers:
            resources[key] = make(item)
    return resources


def build_resources(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The shared resources from ``environ`` (default ``os.environ``)."""
    return as_resources(
        PostgresSettings.from_env(environ),
        MySQLSettings.from_env(environ),
        DropSettings.from_env(environ),
        PlantSettings.from_env(environ),
    )


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
