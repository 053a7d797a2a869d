"""Shared fixtures live in tests/fixtures/, one module per kind of real server.

Every test that uses one of those servers is marked ``integration`` here, from the fixtures it
requests, so ``pytest -m "not integration"`` stays a fast lane without relying on each module to
remember its marker. Tests that start a server of their own (caddy, ``dagster dev``) carry the
marker themselves.
"""

import pytest

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.servers",
    "tests.fixtures.receivers",
    "tests.fixtures.monitoring",
    "tests.fixtures.legacy_orders",
]

SERVER_FIXTURES = frozenset(
    {
        "pg_settings",
        "pg_conn",
        "mysql_settings",
        "drop_user",
        "drop_home_area",
        "vsftpd_server",
        "sshd_server",
        "make_drop",
        "drop_server",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
