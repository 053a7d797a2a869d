"""The read-only roles on the ``marts`` schema: USAGE and SELECT there, nothing else.

Two roles use it: the BI tools' (``BI_READONLY_ROLE``, asset ``bi/readonly_role``) and the REST
API's (``API_DB_USER``, asset ``api/readonly_role``).

Idempotent: run it after every dbt build (the Dagster asset ``bi/readonly_role`` does). dbt
re-creates mart tables on each build; ``ALTER DEFAULT PRIVILEGES`` makes the tables that the
connecting (dbt) user creates later readable too, and re-granting on all existing tables covers
the ones created before the role existed. Roles are server-wide: the name comes from the
environment (``BI_READONLY_ROLE``), the password too (``BI_READONLY_PASSWORD``, optional: without
it the role can still log in where pg_hba trusts it, and an existing password is left as is).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from shutter_assets.lib.warehouse_roles import ensure_login_role

MARTS_SCHEMA = "marts"
BI_ROLE_ATTRIBUTES = "nosuperuser nocreatedb nocreaterole noinherit"


def ensure_readonly_role(
    conn: psycopg.Connection,
    role: str,
    password: str | None = None,
    schema: str = MARTS_SCHEMA,
    setting: str = "BI_READONLY_ROLE",
) -> bool:
    """Create ``role`` if missing and grant it read access to ``schema`` only; True if created.

    The caller's connection must own the schema's tables, and be allowed to create roles
    (CREATEROLE) when the role is missing or a password is given: the stack's pipeline role has
    no CREATEROLE, so ``warehouse-init`` creates the role as the superuser and the asset only
    re-grants. Tables the caller creates later are readable too (default privileges).
    """
    created = ensure_login_role(conn, role, password, BI_ROLE_ATTRIBUTES, setting)
    ident = sql.Identifier(role)
    schema_ident = sql.Identifier(schema)
    with conn.transaction():
        conn.execute(sql.SQL("create schema if not exists {}").format(schema_ident))
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(schema_ident, ident))
        conn.execute(
            sql.SQL("grant select on all tables in schema {} to {}").format(schema_ident, ident)
        )
        conn.execute(
            sql.SQL("alter default privileges in schema {} grant select on tables to {}").format(
                schema_ident, ident
            )
        )
    return created


def drop_readonly_role(conn: psycopg.Connection, role: str) -> None:
    """Remove the role and its grants in this database (tests; decommissioning a BI tool)."""
    ident = sql.Identifier(role)
    with conn.transaction():
        if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
            conn.execute(sql.SQL("drop owned by {}").format(ident))
            conn.execute(sql.SQL("drop role {}").format(ident))
