"""No network call while a database transaction is open: checked directly (the database is probed for an open
transaction at the moment wallet-support is asked), and by its effect (a hung RPC endpoint does not hold
carrier webhooks back on the SQLite default)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.cli import run_migrations
from services.common.auth import load_keyring
from services.common.settings import Settings
from services.orders.worker import Worker
from tests.chain_env import MERCHANT, Nodes, token_transfer, wallet_chains
from tests.conftest import AGENT, CUSTOMER_1, WEBHOOK_SECRET, auth, make_settings
from tests.integration.test_payment_hooks import later, usdt_order


class TransactionProbe:
    """Wraps the wallet client: every verify first asks the database whether any transaction is open."""

    def __init__(self, inner: Any, database_url: str) -> None:
        self.inner = inner
        self.url = database_url
        self.open_transactions: list[str] = []
        self.calls = 0

    async def verify(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[1]
            conn = sqlite3.connect(path, timeout=0)
            try:
                conn.execute("BEGIN IMMEDIATE")  # fails at once while another connection holds a write
                conn.rollback()
            except sqlite3.OperationalError as exc:
                self.open_transactions.append(f"sqlite: {exc} during {kwargs.get('tx_hash')}")
            finally:
                conn.close()
        else:
            dsn = self.url.replace("postgresql+asyncpg://", "postgresql://")
            conn = await asyncpg.connect(dsn)
            try:
                rows = await conn.fetch("SELECT pid, state, query FROM pg_stat_activity WHERE datname = "
                                        "current_database() AND pid <> pg_backend_pid() AND state LIKE "
                                        "'idle in transaction%'")
            finally:
                await conn.close()
            self.open_transactions += [f"postgres: {r['state']}: {r['query'][:80]}" for r in rows]
        return dict(await self.inner.verify(**kwargs))

    async def aclose(self) -> None:
        return None


class TestNothingIsHeldWhileTheChainIsAsked:
    async def test_tickets_payments_and_the_worker(self, api: httpx.AsyncClient, hooked_app: FastAPI, nodes: Nodes,
                                                   settings: Settings) -> None:
        probe = TransactionProbe(hooked_app.state.wallet_client, settings.database_url)
        original = hooked_app.state.wallet_client
        hooked_app.state.wallet_client = probe
        try:
            node = nodes.eth
            await node.automine(False)
            try:
                tx = await node.send(**token_transfer(node, nodes.eth_usdt, MERCHANT, 499_000000))
                order = await usdt_order(api)
                ticket = await api.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
                    "type": "payment_failed", "channel": "chat", "order_number": order["order_number"],
                    "description": "paid, still unpaid", "tx": {"chain": "eth", "tx_hash": tx}})
                assert ticket.status_code == 201 and ticket.json()["status"] == "waiting_chain"
                other = await usdt_order(api)
                payment = await api.post(f"/v1/orders/{other['id']}/payments", json={
                    "method": "crypto", "amount": "499.00", "currency": "USDT", "status": "pending",
                    "crypto": {"chain": "eth", "tx_hash": tx, "token": "USDT"}})
                assert payment.status_code == 201
            finally:
                await node.automine(True)
            await node.mine(13)
            # One lane: with several, another job's (short, network-free) write may be open at that moment.
            one_lane = hooked_app.state.settings.model_copy(update={"worker_concurrency": 1})
            worker = Worker(sessionmaker=hooked_app.state.sessionmaker, wallet=probe,  # type: ignore[arg-type]
                            settings=one_lane, merchant_addresses=hooked_app.state.merchant_addresses)
            await worker.run_once(now=later(1))
        finally:
            hooked_app.state.wallet_client = original
        assert probe.calls >= 4, probe.calls  # ticket, payment, and the worker's re-check of each
        assert probe.open_transactions == []


@pytest.fixture
async def hung_rpc() -> AsyncIterator[str]:
    """An RPC endpoint that accepts connections and never answers."""
    holding: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        holding.append(writer)
        await reader.read(65536)
        await asyncio.sleep(3600)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    for writer in holding:
        writer.close()
    server.close()


def _generic(batch: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(batch).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Signature": f"sha256={signature}", "content-type": "application/json"}


class TestAHungEndpointHoldsNothingBack:
    async def test_fifty_webhooks_while_a_check_hangs_on_sqlite(self, hung_rpc: str, nodes: Nodes, settings: Settings,
                                                                tmp_path: Path) -> None:
        from services.orders.main import create_app as create_orders
        from services.wallet_support.main import create_app as create_wallet

        if not settings.database_url.startswith("sqlite"):
            pytest.skip("the SQLite default is the case: one writer, whose lock a held transaction would keep")
        budget = 3.0  # the default PAYMENT_CHECK_INLINE_SECONDS
        config = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'default.db'}", tmp_path, GC_TUNING=False,
                               PAYMENT_CHECK_INLINE_SECONDS=budget, RPC_TIMEOUT_SECONDS=30)
        await asyncio.to_thread(run_migrations, config)
        keyring = load_keyring(config)
        chains = wallet_chains(nodes)
        chains["eth"].rpc_urls = [hung_rpc]
        wallet = create_wallet(config, keyring=keyring, chains=chains)
        app = create_orders(config, wallet_app=wallet, keyring=keyring, embedded=True)
        app.state.merchant_addresses.update({"eth": MERCHANT})
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://orders",
                headers={"Authorization": f"Bearer {AGENT}"}) as api:
            order = await usdt_order(api)

            async def ticket() -> tuple[float, httpx.Response]:
                started = time.monotonic()
                resp = await api.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
                    "type": "payment_failed", "channel": "chat", "order_number": order["order_number"],
                    "description": "paid", "tx": {"chain": "eth", "tx_hash": "0x" + uuid.uuid4().hex * 2}})
                return time.monotonic() - started, resp

            async def webhook(i: int) -> tuple[float, httpx.Response]:
                await asyncio.sleep(0.2 + i * 0.01)  # while the ticket's check hangs
                body, headers = _generic({"carrier": "sf-express", "tracking_number": f"SFHUNG{i:04d}",
                                          "events": [{"event_id": f"e-{i}", "status": "in_transit",
                                                      "occurred_at": "2026-11-02T08:00:00+08:00"}]})
                started = time.monotonic()
                resp = await api.post("/v1/webhooks/carriers/generic", content=body, headers=headers)
                return time.monotonic() - started, resp

            results = await asyncio.gather(ticket(), *(webhook(i) for i in range(50)))
        (ticket_seconds, ticket_resp), hooks = results[0], results[1:]
        assert ticket_resp.status_code == 201 and ticket_resp.json()["status"] == "waiting_chain"
        assert ticket_seconds < budget + 1.5, ticket_seconds
        assert all(resp.status_code in (200, 202) for _, resp in hooks), [r.text for _, r in hooks][:3]
        slowest = max(seconds for seconds, _ in hooks)
        assert slowest < budget, slowest
