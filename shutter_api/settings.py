"""Every setting of the API, read from the environment once, into one immutable object.

Names follow DESIGN.md section 3: the warehouse's ``POSTGRES_*`` (host, port, database), the
API's own ``API_*`` and ``REDIS_URL``. Defaults are the local ones of ``.env.example``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shutter_api.keys import ApiKeys
from shutter_assets.lib.connections import PostgresSettings
from shutter_assets.lib.settings import FromEnv, setting
from shutter_assets.lib.warehouse_roles import ApiAccessSettings


@dataclass(frozen=True)
class ApiSettings(FromEnv):
    """Connection, cache, credential and limit settings (units in the names: _s, _ms, _bytes).

    Read by ``shutter_assets.lib.settings.from_env``; the warehouse's address and the API role's
    name share their defaults with ``PostgresSettings`` and ``ApiAccessSettings``.
    ``API_DB_PASSWORD`` and ``REDIS_URL`` may come from ``<VAR>_FILE``.
    """

    db_host: str = setting("POSTGRES_HOST", PostgresSettings.host)
    db_port: int = setting("POSTGRES_PORT", PostgresSettings.port)
    db_name: str = setting("POSTGRES_DB", PostgresSettings.dbname)
    db_user: str = setting("API_DB_USER", ApiAccessSettings.role)
    db_password: str = setting("API_DB_PASSWORD", "", secret=True)
    db_pool_min: int = setting("API_DB_POOL_MIN", 1)
    db_pool_max: int = setting("API_DB_POOL_MAX", 10)
    statement_timeout_ms: int = setting("API_STATEMENT_TIMEOUT_MS", 10_000)
    # set but empty: no cache at all (every response from PostgreSQL)
    redis_url: str = setting(
        "REDIS_URL", "redis://127.0.0.1:6379/0", secret=True, empty_is_value=True
    )
    cache_prefix: str = setting("API_CACHE_PREFIX", "shutter_api")
    cache_ttl_s: int = setting("API_CACHE_TTL_S", 86_400)
    cache_lock_timeout_s: float = 10.0
    cache_retry_after_s: float = 2.0
    # '<name>:<sha256 hex>' entries, comma-separated; parsed into ``keys``
    api_keys: str = setting("API_KEYS", "")
    revoked_api_keys: str = setting("API_REVOKED_KEYS", "")
    max_query_bytes: int = setting("API_MAX_QUERY_BYTES", 2048)
    host: str = setting("API_HOST", "127.0.0.1")
    port: int = setting("API_PORT", 8000)
    workers: int = setting("API_WORKERS", 1)
    root_path: str = setting("API_ROOT_PATH", "", parse=lambda raw: raw.rstrip("/"))
    keys: ApiKeys = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # ValueError naming API_KEYS or API_REVOKED_KEYS and the bad entry
        object.__setattr__(self, "keys", ApiKeys.parse(self.api_keys, self.revoked_api_keys))

    def conninfo(self) -> str:
        """libpq connection string: read-only transactions and a statement timeout, always."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.db_host,
            port=self.db_port,
            dbname=self.db_name,
            user=self.db_user,
            password=self.db_password or None,
            application_name="shutter_api",
            options=(
                "-c default_transaction_read_only=on "
                f"-c statement_timeout={int(self.statement_timeout_ms)}"
            ),
        )
