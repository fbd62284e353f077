"""Endpoints with health, for every chain family: a circuit breaker per endpoint, failover in order on any
error class, an upstream Retry-After passed on, and an identity check done once per endpoint.

- `EndpointPool` is the family-neutral part: it picks the endpoints a request may use (a hung or failing
  endpoint is skipped at once while its breaker is open; after the cool-down one request probes it), runs a
  `send(endpoint)` coroutine on them in order, and raises `ChainUnavailable` with the earliest moment an
  endpoint may answer again as `retry_after`.
- `RpcTransport` is JSON-RPC on top of it (batching in chunks sent at once; EVM checks `eth_chainId`).
- `RestTransport` is JSON over HTTP on top of it (TronGrid; Esplora, Aptos, Subscan, EOS chain API alike).
- `HttpxProvider` puts web3.py on `RpcTransport`, so that respx sees every call and one place holds it all.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, TypeVar

import httpx
import orjson
from web3.providers.async_base import AsyncJSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from services.common.observability import redact
from services.wallet_support.chains.base import ChainUnavailable, RateLimited, RpcError, WrongChainEndpoint

log = logging.getLogger("order_support.wallet.rpc")

READ_PREFIXES = ("eth_get", "eth_call", "eth_blockNumber", "eth_chainId", "eth_feeHistory", "eth_gasPrice",
                 "eth_estimateGas", "net_", "web3_", "txpool_", "eth_syncing", "eth_maxPriorityFeePerGas")
# JSON-RPC errors that mean "this endpoint is overloaded or limited", not "no".
TECHNICAL_RPC_CODES = {-32005, 429}
# Reads whose JSON-RPC error is an answer about the call (a revert), or an optional extra that older nodes and
# some chains lack (fee history, EIP-1559), not a sign of a broken endpoint.
ERROR_IS_ANSWER = frozenset({"eth_call", "eth_estimateGas", "eth_feeHistory"})
DEFAULT_RETRY_AFTER = 30
MAX_OPEN_SECONDS = 3600.0
Call = tuple[str, Sequence[Any]]
T = TypeVar("T")


def is_read(method: str) -> bool:
    return method.startswith(READ_PREFIXES)


class EndpointFailure(Exception):
    """One endpoint failed technically (ask the next). `hung` failures are not retried on the same endpoint."""

    def __init__(self, message: str, retry_after: float | None = None, *, hung: bool = False,
                 rate_limited: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.hung = hung
        self.rate_limited = rate_limited


class Endpoint:
    """One URL and its health. Breaker: closed (open_until == 0), open (now < open_until: skipped at once),
    half-open (cool-down over: exactly one request, the probe, may use it; its outcome closes or reopens)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.verified = False
        self.refused: str | None = None
        self.open_until = 0.0
        self.probing = False
        self.failures = 0  # consecutive, for the growing cool-down
        self.verifying: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Endpoint({redact(self.url, 24)})"


