"""The console served for real: orders with wallet-support mounted (Ethereum on anvil), under uvicorn on a free
loopback port, driven by Debian's Chromium through Playwright (one browser for the whole session)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from services.common.auth import load_keyring
from services.common.settings import Settings
from tests.anvil import free_port
from tests.chain_env import MERCHANT, Nodes, wallet_chains
from tests.conftest import AGENT, make_settings, unavailable

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps knocking on this closed network's doors.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class ConsoleServer:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None,
                                                    log_level="warning", lifespan="on", access_log=False))
        self.thread = threading.Thread(target=self.server.run, name="console-uvicorn", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the console server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="session")
def console_server(settings: Settings, nodes: Nodes, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[ConsoleServer]:
    from services.orders.main import create_app as create_orders
    from services.wallet_support.main import create_app as create_wallet

    config = make_settings(settings.database_url, tmp_path_factory.mktemp("console"), GC_TUNING=False)
    keyring = load_keyring(config)
    wallet = create_wallet(config, keyring=keyring, chains=wallet_chains(nodes))
    wallet.state.wallet.merchants.update({"eth": MERCHANT})
    app = create_orders(config, wallet_app=wallet, keyring=keyring, embedded=True)
    app.state.merchant_addresses.update({"eth": MERCHANT})
    server = ConsoleServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def api(console_server: ConsoleServer) -> AsyncIterator[httpx.AsyncClient]:
    """The JSON API of the same server, as the agent."""
    async with httpx.AsyncClient(base_url=console_server.url, headers={"Authorization": f"Bearer {AGENT}"},
                                 timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """One Chromium for the session, with a fresh profile directory (--user-data-dir)."""
    if not CHROMIUM.exists():
        unavailable("Chromium at /usr/bin/chromium (make test installs it)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("playwright (the test extra)")
    playwright = await async_playwright().start()
    context = await playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
        args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    yield context
    await context.close()
    await playwright.stop()


@pytest.fixture
async def page(browser: Any, tmp_path: Path) -> AsyncIterator[Any]:
    """A clean page (no cookies: signed out, language not chosen); its last state saved as a screenshot."""
    await browser.clear_cookies()
    tab = await browser.new_page()
    yield tab
    await tab.screenshot(path=str(tmp_path / "last.png"), full_page=True)
    await tab.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found, "no CSRF token in the form"
    return found.group(1)
