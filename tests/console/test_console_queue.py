"""The queue pages by cursor: a ticket that arrives while an agent pages neither repeats nor hides one; and the
search box recognises what was typed from its shape."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from services.common.auth import Principal
from services.orders.console import service as console
from services.orders.console.shapes import classify
from tests.conftest import AGENT, auth
from tests.factories import order_body


async def _ticket(client: httpx.AsyncClient, order_number: str, n: int) -> str:
    resp = await client.post("/v1/tickets", headers=auth(AGENT), json={
        "type": "order_status", "channel": "chat", "order_number": order_number, "description": f"question {n}"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


class TestQueuePaging:
    @pytest.mark.parametrize("newest_first", [True, False])
    async def test_cursor_pages_stay_correct_while_tickets_arrive(self, client: httpx.AsyncClient, app: FastAPI,
                                                                  newest_first: bool) -> None:
        customer = f"c-q-{uuid.uuid4().hex[:8]}"
        order = (await client.post("/v1/orders", headers=auth(AGENT),
                                   json=order_body(customer={"id": customer, "email": "q@example.com"}))).json()
        made = [await _ticket(client, order["order_number"], n) for n in range(5)]
        principal = Principal(role="customer", customer_id=customer)
        filters = console.QueueFilters(newest_first=newest_first)
        seen: list[str] = []
        cursor: str | None = None
        late: str | None = None
        for _ in range(10):
            async with app.state.sessionmaker() as session:
                page = await console.queue(session, principal=principal, filters=filters, cursor=cursor, limit=2)
            seen += [t.id for t in page.tickets]
            assert page.counts.get("open", 0) == 5 + (late is not None)
            if late is None:
                late = await _ticket(client, order["order_number"], 99)  # arrives after the first page
            cursor = page.next_cursor
            if cursor is None:
                break
        expected = list(reversed(made)) if newest_first else [*made, late]
        assert seen == expected  # newest first: the late one sits above page 1 and shows on a reload, not twice

    def test_a_foreign_cursor_restarts_at_the_first_page(self) -> None:
        assert console.decode_cursor("not-a-cursor") is None
        assert console.decode_cursor(None) is None


class TestShapes:
    @pytest.mark.parametrize(("text", "kind", "families"), [
        ("0x" + "ab" * 32, "tx_hash", ("evm", "aptos", "substrate")),
        ("ab" * 32, "tx_hash", ("tron", "bitcoin", "antelope")),
        ("5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW", "tx_hash",
         ("solana",)),
        ("Li@Example.com", "email", ()),
        ("+86 138-0000-0000", "phone", ()),
        ("TP20261124-0001", "reference", ()),
        ("9400111899223817476318", "reference", ()),  # 22 digits: a USPS tracking number, not a phone
    ])
    def test_what_the_box_recognises(self, text: str, kind: str, families: tuple[str, ...]) -> None:
        shape = classify(text)
        assert (shape.kind, shape.families) == (kind, families)

    def test_default_chain_per_family(self) -> None:
        assert classify("0x" + "ab" * 32).default_chain == "eth"
        assert classify("ab" * 32).default_chain == "tron"


class TestCatalog:
    def test_both_languages_have_every_text_and_templates_name_only_existing_ones(self) -> None:
        import re
        from pathlib import Path

        from services.orders.console.catalog import EN, ZH, Texts

        def keys(tree: dict[str, object], prefix: str = "") -> set[str]:
            found: set[str] = set()
            for key, value in tree.items():
                found |= keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}  # type: ignore[arg-type]
            return found

        assert keys(EN) == keys(ZH)
        folder = Path(console.__file__).parent / "templates"
        used = {m for f in folder.glob("*.html") for m in re.findall(r'\bt\("([a-z_.]+[a-z_])"', f.read_text())}
        assert len(used) > 50
        for lang in ("en", "zh-CN"):
            texts = Texts(lang)
            for key in used:
                assert texts(key, status="x", id="x", number="x", zone="x", km=1, q="x", who="x", days=1,
                             counted_from="x", match=1, mismatch=2, family="x", seconds=1, detail="x",
                             families="x", verdict="x")
