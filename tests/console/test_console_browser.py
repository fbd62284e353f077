"""The agent console in real Chromium: sign-in, search, the ticket desk, the order page in two languages, the tx
checker on anvil. Each test leaves screenshots in its own tmp folder."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from services.common.types import utcnow
from tests.chain_env import MERCHANT, Nodes, token_transfer
from tests.conftest import AGENT, CUSTOMER_1, auth
from tests.console.conftest import ConsoleServer, csrf_of
from tests.factories import order_body

CJK = re.compile(r"[\u4e00-\u9fff]")
A11Y = """() => {
  const fields = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')];
  return {title: document.title, h1: document.querySelectorAll('h1').length,
          unlabelled: fields.filter(f => !(f.labels && f.labels.length) && !f.getAttribute('aria-label'))
                            .map(f => f.outerHTML)};
}"""


async def accessible(page: Page) -> None:
    """Every page: a title, exactly one h1, and a label for each form field."""
    facts = await page.evaluate(A11Y)
    assert facts["title"].strip(), "page without a title"
    assert facts["h1"] == 1, f"{facts['h1']} h1 on {page.url}"
    assert facts["unlabelled"] == [], facts["unlabelled"]


async def sign_in(page: Page, server: ConsoleServer, key: str, then: str = "/console/queue") -> None:
    await page.goto(f"{server.url}/console/sign-in?next={then}")
    await accessible(page)
    await page.fill("#api_key", key)
    await page.click("form[action='/console/sign-in'] button")
    await expect(page.locator("header .who")).to_be_visible()


async def sign_out(page: Page) -> None:
    await page.click("form[action='/console/sign-out'] button")
    await expect(page.locator(".note")).to_have_text("You are signed out.")


async def shop_order(api: httpx.AsyncClient, *, delivered_north_km: float = 0.9) -> tuple[dict[str, Any], str]:
    """An order of customer c-1001: a declined card, then Alipay; a parcel delivered ~0.9 km from the address."""
    now = utcnow()
    order = (await api.post("/v1/orders", json=order_body(placed_at=(now - timedelta(days=4)).isoformat()))).json()
    declined = (await api.post(f"/v1/orders/{order['id']}/payments", json={
        "method": "card", "amount": "499.00", "currency": "CNY", "status": "pending"})).json()
    assert (await api.patch(f"/v1/payments/{declined['id']}",
                            json={"status": "failed", "failure_code": "card_declined"})).status_code == 200
    paid = (await api.post(f"/v1/orders/{order['id']}/payments", json={
        "method": "alipay", "amount": "499.00", "currency": "CNY", "status": "pending"})).json()
    assert (await api.patch(f"/v1/payments/{paid['id']}", json={"status": "succeeded"})).status_code == 200
    tracking = f"SF{uuid.uuid4().int % 10**12:012d}"
    resp = await api.post(f"/v1/orders/{order['id']}/shipments", json={"carrier": "sf-express",
                                                                       "tracking_number": tracking})
    assert resp.status_code == 201, resp.text
    lat = 31.2304 + delivered_north_km / 111.2
    events = [
        {"event_id": f"{tracking}-1", "status": "info_received", "occurred_at": (now - timedelta(days=3)).isoformat(),
         "description": "Shipment information received", "location": {"city": "Shenzhen", "country": "CN"}},
        {"event_id": f"{tracking}-2", "status": "in_transit", "occurred_at": (now - timedelta(days=2)).isoformat(),
         "description": "Departed sorting center", "location": {"city": "Shanghai", "country": "CN"}},
        {"event_id": f"{tracking}-3", "status": "out_for_delivery",
         "occurred_at": (now - timedelta(days=1, hours=3)).isoformat(), "description": "Out for delivery"},
        {"event_id": f"{tracking}-4", "status": "delivered", "occurred_at": (now - timedelta(days=1)).isoformat(),
         "description": "Delivered, signed by the building reception",
         "location": {"city": "Shanghai", "country": "CN", "lat": lat, "lon": 121.5060}}]
    resp = await api.post("/v1/tracking/events", json={"carrier": "sf-express", "tracking_number": tracking,
                                                       "events": events})
    assert resp.status_code == 200, resp.text
    return order, tracking


async def customer_ticket(api: httpx.AsyncClient, order: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"type": "not_received", "channel": "chat", "order_number": order["order_number"],
            "description": "The app says delivered but I have nothing", **extra}
    resp = await api.post("/v1/tickets", json=body, headers=auth(CUSTOMER_1))
    assert resp.status_code == 201, resp.text
    return resp.json()


class TestSignIn:
    async def test_wrong_key_then_agent_key_then_sign_out(self, page: Page, console_server: ConsoleServer,
                                                          browser: Any, tmp_path: Path) -> None:
        await page.goto(f"{console_server.url}/console/queue")
        await expect(page.locator("h1")).to_have_text("Sign in")  # no session: the sign-in page
        await page.fill("#api_key", "agent-key-0001-but-wrong")
        await page.click("form[action='/console/sign-in'] button")
        await expect(page.locator("#sign-in-error")).to_have_text("This key was not accepted. Check it and try again.")
        assert "agent-key-0001-but-wrong" not in await page.content()
        assert "key" not in page.url.split("?", 1)[-1].lower().replace("next", "")
        await page.screenshot(path=str(tmp_path / "wrong-key.png"))

        await page.fill("#api_key", AGENT)
        await page.click("form[action='/console/sign-in'] button")
        await expect(page.locator("h1")).to_have_text("Ticket queue")
        await accessible(page)
        assert AGENT not in await page.content() and AGENT not in page.url
        [session] = [c for c in await browser.cookies() if c["name"] == "os_console"]
        assert session["httpOnly"] is True and session["sameSite"] == "Strict"
        assert session["expires"] > utcnow().timestamp() + 3600
        assert AGENT not in session["value"]
        await page.screenshot(path=str(tmp_path / "queue.png"))

        await page.click("form[action='/console/sign-out'] button")
        await expect(page.locator(".note")).to_have_text("You are signed out.")
        assert not [c for c in await browser.cookies() if c["name"] == "os_console"]
        await page.goto(f"{console_server.url}/console/queue")
        await expect(page.locator("h1")).to_have_text("Sign in")

    async def test_keyboard_reaches_search(self, page: Page, console_server: ConsoleServer, api: httpx.AsyncClient
                                           ) -> None:
        order, _ = await shop_order(api)
        await sign_in(page, console_server, AGENT)
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.classList.contains('skip')")
        for _ in range(10):
            if await page.evaluate("document.activeElement.id") == "q":
                break
            await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == "q"
        await page.keyboard.type(order["order_number"])
        await page.keyboard.press("Enter")
        await expect(page.locator("h1")).to_have_text("Search")
        await expect(page.locator(".results a")).to_have_text(order["order_number"])


class TestSearch:
    async def test_by_order_number_email_and_tracking(self, page: Page, console_server: ConsoleServer,
                                                      api: httpx.AsyncClient, tmp_path: Path) -> None:
        order, tracking = await shop_order(api)
        await sign_in(page, console_server, AGENT)
        await page.fill("#q", order["order_number"])
        await page.press("#q", "Enter")
        await expect(page.locator("#query-kind")).to_have_text("Order number or tracking number.")
        await accessible(page)
        await page.screenshot(path=str(tmp_path / "search.png"))
        await page.click(f".results a:text('{order['order_number']}')")
        await expect(page.locator("h1")).to_contain_text(f"Order {order['order_number']}")

        await page.fill("#q", tracking)
        await page.press("#q", "Enter")
        await expect(page.locator(".results a")).to_have_text(order["order_number"])
        await page.fill("#q", "+86 138 0000 0000")
        await page.press("#q", "Enter")
        await expect(page.locator("#query-kind")).to_have_text("Looks like a phone number.")
        await expect(page.locator(f".results a:text('{order['order_number']}')")).to_have_count(1)

    async def test_by_tx_hash_finds_the_ticket_and_the_chain_family(self, page: Page, console_server: ConsoleServer,
                                                                     api: httpx.AsyncClient, nodes: Nodes) -> None:
        body = order_body(currency="USDT")
        body["items"][0]["unit_price"] = "12.50"
        order = (await api.post("/v1/orders", json=body)).json()
        tx = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 12_500000))
        await nodes.eth.receipt(tx)
        ticket = await customer_ticket(api, order, type="payment_failed", tx={"chain": "eth", "tx_hash": tx},
                                       description="I paid 12.5 USDT, the order says unpaid")
        await sign_in(page, console_server, AGENT)
        await page.fill("#q", tx.upper().replace("0X", "0x"))
        await page.press("#q", "Enter")
        await expect(page.locator("#query-kind")).to_contain_text("EVM")
        await expect(page.locator(f"a[href='/console/tickets/{ticket['id']}']")).to_have_count(1)
        await expect(page.locator(f".results a:text('{order['order_number']}')")).to_have_count(1)
        await expect(page.locator("#search-tx [data-tx-status]")).to_have_attribute(
            "data-tx-status", re.compile("confirmed|finalized"))
        await accessible(page)
        await page.click("text=Check this transaction")
        await expect(page.locator("h1")).to_have_text("Transaction checker")
        await expect(page.locator("#tx-result [data-tx-status]")).to_have_attribute("data-tx-status",
                                                                                    re.compile("confirmed|finalized"))


class TestTicketDesk:
    async def test_reply_note_status_and_what_the_customer_sees(self, page: Page, console_server: ConsoleServer,
                                                                api: httpx.AsyncClient, tmp_path: Path) -> None:
        order, _ = await shop_order(api)
        ticket = await customer_ticket(api, order)
        short = ticket["id"][-8:]
        await sign_in(page, console_server, AGENT)
        await page.select_option("#f-type", "not_received")
        await page.select_option("#f-status", "open")
        await page.click("form.filters button")
        await page.click(f"a:text('{short}')")
        await expect(page.locator("h1")).to_contain_text(f"Ticket {short}")
        await accessible(page)
        await expect(page.locator(".checklist")).to_have_count(0)  # a not_received ticket with a parcel: nothing missing

        await page.fill("#reply-text", "We asked the carrier for the proof of delivery.")
        await page.select_option("#reply-channel", "email")
        await page.click("form.reply button")
        await expect(page.locator(".note")).to_have_text("Message added.")
        await page.fill("#reply-text", "Reception signed 0.9 km away: ask SF for the POD photo.")
        await page.check("#vis-internal")
        await page.click("form.reply button")
        note = page.locator(".msg.internal")
        await expect(note).to_contain_text("ask SF for the POD photo")
        await expect(note.locator(".badge.internal")).to_have_text("Internal note")
        await expect(page.locator(".msg.by-agent:not(.internal)")).to_contain_text("proof of delivery")

        await page.click("button[data-move='waiting_customer']")
        await expect(page.locator(".note")).to_have_text("Status moved.")
        await expect(page.locator("h1 .badge")).to_have_text("waiting for the customer")
        await expect(page.locator("button[data-move='open']")).to_have_count(1)
        await page.screenshot(path=str(tmp_path / "ticket-agent.png"), full_page=True)

        await sign_out(page)
        await sign_in(page, console_server, CUSTOMER_1)
        await page.goto(f"{console_server.url}/console/tickets/{ticket['id']}")
        await expect(page.locator(".msg")).to_have_count(2)
        await expect(page.locator("#conversation")).to_contain_text("proof of delivery")
        assert "POD photo" not in await page.content()
        await expect(page.locator("button[data-move]")).to_have_count(0)
        await expect(page.locator("#vis-internal")).to_have_count(0)
        await accessible(page)
        await page.screenshot(path=str(tmp_path / "ticket-customer.png"), full_page=True)
        as_customer = (await api.get(f"/v1/tickets/{ticket['id']}", headers=auth(CUSTOMER_1))).json()
        assert [m["text"] for m in as_customer["messages"]] == [
            "The app says delivered but I have nothing", "We asked the carrier for the proof of delivery."]

    async def test_payment_check_and_check_again(self, page: Page, console_server: ConsoleServer,
                                                 api: httpx.AsyncClient, nodes: Nodes, tmp_path: Path) -> None:
        body = order_body(currency="USDT")
        body["items"][0]["unit_price"] = "7.25"
        order = (await api.post("/v1/orders", json=body)).json()
        tx = await nodes.eth.send(**token_transfer(nodes.eth, nodes.eth_usdt, MERCHANT, 7_250000))
        await nodes.eth.receipt(tx)
        ticket = await customer_ticket(api, order, type="payment_failed", tx={"chain": "eth", "tx_hash": tx},
                                       description="Paid 7.25 USDT, still unpaid")
        await sign_in(page, console_server, AGENT)
        await page.goto(f"{console_server.url}/console/tickets/{ticket['id']}")
        check = page.locator("#payment-check")
        await expect(check).to_contain_text(tx)
        await nodes.eth.mine(15)
        await check.locator("button").click()
        await expect(check.locator(".badge.v-paid")).to_have_text("paid")
        await expect(check.locator("[data-confirmations]")).to_have_text(re.compile(r"^\d+ / 12$"))
        await expect(page.locator("h1 .badge")).to_have_text("resolved")
        await page.screenshot(path=str(tmp_path / "payment-check.png"), full_page=True)

        # The same transfer claimed for a second order: already used; agents see which order it paid.
        second = (await api.post("/v1/orders", json={**body, "order_number": f"TP-{uuid.uuid4().hex[:12]}"})).json()
        again = await customer_ticket(api, second, type="payment_failed", tx={"chain": "eth", "tx_hash": tx},
                                      description="Paid this one too")
        assert again["payment_check"]["verdict"] == "already_used", again["payment_check"]
        await page.goto(f"{console_server.url}/console/tickets/{again['id']}")
        await expect(check.locator(".badge.v-already_used")).to_have_text("already used")
        await expect(check.locator(f"a[href='/console/orders/{order['id']}']")).to_have_text(order["order_number"])
        await sign_out(page)
        await sign_in(page, console_server, CUSTOMER_1)
        await page.goto(f"{console_server.url}/console/tickets/{again['id']}")
        await expect(check.locator(".badge.v-already_used")).to_have_count(1)
        assert order["order_number"] not in await check.inner_text()


class TestOrderPage:
    async def test_diagnosis_timeline_address_svg_returns_and_chinese(
            self, page: Page, console_server: ConsoleServer, api: httpx.AsyncClient, tmp_path: Path) -> None:
        order, _ = await shop_order(api)
        await customer_ticket(api, order)
        await sign_in(page, console_server, AGENT)
        sizes: dict[str, int] = {}

        async def weigh(response: Any) -> None:
            if response.request.resource_type in ("document", "stylesheet", "script") and response.status < 300:
                sizes[response.url] = len(await response.body())

        console_errors: list[str] = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("response", weigh)
        # The sign-in page left the CSS and JS in Chromium's memory cache, where a hit may fire no response event;
        # routing turns the cache off, so the page is weighed as a first visit.
        await page.route("**/*", lambda route: route.continue_())
        await page.goto(f"{console_server.url}/console/orders/{order['id']}")
        await page.wait_for_load_state("networkidle")
        page.remove_listener("response", weigh)
        await page.unroute("**/*")
        weight = sum(sizes.values())
        assert any(u.endswith(".css") for u in sizes) and any(u.endswith(".js") for u in sizes), sizes
        assert weight < 100 * 1024, f"order page weighs {weight} bytes: {sizes}"
        print(f"order page weight: {weight} bytes (HTML+CSS+JS)")

        await accessible(page)
        assert console_errors == []  # nothing refused by the Content-Security-Policy, no script error
        await expect(page.locator("h1")).to_contain_text(order["order_number"])
        await expect(page.locator("#diagnosis [data-code='delivered_but_reported_missing']")).to_have_count(1)
        scans = page.locator("#shipments .timeline.vertical li")
        await expect(scans).to_have_count(4)
        await expect(scans.first).to_contain_text("delivered")
        await expect(page.locator("#shipments")).to_contain_text("Times in Asia/Shanghai")
        svg = page.locator("figure.address-check svg")
        await expect(svg.locator("circle.ring-match")).to_have_count(1)
        await expect(svg.locator("circle.ring-mismatch")).to_have_count(1)
        await expect(page.locator("figure.address-check figcaption")).to_contain_text(re.compile(r"0\.9\d? km apart"))
        await expect(page.locator("#payments .timeline li")).to_have_count(4)
        await expect(page.locator("#returns [data-sku='TP-HW-01']")).to_contain_text("Can be returned")
        await page.screenshot(path=str(tmp_path / "order-en.png"), full_page=True)

        await page.select_option("#ret-reason", "damaged")
        await page.click("#returns form button")
        await expect(page.locator(".note")).to_have_text("Return requested.")
        await expect(page.locator("#returns")).to_contain_text("Returns requested")

        await page.click("header form[action='/console/language'] button")
        await expect(page.locator("h1")).to_contain_text("订单")
        assert await page.get_attribute("html", "lang") == "zh-CN"
        headline = await page.locator("#diagnosis .headline").inner_text()
        assert CJK.search(headline), headline
        await page.goto(f"{console_server.url}/console/orders/{order['id']}")  # remembered
        await expect(page.locator("#shipments")).to_contain_text("时区")
        await page.screenshot(path=str(tmp_path / "order-zh.png"), full_page=True)

        await page.set_viewport_size({"width": 390, "height": 844})  # a phone
        await page.reload()
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page is {overflow}px wider than a phone screen"
        await page.screenshot(path=str(tmp_path / "order-phone.png"), full_page=True)
        await page.set_viewport_size({"width": 1280, "height": 900})

    async def test_readable_without_javascript(self, console_server: ConsoleServer, api: httpx.AsyncClient) -> None:
        """What an agent reads is in the HTML itself: no script needed to see diagnosis, scans and the drawing."""
        order, tracking = await shop_order(api)
        async with httpx.AsyncClient(base_url=console_server.url) as browserless:
            form = await browserless.get("/console/sign-in")
            signed = await browserless.post("/console/sign-in", data={"api_key": AGENT, "csrf_token": csrf_of(form.text)})
            assert signed.status_code == 303
            html = (await browserless.get(f"/console/orders/{order['id']}")).text
        assert tracking in html and "<svg" in html and "Delivered, signed by the building reception" in html
        assert 'class="headline"' in html


class TestTxChecker:
    async def test_token_transfer_and_a_reverted_tx_on_anvil(self, page: Page, console_server: ConsoleServer,
                                                             nodes: Nodes, tmp_path: Path) -> None:
        node = nodes.eth
        tx = await node.send(**token_transfer(node, nodes.eth_usdt, MERCHANT, 3_141592))
        await node.receipt(tx)
        await sign_in(page, console_server, AGENT)
        await page.click("header nav a[href='/console/tx']")
        await expect(page.locator("h1")).to_have_text("Transaction checker")
        await accessible(page)
        await page.fill("#tx-hash", tx)
        await page.click("form.filters button")
        result = page.locator("#tx-result")
        await expect(result.locator("[data-tx-status]")).to_have_attribute("data-tx-status",
                                                                           re.compile("confirmed|finalized"))
        await expect(result.locator(".hint")).to_contain_text("EVM")
        await expect(result.locator("table.transfers")).to_contain_text("3.141592")
        await expect(result.locator(".answer")).to_be_visible()
        await accessible(page)
        await page.screenshot(path=str(tmp_path / "tx-en.png"), full_page=True)

        await page.select_option("#tx-lang", "zh-CN")
        await page.click("form.filters button")
        await expect(result.locator(".answer[lang='zh-CN']")).to_be_visible()
        answer = await result.locator(".answer p").first.inner_text()
        assert CJK.search(answer), answer

        # A transfer of more tokens than the sender holds reverts: failed, with the reason.
        broke = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
        reverted = await node.send(**token_transfer(node, nodes.eth_usdt, MERCHANT, 10**12, gas=200_000),
                                   **{"from": broke})
        await node.receipt(reverted)
        await page.fill("#tx-hash", reverted)
        await page.select_option("#tx-lang", "en")
        await page.click("form.filters button")
        await expect(result.locator("h2")).to_contain_text(reverted)
        await expect(result.locator("[data-tx-status]")).to_have_attribute("data-tx-status", "failed")
        await expect(result).to_contain_text("reverted")
        await page.screenshot(path=str(tmp_path / "tx-failed.png"), full_page=True)

    async def test_a_hash_from_another_chain_is_found_there(self, page: Page, console_server: ConsoleServer,
                                                            nodes: Nodes, tmp_path: Path) -> None:
        """Sent on BSC, pasted without a chain: asked on Ethereum first, found on BSC, and the answer says so."""
        tx = await nodes.bsc.send(to=MERCHANT, value=10**15)
        await nodes.bsc.receipt(tx)
        await sign_in(page, console_server, AGENT)
        await page.goto(f"{console_server.url}/console/tx")
        await page.fill("#tx-hash", tx)
        await page.click("form.filters button")
        result = page.locator("#tx-result")
        await expect(result.locator("[data-tx-status]")).to_have_attribute("data-tx-status", "not_found")
        await expect(result).to_contain_text("Found on another chain")
        await expect(result.locator("dd", has_text="bsc")).to_have_count(1)
        await expect(result.locator(".answer")).to_contain_text("bsc")
        await page.screenshot(path=str(tmp_path / "tx-found-on.png"), full_page=True)
