"""Faults a local node cannot show, through respx at the endpoints' URLs: timeouts, refused connections,
429, 5xx, non-JSON, JSON-RPC errors, a node on the wrong chain, a lagging node; failover in order."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from services.common.settings import Settings
from services.wallet_support.cache import ResultCache
from services.wallet_support.chains.base import ChainUnavailable
from services.wallet_support.chains.evm import EvmClient
from services.wallet_support.chains.registry import load_chains
from services.wallet_support.chains.transport import RpcTransport
from tests.conftest import API_KEYS

A, B = "http://rpc-a.test/", "http://rpc-b.test/"
TX = "0x382dc93eae2df291bd5e885499778ac871babba3e2c5dcbf308be7c06be84739"
DATA = Path(__file__).resolve().parents[1] / "data" / "chains"
USDT_RECEIPT = json.loads((DATA / "eth_getTransactionReceipt_usdt_erc20_transfer_success_mainnet_2019.json").read_text())
# The tx object for that mainnet receipt (the receipt fixture is recorded; this body carries only what it implies).
USDT_TX = {"hash": TX, "from": USDT_RECEIPT["result"]["from"], "to": USDT_RECEIPT["result"]["to"], "nonce": "0x1",
           "value": "0x0", "gas": "0x15f90", "gasPrice": "0x3b9aca00", "input": "0xa9059cbb",
           "blockNumber": USDT_RECEIPT["result"]["blockNumber"]}
HEAD = int(USDT_RECEIPT["result"]["blockNumber"], 16) + 20


def node(chain_id: int = 1, *, has_tx: bool = True, head: int = HEAD) -> Any:
    """A respx side effect answering JSON-RPC like a node (batches included)."""
    def answer(call: dict[str, Any]) -> dict[str, Any]:
        method, params = call["method"], call.get("params") or []
        result: Any = None
        if method == "eth_chainId":
            result = hex(chain_id)
        elif method == "eth_blockNumber":
            result = hex(head)
        elif method == "eth_getBlockByNumber":
            number = head - 64 if params[0] == "finalized" else int(params[0], 16)
            result = {"number": hex(number), "hash": "0x" + "cd" * 32, "timestamp": hex(1_560_000_000)}
        elif method == "eth_getTransactionByHash" and has_tx:
            result = USDT_TX
        elif method == "eth_getTransactionReceipt" and has_tx:
            result = USDT_RECEIPT["result"]
        return {"jsonrpc": "2.0", "id": call["id"], "result": result}

    def side_effect(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(200, json=[answer(c) for c in body] if isinstance(body, list) else answer(body))

    return side_effect


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2) as client:
        yield client


def client(http: httpx.AsyncClient, *urls: str) -> EvmClient:
    chain = load_chains(environ={})["eth"]
    return EvmClient(chain, http=http, cache=ResultCache(), urls=list(urls))


class TestFailover:
    @pytest.mark.parametrize("fault", [
        httpx.ConnectTimeout("slow"), httpx.ConnectError("refused"), httpx.Response(503),
        httpx.Response(502, text="<html>bad gateway</html>"), httpx.Response(200, text="not json"),
        httpx.Response(429, headers={"Retry-After": "7"})])
    async def test_first_endpoint_fails_second_answers(self, http: httpx.AsyncClient, fault: Any) -> None:
        with respx.mock(assert_all_called=False) as mock:
            first = mock.post(A)
            first.side_effect = fault if isinstance(fault, Exception) else [fault] * 10
            mock.post(B).mock(side_effect=node())
            [status] = await client(http, A, B).statuses([TX])
        assert status["status"] == "finalized"
        assert status["transfers"][0]["amount"] == "1000.000000"  # the real USDT receipt: 0x3b9aca00 base units
        assert first.call_count == 2  # retried once with backoff, then failed over

    async def test_all_endpoints_down_is_unavailable_with_retry_advice(self, http: httpx.AsyncClient) -> None:
        with respx.mock() as mock:
            mock.post(A).mock(return_value=httpx.Response(429, headers={"Retry-After": "45"}))
            mock.post(B).mock(side_effect=httpx.ConnectError("refused"))
            with pytest.raises(ChainUnavailable) as info:
                await client(http, A, B).statuses([TX])
        assert info.value.retry_after >= 30

    async def test_wrong_chain_id_is_refused_and_never_used(self, http: httpx.AsyncClient) -> None:
        with respx.mock() as mock:
            bsc = mock.post(A).mock(side_effect=node(chain_id=56))
            mock.post(B).mock(side_effect=node())
            evm = client(http, A, B)
            assert (await evm.statuses([TX]))[0]["status"] == "finalized"
            calls_to_a = bsc.call_count
            await evm.statuses([TX])
        assert calls_to_a == 1 and bsc.call_count == 1  # only its eth_chainId, once
        assert "56" in (evm.transport.endpoints[0].refused or "")

    async def test_lagging_node_not_found_is_checked_on_the_next(self, http: httpx.AsyncClient) -> None:
        with respx.mock() as mock:
            mock.post(A).mock(side_effect=node(has_tx=False, head=HEAD - 100))
            mock.post(B).mock(side_effect=node())
            [status] = await client(http, A, B).statuses([TX])
        assert status["status"] == "finalized" and status["answered_by_endpoint"] == 2

    async def test_not_found_confirmed_on_second_endpoint(self, http: httpx.AsyncClient) -> None:
        with respx.mock() as mock:
            mock.post(A).mock(side_effect=node(has_tx=False))
            second = mock.post(B).mock(side_effect=node(has_tx=False))
            [status] = await client(http, A, B).statuses([TX])
        assert status["status"] == "not_found" and status["not_found_confirmed_by"] == 2
        assert second.called

    async def test_json_rpc_error_is_not_not_found(self, http: httpx.AsyncClient) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            calls = body if isinstance(body, list) else [body]
            answers = [{"jsonrpc": "2.0", "id": c["id"], "result": "0x1"} if c["method"] == "eth_chainId"
                       else {"jsonrpc": "2.0", "id": c["id"], "error": {"code": -32601, "message": "method not found"}}
                       for c in calls]
            return httpx.Response(200, json=answers if isinstance(body, list) else answers[0])

        with respx.mock() as mock:
            mock.post(A).mock(side_effect=refuse)
            with pytest.raises(ChainUnavailable, match="refused"):
                await client(http, A).statuses([TX])


class TestTransport:
    async def test_writes_are_never_retried(self, http: httpx.AsyncClient) -> None:
        with respx.mock(assert_all_called=False) as mock:
            a = mock.post(A).mock(side_effect=[httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": "0x1"}),
                                               httpx.Response(503)])
            b = mock.post(B).mock(side_effect=node())
            transport = RpcTransport(chain_key="eth", chain_id=1, urls=[A, B], client=http)
            with pytest.raises(ChainUnavailable):
                await transport.call("eth_sendRawTransaction", ["0x00"])
        assert a.call_count == 2 and not b.called  # chain id check, then one send, no retry, no failover

    async def test_batches_are_chunked(self, http: httpx.AsyncClient) -> None:
        with respx.mock() as mock:
            route = mock.post(A).mock(side_effect=node())
            transport = RpcTransport(chain_key="eth", chain_id=1, urls=[A], client=http, batch_size=100)
            results = await transport.batch([("eth_blockNumber", [])] * 250)
        assert results == [hex(HEAD)] * 250
        sizes = sorted(len(json.loads(c.request.content)) if c.request.content.startswith(b"[") else 1
                       for c in route.calls)
        assert sizes == [1, 50, 100, 100]  # eth_chainId, then three chunks


class TestApiStaysUp:
    async def test_unknown_with_retry_after_never_500(self, tmp_path: Path) -> None:
        from services.wallet_support.main import create_app

        chains = load_chains(environ={"RPC_URLS_ETH": A, "RPC_URLS_BSC": B, "RPC_URLS_POLYGON": B,
                                      "RPC_URLS_TRON": "http://tron.test"})
        settings = Settings(API_KEYS=API_KEYS, API_KEY_FILE=tmp_path / "k", GC_TUNING=False)  # type: ignore[call-arg]
        app = create_app(settings, chains=chains)
        headers = {"Authorization": "Bearer agent-key-0001"}
        with respx.mock() as mock:
            mock.post(A).mock(return_value=httpx.Response(503, headers={"Retry-After": "40"}))
            mock.route(host="rpc-b.test").mock(side_effect=httpx.ConnectError("refused"))
            mock.route(host="tron.test").mock(side_effect=httpx.ConnectTimeout("slow"))
            async with app.router.lifespan_context(app), httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://w", headers=headers) as api:
                status = await api.get(f"/v1/tx/eth/{TX}")
                verify = await api.post("/v1/payments/verify", json={
                    "chain": "eth", "tx_hash": TX, "expected": {"to": USDT_RECEIPT["result"]["from"], "token": "USDT",
                                                                "amount": "1"}})
                ready = await api.get("/readyz")
                tron = await api.get("/v1/tx/tron/" + "ab" * 32)
        assert status.status_code == 200
        assert status.json()["status"] == "unknown" and status.json()["retry_after"] >= 30
        assert int(status.headers["retry-after"]) == status.json()["retry_after"]
        assert int(verify.headers["retry-after"]) >= 30
        assert verify.json()["verdict"] == "unknown" and "try again" in verify.json()["explanation"]
        assert tron.json()["status"] == "unknown"
        assert ready.status_code == 503 and ready.headers["retry-after"] == "5"
