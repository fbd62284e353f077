"""Help center search (Chinese segmented with jieba), suggestions on new tickets, resolutions per article; tech
support tickets with attachments (size limit, type sniffed from content)."""

from __future__ import annotations

import struct
import zlib

import httpx
import pytest
from fastapi import FastAPI

from services.orders.channels.help import search
from tests.conftest import AGENT, CUSTOMER_1, CUSTOMER_2, auth

# Written the way customers write to us (no keywords chosen to match the articles' titles).
ZH_QUERIES = [
    ("订单未收到", "parcel-not-received"),
    ("快递显示已签收但我没拿到", "parcel-not-received"),
    ("我的包裹到哪了", "parcel-not-received"),
    ("付款了但订单还显示未支付", "payment-failed-or-unpaid"),
    ("USDT转账一直没到账", "wallet-transfer-not-arrived"),
    ("我想退货怎么办", "returns-and-refunds"),
    ("怎么修改收货地址", "change-account-details"),
    ("换手机号了", "change-account-details"),
    ("钱包连不上蓝牙", "device-connection-problems"),
]
EN_QUERIES = [("where is my parcel", "parcel-not-received"), ("I want a refund", "returns-and-refunds"),
              ("usdt transfer not arrived", "wallet-transfer-not-arrived"), ("change my email", "change-account-details")]


def png() -> bytes:
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


class TestHelpSearch:
    @pytest.mark.parametrize(("query", "expected"), ZH_QUERIES)
    def test_chinese_queries_find_the_right_article_first(self, query: str, expected: str) -> None:
        hits = search(query, lang="zh-CN")
        assert hits and hits[0].article_id == expected, [(h.article_id, h.score) for h in hits]

    @pytest.mark.parametrize(("query", "expected"), EN_QUERIES)
    def test_english_queries(self, query: str, expected: str) -> None:
        assert search(query, lang="en")[0].article_id == expected

    async def test_over_http(self, client: httpx.AsyncClient) -> None:
        resp = await client.get("/v1/help/articles", params={"q": "订单未收到", "lang": "zh-CN"}, headers=auth(CUSTOMER_1))
        assert resp.status_code == 200
        first = resp.json()["items"][0]
        assert first["id"] == "parcel-not-received" and first["title"] == "包裹未收到，或显示已签收但没拿到"
        everything = (await client.get("/v1/help/articles", headers=auth(CUSTOMER_1))).json()
        assert {a["topic"] for a in everything["items"]} >= {"payments", "returns", "missing_parcels",
                                                             "account_changes", "wallet_transfers"}
        article = (await client.get("/v1/help/articles/returns-and-refunds", params={"lang": "en"},
                                    headers=auth(CUSTOMER_1))).json()
        assert article["body"].startswith("Electronics can be returned within 7 days")
        assert (await client.get("/v1/help/articles/nope", headers=auth(AGENT))).status_code == 404


class TestSuggestionsAndResolutions:
    async def test_new_ticket_suggests_three_and_a_resolution_is_counted_once(self, client: httpx.AsyncClient) -> None:
        ticket = (await client.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
            "type": "not_received", "channel": "chat", "description": "快递显示已签收，但是我没有收到包裹",
            "lang": "zh-CN"})).json()
        suggested = ticket["suggested_articles"]
        assert 1 <= len(suggested) <= 3 and suggested[0]["id"] == "parcel-not-received"
        before = (await client.get("/v1/help/articles/parcel-not-received", headers=auth(AGENT))).json()["resolutions"]
        for _ in range(2):
            resp = await client.post("/v1/help/articles/parcel-not-received/resolutions", headers=auth(CUSTOMER_1),
                                     json={"ticket_id": ticket["id"]})
            assert resp.status_code == 201, resp.text
        assert resp.json()["resolutions"] == before + 1
        assert (await client.get(f"/v1/tickets/{ticket['id']}", headers=auth(AGENT))).json()["status"] == "resolved"
        assert (await client.post("/v1/help/articles/parcel-not-received/resolutions", headers=auth(CUSTOMER_2),
                                  json={"ticket_id": ticket["id"]})).status_code == 404


class TestTechSupport:
    async def test_ticket_with_model_kind_and_screenshot(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        ticket = (await client.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
            "type": "tech_support", "channel": "chat", "description": "The app crashes when pairing over bluetooth",
            "details": {"device_model": "iPhone 15", "product": "TP-HW-01 hardware wallet",
                        "problem_kind": "software"}})).json()
        assert ticket["details"]["problem_kind"] == "software" and ticket["missing_information"] == []
        assert ticket["suggested_articles"][0]["id"] == "device-connection-problems"
        url = f"/v1/tickets/{ticket['id']}/attachments"
        shot = await client.post(url, params={"filename": "notes.txt"}, content=png(), headers=auth(CUSTOMER_1))
        assert shot.status_code == 201, shot.text
        assert shot.json()["content_type"] == "image/png" and shot.json()["filename"] == "notes.txt"
        zipped = b"PK\x03\x04" + b"\x14\x00" * 20 + b"\x00" * 40
        refused = await client.post(url, params={"filename": "photo.png"}, content=zipped, headers=auth(CUSTOMER_1))
        assert refused.status_code == 415 and "application/zip" in refused.json()["detail"]
        settings = app.state.settings
        app.state.settings = settings.model_copy(update={"max_attachment_bytes": 50})
        try:
            big = await client.post(url, content=png(), headers=auth(CUSTOMER_1))
        finally:
            app.state.settings = settings
        assert big.status_code == 413
        assert (await client.post(url, content=png(), headers=auth(CUSTOMER_2))).status_code == 404
        listed = (await client.get(url, headers=auth(CUSTOMER_1))).json()
        assert [a["content_type"] for a in listed] == ["image/png"]
        bad = await client.post("/v1/tickets", headers=auth(CUSTOMER_1), json={
            "type": "tech_support", "channel": "chat", "description": "x", "details": {"problem_kind": "magic"}})
        assert bad.status_code == 422
