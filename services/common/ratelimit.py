"""Rate limits per API key: GCRA (a token bucket kept as one timestamp per key), shared through Redis when
REDIS_URL is set so that every replica counts against the same budget, in process otherwise (and while Redis
is down: a limit is a guard, not a reason to refuse service).

A limit is "N/period" (`1200/minute`); a request costs what it asks for (a batch of 1,000 tx hashes costs
1,000). Over the limit: 429 problem+json with `Retry-After` (and nothing done).
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from services.common.auth import Principal
from services.common.errors import ProblemError

log = logging.getLogger("order_support.ratelimit")
PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
# Keys of the service role are our own orders service and worker: bounded by the job queue, not by a person.
ROLE_FACTOR = {"customer": 1, "agent": 1, "service": 10}

# GCRA in one atomic step: KEYS[1] the key's theoretical arrival time (ms); ARGV interval ms, burst ms, cost.
# Returns 0 when allowed, else the milliseconds to wait.
_GCRA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new = tat + cost * interval
if new - now > burst then return math.ceil(new - now - burst) end
redis.call('SET', KEYS[1], string.format('%d', math.floor(new)), 'PX', math.ceil(new - now) + 1000)
return 0
"""


@dataclass(frozen=True)
class Rate:
    count: int
    period: float  # seconds

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*", text.lower())
        if not match or int(match.group(1)) <= 0:
            raise ValueError(f"a rate limit looks like 600/minute (per second, minute, hour or day), not {text!r}")
        multiple = int(match.group(2) or 1)
        return cls(count=int(match.group(1)), period=PERIODS[match.group(3)] * multiple)

    def scaled(self, factor: int) -> Rate:
        return Rate(count=self.count * factor, period=self.period)

    def describe(self) -> str:
        unit = next((name for name, seconds in PERIODS.items() if seconds == self.period), None)
        return f"{self.count} per {unit}" if unit else f"{self.count} per {self.period:g} s"


class RateLimited(ProblemError):
    status, title, type_slug = 429, "Too many requests", "rate-limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, extra={"retry_after": retry_after})


class RateLimiter:
    def __init__(self, limits: dict[str, Rate], *, redis_url: str | None = None, prefix: str = "os:rl:") -> None:
        self.limits = limits
        self.prefix = prefix
        self._local: dict[str, float] = {}  # key → theoretical arrival time (time.time() seconds)
        self.redis: Any = None
        if redis_url:
            import redis.asyncio as redis_asyncio

            self.redis = redis_asyncio.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)

    async def wait_needed(self, bucket: str, key_id: str, rate: Rate, cost: int) -> float:
        """0 when this request fits the key's budget now (and it is spent), else the seconds to wait."""
        interval = rate.period / rate.count
        key = f"{self.prefix}{bucket}:{key_id}"
        if self.redis is not None:
            try:
                waited = await self.redis.eval(_GCRA, 1, key, str(interval * 1000), str(rate.period * 1000),
                                               str(cost))
                return float(waited) / 1000
            except Exception as exc:  # Redis down: fall back to this process's own count
                log.warning("redis unavailable for rate limits", extra={"error": type(exc).__name__})
        now = time.time()
        tat = max(self._local.get(key, now), now)
        new = tat + cost * interval
        if new - now > rate.period:
            return new - now - rate.period
        self._local[key] = new
        if len(self._local) > 100_000:  # forget keys whose budget is whole again
            self._local = {k: v for k, v in self._local.items() if v > now}
        return 0.0

    async def charge(self, bucket: str, principal: Principal, cost: int = 1) -> None:
        """Spend `cost` of the key's budget for `bucket`, or raise a 429 that says when to come back."""
        base = self.limits.get(bucket)
        if base is None or cost <= 0:
            return
        rate = base.scaled(ROLE_FACTOR.get(principal.role, 1))
        if cost > rate.count:
            raise RateLimited(f"This key may make {rate.describe()} {bucket}; this request asks for {cost}. "
                              f"Send at most {rate.count} at a time.", retry_after=math.ceil(rate.period))
        wait = await self.wait_needed(bucket, principal.key_id or principal.role, rate, cost)
        if wait > 0:
            raise RateLimited(f"Too many {bucket} for this key ({rate.describe()}); try again in "
                              f"{math.ceil(wait)} s.", retry_after=max(1, math.ceil(wait)))

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


async def charge(request: Request, principal: Principal, bucket: str, cost: int = 1) -> None:
    """Charge the app's limiter (no limiter configured: nothing to do)."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        await limiter.charge(bucket, principal, cost)
