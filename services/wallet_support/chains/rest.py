"""HTTP APIs of the non-EVM families (Esplora, Solana JSON-RPC, Aptos REST, Subscan, Antelope/Hyperion):
retries with backoff, failover across RPC_URLS_<CHAIN> in order, a cool-down for an endpoint that failed, a
Retry-After carried to the caller, and each endpoint's network checked once before it is trusted (an
endpoint of another network is refused for good)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from services.wallet_support.chains.base import ChainUnavailable, RpcError, WrongChainEndpoint
from services.wallet_support.chains.transport import Endpoint, EndpointFailure, EndpointPool, retry_after_of

log = logging.getLogger("order_support.wallet.rest")
Check = Callable[[Any], str | None]  # a body → why it shows another network (None: fine)


# The failure type of every family's endpoints (one breaker, one set of rules: chains/transport.py).
Technical = EndpointFailure


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
class Answer:
    status: int
    body: Any
    endpoint: int  # index of the endpoint that answered (0 = first)


class RestEndpoints:
    """A family's HTTP API over the shared EndpointPool: a circuit breaker per endpoint (a hung or failing one is
    skipped at once for a cool-down, then probed by one request), the network identity checked once per endpoint
    by one shared request, failover on any error class, the upstream Retry-After passed on."""

    def __init__(self, *, chain_key: str, urls: Sequence[str], http: httpx.AsyncClient,
                 headers: dict[str, str] | None = None, identity: Identity | None = None, attempts: int = 2,
                 backoff: float = 0.1, cooldown: float = 15.0) -> None:
        self.chain_key = chain_key
        self.http = http
        self.headers = headers or {}
        self.identity = identity
        self.pool = EndpointPool(chain_key=chain_key, urls=[u.rstrip("/") for u in urls], attempts=attempts,
                                 backoff=backoff, cooldown=cooldown,
                                 verify=self._check_identity if identity is not None else None)
        self.endpoints = self.pool.endpoints
        self.calls_sent = 0
        self._rpc_ids = itertools.count(1)

    async def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                      data_statuses: Sequence[int] = (), text: bool = False, check: Check | None = None) -> Answer:
        """The first good answer in endpoint order. `data_statuses` are 4xx/5xx codes that are an answer (e.g.
        404 'no such transaction'), not a failure. Raises ChainUnavailable (or RateLimited / WrongChainEndpoint
        when that is all there was)."""

        async def send(endpoint: Endpoint) -> Answer:
            status, body = await self._send(endpoint, method, path, json, params, data_statuses, text)
            if check is not None and (why := check(body)) is not None:
                self._refuse(endpoint, why)
                raise WrongChainEndpoint(endpoint.refused or why)
            return Answer(status, body, self.endpoints.index(endpoint))

        try:
            return await self.pool.run(send)
        except WrongChainEndpoint:
            raise
        except ChainUnavailable as exc:
            if all(e.refused for e in self.endpoints):
                raise WrongChainEndpoint(f"no {self.chain_key} endpoint serves the right network ({exc})") from exc
            raise

    async def json_rpc(self, method: str, params: list[Any], *, version: str = "2.0",
                       data_statuses: Sequence[int] = (), check: Check | None = None,
                       answered_by: set[int] | None = None) -> Any:
        """One JSON-RPC call posted to the endpoint's root (Bitcoin Core, Solana): its `result`, or RpcError for
        the error object of a node that understood and said no. `answered_by` collects the index of the endpoint
        that answered (an error included), for a caller whose conclusion holds only if one node said all of it."""

        def envelope(body: Any) -> str | None:
            if not isinstance(body, dict):
                raise Technical("unexpected answer shape")
            return check(body) if check is not None else None

        answer = await self.request("POST", "", json={"jsonrpc": version, "id": next(self._rpc_ids), "method": method,
                                                      "params": params}, data_statuses=data_statuses, check=envelope)
        if answered_by is not None:
            answered_by.add(answer.endpoint)
        error = answer.body.get("error")
        if error:
            raise RpcError.of(error)
        return answer.body.get("result")

    async def probe(self) -> bool:
        try:
            if self.identity is not None:
                await self.request(self.identity.method, self.identity.path, json=self.identity.body,
                                   text=self.identity.text)
            else:
                await self.request("GET", "", text=True)
        except ChainUnavailable:
            return False
        return True

    def refused(self) -> list[str]:
        return [e.refused for e in self.endpoints if e.refused]

    def _refuse(self, endpoint: Endpoint, why: str) -> None:
        endpoint.refused = f"{endpoint!r} {why}; it is not used for {self.chain_key}"
        log.error("endpoint on the wrong network", extra={"chain": self.chain_key, "why": why})

    async def _check_identity(self, endpoint: Endpoint) -> None:
        identity = self.identity
        assert identity is not None
        _, body = await self._send(endpoint, identity.method, identity.path, identity.body, None, (), identity.text)
        try:
            got = identity.extract(body)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise Technical(f"identity answer unreadable ({type(exc).__name__})") from exc
        if str(got).strip().lower() != identity.expected.lower():
            self._refuse(endpoint, f"serves network {str(got)[:80]!r}, not {identity.expected[:80]!r}")
            raise WrongChainEndpoint(endpoint.refused or "wrong network")

    async def _send(self, endpoint: Endpoint, method: str, path: str, json: Any, params: dict[str, Any] | None,
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
            raise Technical("timeout", hung=True) from exc
        except httpx.HTTPError as exc:
            raise Technical(f"connection failed: {type(exc).__name__}") from exc
        except Exception as exc:  # whatever else the transport raises is "ask elsewhere or later", never a 500
            raise Technical(f"transport failed: {type(exc).__name__}") from exc
        status = resp.status_code
        if status >= 400 and status not in data_statuses:
            if status == 429:
                raise Technical("HTTP 429", retry_after=retry_after_of(resp), rate_limited=True)
            if status >= 500:
                raise Technical(f"HTTP {status}", retry_after=retry_after_of(resp))
            raise Technical(f"HTTP {status}")
        if text:
            return status, resp.text
        try:
            return status, orjson.loads(resp.content) if resp.content else None
        except orjson.JSONDecodeError as exc:
            if status in data_statuses:
                return status, resp.text
            raise Technical("answer is not JSON") from exc
