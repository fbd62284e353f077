"""Facts that cannot change are kept: a finalized or failed tx, with its block number and hash, is never fetched
again; what depends on time (its confirmations) is computed when it is read, from the chain's current head
(`with_confirmations`, the head from a `HeadMemo` kept about a block time). Pending and not-found answers are
never cached. Sightings (who sent a pending tx, with which nonce) are
kept for a week so that a later 'gone from the mempool' can be told apart as dropped or replaced.
In process by default (LRU); shared through Redis when REDIS_URL is set."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from cachetools import LRUCache, TTLCache

log = logging.getLogger("order_support.wallet.cache")
IMMUTABLE_STATUSES = ("finalized", "failed")
SIGHTING_TTL = 7 * 24 * 3600


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError


def with_confirmations(status: dict[str, Any], head: int | None) -> dict[str, Any]:
    """A cached final answer as of now: its confirmations from the current head (they never go down)."""
    answer = dict(status)
    block = status.get("block_number")
    if head is not None and block is not None:
        answer["confirmations"] = max(int(status.get("confirmations") or 0), head - int(block) + 1)
    return answer


class HeadMemo:
    """A chain's head, asked at most once per `ttl` (about a block time), concurrent askers sharing one call.
    Any answer that carries a head (a status batch) refreshes it for free. `best(max_age)` is the highest head
    seen lately: a node answering below it is behind."""

    def __init__(self, ttl: float) -> None:
        self.ttl = max(ttl, 0.5)
        self.value: int | None = None
        self.stamp = 0.0
        self.highest: tuple[int, float] | None = None
        self._pending: asyncio.Future[int] | None = None

    def note(self, head: int) -> None:
        now = time.monotonic()
        self.value, self.stamp = head, now
        if self.highest is None or head >= self.highest[0] or now - self.highest[1] > 10 * self.ttl:
            self.highest = (head, now)

    def fresh(self) -> int | None:
        return self.value if self.value is not None and time.monotonic() - self.stamp < self.ttl else None

    def best(self, max_age: float | None = None) -> int | None:
        if self.highest is None:
            return None
        age = max_age if max_age is not None else 10 * self.ttl
        return self.highest[0] if time.monotonic() - self.highest[1] <= age else None

    async def get(self, fetch: Callable[[], Awaitable[int]]) -> int:
        cached = self.fresh()
        if cached is not None:
            return cached
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(self._fetch(fetch))
        return await asyncio.shield(self._pending)

    async def _fetch(self, fetch: Callable[[], Awaitable[int]]) -> int:
        head = await fetch()
        self.note(head)
        return head


class ResultCache:
    def __init__(self, *, redis_url: str | None = None, size: int = 200_000) -> None:
        self.results: LRUCache[str, dict[str, Any]] = LRUCache(maxsize=size)
        self.sightings: TTLCache[str, dict[str, Any]] = TTLCache(maxsize=size, ttl=SIGHTING_TTL)
        self.blocks: LRUCache[tuple[str, int], tuple[str | None, int]] = LRUCache(maxsize=50_000)
        self.redis: Any = None
        if redis_url:
            import redis.asyncio as redis_asyncio

            self.redis = redis_asyncio.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)

    async def get_many(self, chain: str, tx_hashes: list[str]) -> list[dict[str, Any] | None]:
        found: list[dict[str, Any] | None] = [self.results.get(f"{chain}:{h}") for h in tx_hashes]
        missing = [i for i, v in enumerate(found) if v is None]
        if self.redis is not None and missing:
            try:
                values = await self.redis.mget([f"os:tx:{chain}:{tx_hashes[i]}" for i in missing])
            except Exception as exc:  # the cache is an optimisation: a Redis outage only costs RPC calls
                log.warning("redis unavailable", extra={"error": type(exc).__name__})
                values = [None] * len(missing)
            for i, raw in zip(missing, values, strict=True):
                if raw:
                    value = orjson.loads(raw)
                    value["checked_at"] = datetime.fromisoformat(value["checked_at"])
                    if value.get("block_time"):
                        value["block_time"] = datetime.fromisoformat(value["block_time"])
                    self.results[f"{chain}:{tx_hashes[i]}"] = value
                    found[i] = value
        return found

    async def put_many(self, chain: str, statuses: list[dict[str, Any]]) -> None:
        final = [s for s in statuses if s.get("status") in IMMUTABLE_STATUSES]
        for status in final:
            self.results[f"{chain}:{status['tx_hash']}"] = status
        if self.redis is not None and final:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for status in final:
                        pipe.set(f"os:tx:{chain}:{status['tx_hash']}", orjson.dumps(status, default=_default),
                                 ex=90 * 24 * 3600)
                    await pipe.execute()
            except Exception as exc:
                log.warning("redis unavailable", extra={"error": type(exc).__name__})

    async def remember_sighting(self, chain: str, tx_hash: str, sighting: dict[str, Any]) -> None:
        await self.remember_sightings(chain, {tx_hash: sighting})

    async def remember_sightings(self, chain: str, sightings: dict[str, dict[str, Any]]) -> None:
        new = {h: s for h, s in sightings.items() if f"{chain}:{h}" not in self.sightings}
        for tx_hash, sighting in new.items():
            self.sightings[f"{chain}:{tx_hash}"] = sighting
        if self.redis is not None and new:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for tx_hash, sighting in new.items():
                        pipe.set(f"os:seen:{chain}:{tx_hash}", orjson.dumps(sighting), ex=SIGHTING_TTL, nx=True)
                    await pipe.execute()
            except Exception as exc:
                log.warning("redis unavailable", extra={"error": type(exc).__name__})

    async def sighting(self, chain: str, tx_hash: str) -> dict[str, Any] | None:
        return (await self.sightings_of(chain, [tx_hash]))[tx_hash]

    async def sightings_of(self, chain: str, tx_hashes: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """When each tx was last seen pending (None: never): this process's memory, then one Redis MGET."""
        found: dict[str, dict[str, Any] | None] = {h: self.sightings.get(f"{chain}:{h}") for h in tx_hashes}
        missing = [h for h, v in found.items() if v is None]
        if self.redis is not None and missing:
            try:
                values = await self.redis.mget([f"os:seen:{chain}:{h}" for h in missing])
            except Exception as exc:
                log.warning("redis unavailable", extra={"error": type(exc).__name__})
                return found
            for tx_hash, raw in zip(missing, values, strict=True):
                if raw:
                    found[tx_hash] = self.sightings[f"{chain}:{tx_hash}"] = orjson.loads(raw)
        return found

    def block_time(self, chain: str, number: int, block_hash: str | None) -> int | None:
        cached = self.blocks.get((chain, number))
        if cached is None or (block_hash and cached[0] and cached[0] != block_hash):
            return None
        return cached[1]

    def remember_block_time(self, chain: str, number: int, block_hash: str | None, timestamp: int) -> None:
        self.blocks[(chain, number)] = (block_hash, timestamp)

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
