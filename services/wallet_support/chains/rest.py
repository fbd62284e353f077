"""HTTP APIs of the non-EVM families (Esplora, Solana JSON-RPC, Aptos REST, Subscan, Antelope/Hyperion):
retries with backoff, failover across RPC_URLS_<CHAIN> in order, a cool-down for an endpoint that failed, a
Retry-After carried to the caller, and each endpoint's network checked once before it is trusted (an
endpoint of another network is refused for good)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from services.common.observability import redact
from services.wallet_support.chains.base import ChainUnavailable, RateLimited, WrongChainEndpoint

log = logging.getLogger("order_support.wallet.rest")
Check = Callable[[Any], str | None]  # a body → why it shows another network (None: fine)


class Technical(Exception):
    """This endpoint could not answer now: try the next one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Identity:
    """How to ask an endpoint which network it serves, and what the answer must be."""

    method: str
    path: str
    expected: str
    extract: Callable[[Any], str]
    body: Any = None
    text: bool = False


@dataclass
class RestEndpoint:
    url: str
    verified: bool = False
    refused: str | None = None
    cooldown_until: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __repr__(self) -> str:
        return f"Endpoint({redact(self.url, 24)})"


@dataclass
class Answer:
    status: int
    body: Any
    endpoint: int  # index of the endpoint that answered (0 = first)


class RestEndpoints:
    def __init__(self, *, chain_key: str, urls: Sequence[str], http: httpx.AsyncClient,
                 headers: dict[str, str] | None = None, identity: Identity | None = None, attempts: int = 2,
                 backoff: float = 0.1, cooldown: float = 15.0) -> None:
        if not urls:
            raise ValueError(f"no endpoints configured for {chain_key}")
        self.chain_key = chain_key
        self.endpoints = [RestEndpoint(u.rstrip("/")) for u in urls]
        self.http = http
        self.headers = headers or {}
        self.identity = identity
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.cooldown = cooldown
        self.calls_sent = 0

    async def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                      data_statuses: Sequence[int] = (), text: bool = False, check: Check | None = None) -> Answer:
        """The first good answer in endpoint order. `data_statuses` are 4xx/5xx codes that are an answer (e.g.
        404 'no such transaction'), not a failure. Raises ChainUnavailable (or RateLimited / WrongChainEndpoint
        when that is all there was)."""
        now = time.monotonic()
        order = sorted(range(len(self.endpoints)), key=lambda i: self.endpoints[i].cooldown_until > now)
        last = "no endpoint tried"
        retry_after = 30.0
        refused_only = True
        for index in order:
            endpoint = self.endpoints[index]
            if endpoint.refused:
                last = endpoint.refused
                continue
            for attempt in range(self.attempts):
                try:
                    await self._verify(endpoint)
                    status, body = await self._send(endpoint, method, path, json, params, data_statuses, text)
                    if check is not None and (why := check(body)) is not None:
                        self._refuse(endpoint, why)
                        raise WrongChainEndpoint(endpoint.refused or why)
                    endpoint.cooldown_until = 0.0
                    return Answer(status, body, index)
                except WrongChainEndpoint as exc:
                    last = str(exc)
                    break
                except Technical as exc:
                    refused_only = False
                    last = f"{endpoint!r}: {exc}"
                    if exc.retry_after is not None:
                        retry_after = max(retry_after, exc.retry_after)
                    log.warning("endpoint failed", extra={"chain": self.chain_key, "error": str(exc),
                                                          "attempt": attempt + 1})
                    if attempt + 1 < self.attempts:
                        await asyncio.sleep(min(self.backoff * (2 ** attempt), 2.0))
            else:
                endpoint.cooldown_until = time.monotonic() + self.cooldown
        if refused_only and any(e.refused for e in self.endpoints):
            raise WrongChainEndpoint(f"no {self.chain_key} endpoint serves the right network ({last})")
        error = RateLimited if "429" in last else ChainUnavailable
        raise error(f"no {self.chain_key} endpoint answered ({last})", retry_after=int(retry_after))

    async def probe(self) -> bool:
        for endpoint in self.endpoints:
            if endpoint.refused:
                continue
            try:
                await self._verify(endpoint, force=self.identity is not None)
                if self.identity is None:
                    await self._send(endpoint, "GET", "", None, None, (), True)
                return True
            except (Technical, WrongChainEndpoint):
                continue
        return False

    def refused(self) -> list[str]:
        return [e.refused for e in self.endpoints if e.refused]

    def _refuse(self, endpoint: RestEndpoint, why: str) -> None:
        endpoint.refused = f"{endpoint!r} {why}; it is not used for {self.chain_key}"
        log.error("endpoint on the wrong network", extra={"chain": self.chain_key, "why": why})

    async def _verify(self, endpoint: RestEndpoint, force: bool = False) -> None:
        identity = self.identity
        if identity is None or (endpoint.verified and not force):
            return
        async with endpoint.lock:
            if endpoint.verified and not force:
                return
            _, body = await self._send(endpoint, identity.method, identity.path, identity.body, None, (),
                                       identity.text)
            try:
                got = identity.extract(body)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise Technical(f"identity answer unreadable ({type(exc).__name__})") from exc
            if str(got).strip().lower() != identity.expected.lower():
                self._refuse(endpoint, f"serves network {str(got)[:80]!r}, not {identity.expected[:80]!r}")
                raise WrongChainEndpoint(endpoint.refused or "wrong network")
            endpoint.verified = True

    async def _send(self, endpoint: RestEndpoint, method: str, path: str, json: Any, params: dict[str, Any] | None,
                    data_statuses: Sequence[int], text: bool) -> tuple[int, Any]:
        self.calls_sent += 1
        headers = dict(self.headers)
        content = None
        if json is not None:
            content = orjson.dumps(json)
            headers["content-type"] = "application/json"
        try:
            resp = await self.http.request(method, endpoint.url + path, content=content, params=params,
                                           headers=headers)
        except httpx.TimeoutException as exc:
            raise Technical("timeout") from exc
        except httpx.HTTPError as exc:
            raise Technical(f"connection failed: {type(exc).__name__}") from exc
        except Exception as exc:  # whatever else the transport raises is "ask elsewhere or later", never a 500
            raise Technical(f"transport failed: {type(exc).__name__}") from exc
        status = resp.status_code
        if status >= 400 and status not in data_statuses:
            if status == 429 or status >= 500:
                raise Technical(f"HTTP {status}", retry_after=_retry_after(resp))
            raise Technical(f"HTTP {status}")
        if text:
            return status, resp.text
        try:
            return status, orjson.loads(resp.content) if resp.content else None
        except orjson.JSONDecodeError as exc:
            if status in data_statuses:
                return status, resp.text
            raise Technical("answer is not JSON") from exc


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def status_body(chain_key: str, tx_hash: str, required: int, checked_at: Any) -> dict[str, Any]:
    """The contract's tx status skeleton every family fills in."""
    return {"chain": chain_key, "tx_hash": tx_hash, "status": "not_found", "confirmations": 0,
            "required_confirmations": required, "block_number": None, "block_time": None, "from": None,
            "to": None, "native_value": None, "fee": None, "transfers": [], "failure": None, "replaced_by": None,
            "pending_reason": None, "checked_at": checked_at}
