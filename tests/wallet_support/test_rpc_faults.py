"""Faults a local node cannot show, through respx at the endpoints' URLs: timeouts, refused connections,
429, 5xx, non-JSON, JSON-RPC errors, a node on the wrong chain, a lagging node; failover in order."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
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


def refuse_data_calls(request: httpx.Request) -> httpx.Response:
    """A node that answers eth_chainId and refuses everything else with a JSON-RPC error."""
    body = json.loads(request.content)
    calls = body if isinstance(body, list) else [body]
    answers = [{"jsonrpc": "2.0", "id": c["id"], "result": "0x1"} if c["method"] == "eth_chainId"
               else {"jsonrpc": "2.0", "id": c["id"], "error": {"code": -32601, "message": "method not found"}}
               for c in calls]
    return httpx.Response(200, json=answers if isinstance(body, list) else answers[0])


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2) as client:
        yield client


def client(http: httpx.AsyncClient, *urls: str) -> EvmClient:
    chain = load_chains(environ={})["eth"]
    return EvmClient(chain, http=http, cache=ResultCache(), urls=list(urls))


class TestFailover:
    # A blip (refused, 5xx, garbage) is retried once on the same endpoint; a hang or a 429 is not (it would cost
    # another timeout, or disobey the upstream): straight to the next endpoint.
    @pytest.mark.parametrize(("fault", "calls"), [
        (httpx.ConnectTimeout("slow"), 1), (httpx.ConnectError("refused"), 2), (httpx.Response(503), 2),
        (httpx.Response(502, text="<html>bad gateway</html>"), 2), (httpx.Response(200, text="not json"), 2),
        (httpx.Response(429, headers={"Retry-After": "7"}), 1)])
    async def test_first_endpoint_fails_second_answers(self, http: httpx.AsyncClient, fault: Any,
                                                       calls: int) -> None:
        with respx.mock(assert_all_called=False) as mock:
            first = mock.post(A)
            first.side_effect = fault if isinstance(fault, Exception) else [fault] * 10
            mock.post(B).mock(side_effect=node())
            [status] = await client(http, A, B).statuses([TX])
        assert status["status"] == "finalized"
        assert status["transfers"][0]["amount"] == "1000.000000"  # the real USDT receipt: 0x3b9aca00 base units
        assert first.call_count == calls

    async def test_all_endpoints_down_is_unavailable_with_retry_advice(self, http: httpx.AsyncClient) -> None:
        with respx.mock() as mock:
            mock.post(A).mock(return_value=httpx.Response(429, headers={"Retry-After": "45"}))
            mock.post(B).mock(side_effect=httpx.ConnectError("refused"))
            with pytest.raises(ChainUnavailable) as info:
                await client(http, A, B).statuses([TX])
        # The earliest an endpoint may answer again: B's cool-down (15 s), before A's 45 s.
        assert info.value.retry_after == 15

    @pytest.mark.parametrize("seconds", [7, 120])
    async def test_upstream_retry_after_is_passed_on(self, http: httpx.AsyncClient, seconds: int) -> None:
        with respx.mock() as mock:
            route = mock.post(A).mock(return_value=httpx.Response(429, headers={"Retry-After": str(seconds)}))
            evm = client(http, A)
            with pytest.raises(ChainUnavailable) as info:
                await evm.statuses([TX])
            assert info.value.retry_after == seconds
            with pytest.raises(ChainUnavailable):
                await evm.statuses([TX])  # inside its Retry-After: not asked at all
        assert route.call_count == 1

    async def test_node_answering_chain_id_but_refusing_data_calls_is_failed_over(
            self, http: httpx.AsyncClient) -> None:
        with respx.mock() as mock:
            refusing = mock.post(A).mock(side_effect=refuse_data_calls)
            mock.post(B).mock(side_effect=node())
            [status] = await client(http, A, B).statuses([TX])
        assert status["status"] == "finalized" and status["transfers"][0]["amount"] == "1000.000000"
        assert refusing.call_count == 3  # eth_chainId, then the data batch twice (a blip is retried once)

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

    async def test_a_node_without_fee_history_still_answers_a_pending_tx(self, http: httpx.AsyncClient) -> None:
        # eth_feeHistory (EIP-1559) is an optional extra for the pending answer; a node that lacks it is not broken.
        def pending_without_fee_history(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            answers = json.loads(node()(request).content)
            for call, answer in zip(body if isinstance(body, list) else [body],
                                    answers if isinstance(answers, list) else [answers], strict=True):
                if call["method"] == "eth_getTransactionReceipt":
                    answer["result"] = None
                elif call["method"] == "eth_getTransactionCount":
                    answer["result"] = "0x1"
                elif call["method"] == "eth_feeHistory":
                    del answer["result"]
                    answer["error"] = {"code": -32601, "message": "the method eth_feeHistory does not exist"}
            return httpx.Response(200, json=answers)

        with respx.mock() as mock:
            route = mock.post(A).mock(side_effect=pending_without_fee_history)
            evm = client(http, A)
            [status] = await evm.statuses([TX])
        assert status["status"] == "pending", status
        assert any(b"eth_feeHistory" in c.request.content for c in route.calls)
        assert evm.transport.endpoints[0].failures == 0

    async def test_json_rpc_error_is_not_not_found(self, http: httpx.AsyncClient) -> None:
        with respx.mock() as mock:
            mock.post(A).mock(side_effect=refuse_data_calls)
            with pytest.raises(ChainUnavailable, match="refused"):
                await client(http, A).statuses([TX])


@pytest.fixture
def hung_url() -> Iterator[str]:
    """An endpoint that accepts connections and never answers (the kernel completes the handshakes)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"


