"""Connection settings for the warehouse and the legacy database, kept free of Dagster.

Both the Dagster resources and the command-line tools (simulator, demo, benchmarks) build their
connections here, so there is one place that knows how to reach each server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg
import pymysql


@dataclass(frozen=True)
class PostgresSettings:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    dbname: str = "shutter_dw"

    @classmethod
    def from_env(cls, db_var: str = "POSTGRES_DB") -> PostgresSettings:
        return cls(
            host=os.environ.get("POSTGRES_HOST", cls.host),
            port=int(os.environ.get("POSTGRES_PORT", cls.port)),
            user=os.environ.get("POSTGRES_USER", cls.user),
            password=os.environ.get("POSTGRES_PASSWORD", cls.password),
            dbname=os.environ.get(db_var, cls.dbname),
        )

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
class MySQLSettings:
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    database: str = "db_commandes"

    @classmethod
    def from_env(cls) -> MySQLSettings:
        return cls(
            host=os.environ.get("MYSQL_HOST", cls.host),
            port=int(os.environ.get("MYSQL_PORT", cls.port)),
            user=os.environ.get("MYSQL_USER", cls.user),
            password=os.environ.get("MYSQL_PASSWORD", cls.password),
            database=os.environ.get("MYSQL_DATABASE", cls.database),
        )

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
