"""Test fixtures: every API test runs on SQLite and on PostgreSQL, schema built by the migrations."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.cli import run_migrations
from services.common.settings import Settings

# No test may reach a public RPC endpoint: chains without a test node point at a closed local port.
for _chain in ("ETH", "BSC", "POLYGON", "TRON", "OKTC", "XLAYER", "ARBITRUM", "BASE", "OPTIMISM", "BTC", "SOLANA",
               "APTOS", "DOT", "KSM", "EOS"):
    os.environ.setdefault(f"RPC_URLS_{_chain}", "http://127.0.0.1:9")

PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
AGENT, SERVICE, CUSTOMER_1, CUSTOMER_2 = "agent-key-0001", "service-key-0001", "cust-key-0001", "cust-key-0002"
API_KEYS = f"{AGENT}:agent,{SERVICE}:service,{CUSTOMER_1}:customer:c-1001,{CUSTOMER_2}:customer:c-2002"
WEBHOOK_SECRET = "whsec-test-0123456789"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _pg_available() -> bool:
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def unavailable(what: str) -> None:
    """A real service the tests need is not there: CI must test on it (fail); a laptop may go without (skip)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is unreachable; CI must test on it")
    pytest.skip(f"{what} is unreachable")


async def require_postgres() -> None:
    if not await _pg_available():
        unavailable(f"PostgreSQL at {PG_ADMIN_DSN}")


class Database:
    """A fresh database per test session: a SQLite file or a PostgreSQL database made and dropped."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.name = f"os_test_{uuid.uuid4().hex[:10]}"
        self.url = (f"sqlite+aiosqlite:///{tmp / (self.name + '.db')}" if kind == "sqlite"
                    else PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
                    + f"/{self.name}")

    async def create(self) -> None:
        if self.kind == "postgres":
            conn = await asyncpg.connect(PG_ADMIN_DSN)
            await conn.execute(f'CREATE DATABASE "{self.name}"')
            await conn.close()

    async def drop(self) -> None:
        if self.kind == "postgres":
            conn = await asyncpg.connect(PG_ADMIN_DSN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            await conn.close()


def make_settings(url: str, tmp: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"DATABASE_URL": url, "API_KEYS": API_KEYS, "CARRIER_WEBHOOK_SECRET": WEBHOOK_SECRET,
                                 "API_KEY_FILE": tmp / "api_key", "LOG_LEVEL": "WARNING",
                                 "RUN_WORKER_IN_PROCESS": False}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    kind = request.param
    if kind == "postgres":
        await require_postgres()
    db = Database(kind, tmp_path_factory.mktemp(kind))
    await db.create()
    settings = make_settings(db.url, tmp_path_factory.mktemp("keys"))
    await asyncio.to_thread(run_migrations, settings)
    yield db
    await db.drop()


@pytest.fixture(scope="session")
def settings(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(database.url, tmp_path_factory.mktemp("cfg"))


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    from services.cli import build_app

    application = build_app(None, settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def unique() -> Iterator[str]:
    yield uuid.uuid4().hex[:10].upper()


@pytest.fixture(scope="session")
def anvil_eth() -> Iterator[Any]:
    from tests.anvil import Anvil

    node = Anvil(chain_id=1)
    yield node
    node.stop()


@pytest.fixture(scope="session")
def anvil_bsc() -> Iterator[Any]:
    from tests.anvil import Anvil

    node = Anvil(chain_id=56)
    yield node
    node.stop()


@pytest.fixture(scope="session")
async def nodes(anvil_eth: Any, anvil_bsc: Any) -> Any:
    from tests.chain_env import Nodes

    return Nodes(eth=anvil_eth, bsc=anvil_bsc, eth_usdt=await anvil_eth.deploy_token("USDT", 6),
                 eth_usdc=await anvil_eth.deploy_token("USDC", 6),
                 bsc_usdt=await anvil_bsc.deploy_token("USDT", 18, supply=10**30))