class EndpointPool:
    """The endpoints of one chain, tried in order, each behind a circuit breaker."""

    def __init__(self, *, chain_key: str, urls: Sequence[str], attempts: int = 2, backoff: float = 0.1,
                 cooldown: float = 15.0, max_cooldown: float = 300.0,
                 verify: Callable[[Endpoint], Awaitable[None]] | None = None) -> None:
        if not urls:
            raise ValueError(f"no RPC endpoints configured for {chain_key}")
        self.chain_key = chain_key
        self.endpoints = [Endpoint(u) for u in urls]
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self._verify_fn = verify
        self.requests_sent = 0  # HTTP round trips put on the wire (for the benchmark and tests)

    # -- the breaker -------------------------------------------------------------------------------------

    def _claim(self, endpoint: Endpoint, now: float) -> bool:
        """May a request use this endpoint now? Takes the half-open probe slot when that is what is free."""
        if endpoint.refused:
            return False
        if endpoint.open_until == 0.0:
            return True
        if now < endpoint.open_until or endpoint.probing:
            return False
        endpoint.probing = True
        return True

    def _succeeded(self, endpoint: Endpoint) -> None:
        if endpoint.open_until:
            log.info("rpc endpoint closed again", extra={"chain": self.chain_key, "endpoint": repr(endpoint)})
        endpoint.open_until = 0.0
        endpoint.probing = False
        endpoint.failures = 0

    def _failed(self, endpoint: Endpoint, error: EndpointFailure) -> None:
        endpoint.probing = False
        now = time.monotonic()
        if endpoint.open_until > now:
            return  # concurrent requests that failed together open the breaker once
        endpoint.failures += 1
        if error.retry_after is not None:
            seconds = min(max(error.retry_after, 1.0), MAX_OPEN_SECONDS)  # the upstream's own word
        else:  # our own cool-down, growing while it keeps failing; a limit said without a Retry-After waits longer
            grown = self.cooldown * 2 ** min(endpoint.failures - 1 + int(error.rate_limited), 8)
            seconds = min(grown, self.max_cooldown)
        endpoint.open_until = now + seconds
        log.warning("rpc endpoint skipped for a cool-down", extra={
            "chain": self.chain_key, "endpoint": repr(endpoint), "error": str(error), "seconds": round(seconds, 1)})

    def retry_after(self) -> int:
        """Seconds until some endpoint may be asked again (its breaker half-opens)."""
        now = time.monotonic()
        waits = [max(e.open_until - now, 0.0) for e in self.endpoints if not e.refused]
        if not waits:
            return DEFAULT_RETRY_AFTER
        return max(1, math.ceil(min(waits)))

    def reset(self) -> None:
        """Close every breaker (refusals stay: an endpoint on another chain is never used)."""
        for endpoint in self.endpoints:
            endpoint.open_until, endpoint.probing, endpoint.failures = 0.0, False, 0

    def health(self) -> dict[str, int]:
        now = time.monotonic()
        return {"endpoints": len(self.endpoints), "refused": sum(1 for e in self.endpoints if e.refused),
                "open": sum(1 for e in self.endpoints if not e.refused and e.open_until > now)}

    # -- running a request -------------------------------------------------------------------------------

    async def run(self, send: Callable[[Endpoint], Awaitable[T]], *, idempotent: bool = True,
                  start_at: int = 0, stop_at: int | None = None) -> T:
        """`send(endpoint)` on the first endpoint that answers. Non-idempotent requests get one endpoint, once."""
        candidates = self.endpoints[start_at:stop_at] if idempotent else self.endpoints[:1]
        attempts = self.attempts if idempotent else 1
        errors: list[str] = []
        rate_limited = False
        for endpoint in candidates:
            if not self._claim(endpoint, time.monotonic()):
                errors.append(f"{endpoint!r}: {endpoint.refused or 'skipped (breaker open)'}")
                continue
            for attempt in range(attempts):
                try:
                    await self.verify(endpoint)
                    self.requests_sent += 1
                    result = await send(endpoint)
                except WrongChainEndpoint as exc:
                    endpoint.probing = False
                    errors.append(str(exc))
                    break
                except EndpointFailure as exc:
                    rate_limited = rate_limited or exc.rate_limited
                    errors.append(f"{endpoint!r}: {exc}")
                    if exc.hung or exc.rate_limited or attempt + 1 >= attempts:
                        self._failed(endpoint, exc)
                        break
                    await asyncio.sleep(min(self.backoff * (2 ** attempt), 2.0))
                except BaseException:
                    endpoint.probing = False  # cancelled: the probe slot is free again
                    raise
                else:
                    self._succeeded(endpoint)
                    return result
        error_class = RateLimited if rate_limited else ChainUnavailable
        detail = "; ".join(errors[-3:]) or "no endpoint"
        raise error_class(f"no {self.chain_key} endpoint answered ({detail})",
                          retry_after=self.retry_after())

    async def verify(self, endpoint: Endpoint) -> None:
        """The identity check, once per endpoint: concurrent first requests share one check (no lock, no queue)."""
        if endpoint.verified or self._verify_fn is None:
            return
        if endpoint.refused:
            raise WrongChainEndpoint(endpoint.refused)
        task = endpoint.verifying
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = endpoint.verifying = asyncio.ensure_future(self._verify_once(endpoint))
        await asyncio.shield(task)

    async def _verify_once(self, endpoint: Endpoint) -> None:
        assert self._verify_fn is not None
        self.requests_sent += 1
        await self._verify_fn(endpoint)
        endpoint.verified = True


def retry_after_of(resp: httpx.Response) -> float | None:
    """An upstream's Retry-After in seconds (a number or an HTTP date; never negative), or None."""
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:  # an HTTP date
        from email.utils import parsedate_to_datetime

        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