class TestBreaker:
    async def test_ten_concurrent_lookups_with_the_first_endpoint_hung(self, hung_url: str) -> None:
        timeout = 1.0
        async with httpx.AsyncClient(timeout=timeout) as slow_http:
            with respx.mock(assert_all_called=False) as mock:
                mock.route(host="127.0.0.1").pass_through()
                mock.post(B).mock(side_effect=node())
                evm = client(slow_http, hung_url, B)
                started = time.monotonic()
                answers = await asyncio.gather(*(evm.statuses([TX]) for _ in range(10)))
                elapsed = time.monotonic() - started
                started = time.monotonic()
                [later] = await evm.statuses([TX])
                skipped_in = time.monotonic() - started
        assert [a[0]["status"] for a in answers] == ["finalized"] * 10
        assert elapsed < timeout + 1.0, elapsed  # one timeout (shared by all ten) plus a second's work
        assert later["status"] == "finalized" and skipped_in < 0.5  # the hung endpoint is skipped at once
        assert evm.transport.endpoints[0].open_until > time.monotonic()

    async def test_open_breaker_skips_then_one_request_probes(self, http: httpx.AsyncClient) -> None:
        state = {"down": True}
        healthy = node()

        async def flaky(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.05)
            return httpx.Response(503) if state["down"] else healthy(request)

        with respx.mock() as mock:
            a = mock.post(A).mock(side_effect=flaky)
            b = mock.post(B).mock(side_effect=node())
            evm = client(http, A, B)
            evm.transport.pool.cooldown = 0.3
            await evm.statuses([TX])
            assert a.call_count == 2  # its identity check, retried once: then open
            await evm.statuses([TX])
            assert a.call_count == 2  # open: not asked
            state["down"] = False
            await asyncio.sleep(0.35)
            to_b = b.call_count
            burst = await asyncio.gather(*(evm.statuses([TX]) for _ in range(5)))
            # One lookup probes A (its identity check, then the lookup's two rounds); the other four went to B.
            assert a.call_count == 2 + 3
            assert b.call_count - to_b == 4 * 2
            await evm.statuses([TX])
            assert a.call_count == 5 + 2  # closed again: A is first once more
        assert {s[0]["status"] for s in burst} == {"finalized"}


class TestLagging:
    async def test_only_node_below_the_block_in_question_is_unknown_not_not_found(
            self, http: httpx.AsyncClient) -> None:
        state = {"lagging": False}

        def answer(request: httpx.Request) -> httpx.Response:
            behind = state["lagging"]
            return node(has_tx=not behind, head=HEAD - 100 if behind else HEAD)(request)

        with respx.mock() as mock:
            mock.post(A).mock(side_effect=answer)
            evm = client(http, A)
            [first] = await evm.statuses([TX])
            assert first["status"] == "finalized"
            state["lagging"] = True  # the load balancer now sends us to a backend 100 blocks behind
            [later] = await evm.statuses([TX])
        assert later["status"] == "unknown", later
        assert later["lagging"] == {"node_head": HEAD - 100, "block_in_question": HEAD}
        assert 2 <= later["retry_after"] <= 120

    async def test_cached_block_is_the_block_in_question(self, http: httpx.AsyncClient) -> None:
        with respx.mock() as mock:
            mock.post(A).mock(side_effect=node())
            evm = client(http, A)
            [final] = await evm.statuses([TX])
            await evm.cache.put_many("eth", [final])
        block = final["block_number"]
        with respx.mock() as mock:
            mock.post(A).mock(side_effect=node(has_tx=False, head=block - 5))
            fresh_process = EvmClient(evm.chain, http=http, cache=evm.cache, urls=[A])  # knows no head yet
            [status] = await fresh_process.statuses([TX])
        assert status["status"] == "unknown" and status["lagging"]["block_in_question"] == block


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


class TestTronEndpoints:
    async def test_tron_upstream_retry_after_passed_on_and_endpoint_skipped(self, http: httpx.AsyncClient) -> None:
        from services.wallet_support.chains.tron import TronClient

        tron = TronClient(load_chains(environ={})["tron"], http=http, api_key=None, urls=["http://tron-a.test"])
        with respx.mock() as mock:
            limited = mock.post("http://tron-a.test/wallet/getnowblock").mock(
                return_value=httpx.Response(429, headers={"Retry-After": "9"}))
            with pytest.raises(ChainUnavailable) as first:
                await tron.statuses(["ab" * 32])
            with pytest.raises(ChainUnavailable) as second:
                await tron.statuses(["ab" * 32])
        assert first.value.retry_after == 9 and 1 <= second.value.retry_after <= 9
        assert limited.call_count == 1  # a 429 is not retried, and the endpoint is left alone for its Retry-After
