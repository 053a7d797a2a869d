"""Every setting of the API, read from the environment once, into one immutable object.

Names follow DESIGN.md section 3: the warehouse's ``POSTGRES_*`` (host, port, database), the
API's own ``API_*`` and ``REDIS_URL``. Defaults are the local ones of ``.env.example``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from shutter_api.keys import ApiKeys


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


@dataclass(frozen=True)
class ApiSettings:
    """Connection, cache, credential and limit settings (units in the names: _s, _ms, _bytes)."""

    db_host: str = "127.0.0.1"
    db_port: int = 5432
    db_name: str = "shutter_dw"
    db_user: str = "api_reader"
    db_password: str = ""
    db_pool_min: int = 1
    db_pool_max: int = 10
    statement_timeout_ms: int = 10_000
    redis_url: str = "redis://127.0.0.1:6379/0"
    cache_prefix: str = "shutter_api"
    cache_ttl_s: int = 86_400
    cache_lock_timeout_s: float = 10.0
    cache_retry_after_s: float = 2.0
    keys: ApiKeys = field(default_factory=ApiKeys)
    max_query_bytes: int = 2048
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    root_path: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ApiSettings:
        """Build from ``environ`` (default ``os.environ``); ValueError names a bad variable."""
        env = dict(os.environ if environ is None else environ)
        return cls(
            db_host=env.get("POSTGRES_HOST") or cls.db_host,
            db_port=_int(env, "POSTGRES_PORT", cls.db_port),
            db_name=env.get("POSTGRES_DB") or cls.db_name,
            db_user=env.get("API_DB_USER") or cls.db_user,
            db_password=env.get("API_DB_PASSWORD", ""),
            db_pool_min=_int(env, "API_DB_POOL_MIN", cls.db_pool_min),
            db_pool_max=_int(env, "API_DB_POOL_MAX", cls.db_pool_max),
            statement_timeout_ms=_int(env, "API_STATEMENT_TIMEOUT_MS", cls.statement_timeout_ms),
            # set but empty: no cache at all (every response from PostgreSQL)
            redis_url=env.get("REDIS_URL", cls.redis_url),
            cache_prefix=env.get("API_CACHE_PREFIX") or cls.cache_prefix,
            cache_ttl_s=_int(env, "API_CACHE_TTL_S", cls.cache_ttl_s),
            keys=ApiKeys.parse(env.get("API_KEYS", ""), env.get("API_REVOKED_KEYS", "")),
            max_query_bytes=_int(env, "API_MAX_QUERY_BYTES", cls.max_query_bytes),
            host=env.get("API_HOST") or cls.host,
            port=_int(env, "API_PORT", cls.port),
            workers=_int(env, "API_WORKERS", cls.workers),
            root_path=env.get("API_ROOT_PATH", "").rstrip("/"),
        )

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
