"""The orders service's one way to wallet-support: HTTP (httpx), or an ASGI transport in one process.
The services never import each other's code."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger("order_support.orders.wallet_client")


class WalletUnavailable(Exception):
    """wallet-support did not answer: the check is retried later, never treated as a verdict."""

    def __init__(self, message: str, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class WalletRejected(Exception):
    """wallet-support refused the question (a malformed hash, an unknown chain, no merchant address)."""

    status: int
    detail: str
    errors: list[dict[str, Any]]


class WalletClient:
    def __init__(self, *, base_url: str, api_key: str, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 20.0) -> None:
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout,
                                      headers={"Authorization": f"Bearer {api_key}"})

    async def verify(self, *, chain: str, tx_hash: str, to: str | None, token: str, amount: str,
                     lang: str = "en", fresh: bool = False) -> dict[str, Any]:
        body = {"chain": chain, "tx_hash": tx_hash, "lang": lang, "fresh": fresh,
                "expected": {"to": to, "token": token, "amount": amount}}
        return await self._post("/v1/payments/verify", body)

    async def status(self, *, chain: str, tx_hash: str) -> dict[str, Any]:
        """A tx's status (the console's tx checker); the one-item batch shares _post's failure handling."""
        items = (await self._post("/v1/tx/batch", {"items": [{"chain": chain, "tx_hash": tx_hash}]}))["items"]
        return dict(items[0])

    async def question(self, *, topic: str, chain: str, tx_hash: str | None, lang: str) -> dict[str, Any]:
        """A wallet user's question answered from the chain, in en or zh-CN (the console's tx checker)."""
        return await self._post("/v1/questions", {"topic": topic, "chain": chain, "tx_hash": tx_hash, "lang": lang})

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = await self.http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise WalletUnavailable(f"wallet-support unreachable: {type(exc).__name__}") from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            retry = resp.headers.get("retry-after")
            raise WalletUnavailable(f"wallet-support answered {resp.status_code}",
                                    retry_after=int(retry) if retry and retry.isdigit() else 30)
        try:
            data: dict[str, Any] = resp.json()
        except ValueError as exc:
            raise WalletUnavailable("wallet-support answered something that is not JSON") from exc
        if resp.status_code >= 400:
            raise WalletRejected(resp.status_code, str(data.get("detail", "")), list(data.get("errors") or []))
        return data

    async def aclose(self) -> None:
        await self.http.aclose()
