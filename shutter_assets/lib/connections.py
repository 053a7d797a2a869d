"""Connection settings for the warehouse and the legacy database, kept free of Dagster.

Both the Dagster resources and the command-line tools (simulator, demo, benchmarks) build their
connections here, so there is one place that knows how to reach each server. The variables
(DESIGN.md section 3) and their local defaults are declared on the fields, read by
``lib.settings.from_env``; passwords may also come from ``<VAR>_FILE``.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import pymysql

from shutter_assets.lib.settings import FromEnv, setting


@dataclass(frozen=True)
class PostgresSettings(FromEnv):
    """The warehouse: ``POSTGRES_*``."""

    host: str = setting("POSTGRES_HOST", "127.0.0.1")
    port: int = setting("POSTGRES_PORT", 5432)
    user: str = setting("POSTGRES_USER", "postgres")
    password: str = setting("POSTGRES_PASSWORD", "", secret=True)
    dbname: str = setting("POSTGRES_DB", "shutter_dw")

    def with_db(self, dbname: str) -> PostgresSettings:
        return PostgresSettings(self.host, self.port, self.user, self.password, dbname)

    def conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=self.dbname,
            application_name="shutter_assets",
        )

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(), autocommit=autocommit)


@dataclass(frozen=True)
class MySQLSettings(FromEnv):
    """The legacy orders database: ``MYSQL_*``."""

    host: str = setting("MYSQL_HOST", "127.0.0.1")
    port: int = setting("MYSQL_PORT", 3306)
    user: str = setting("MYSQL_USER", "root")
    password: str = setting("MYSQL_PASSWORD", "", secret=True)
    database: str = setting("MYSQL_DATABASE", "db_commandes")

    def connect(self, database: str | None = "", **kwargs) -> pymysql.connections.Connection:
        """Open a connection with UTC session time so TIMESTAMP columns are never shifted.

        ``database=""`` means the configured database; ``None`` connects without one (to create it).
        """
        db = self.database if database == "" else database
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=db,
            charset="utf8mb4",
            init_command="SET time_zone = '+00:00'",
            **kwargs,
        )


def ensure_postgres_database(settings: PostgresSettings) -> bool:
    """Create the settings' database if missing (connecting to ``postgres``); True if created."""
    admin = settings.with_db("postgres")
    with admin.connect(autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (settings.dbname,)
        ).fetchone()
        if exists:
            return False
        conn.execute(
            psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(settings.dbname))
        )
        return True
