"""Account changes confirmed by e-mail: confirm, expired link, reused link, wrong customer, after shipment."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from services.common.types import utcnow
from services.orders.channels import repository as repo
from services.orders.channels.models import AccountChange
from tests.conftest import AGENT, CUSTOMER_1, CUSTOMER_2, SERVICE, auth
from tests.factories import order_body

NEW_ADDRESS = {"recipient": "Li Lei", "line1": "1 Nanjing Rd", "city": "Shanghai", "postal_code": "200001",
               "country": "CN"}


async def customer_with_order(client: httpx.AsyncClient, unique: str, customer_id: str = "c-1001",
                              **overrides: Any) -> tuple[dict[str, Any], str]:
    email = f"li.{unique.lower()}@example.com"
    body = order_body(customer={"id": customer_id, "email": email, "phone": "+8613800000000"}, **overrides)
    order = (await client.post("/v1/orders", json=body, headers=auth(SERVICE))).json()
    return order, email


async def link_sent_to(app: FastAPI, address: str) -> str:
    async with app.state.sessionmaker() as session:
        mails = await repo.outbox_items(session, kind="email", target=address)
    assert mails, f"no mail to {address}"
    match = re.search(r"/v1/account-changes/confirm\?token=(\S+)", mails[-1].payload["text"])
    assert match, mails[-1].payload["text"]
    return match.group(1)


async def confirm(client: httpx.AsyncClient, token: str, key: str | None = None) -> httpx.Response:
    return await client.post("/v1/account-changes/confirm", params={"token": token},
                             headers=auth(key) if key else {})


class TestAccountChanges:
    async def test_new_email_confirmed_from_both_addresses_then_applied_and_audited(
            self, app: FastAPI, client: httpx.AsyncClient, unique: str) -> None:
        customer_id = f"c-acc-{unique}"
        order, old = await customer_with_order(client, unique, customer_id)
        new = f"new.{unique.lower()}@example.net"
        resp = await client.post(f"/v1/customers/{customer_id}/changes", headers={**auth(AGENT), "Accept-Language": "zh-CN"},
                                 json={"email": new, "phone": "+8613900000000"})
        assert resp.status_code == 201, resp.text
        change = resp.json()
        assert change["status"] == "pending_confirmation" and change["confirmations_needed"] == 2
        assert change["changes"]["email"] == {"from": old, "to": new}
        async with app.state.sessionmaker() as session:
            to_old = (await repo.outbox_items(session, kind="email", target=old))[-1].payload
        assert to_old["subject"] == "请确认您的账户信息变更" and f"联系邮箱：{old} → {new}" in to_old["text"]
        page = await client.get("/v1/account-changes/confirm", params={"token": await link_sent_to(app, old)})
        assert page.status_code == 200 and "<form method=\"post\"" in page.text  # opening the link changes nothing
        first = await confirm(client, await link_sent_to(app, old))
        assert first.status_code == 200 and first.json()["status"] == "pending_confirmation"
        assert first.json()["confirmations_needed"] == 1
        done = await confirm(client, await link_sent_to(app, new))
        assert done.status_code == 200 and done.json()["status"] == "applied", done.text
        refreshed = (await client.get(f"/v1/orders/{order['id']}", headers=auth(AGENT))).json()
        assert refreshed["customer"]["email"] == new and refreshed["customer"]["phone"] == "+8613900000000"
        audit = (await client.get(f"/v1/customers/{customer_id}/audit", headers=auth(AGENT))).json()
        assert {(a["field"], a["old_value"], a["new_value"]) for a in audit} == {
            ("email", old, new), ("phone", "+8613800000000", "+8613900000000")}
        assert all(a["requested_by"].startswith("agent:") for a in audit)
        async with app.state.sessionmaker() as session:
            notices = [m.payload for m in await repo.outbox_items(session, kind="email", target=old)]
        assert notices[-1]["template"] == "change_notice_old" and new in notices[-1]["text"]

    async def test_reused_link_and_expired_link(self, app: FastAPI, client: httpx.AsyncClient, unique: str) -> None:
        _, email = await customer_with_order(client, unique, f"c-re-{unique}")
        change = (await client.post(f"/v1/customers/c-re-{unique}/changes", headers=auth(SERVICE),
                                    json={"phone": "+8613711112222"})).json()
        token = await link_sent_to(app, email)
        assert (await confirm(client, token)).json()["status"] == "applied"
        again = await confirm(client, token)
        assert again.status_code == 410 and "already been used" in again.json()["detail"]
        assert (await confirm(client, token[:-3] + "abc")).status_code == 410  # a forged token
        # Expired: a second change whose link outlived its time.
        settings = app.state.settings
        app.state.settings = settings.model_copy(update={"account_link_ttl_minutes": 0.001})  # 60 ms
        try:
            second = (await client.post(f"/v1/customers/c-re-{unique}/changes", headers=auth(SERVICE),
                                        json={"phone": "+8613733334444"})).json()
        finally:
            app.state.settings = settings
        await asyncio.sleep(0.1)
        expired = await confirm(client, await link_sent_to(app, email))
        assert expired.status_code == 410 and expired.json()["change_status"] == "expired", expired.text
        async with app.state.sessionmaker() as session:
            row = await session.get(AccountChange, second["id"])
        assert row is not None and row.status == "expired" and row.applied_at is None
        state = (await client.get(f"/v1/customers/c-re-{unique}/changes/{second['id']}", headers=auth(AGENT))).json()
        assert state["status"] == "expired" and change["id"] != second["id"]
        audit = (await client.get(f"/v1/customers/c-re-{unique}/audit", headers=auth(AGENT))).json()
        assert [a["new_value"] for a in audit] == ["+8613711112222"]  # the expired one changed nothing

    async def test_wrong_customer(self, app: FastAPI, client: httpx.AsyncClient, unique: str) -> None:
        order, _ = await customer_with_order(client, unique)  # customer c-1001 (CUSTOMER_1's key)
        other = await client.post("/v1/customers/c-1001/changes", headers=auth(CUSTOMER_2), json={"phone": "+861"})
        assert other.status_code in (404, 422)
        other = await client.post("/v1/customers/c-1001/changes", headers=auth(CUSTOMER_2),
                                  json={"phone": "+8613755556666"})
        assert other.status_code == 404
        mine = await client.post("/v1/customers/c-1001/changes", headers=auth(CUSTOMER_1),
                                 json={"shipping_address": NEW_ADDRESS, "order_ids": [order["id"]]})
        assert mine.status_code == 201, mine.text
        # c-1001 is CUSTOMER_1's, shared with other tests: the link goes to the address on file, which is this
        # test's only when no earlier test registered the customer first.
        async with app.state.sessionmaker() as session:
            customer = await repo.customer_by_id(session, "c-1001")
        assert customer is not None and customer.email
        token = await link_sent_to(app, customer.email)
        refused = await confirm(client, token, key=CUSTOMER_2)
        assert refused.status_code == 410 and "another customer" in refused.json()["detail"]
        applied = await confirm(client, token, key=CUSTOMER_1)
        assert applied.json()["status"] == "applied"
        moved = (await client.get(f"/v1/orders/{order['id']}", headers=auth(AGENT))).json()
        assert moved["shipping_address"]["line1"] == "1 Nanjing Rd"

    async def test_after_shipment_refused_with_carrier_advice(self, client: httpx.AsyncClient, unique: str) -> None:
        order, _ = await customer_with_order(client, unique, f"c-sh-{unique}")
        await client.post(f"/v1/orders/{order['id']}/payments", headers=auth(SERVICE), json={
            "method": "card", "amount": order["total"], "currency": order["currency"], "status": "succeeded"})
        tracking = f"SF{int(unique, 16) % 10**12:012d}"
        await client.post(f"/v1/orders/{order['id']}/shipments", headers=auth(AGENT),
                          json={"carrier": "sf-express", "tracking_number": tracking})
        await client.post("/v1/tracking/events", headers=auth(SERVICE), json={
            "carrier": "sf-express", "tracking_number": tracking,
            "events": [{"event_id": "t1", "status": "in_transit", "occurred_at": utcnow().isoformat()}]})
        resp = await client.post(f"/v1/customers/c-sh-{unique}/changes",
                                 headers={**auth(AGENT), "Accept-Language": "zh-CN"},
                                 json={"shipping_address": NEW_ADDRESS, "order_ids": [order["id"]]})
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["status"] == "refused" and body["changes"] == {}
        assert body["refused"][0]["reason"] == "already_shipped"
        assert body["advice"][0].startswith(f"订单 {order['order_number']} 已由 sf-express 发出（运单号 {tracking}）")
        en = (await client.post(f"/v1/customers/c-sh-{unique}/changes", headers=auth(AGENT),
                                json={"shipping_address": NEW_ADDRESS, "order_ids": [order["id"]]})).json()
        assert "Ask sf-express to redirect the parcel" in en["advice"][0]

    async def test_password_requests_get_advice_not_a_field(self, client: httpx.AsyncClient, unique: str) -> None:
        await customer_with_order(client, unique, f"c-pw-{unique}")
        resp = await client.post(f"/v1/customers/c-pw-{unique}/changes", headers=auth(AGENT),
                                 json={"new_password": "hunter2"})
        assert resp.status_code == 422
        text = str(resp.json())
        assert "Forgot password" in text and "忘记密码" in text and "hunter2" not in text
        nothing = await client.post(f"/v1/customers/c-pw-{unique}/changes", headers=auth(AGENT), json={})
        assert nothing.status_code == 422
        assert (await client.post("/v1/customers/c-nobody/changes", headers=auth(AGENT),
                                  json={"phone": "+8613700000000"})).status_code == 404

    async def test_a_ticket_that_is_not_the_customers_is_a_422_and_changes_nothing(
            self, app: FastAPI, client: httpx.AsyncClient, unique: str) -> None:
        customer_id = f"c-tkt-{unique}"
        await customer_with_order(client, unique, customer_id)
        for ticket_id in ("0", "tkt_does_not_exist"):
            resp = await client.post(f"/v1/customers/{customer_id}/changes", headers=auth(AGENT),
                                     json={"phone": "+8613900000001", "ticket_id": ticket_id})
            assert resp.status_code == 422, resp.text
            assert resp.json()["errors"][0]["field"] == "ticket_id"
        async with app.state.sessionmaker() as session:
            left = (await session.execute(select(AccountChange).where(
                AccountChange.customer_id == customer_id))).scalars().all()
        assert left == []
