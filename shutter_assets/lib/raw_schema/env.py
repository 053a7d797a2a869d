"""Alembic environment of the ``raw`` schema: runs on the connection ``ensure_raw_schema`` gives.

Online only (no ``--sql`` mode): the caller has opened the transaction and taken the lock.
"""

from alembic import context

from shutter_assets.lib.raw_schema import VERSION_SCHEMA, VERSION_TABLE

connection = context.config.attributes["connection"]
# The version table lives in the schema it versions, which must exist before Alembic creates it.
connection.exec_driver_sql(f"create schema if not exists {VERSION_SCHEMA}")
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    version_table_schema=VERSION_SCHEMA,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
