"""1,000 real transactions on anvil, their status asked three ways in one run:

  1. the service: POST /v1/tx/batch of all 1,000 to `order-support serve wallet` (a real uvicorn process);
  2. a sequential web3.py loop (get_transaction + get_transaction_receipt per hash, web3's own
     AsyncHTTPProvider), what a user writes by hand;
  3. one pre-built raw JSON-RPC batch of the same 2,000 calls over httpx (the limit for that information).

Measured twice: on loopback, and through bench/latency_proxy.py adding 50 ms to every HTTP round trip to the
node, each mode timed on fresh txs (nothing cached) `--runs` times, interleaved with the raw batch, medians
printed (the machine is shared). Through the proxy it also counts what the service sent upstream for the
batch: HTTP requests, JSON-RPC calls and sequential round trips (requests sent together count once); the same
count for a batch of 100 other txs shows that the round trips do not grow with the number of txs or blocks.
Then the same 1,000 (finalized) asked again must make 0 RPC calls.
Targets (issue #15): service >= 1.0x the raw batch on loopback and >= 0.9x through the 50 ms proxy; round trips
per batch a small constant (<= 3, the same for 100 and 1,000 txs); with 50 ms, service >= 50x the loop.

Run: make bench-tx-batch
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from web3 import AsyncHTTPProvider, AsyncWeb3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.anvil import ACCOUNTS, Anvil, free_port  # noqa: E402

KEY = "bench-agent-key"
# The raw baseline sends all 2,000 calls in one batch, so this node takes big batches: the service is configured
# the way an operator would for such a node (RPC_BATCH_SIZE; the default 100 suits capped public endpoints).
RPC_BATCH_SIZE = 500


async def make_transactions(node: Anvil, count: int, per_block: int) -> list[str]:
    await node.automine(False)
    hashes: list[str] = []
    senders = ACCOUNTS[:5]
    nonces = {s: int(await node.rpc("eth_getTransactionCount", s, "pending"), 16) for s in senders}
    for start in range(0, count, per_block):
        calls = []
        for i in range(start, min(start + per_block, count)):
            sender = senders[i % len(senders)]
            calls.append(("eth_sendTransaction", [{"from": sender, "to": ACCOUNTS[5], "value": hex(i + 1),
                                                   "nonce": hex(nonces[sender])}]))
            nonces[sender] += 1
        sent = await node.transport.batch(calls)
        assert all(isinstance(h, str) for h in sent), sent
        hashes += sent
        await node.mine(1)
    await node.automine(True)
    await node.mine(20)  # past the 12 confirmations Ethereum needs: every one finalized
    return hashes


async def start(*args: str, env: dict[str, str], port: int, path: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(*args, env=env, cwd=ROOT)
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"http://127.0.0.1:{port}{path}")).status_code < 500:
                    return process
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{args} did not start")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def service_batch(base: str, hashes: list[str]) -> tuple[float, list[dict[str, Any]]]:
    body = orjson.dumps({"items": [{"chain": "eth", "tx_hash": h} for h in hashes]})
    async with httpx.AsyncClient(timeout=300, headers={"Authorization": f"Bearer {KEY}",
                                                       "content-type": "application/json"}) as client:
        started = time.perf_counter()
        resp = await client.post(f"{base}/v1/tx/batch", content=body)
        assert resp.status_code == 200, resp.text[:500]
        items = orjson.loads(resp.content)["items"]
        return time.perf_counter() - started, items


async def web3_loop(rpc: str, hashes: list[str]) -> float:
    w3 = AsyncWeb3(AsyncHTTPProvider(rpc, request_kwargs={"timeout": 120}))
    started = time.perf_counter()
    for h in hashes:
        await w3.eth.get_transaction(h)  # type: ignore[arg-type]
        await w3.eth.get_transaction_receipt(h)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    await w3.provider.disconnect()
    return elapsed


async def raw_batch(rpc: str, hashes: list[str]) -> float:
    payload = orjson.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": [h]}
                            for i, (m, h) in enumerate((m, h) for h in hashes for m in
                                                       ("eth_getTransactionByHash", "eth_getTransactionReceipt"))])
    async with httpx.AsyncClient(timeout=300) as client:
        started = time.perf_counter()
        resp = await client.post(rpc, content=payload, headers={"content-type": "application/json"})
        answers = orjson.loads(resp.content)
        elapsed = time.perf_counter() - started
    assert len(answers) == 2 * len(hashes) and all(a.get("result") for a in answers)
    return elapsed


async def proxy_stats(proxy: str, reset: bool = False) -> dict[str, int]:
    async with httpx.AsyncClient() as c:
        if reset:
            return dict((await c.post(f"{proxy}/reset")).json())
        return dict((await c.get(f"{proxy}/stats")).json())


async def measure(label: str, rpc: str, warm: str, sets: list[list[str]], spare: list[str], proxy: str | None,
                  loop_sample: int) -> dict[str, Any]:
    """Each set of txs asked once of the service (cold: nothing cached) and once as a raw batch, interleaved;
    medians reported (the machine is shared: one sample says little)."""
    port = free_port()
    closed = "http://127.0.0.1:9"
    env = {**os.environ, "RPC_URLS_ETH": rpc, "RPC_URLS_BSC": closed, "RPC_URLS_POLYGON": closed,
           "RPC_URLS_TRON": closed, "API_KEYS": f"{KEY}:agent", "LOG_LEVEL": "ERROR",
           "RATE_LIMIT_LOOKUPS": "1000000/minute", "RPC_BATCH_SIZE": str(RPC_BATCH_SIZE),
           "API_KEY_FILE": str(Path(tempfile.gettempdir()) / "bench-wallet-key")}
    env.pop("REDIS_URL", None)
    server = await start(sys.executable, "-m", "services.cli", "serve", "wallet", "--port", str(port), env=env,
                         port=port, path="/healthz")
    base = f"http://127.0.0.1:{port}"
    upstream: dict[str, Any] = {}
    service_times: list[float] = []
    raw_times: list[float] = []
    try:
        await service_batch(base, [warm])  # connections and the endpoint's chain id check
        for index, hashes in enumerate(sets):
            raw_times.append(await raw_batch(rpc, hashes))
            if proxy and index == 0:
                await proxy_stats(proxy, reset=True)
            elapsed, items = await service_batch(base, hashes)
            service_times.append(elapsed)
            assert [i["status"] for i in items] == ["finalized"] * len(hashes), {i["status"] for i in items}
            if proxy and index == 0:
                upstream["full"] = await proxy_stats(proxy)
        again_calls = None
        if proxy:
            await proxy_stats(proxy, reset=True)
            await service_batch(base, spare)
            upstream["small"] = await proxy_stats(proxy)
            await proxy_stats(proxy, reset=True)
            _, again = await service_batch(base, sets[0])
            again_calls = (await proxy_stats(proxy))["calls"]
            assert len(again) == len(sets[0])
        memory = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        await server.wait()
    sample = sets[0][:loop_sample]
    loop_s = await web3_loop(rpc, sample)
    n = len(sets[0])
    service_s, raw_s = statistics.median(service_times), statistics.median(raw_times)
    return {"label": label, "service_rate": n / service_s, "loop_rate": len(sample) / loop_s,
            "raw_rate": n / raw_s, "service_s": service_s, "loop_s": loop_s * n / len(sample), "raw_s": raw_s,
            "memory_mb": memory, "again_calls": again_calls, "loop_sample": len(sample), "upstream": upstream,
            "n": n, "small_n": len(spare), "runs": len(sets),
            "pairs": [round(r / s, 2) for s, r in zip(service_times, raw_times, strict=True)]}


def report(r: dict[str, Any]) -> None:
    print(f"\n{r['label']} (median of {r['runs']} runs; service/raw per run: {r['pairs']})")
    print(f"  service POST /v1/tx/batch : {r['service_rate']:10.1f} tx/s  ({r['service_s']:.3f} s)")
    loop_note = "" if r["loop_sample"] >= 999 else f", timed on {r['loop_sample']} txs"
    print(f"  web3.py sequential loop   : {r['loop_rate']:10.1f} tx/s  ({r['loop_s']:.3f} s{loop_note})")
    print(f"  raw JSON-RPC batch (2,000): {r['raw_rate']:10.1f} tx/s  ({r['raw_s']:.3f} s)")
    print(f"  service/raw {r['service_rate'] / r['raw_rate']:.2f}   "
          f"service/loop {r['service_rate'] / r['loop_rate']:.1f}   service peak RSS {r['memory_mb']:.0f} MB")
    for key, n in (("full", r["n"]), ("small", r["small_n"])):
        stats = r["upstream"].get(key)
        if stats:
            print(f"  upstream for a batch of {n:>5,} txs: {stats['round_trips']} sequential round trips, "
                  f"{stats['requests']} HTTP requests, {stats['calls']:,} JSON-RPC calls")
    if r["again_calls"] is not None:
        print(f"  asking again for the same finalized txs: {r['again_calls']} RPC calls")


async def main(count: int, per_block: int, delay_ms: float, loop_sample: int, runs: int) -> None:
    node = Anvil(chain_id=1)
    proxy_process = None
    small = 100
    try:
        made = await make_transactions(node, 1 + 2 * runs * count + small, per_block)
        warm, spare = made[0], made[-small:]
        fresh = [made[1 + i * count:1 + (i + 1) * count] for i in range(2 * runs)]
        print(f"{count:,} real transactions on anvil, {per_block} per block, all finalized (and {small} more "
              f"for the round-trip count of a smaller batch); service RPC_BATCH_SIZE={RPC_BATCH_SIZE}")
        loopback = await measure("loopback", node.url, warm, fresh[:runs], spare, None, loop_sample)
        report(loopback)
        proxy_port = free_port()
        proxy = f"http://127.0.0.1:{proxy_port}"
        proxy_process = await start(sys.executable, str(ROOT / "bench/latency_proxy.py"), node.url,
                                    str(proxy_port), str(delay_ms), env=dict(os.environ), port=proxy_port,
                                    path="/stats")
        slow = await measure(f"through a proxy adding {delay_ms:.0f} ms per round trip", proxy + "/", warm,
                             fresh[runs:], spare, proxy, loop_sample)
        report(slow)
        loop_ratio = loopback["service_rate"] / loopback["raw_rate"]
        slow_ratio = slow["service_rate"] / slow["raw_rate"]
        trips = [slow["upstream"][k]["round_trips"] for k in ("full", "small")]
        ok = {"loopback service/raw >= 1.0": loop_ratio >= 1.0,
              f"{delay_ms:.0f} ms service/raw >= 0.9": slow_ratio >= 0.9,
              "round trips <= 3 and the same for 100 and 1,000 txs": max(trips) <= 3 and trips[0] == trips[1],
              f"{delay_ms:.0f} ms service/loop >= 50": slow["service_rate"] / slow["loop_rate"] >= 50,
              "cached re-ask 0 RPC calls": slow["again_calls"] == 0}
        print(f"\nratios: loopback service/raw {loop_ratio:.2f}; {delay_ms:.0f} ms service/raw {slow_ratio:.2f}; "
              f"round trips per batch {trips[0]} (1,000 txs) / {trips[1]} ({small} txs)")
        print("targets: " + "; ".join(f"{name}: {'met' if met else 'NOT met'}" for name, met in ok.items()))
    finally:
        if proxy_process is not None:
            proxy_process.terminate()
            await proxy_process.wait()
        node.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--txs", type=int, default=1000)
    parser.add_argument("--per-block", type=int, default=10, help="transactions mined per block")
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--loop-sample", type=int, default=1000,
                        help="how many txs the slow sequential loop is timed on (rate extrapolated)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per mode (fresh txs each; medians)")
    parser.add_argument("--rpc-batch-size", type=int, default=RPC_BATCH_SIZE,
                        help="the service's RPC_BATCH_SIZE (JSON-RPC calls per HTTP request to the node)")
    args = parser.parse_args()
    RPC_BATCH_SIZE = args.rpc_batch_size
    asyncio.run(main(args.txs, args.per_block, args.delay_ms, args.loop_sample, args.runs))
