"""wallet-support's readiness: at least one endpoint answering per chain the operator configured, from a probe
kept a few seconds (the route is unauthenticated: it must not let anyone make us call every endpoint).

A chain whose endpoints are the packaged public defaults (no `RPC_URLS_<CHAIN>`, not added by a chains file) is
listed but not probed and does not count: an offline setup (the devchain profile) runs only the chains it
configures, and a public endpoint's bad day must not take the service out of its load balancer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

from services.wallet_support.chains.base import ChainClient
from services.wallet_support.chains.registry import DEFAULT_CHAINS_FILE, ChainConfig


def configured_chains(chains: Mapping[str, ChainConfig]) -> set[str]:
    """Chains whose endpoints someone chose: not the packaged public defaults."""
    try:
        packaged = json.loads(DEFAULT_CHAINS_FILE.read_text())
    except (OSError, ValueError):
        return set(chains)
    defaults = {key.lower(): entry.get("rpc_urls") for key, entry in packaged.items() if isinstance(entry, dict)}
    return {key for key, chain in chains.items() if key not in defaults or list(chain.rpc_urls) != defaults[key]}


class ReadinessProbe:
    """Probes the configured chains at most once per `ttl` seconds; concurrent callers share one probe."""

    def __init__(self, clients: Mapping[str, ChainClient], chains: Mapping[str, ChainConfig], *,
                 configured: set[str], ttl: float = 5.0, probe_timeout: float = 3.0) -> None:
        self.clients = clients
        self.chains = chains
        self.configured = configured
        self.ttl = ttl
        self.probe_timeout = probe_timeout  # a hung endpoint must not hold a health check past its own timeout
        self.probes = 0  # how many times the endpoints were actually asked (for tests)
        self._answer: dict[str, object] | None = None
        self._stamp = 0.0
        self._running: asyncio.Task[dict[str, object]] | None = None

    async def __call__(self) -> dict[str, object]:
        if self._answer is not None and time.monotonic() - self._stamp < self.ttl:
            return self._answer
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._probe())
        return await asyncio.shield(self._running)

    async def _probe(self) -> dict[str, object]:
        self.probes += 1
        keys = [k for k in self.clients if k in self.configured]
        results = await asyncio.gather(*(asyncio.wait_for(self.clients[k].probe(), self.probe_timeout) for k in keys),
                                       return_exceptions=True)
        answer: dict[str, object] = {}
        for key, ok in zip(keys, results, strict=True):
            entry: dict[str, Any] = {"ok": ok is True, "endpoints": len(self.chains[key].rpc_urls)}
            client = self.clients[key]
            pool = getattr(getattr(client, "transport", None), "pool", None) or getattr(
                getattr(client, "api", None), "pool", None)
            if pool is not None:
                entry.update(pool.health())
            answer[key] = entry
        for key in self.clients:
            if key not in self.configured:
                answer[key] = {"ok": True, "probed": False, "reason": f"RPC_URLS_{key.upper()} is not set: "
                                                                      "public defaults are not part of readiness"}
        self._answer, self._stamp = answer, time.monotonic()
        return answer
