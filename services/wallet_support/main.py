"""The wallet-support service application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.common.app import install_edge, tune_gc
from services.common.auth import KeyRing, load_keyring
from services.common.observability import configure_logging
from services.common.ratelimit import Rate, RateLimiter
from services.common.settings import Settings, get_settings
from services.wallet_support.cache import ResultCache
from services.wallet_support.chains.antelope import AntelopeClient
from services.wallet_support.chains.aptos import AptosClient
from services.wallet_support.chains.base import ChainClient
from services.wallet_support.chains.bitcoin import BitcoinClient, BitcoinCoreClient
from services.wallet_support.chains.evm import EvmClient
from services.wallet_support.chains.registry import ChainConfig, load_chains
from services.wallet_support.chains.solana import SolanaClient
from services.wallet_support.chains.substrate import SubstrateClient
from services.wallet_support.chains.tron import TronClient
from services.wallet_support.readiness import ReadinessProbe, configured_chains
from services.wallet_support.router import router
from services.wallet_support.service import WalletService


def build_clients(chains: dict[str, ChainConfig], *, http: httpx.AsyncClient, cache: ResultCache,
                  settings: Settings) -> dict[str, ChainClient]:
    """One client per chain, by family; a chain of a known family needs no code (EVM chains are config only)."""
    clients: dict[str, ChainClient] = {}
    for key, chain in chains.items():
        if chain.family == "evm":
            clients[key] = EvmClient(chain, http=http, cache=cache, batch_size=settings.rpc_batch_size)
        elif chain.family == "tron":
            clients[key] = TronClient(chain, http=http, api_key=settings.tron_api_key, cache=cache)
        elif chain.family == "bitcoin" and chain.backend == "bitcoind":
            clients[key] = BitcoinCoreClient(chain, http=http, cache=cache)
        elif chain.family == "bitcoin":
            clients[key] = BitcoinClient(chain, http=http, cache=cache)
        elif chain.family == "solana":
            clients[key] = SolanaClient(chain, http=http, cache=cache)
        elif chain.family == "aptos":
            clients[key] = AptosClient(chain, http=http, cache=cache)
        elif chain.family == "substrate":
            clients[key] = SubstrateClient(chain, http=http, api_key=settings.subscan_api_key)
        else:
            clients[key] = AntelopeClient(chain, http=http)
    return clients


def create_app(settings: Settings | None = None, *, keyring: KeyRing | None = None,
               chains: dict[str, ChainConfig] | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    # RPC_URLS_<CHAIN> from .env too (the process environment wins), like every other setting.
    chains = chains if chains is not None else load_chains(
        settings.chains_file, {f"RPC_URLS_{k.upper()}": v for k, v in settings.per_chain("RPC_URLS_").items()})
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.rpc_timeout_seconds, connect=3.0),
                             limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
    cache = ResultCache(redis_url=settings.redis_url)
    clients = build_clients(chains, http=http, cache=cache, settings=settings)
    limiter = RateLimiter({"lookups": Rate.parse(settings.rate_limit_lookups),
                           "verifies": Rate.parse(settings.rate_limit_verifies)}, redis_url=settings.redis_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.gc_tuning:
            tune_gc()
        yield
        await http.aclose()
        await cache.aclose()
        await limiter.aclose()

    app = FastAPI(title="order-support: wallet-support", version="0.1.0", lifespan=lifespan,
                  description="Transaction status, payment verification and wallet answers from the chain.")
    app.state.settings = settings
    app.state.chains = chains
    app.state.keyring = keyring or load_keyring(settings)
    app.state.rate_limiter = limiter
    app.state.wallet = WalletService(chains=chains, clients=clients, cache=cache,
                                     merchants=settings.per_chain("MERCHANT_ADDRESS_"),
                                     tolerance=settings.payment_tolerance)

    # Probed at most every READYZ_CACHE_SECONDS; chains left on the packaged public endpoints are not counted.
    readiness = ReadinessProbe(clients, chains, configured=configured_chains(chains),
                               ttl=settings.readyz_cache_seconds)
    app.state.readiness = readiness
    install_edge(app, service="wallet", settings=settings, readiness=readiness)
    app.include_router(router)
    return app
