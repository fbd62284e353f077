"""The console's doors: CSRF on every form, no cross-site POST, sessions that cannot be forged or outlive their
expiry, a customer kept to its own orders, and the key never shown, put in a URL or logged."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.auth import Principal
from services.orders.console.session import decode_session, encode_session
from tests.conftest import AGENT, CUSTOMER_1, CUSTOMER_2, SERVICE, auth
from tests.console.conftest import ConsoleServer, csrf_of
from tests.factories import order_body


async def signed_in(server: ConsoleServer, key: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=server.url, timeout=30)
    form = await client.get("/console/sign-in")
    resp = await client.post("/console/sign-in", data={"api_key": key, "csrf_token": csrf_of(form.text),
                                                        "next": "/console/queue"})
    assert resp.status_code == 303, resp.text
    return client


@pytest.fixture
async def agent_console(console_server: ConsoleServer) -> AsyncIterator[httpx.AsyncClient]:
    client = await signed_in(console_server, AGENT)
    yield client
    await client.aclose()


async def _ticket(api: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str]]:
    order = (await api.post("/v1/orders", json=order_body())).json()
    ticket = (await api.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
        "type": "order_status", "channel": "email", "order_number": order["order_number"],
        "description": "Where is my order?"})).json()
    return order, ticket


class TestSession:
    async def test_cookie_is_signed_httponly_strict_and_expires(self, console_server: ConsoleServer) -> None:
        async with httpx.AsyncClient(base_url=console_server.url) as client:
            form = await client.get("/console/sign-in")
            resp = await client.post("/console/sign-in", data={"api_key": AGENT, "csrf_token": csrf_of(form.text)})
        assert resp.status_code == 303 and resp.headers["location"] == "/console/queue"
        cookie = next(c for c in resp.headers.get_list("set-cookie") if c.startswith("os_console="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        assert re.search(r"Max-Age=\d+", cookie)
        assert AGENT not in cookie

    def test_a_tampered_or_expired_session_is_no_session(self) -> None:
        secret = b"s" * 32
        value = encode_session(secret, Principal(role="customer", customer_id="c-1001", key_id="k"), now=1000)
        assert decode_session(secret, value, now=1001) is not None
        _, signature = value.split(".")
        forged = encode_session(b"other", Principal(role="agent", key_id="k"), now=1000)
        assert decode_session(secret, forged, now=1001) is None
        assert decode_session(secret, forged.split(".")[0] + "." + signature, now=1001) is None
        assert decode_session(secret, value, now=1000 + 9 * 3600) is None

    async def test_wrong_key_one_message_no_echo_and_never_logged(self, console_server: ConsoleServer,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        async with httpx.AsyncClient(base_url=console_server.url) as client:
            answers = []
            for key in ("nope-not-a-key", SERVICE, AGENT[:-1]):
                form = await client.get("/console/sign-in")
                resp = await client.post("/console/sign-in", data={"api_key": key, "csrf_token": csrf_of(form.text)})
                assert resp.status_code == 401
                assert key not in resp.text
                answers.append(re.search(r'role="alert"[^>]*>([^<]+)<', resp.text).group(1))  # type: ignore[union-attr]
            assert len(set(answers)) == 1 and answers[0] == "This key was not accepted. Check it and try again."
            await signed_in(console_server, AGENT)
        assert "/console/sign-in" in caplog.text  # the server's request log was captured...
        for key in ("nope-not-a-key", SERVICE, AGENT):
            assert key not in caplog.text  # ...and no key is in it

    async def test_sign_in_without_its_cookie_or_token_is_refused(self, console_server: ConsoleServer) -> None:
        async with httpx.AsyncClient(base_url=console_server.url) as client:
            resp = await client.post("/console/sign-in", data={"api_key": AGENT, "csrf_token": "x"})
            assert resp.status_code == 403 and "os_console=" not in resp.headers.get("set-cookie", "")
            form = await client.get("/console/sign-in")
            resp = await client.post("/console/sign-in", data={"api_key": AGENT})
            assert resp.status_code == 403 and "os_console=" not in resp.headers.get("set-cookie", "")
            assert "did not come from this console" in resp.text and AGENT not in resp.text
            resp = await client.post("/console/sign-in", data={"api_key": AGENT, "csrf_token": csrf_of(form.text)},
                                     headers={"Origin": "https://evil.example"})
            assert resp.status_code == 403 and "os_console=" not in resp.headers.get("set-cookie", "")


class TestCsrf:
    async def test_a_form_without_the_token_is_refused(self, agent_console: httpx.AsyncClient,
                                                       api: httpx.AsyncClient) -> None:
        _, ticket = await _ticket(api)
        path = f"/console/tickets/{ticket['id']}"
        resp = await agent_console.post(f"{path}/messages", data={"text": "no token here"})
        assert resp.status_code == 403
        assert "did not come from this console" in resp.text
        resp = await agent_console.post(f"{path}/status", data={"status": "resolved", "csrf_token": "forged"})
        assert resp.status_code == 403
        after = (await api.get(f"/v1/tickets/{ticket['id']}")).json()
        assert after["status"] == "open" and len(after["messages"]) == 1

        page = await agent_console.get(path)
        resp = await agent_console.post(f"{path}/messages", data={"text": "with the token",
                                                                  "csrf_token": csrf_of(page.text)})
        assert resp.status_code == 303
        assert (await api.get(f"/v1/tickets/{ticket['id']}")).json()["messages"][-1]["text"] == "with the token"

    async def test_a_cross_site_post_is_refused(self, console_server: ConsoleServer, agent_console: httpx.AsyncClient,
                                                api: httpx.AsyncClient) -> None:
        _, ticket = await _ticket(api)
        path = f"/console/tickets/{ticket['id']}/status"
        token = csrf_of((await agent_console.get(f"/console/tickets/{ticket['id']}")).text)
        # What another site's page can make a browser send: no cookie (SameSite=Strict), its own Origin.
        async with httpx.AsyncClient(base_url=console_server.url) as stranger:
            resp = await stranger.post(path, data={"status": "resolved", "csrf_token": token},
                                       headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
            assert resp.status_code == 403
        # Even carrying the session and a valid token, a cross-site origin is refused.
        resp = await agent_console.post(path, data={"status": "resolved", "csrf_token": token},
                                        headers={"Origin": "https://evil.example"})
        assert resp.status_code == 403
        assert (await api.get(f"/v1/tickets/{ticket['id']}")).json()["status"] == "open"

    async def test_sign_out_needs_the_token_too(self, agent_console: httpx.AsyncClient) -> None:
        assert (await agent_console.post("/console/sign-out", data={})).status_code == 403
        assert (await agent_console.get("/console/queue")).status_code == 200


class TestCustomerSession:
    async def test_another_customers_order_and_ticket_are_404(self, console_server: ConsoleServer,
                                                              api: httpx.AsyncClient) -> None:
        order, ticket = await _ticket(api)  # customer c-1001's
        other = await signed_in(console_server, CUSTOMER_2)
        try:
            for path in (f"/console/orders/{order['id']}", f"/console/tickets/{ticket['id']}"):
                resp = await other.get(path)
                assert resp.status_code == 404
                assert order["order_number"] not in resp.text
            search = await other.get("/console/search", params={"q": order["order_number"]})
            assert order["order_number"] not in search.text.split("<main", 1)[1].replace(
                f"“{order['order_number']}”", "")
            queue = await other.get("/console/queue")
            assert ticket["id"][-8:] not in queue.text
        finally:
            await other.aclose()
        owner = await signed_in(console_server, CUSTOMER_1)
        try:
            assert (await owner.get(f"/console/orders/{order['id']}")).status_code == 200
            page = await owner.get(f"/console/tickets/{ticket['id']}")
            assert page.status_code == 200 and 'name="visibility"' not in page.text
            resp = await owner.post(f"/console/tickets/{ticket['id']}/status",
                                    data={"status": "closed", "csrf_token": csrf_of(page.text)})
            assert resp.status_code == 403
        finally:
            await owner.aclose()
