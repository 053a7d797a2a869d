"""Shared fixtures live in tests/fixtures/, one module per kind of real server."""

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.servers",
    "tests.fixtures.legacy_orders",
]
