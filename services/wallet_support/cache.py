"""Results that cannot change are kept: a finalized or failed tx status is immutable and never fetched again.
Pending and not-found answers are never cached. Sightings (who sent a pending tx, with which nonce) are
kept for a week so that a later 'gone from the mempool' can be told apart as dropped or replaced.
In process by default (LRU); shared through Redis when REDIS_URL is set."""

from __future__ import annotations

import logging
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
        key = f"{chain}:{tx_hash}"
        if key in self.sightings:
            return self.sightings[key]
        if self.redis is not None:
            try:
                raw = await self.redis.get(f"os:seen:{key}")
            except Exception as exc:
                log.warning("redis unavailable", extra={"error": type(exc).__name__})
                return None
            if raw:
                value: dict[str, Any] = orjson.loads(raw)
                self.sightings[key] = value
                return value
        return None

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
