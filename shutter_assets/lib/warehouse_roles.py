"""Login roles of the warehouse server: the pipeline's owner role (and the shared role helper).

In production the platform (Dagster's storage, ingestion, dbt) connects as a dedicated owner role,
never as the superuser: it owns its two databases (the warehouse ``POSTGRES_DB`` and Dagster's
``DAGSTER_PG_DB``) and everything in them, and can do nothing else on the server (no superuser,
no CREATEDB, no CREATEROLE). The superuser sets it up once per start of the stack, idempotently
(``python -m shutter_assets.lib.warehouse_roles``, the compose service ``warehouse-init``), so a
password changed in ``.env`` reaches an existing data volume at the next ``docker compose up``.
The BI read-only role (``shutter_assets.lib.bi_access``) is created through the same helper.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import psycopg
from psycopg import sql

from shutter_assets.lib.connections import PostgresSettings
from shutter_assets.lib.settings import FromEnv, setting

# Schemas whose objects the server owns; everything else in the platform's databases is its own.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
# A schema of pg_database_owner (PostgreSQL 15's public schema) already follows the database's
# owner; one of an older cluster's template (owned by the superuser) is handed over like the rest.
DATABASE_OWNER = "pg_database_owner"


@dataclass(frozen=True)
class PipelineOwnerSettings(FromEnv):
    """The owner role the Dagster services connect as, and Dagster's own database."""

    user: str = setting("POSTGRES_PIPELINE_USER", "")
    password: str = setting("POSTGRES_PIPELINE_PASSWORD", "", secret=True)
    dagster_db: str = setting("DAGSTER_PG_DB", "dagster")


@dataclass(frozen=True)
class BIAccessSettings(FromEnv):
    """Name and (optional) password of the read-only role BI tools connect with."""

    role: str = setting("BI_READONLY_ROLE", "bi_reader")
    password: str = setting("BI_READONLY_PASSWORD", "", secret=True)


@dataclass(frozen=True)
class ApiAccessSettings(FromEnv):
    """Name and (optional) password of the read-only role the REST API connects with."""

    role: str = setting("API_DB_USER", "api_reader")
    password: str = setting("API_DB_PASSWORD", "", secret=True)


def ensure_login_role(
    conn: psycopg.Connection, role: str, password: str | None, attributes: str, setting: str
) -> bool:
    """Create login role ``role`` with ``attributes`` if missing; set ``password`` if given.

    Returns True if created. Serialized by an advisory lock (two concurrent callers would both see
    the role missing). ``setting`` names the environment variable the role comes from, for the
    error message. Raises ValueError for an unusable name. Runs in one transaction on ``conn``;
    the caller needs CREATEROLE (or superuser) to create or alter the role.
    """
    if not role or len(role) > 63:
        raise ValueError(
            f"{setting}={role!r} is not a usable PostgreSQL role name: set 1 to 63 characters"
        )
    ident = sql.Identifier(role)
    created = False
    with conn.transaction():
        conn.execute(
            "select pg_advisory_xact_lock(hashtext('shutter_login_role'), hashtext(%s))", (role,)
        )
        if not conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
            conn.execute(sql.SQL("create role {} login " + attributes).format(ident))
            created = True
        if password:
            conn.execute(
                sql.SQL("alter role {} with login password {}").format(ident, sql.Literal(password))
            )
    return created


def ensure_pipeline_owner(
    admin: PostgresSettings, role: str, password: str, databases: list[str]
) -> bool:
    """Make ``role`` the owner of ``databases`` (created if missing) and of every object in them.

    ``admin`` is a superuser on the server. Objects a former superuser-run deployment created
    (schemas, tables, views, sequences) are handed over, so an upgraded stack keeps its data.
    The role may also set ``session_replication_role`` (PostgreSQL 15's ``GRANT SET ON
    PARAMETER``), which the log loader uses to skip per-row foreign-key checks it guarantees
    itself (``shutter_assets.lib.log_ingest``). Returns True if the role was created.
    """
    if role == admin.user:
        raise ValueError(
            f"the pipeline role {role!r} is the superuser: set POSTGRES_PIPELINE_USER to a "
            "dedicated role (e.g. shutter_pipeline)"
        )
    if not password:
        raise ValueError("POSTGRES_PIPELINE_PASSWORD is empty: the pipeline role needs a password")
    ident = sql.Identifier(role)
    with admin.with_db("postgres").connect(autocommit=True) as conn:
        created = ensure_login_role(
            conn,
            role,
            password,
            "nosuperuser nocreatedb nocreaterole noreplication nobypassrls",
            "POSTGRES_PIPELINE_USER",
        )
        conn.execute(sql.SQL("grant set on parameter session_replication_role to {}").format(ident))
        for name in databases:
            db = sql.Identifier(name)
            if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("alter database {} owner to {}").format(db, ident))
            else:
                conn.execute(sql.SQL("create database {} owner {}").format(db, ident))
    for name in databases:
        with admin.with_db(name).connect(autocommit=True) as conn:
            _hand_over_objects(conn, role)
    return created


