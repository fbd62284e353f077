"""The wallet-support service application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.common.app import install_edge, tune_gc
from services.common.auth import KeyRing, load_keyring
from services.common.observability import configure_logging
from services.common.settings import Settings, get_settings
from services.wallet_support.chains.registry import ChainConfig, load_chains
from services.wallet_support.router import router


async def _probe(client: httpx.AsyncClient, chain: ChainConfig, api_key: str | None) -> dict[str, object]:
    """One answering endpoint is enough for readiness."""
    for url in chain.rpc_urls:
        try:
            if chain.family == "evm":
                resp = await client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
                ok = resp.status_code == 200 and int(resp.json().get("result", "0x0"), 16) == chain.chain_id
            else:
                headers = {"TRON-PRO-API-KEY": api_key} if api_key else {}
                resp = await client.post(url.rstrip("/") + "/wallet/getnowblock", headers=headers, json={})
                ok = resp.status_code == 200 and "block_header" in resp.json()
        except (httpx.HTTPError, ValueError, AttributeError):
            ok = False
        if ok:
            return {"ok": True}
    return {"ok": False, "endpoints": len(chain.rpc_urls)}


def create_app(settings: Settings | None = None, *, keyring: KeyRing | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    chains = load_chains(settings.chains_file)
    probe_client = httpx.AsyncClient(timeout=3.0)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.gc_tuning:
            tune_gc()
        yield
        await probe_client.aclose()

    app = FastAPI(title="order-support: wallet-support", version="0.1.0", lifespan=lifespan,
                  description="Transaction status, payment verification and wallet answers from the chain.")
    app.state.settings = settings
    app.state.chains = chains
    app.state.keyring = keyring or load_keyring(settings)

    async def readiness() -> dict[str, object]:
        results = await asyncio.gather(*(_probe(probe_client, c, settings.tron_api_key) for c in chains.values()))
        return dict(zip(chains.keys(), results, strict=True))

    install_edge(app, service="wallet", settings=settings, readiness=readiness)
    app.include_router(router)
    return app
