"""JSON-RPC over httpx: batching in chunks sent concurrently, retries with backoff for reads only, failover
across the endpoints in order, each endpoint's chain id checked before it is trusted. web3.py runs on top of
this through HttpxProvider, so that one place holds all of it and respx can mock it."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from typing import Any

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
Call = tuple[str, Sequence[Any]]


def is_read(method: str) -> bool:
    return method.startswith(READ_PREFIXES)


class _Technical(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Endpoint:
    def __init__(self, url: str) -> None:
        self.url = url
        self.verified = False
        self.refused: str | None = None
        self.cooldown_until = 0.0
        self.lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"Endpoint({redact(self.url, 24)})"


class RpcTransport:
    """Sends JSON-RPC calls to a chain's endpoints."""

    def __init__(self, *, chain_key: str, chain_id: int | None, urls: Sequence[str], client: httpx.AsyncClient,
                 batch_size: int = 100, attempts: int = 2, backoff: float = 0.1, cooldown: float = 15.0,
                 max_concurrent_chunks: int = 8) -> None:
        if not urls:
            raise ValueError(f"no RPC endpoints configured for {chain_key}")
        self.chain_key = chain_key
        self.chain_id = chain_id
        self.endpoints = [Endpoint(u) for u in urls]
        self.client = client
        self.batch_size = max(1, batch_size)
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.cooldown = cooldown
        self.chunk_gate = asyncio.Semaphore(max_concurrent_chunks)
        self.calls_sent = 0  # JSON-RPC calls put on the wire (for metrics and tests)
        self._ids = itertools.count(1)

    # -- public ------------------------------------------------------------------------------------------

    async def call(self, method: str, params: Sequence[Any]) -> Any:
        [result] = await self.batch([(method, params)])
        if isinstance(result, RpcError):
            raise result
        return result

    async def batch(self, calls: Sequence[Call]) -> list[Any]:
        """Results in order; a JSON-RPC error comes back in its place as an RpcError instance."""
        if not calls:
            return []
        chunks = [list(calls[i:i + self.batch_size]) for i in range(0, len(calls), self.batch_size)]

        async def run(chunk: list[Call]) -> list[Any]:
            async with self.chunk_gate:
                return await self._send_with_failover(chunk)

        results = await asyncio.gather(*(run(c) for c in chunks))
        return [r for chunk in results for r in chunk]

    async def on_other_endpoints(self, calls: Sequence[Call], *, skip_first: int = 1) -> list[list[Any]]:
        """Ask the endpoints after the first `skip_first` too (to confirm a 'not found' elsewhere)."""
        answers = []
        for endpoint in self.endpoints[skip_first:]:
            if endpoint.refused:
                continue
            try:
                await self._verify(endpoint)
                answers.append(await self._send(endpoint, list(calls)))
            except (_Technical, WrongChainEndpoint):
                continue
        return answers

    async def probe(self) -> bool:
        try:
            await self.call("eth_blockNumber", [])
        except (ChainUnavailable, RpcError):
            return False
        return True

    # -- internals ---------------------------------------------------------------------------------------

    async def _send_with_failover(self, chunk: list[Call]) -> list[Any]:
        reads = all(is_read(method) for method, _ in chunk)
        attempts = self.attempts if reads else 1
        candidates = self.endpoints if reads else self.endpoints[:1]
        now = time.monotonic()
        ordered = [e for e in candidates if e.cooldown_until <= now] + [e for e in candidates
                                                                         if e.cooldown_until > now]
        last_error = "no endpoint tried"
        retry_after = 30.0
        for endpoint in ordered:
            if endpoint.refused:
                last_error = endpoint.refused
                continue
            for attempt in range(attempts):
                try:
                    await self._verify(endpoint)
                    result = await self._send(endpoint, chunk)
                    endpoint.cooldown_until = 0.0
                    return result
                except WrongChainEndpoint as exc:
                    last_error = str(exc)
                    break
                except _Technical as exc:
                    last_error = f"{endpoint!r}: {exc}"
                    if exc.retry_after is not None:
                        retry_after = max(retry_after, exc.retry_after)
                    log.warning("rpc endpoint failed", extra={"chain": self.chain_key, "error": str(exc),
                                                              "attempt": attempt + 1})
                    if attempt + 1 < attempts:
                        await asyncio.sleep(min(self.backoff * (2 ** attempt), 2.0))
            endpoint.cooldown_until = time.monotonic() + self.cooldown
        error_class = RateLimited if "429" in last_error else ChainUnavailable
        raise error_class(f"no {self.chain_key} endpoint answered ({last_error})", retry_after=int(retry_after))

    async def _verify(self, endpoint: Endpoint) -> None:
        if endpoint.verified or self.chain_id is None:
            return
        async with endpoint.lock:
            if endpoint.verified:
                return
            [answer] = await self._send(endpoint, [("eth_chainId", [])])
            if isinstance(answer, RpcError):
                raise _Technical(f"eth_chainId failed: {answer}")
            got = int(answer, 16)
            if got != self.chain_id:
                endpoint.refused = (f"{endpoint!r} is on chain id {got}, not {self.chain_id} ({self.chain_key}); "
                                    "it is not used")
                log.error("rpc endpoint on the wrong chain", extra={"chain": self.chain_key, "got": got})
                raise WrongChainEndpoint(endpoint.refused)
            endpoint.verified = True

    async def _send(self, endpoint: Endpoint, chunk: list[Call]) -> list[Any]:
        ids = [next(self._ids) for _ in chunk]
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)} for i, (m, p) in zip(ids, chunk,
                                                                                               strict=True)]
        body = orjson.dumps(payload if len(payload) > 1 else payload[0])
        self.calls_sent += len(chunk)
        try:
            resp = await self.client.post(endpoint.url, content=body, headers={"content-type": "application/json"})
        except httpx.TimeoutException as exc:
            raise _Technical("timeout") from exc
        except httpx.HTTPError as exc:
            raise _Technical(f"connection failed: {type(exc).__name__}") from exc
        if resp.status_code == 429:
            raise _Technical("429 rate limited", retry_after=_retry_after(resp))
        if resp.status_code >= 500:
            raise _Technical(f"HTTP {resp.status_code}", retry_after=_retry_after(resp))
        if resp.status_code >= 400:
            raise _Technical(f"HTTP {resp.status_code}")
        try:
            data = orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise _Technical("answer is not JSON") from exc
        answers = data if isinstance(data, list) else [data]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        if len(by_id) != len(ids) or any(i not in by_id for i in ids):
            # Some providers answer a whole batch with one error object (batch too large, rate limit).
            raise _Technical(f"batch answer incomplete ({len(by_id)} of {len(ids)})")
        results: list[Any] = []
        for i in ids:
            answer = by_id[i]
            if "error" in answer and answer["error"] is not None:
                err = answer["error"]
                code = int(err.get("code", 0)) if isinstance(err, dict) else 0
                if code in TECHNICAL_RPC_CODES:
                    raise _Technical(f"rpc error {code}")
                results.append(RpcError(code, str(err.get("message", "")) if isinstance(err, dict) else str(err),
                                        err.get("data") if isinstance(err, dict) else None))
            else:
                results.append(answer.get("result"))
        return results


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None


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