def _hand_over_objects(conn: psycopg.Connection, role: str) -> None:
    """Every schema, table, view and free-standing sequence of this database to ``role``."""
    ident = sql.Identifier(role)
    schemas = conn.execute(
        "select nspname from pg_namespace n join pg_roles r on r.oid = n.nspowner "
        "where nspname <> all(%s) and nspname not like 'pg\\_temp\\_%%' "
        "and nspname not like 'pg\\_toast\\_temp\\_%%' and r.rolname <> all(%s)",
        (list(SYSTEM_SCHEMAS), [role, DATABASE_OWNER]),
    ).fetchall()
    for (schema,) in schemas:
        conn.execute(sql.SQL("alter schema {} owner to {}").format(sql.Identifier(schema), ident))
    # Sequences owned by a column follow their table; altering them directly is an error.
    objects = conn.execute(
        """
        select n.nspname, c.relname, c.relkind
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_roles r on r.oid = c.relowner
        where c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
          and n.nspname <> all(%s) and n.nspname not like 'pg\\_%%'
          and r.rolname <> %s
          and not (c.relkind = 'S' and exists (
              select from pg_depend d
              where d.classid = 'pg_class'::regclass and d.objid = c.oid
                and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')))
        """,
        (list(SYSTEM_SCHEMAS), role),
    ).fetchall()
    kinds = {"v": "view", "m": "materialized view", "f": "foreign table", "S": "sequence"}
    for schema, name, kind in objects:
        conn.execute(
            sql.SQL("alter {} {}.{} owner to {}").format(
                sql.SQL(kinds.get(kind, "table")),
                sql.Identifier(schema),
                sql.Identifier(name),
                ident,
            )
        )


def main() -> int:
    """Set up the stack's roles from the environment (compose service ``warehouse-init``).

    POSTGRES_HOST/PORT/USER/PASSWORD: the superuser. POSTGRES_PIPELINE_USER/_PASSWORD: the owner
    role the Dagster services connect as. POSTGRES_DB, DAGSTER_PG_DB: its databases.
    BI_READONLY_ROLE/_PASSWORD, API_DB_USER/_PASSWORD: the read-only roles on ``marts`` of the BI
    tools and of the REST API (``shutter_assets.lib.bi_access``).
    """
    from shutter_assets.lib.bi_access import BI_ROLE_ATTRIBUTES, ensure_readonly_role

    try:
        admin = PostgresSettings.from_env()
        owner = PipelineOwnerSettings.from_env()
        role = owner.user
        databases = [admin.dbname, owner.dagster_db]
        created = ensure_pipeline_owner(admin, role, owner.password, databases)
        print(f"pipeline role {role} {'created' if created else 'updated'}, owns {databases}")
        # The superuser creates the read-only roles (the pipeline has no CREATEROLE): the BI
        # tools' and the REST API's; the grants and the default privileges are the pipeline's, as
        # the bi/readonly_role and api/readonly_role assets re-apply them.
        readers = [
            ("BI_READONLY_ROLE", BIAccessSettings.from_env()),
            ("API_DB_USER", ApiAccessSettings.from_env()),
        ]
        with admin.connect(autocommit=True) as conn:
            for variable, reader in readers:
                ensure_login_role(
                    conn, reader.role, reader.password or None, BI_ROLE_ATTRIBUTES, variable
                )
                conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
                ensure_readonly_role(conn, reader.role, setting=variable)
                conn.execute("reset role")
                print(f"read-only role {reader.role} ({variable}) reads {admin.dbname}.marts")
    except (ValueError, psycopg.Error) as exc:
        print(f"warehouse-init: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
