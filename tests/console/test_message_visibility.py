"""Ticket messages carry a visibility: internal notes are for agents and never reach a customer key."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import AGENT, CUSTOMER_1, auth
from tests.factories import order_body


async def _ticket(client: httpx.AsyncClient) -> dict[str, Any]:
    order = await client.post("/v1/orders", json=order_body(), headers=auth(AGENT))
    assert order.status_code == 201, order.text
    resp = await client.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
        "type": "not_received", "channel": "chat", "order_number": order.json()["order_number"],
        "description": "The app says delivered but I have nothing"})
    assert resp.status_code == 201, resp.text
    return resp.json()


class TestVisibility:
    async def test_internal_note_hidden_from_customer_shown_to_agent(self, client: httpx.AsyncClient) -> None:
        ticket = await _ticket(client)
        path = f"/v1/tickets/{ticket['id']}"
        note = await client.post(f"{path}/messages", headers=auth(AGENT),
                                 json={"text": "Carrier POD looks forged; escalate.", "visibility": "internal"})
        assert note.status_code == 201, note.text
        assert note.json()["visibility"] == "internal"
        reply = await client.post(f"{path}/messages", headers=auth(AGENT),
                                  json={"text": "We asked the carrier for the proof of delivery.", "channel": "email"})
        assert reply.json()["visibility"] == "public"

        as_agent = (await client.get(path, headers=auth(AGENT))).json()
        assert [m["visibility"] for m in as_agent["messages"]] == ["public", "internal", "public"]
        as_customer = (await client.get(path, headers=auth(CUSTOMER_1))).json()
        texts = [m["text"] for m in as_customer["messages"]]
        assert "Carrier POD looks forged; escalate." not in texts
        assert "We asked the carrier for the proof of delivery." in texts
        assert all(m["visibility"] == "public" for m in as_customer["messages"])

    async def test_customer_cannot_post_an_internal_note(self, client: httpx.AsyncClient) -> None:
        ticket = await _ticket(client)
        path = f"/v1/tickets/{ticket['id']}"
        resp = await client.post(f"{path}/messages", headers=auth(CUSTOMER_1),
                                 json={"text": "let me hide this", "visibility": "internal"})
        assert resp.status_code == 403
        assert resp.headers["content-type"].startswith("application/problem+json")
        messages = (await client.get(path, headers=auth(AGENT))).json()["messages"]
        assert [m["text"] for m in messages] == ["The app says delivered but I have nothing"]

    async def test_unknown_visibility_is_a_422(self, client: httpx.AsyncClient) -> None:
        ticket = await _ticket(client)
        resp = await client.post(f"/v1/tickets/{ticket['id']}/messages", headers=auth(AGENT),
                                 json={"text": "x", "visibility": "secret"})
        assert resp.status_code == 422
