"""Resources shared by every feature: the warehouse, the legacy orders database, the log drop.

All settings come from the environment through ``dg.EnvVar`` (DESIGN.md section 3), resolved when
a run or a sensor tick starts, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg
import pymysql

from shutter_assets.lib.connections import MySQLSettings, PostgresSettings
from shutter_assets.lib.drop import DropSettings, LogDrop, open_drop


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse (raw, raw_commandes, staging, intermediate, marts)."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    database: str = "shutter_dw"

    @property
    def settings(self) -> PostgresSettings:
        return PostgresSettings(self.host, self.port, self.user, self.password, self.database)

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        return self.settings.connect(autocommit=autocommit)


class LegacyOrdersResource(dg.ConfigurableResource):
    """The legacy MySQL ``db_commandes`` database; the platform only ever reads it."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    database: str = "db_commandes"

    @property
    def settings(self) -> MySQLSettings:
        return MySQLSettings(self.host, self.port, self.user, self.password, self.database)

    def connect(self, **kwargs) -> pymysql.connections.Connection:
        return self.settings.connect(**kwargs)


class LogDropResource(dg.ConfigurableResource):
    """Where the machines upload their log files: ftp, ftps, sftp or a local directory."""

    protocol: str = "local"
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = ""
    remote_dir: str = "var/drop"
    known_hosts: str = ""
    insecure_accept_any_host_key: str = "0"
    tls_ca_file: str = ""
    timeout_s: float = 30.0

    @property
    def settings(self) -> DropSettings:
        return DropSettings(
            protocol=self.protocol,
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            remote_dir=self.remote_dir,
            known_hosts=self.known_hosts,
            insecure_accept_any_host_key=self.insecure_accept_any_host_key.strip().lower()
            in ("1", "true", "yes"),
            timeout_s=self.timeout_s,
            tls_ca_file=self.tls_ca_file,
        )

    @contextmanager
    def open(self) -> Iterator[LogDrop]:
        with open_drop(self.settings) as drop:
            yield drop


class PlantResource(dg.ConfigurableResource):
    """Facts about the plant itself that the data needs: the machines' wall-clock time zone."""

    timezone: str = "Europe/Paris"


def _env(name: str, default: str) -> str | dg.EnvVar:
    """EnvVar when the variable is set, the documented local default otherwise.

    Dagster refuses an unset EnvVar; the local defaults of DESIGN.md section 3 keep a bare checkout
    working while production takes every value from the environment.
    """
    return dg.EnvVar(name) if os.environ.get(name) else default


def _env_int(name: str, default: int) -> int | dg.EnvVar:
    return dg.EnvVar.int(name) if os.environ.get(name) else default


def build_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(
            host=_env("POSTGRES_HOST", "127.0.0.1"),
            port=_env_int("POSTGRES_PORT", 5432),
            user=_env("POSTGRES_USER", "postgres"),
            password=_env("POSTGRES_PASSWORD", ""),
            database=_env("POSTGRES_DB", "shutter_dw"),
        ),
        "legacy_orders": LegacyOrdersResource(
            host=_env("MYSQL_HOST", "127.0.0.1"),
            port=_env_int("MYSQL_PORT", 3306),
            user=_env("MYSQL_USER", "root"),
            password=_env("MYSQL_PASSWORD", ""),
            database=_env("MYSQL_DATABASE", "db_commandes"),
        ),
        "plant": PlantResource(timezone=_env("PLANT_TIMEZONE", "Europe/Paris")),
        "log_drop": LogDropResource(
            protocol=_env("FTP_PROTOCOL", "local"),
            host=_env("FTP_HOST", ""),
            port=_env_int("FTP_PORT", 0),
            user=_env("FTP_USER", ""),
            password=_env("FTP_PASSWORD", ""),
            remote_dir=_env("FTP_REMOTE_DIR", "var/drop"),
            known_hosts=_env("SFTP_KNOWN_HOSTS", ""),
            insecure_accept_any_host_key=_env("SFTP_INSECURE_ACCEPT_ANY_HOST_KEY", "0"),
            tls_ca_file=_env("FTP_TLS_CA_FILE", ""),
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
