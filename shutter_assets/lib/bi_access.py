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

MARTS_SCHEMA = "marts"


def ensure_readonly_role(
    conn: psycopg.Connection,
    role: str,
    password: str | None = None,
    schema: str = MARTS_SCHEMA,
    setting: str = "BI_READONLY_ROLE",
) -> bool:
    """Create ``role`` if missing and grant it read access to ``schema`` only; True if created.

    The caller's connection must be allowed to create roles (CREATEROLE) and own the schema's
    tables. Runs in one transaction on ``conn``. ``setting`` names the variable the role comes
    from, for the error message.
    """
    if not role or len(role) > 63:
        raise ValueError(
            f"{setting}={role!r} is not a usable PostgreSQL role name: set 1 to 63 characters"
        )
    ident = sql.Identifier(role)
    schema_ident = sql.Identifier(schema)
    created = False
    with conn.transaction():
        # one builder at a time: two concurrent runs would both see the role missing
        conn.execute("select pg_advisory_xact_lock(hashtext('shutter_bi_readonly_role'))")
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
        if not exists:
            conn.execute(
                sql.SQL(
                    "create role {} login nosuperuser nocreatedb nocreaterole noinherit"
                ).format(ident)
            )
            created = True
        if password:
            conn.execute(
                sql.SQL("alter role {} with login password {}").format(ident, sql.Literal(password))
            )
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
