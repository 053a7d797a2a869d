"""Response cache in Redis, keyed by the marts' data version, with single-flight and degraded mode.

Why keyed by version and not by TTL: the marts change only when a dbt build materializes them,
and the Dagster asset ``api/marts_data_version`` then records a new version. Every key embeds the
version, so the first request after a rebuild misses and recomputes; old keys are never read
again and expire after ``API_CACHE_TTL_S`` only to give the memory back.

Two tiers: each process keeps the most recently used responses in memory (bounded in bytes) in
front of Redis. Keys embed the version, so neither tier can serve a stale answer; the memory tier
is dropped as soon as a key of another version shows up.

Stampede: concurrent misses for one key compute once. Inside a process the first caller's
computation is shared (an asyncio future); across processes (uvicorn workers, replicas) the first
caller takes a Redis lock (``SET NX PX``) and the others poll for the value until it appears or
the lock disappears.

Redis down: every call computes from PostgreSQL (``CacheStatus.BYPASS``) and Redis is left alone
for ``API_CACHE_RETRY_AFTER_S`` so requests do not each pay a connection attempt.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from enum import StrEnum

import redis.asyncio as aioredis
from redis.exceptions import RedisError

_POLL_S = 0.01
_MAX_ROUTES = 10_000
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class CacheStatus(StrEnum):
    """What served a response (``X-Cache`` header)."""

    HIT = "HIT"  # read from this process's memory or from Redis
    MISS = "MISS"  # computed by this request and stored
    COALESCED = "COALESCED"  # computed once by a concurrent request for the same key
    BYPASS = "BYPASS"  # computed without Redis (disabled or unreachable)


class ResponseCache:
    """``get_or_compute(key, compute)`` over Redis; works (uncached) when Redis is absent."""

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        ttl_s: int = 86_400,
        lock_timeout_s: float = 10.0,
        retry_after_s: float = 2.0,
        local_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.lock_timeout_s = lock_timeout_s
        self.retry_after_s = retry_after_s
        self._redis = (
            aioredis.from_url(
                redis_url, socket_timeout=0.5, socket_connect_timeout=0.5, max_connections=64
            )
            if redis_url
            else None
        )
        self._down_until = 0.0
        self._inflight: dict[str, asyncio.Future[bytes]] = {}
        self._local: OrderedDict[str, bytes] = OrderedDict()
        self._local_size = 0
        self._local_max = local_bytes
        self._local_version = ""
        self._routes: OrderedDict[tuple, str] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._redis is not None

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def ping(self) -> bool:
        """True when Redis answers now (``/ready``); also ends a back-off early."""
        if self._redis is None:
            return False
        try:
            await self._redis.ping()
        except (RedisError, OSError):
            self._mark_down()
            return False
        self._down_until = 0.0
        return True

    async def get_or_compute(
        self, key: str, compute: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, CacheStatus]:
        """The cached bytes of ``key``, else ``compute()``'s, computed once however many wait.

        ``key`` starts with the data version and a colon.
        """
        local = self._local.get(key)
        if local is not None:
            self._local.move_to_end(key)
            return local, CacheStatus.HIT
        shared = self._inflight.get(key)
        if shared is not None:
            return await asyncio.shield(shared), CacheStatus.COALESCED
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value, status = await self._lookup_or_compute(self.prefix + ":" + key, compute)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(value)
        self._remember(key, value)
        return value, status

    def local(self, key: str) -> bytes | None:
        """The memory tier only: the bytes of ``key`` if this process holds them."""
        value = self._local.get(key)
        if value is not None:
            self._local.move_to_end(key)
        return value

    def learn_route(self, request_id: tuple, key_tail: str) -> None:
        """Remember which key (without its version) a raw request maps to (``fastpath``)."""
        self._routes[request_id] = key_tail
        self._routes.move_to_end(request_id)
        if len(self._routes) > _MAX_ROUTES:
            self._routes.popitem(last=False)

    def route(self, request_id: tuple) -> str | None:
        return self._routes.get(request_id)

    def _remember(self, key: str, value: bytes) -> None:
        version = key.split(":", 1)[0]
        if version != self._local_version:  # a rebuild: every older entry is dead
            self._local.clear()
            self._local_size, self._local_version = 0, version
        if len(value) > self._local_max // 8:
            return
        self._local[key] = value
        self._local_size += len(value)
        while self._local_size > self._local_max:
            _, dropped = self._local.popitem(last=False)
            self._local_size -= len(dropped)

    async def _lookup_or_compute(
        self, full_key: str, compute: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, CacheStatus]:
        if not self._usable():
            return await compute(), CacheStatus.BYPASS
        try:
            cached = await self._redis.get(full_key)
            if cached is not None:
                return cached, CacheStatus.HIT
            lock_key, token = full_key + ":lock", secrets.token_hex(8)
            lock_ms = int(self.lock_timeout_s * 1000)
            deadline = time.monotonic() + self.lock_timeout_s
            while not await self._redis.set(lock_key, token, nx=True, px=lock_ms):
                # another process computes it: wait for its value, or for its lock to go away
                await asyncio.sleep(_POLL_S)
                cached = await self._redis.get(full_key)
                if cached is not None:
                    return cached, CacheStatus.COALESCED
                if time.monotonic() > deadline:
                    return await compute(), CacheStatus.MISS
        except (RedisError, OSError):
            self._mark_down()
            return await compute(), CacheStatus.BYPASS
        try:
            value = await compute()
        except BaseException:
            await self._quietly(self._redis.eval(_RELEASE, 1, lock_key, token))
            raise
        stored = await self._quietly(self._redis.set(full_key, value, ex=self.ttl_s))
        await self._quietly(self._redis.eval(_RELEASE, 1, lock_key, token))
        return value, (CacheStatus.MISS if stored else CacheStatus.BYPASS)

    def _usable(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._down_until

    def _mark_down(self) -> None:
        self._down_until = time.monotonic() + self.retry_after_s

    async def _quietly(self, awaitable: Awaitable) -> bool:
        try:
            await awaitable
        except (RedisError, OSError):
            self._mark_down()
            return False
        return True