async def send_json(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str],
                    body: bytes | None = None) -> Any:
    """One HTTP round trip with every technical failure turned into an EndpointFailure."""
    try:
        resp = await client.request(method, url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise EndpointFailure(f"timeout ({type(exc).__name__})", hung=True) from exc
    except httpx.HTTPError as exc:
        raise EndpointFailure(f"connection failed: {type(exc).__name__}") from exc
    return _decode(resp)


def _decode(resp: httpx.Response) -> Any:
    if resp.status_code == 429:
        raise EndpointFailure("HTTP 429 rate limited", retry_after=retry_after_of(resp), rate_limited=True)
    if resp.status_code >= 500:
        raise EndpointFailure(f"HTTP {resp.status_code}", retry_after=retry_after_of(resp))
    if resp.status_code >= 400:
        raise EndpointFailure(f"HTTP {resp.status_code}")
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError as exc:
        raise EndpointFailure("answer is not JSON") from exc


class RpcTransport:
    """Sends JSON-RPC calls to a chain's endpoints (EVM; any JSON-RPC chain with `chain_id=None`)."""

    def __init__(self, *, chain_key: str, chain_id: int | None, urls: Sequence[str], client: httpx.AsyncClient,
                 batch_size: int = 100, attempts: int = 2, backoff: float = 0.1, cooldown: float = 15.0,
                 max_concurrent_chunks: int = 32, error_is_answer: Collection[str] = ERROR_IS_ANSWER,
                 headers: dict[str, str] | None = None) -> None:
        self.chain_key = chain_key
        self.chain_id = chain_id
        self.client = client
        self.batch_size = max(1, batch_size)
        self.error_is_answer = frozenset(error_is_answer)
        self.headers = {"content-type": "application/json", **(headers or {})}
        self.pool = EndpointPool(chain_key=chain_key, urls=urls, attempts=attempts, backoff=backoff,
                                 cooldown=cooldown, verify=self._check_chain_id if chain_id is not None else None)
        self.endpoints = self.pool.endpoints
        self.chunk_gate = asyncio.Semaphore(max_concurrent_chunks)
        self.calls_sent = 0  # JSON-RPC calls put on the wire (for metrics and tests)
        self._ids = itertools.count(1)

    @property
    def requests_sent(self) -> int:
        return self.pool.requests_sent

    # -- public ------------------------------------------------------------------------------------------

    async def call(self, method: str, params: Sequence[Any]) -> Any:
        [result] = await self.batch([(method, params)])
        if isinstance(result, RpcError):
            raise result
        return result

    async def batch(self, calls: Sequence[Call], *, start_at: int = 0, stop_at: int | None = None) -> list[Any]:
        """Results in order; a JSON-RPC error that is an answer (a revert) comes back in its place as an RpcError.

        All chunks go out at once (one round trip of latency however many chunks); `start_at` skips the first
        endpoints (to ask the next ones).
        """
        if not calls:
            return []
        chunks = [list(calls[i:i + self.batch_size]) for i in range(0, len(calls), self.batch_size)]

        async def run(chunk: list[Call]) -> list[Any]:
            async with self.chunk_gate:
                reads = all(is_read(method) for method, _ in chunk)
                return await self.pool.run(lambda endpoint: self._send(endpoint, chunk, reads=reads),
                                           idempotent=reads, start_at=start_at, stop_at=stop_at)

        if len(chunks) == 1:
            return await run(chunks[0])
        results = await asyncio.gather(*(run(c) for c in chunks))
        return [r for chunk in results for r in chunk]

    async def probe(self) -> bool:
        try:
            await self.call("eth_blockNumber", [])
        except (ChainUnavailable, RpcError):
            return False
        return True

    # -- internals ---------------------------------------------------------------------------------------

    async def _check_chain_id(self, endpoint: Endpoint) -> None:
        [answer] = await self._send(endpoint, [("eth_chainId", [])], reads=True)
        if not isinstance(answer, str):
            raise EndpointFailure(f"eth_chainId answered {str(answer)[:40]!r}")
        got = int(answer, 16)
        if got != self.chain_id:
            endpoint.refused = (f"{endpoint!r} is on chain id {got}, not {self.chain_id} ({self.chain_key}); "
                                "it is not used")
            log.error("rpc endpoint on the wrong chain", extra={"chain": self.chain_key, "got": got})
            raise WrongChainEndpoint(endpoint.refused)

    async def _send(self, endpoint: Endpoint, chunk: list[Call], *, reads: bool) -> list[Any]:
        ids = [next(self._ids) for _ in chunk]
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)} for i, (m, p) in zip(ids, chunk,
                                                                                               strict=True)]
        body = orjson.dumps(payload if len(payload) > 1 else payload[0])
        self.calls_sent += len(chunk)
        data = await send_json(self.client, "POST", endpoint.url, self.headers, body)
        answers = data if isinstance(data, list) else [data]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        if len(by_id) != len(ids) or any(i not in by_id for i in ids):
            # Some providers answer a whole batch with one error object (batch too large, rate limit).
            raise EndpointFailure(f"batch answer incomplete ({len(by_id)} of {len(ids)})")
        results: list[Any] = []
        for i, (method, _) in zip(ids, chunk, strict=True):
            answer = by_id[i]
            if "error" in answer and answer["error"] is not None:
                err = RpcError.of(answer["error"])
                if err.code in TECHNICAL_RPC_CODES:
                    raise EndpointFailure(f"rpc error {err.code}", rate_limited=err.code == 429)
                if reads and method not in self.error_is_answer:
                    # A node that answers eth_chainId but not the data calls is broken for us: ask the next.
                    raise EndpointFailure(f"refused {method}: {err.code}: {err.message[:120]}")
                results.append(err)
            else:
                results.append(answer.get("result"))
        return results


class RestTransport:
    """JSON over HTTP to a chain's endpoints (paths under each endpoint's base URL), with the same health rules.

    `refusal(answer)` says whether a 200 answer is really an error: it returns (message, technical); a technical
    refusal (a rate limit said in the body) is failed over, a logical one raised as RpcError.
    """

    def __init__(self, *, chain_key: str, urls: Sequence[str], client: httpx.AsyncClient, attempts: int = 2,
                 backoff: float = 0.1, cooldown: float = 15.0, headers: dict[str, str] | None = None,
                 verify: Callable[[Endpoint], Awaitable[None]] | None = None,
                 refusal: Callable[[Any], tuple[str, bool] | None] | None = None) -> None:
        self.chain_key = chain_key
        self.client = client
        self.headers = {"content-type": "application/json", **(headers or {})}
        self.refusal = refusal
        self.pool = EndpointPool(chain_key=chain_key, urls=[u.rstrip("/") for u in urls], attempts=attempts,
                                 backoff=backoff, cooldown=cooldown, verify=verify)
        self.endpoints = self.pool.endpoints
        self.calls_sent = 0

    @property
    def requests_sent(self) -> int:
        return self.pool.requests_sent

    async def post(self, path: str, payload: Any, *, start_at: int = 0) -> Any:
        body = orjson.dumps(payload)
        return await self.pool.run(
            lambda e: self._checked(send_json(self.client, "POST", e.url + path, self.headers, body)),
            start_at=start_at)

    async def get(self, path: str, *, start_at: int = 0) -> Any:
        return await self.pool.run(lambda e: self._checked(send_json(self.client, "GET", e.url + path, self.headers)),
                                   start_at=start_at)

    async def _checked(self, request: Awaitable[Any]) -> Any:
        self.calls_sent += 1
        data = await request
        refused = self.refusal(data) if self.refusal else None
        if refused is not None:
            message, technical = refused
            if technical:
                raise EndpointFailure(message, rate_limited="limit" in message.lower())
            raise RpcError(0, message)
        return data


class HttpxProvider(AsyncJSONBaseProvider):
    """web3.py's async provider on our transport: AsyncWeb3(HttpxProvider(transport))."""

    def __init__(self, transport: RpcTransport) -> None:
        super().__init__()
        self.transport = transport

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        [result] = await self.transport.batch([(method, params or [])])
        return self._response(result)

    async def make_batch_request(self, requests: Sequence[tuple[str, Any]]) -> list[RPCResponse]:  # type: ignore[override]
        results = await self.transport.batch([(m, p or []) for m, p in requests])
        return [self._response(r, i) for i, r in enumerate(results)]

    async def is_connected(self, show_traceback: bool = False) -> bool:
        return await self.transport.probe()

    @staticmethod
    def _response(result: Any, request_id: int = 0) -> RPCResponse:
        if isinstance(result, RpcError):
            return {"jsonrpc": "2.0", "id": request_id,
                    "error": {"code": result.code, "message": result.message, "data": result.data}}
        return {"jsonrpc": "2.0", "id": request_id, "result": result}
