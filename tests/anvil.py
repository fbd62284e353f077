"""A real EVM node for the tests: anvil from the npm package @foundry-rs/anvil-linux-amd64 (installed by
`make test` into .tools/), started on a free loopback port, driven through web3.py on our own transport."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from web3 import AsyncWeb3

from services.wallet_support.chains.transport import HttpxProvider, RpcTransport

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BIN = ROOT / ".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
TOKEN = json.loads((Path(__file__).parent / "contracts/TestToken.json").read_text())
# anvil's default dev accounts (mnemonic "test test ... junk"), unlocked on the node
ACCOUNTS = ["0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
            "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc", "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
            "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65", "0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc",
            "0x976ea74026e726554db657fa54763abd0c3a0aa9", "0x14dc79964da2c08b23698b3d3cc7ca32193d9955",
            "0x23618e81e3f5cdf7f54c3d65f7fbc0abf5b21e8f", "0xa0ee7a142d267c1f36714e4a8f75612f20a79720"]


def anvil_binary() -> str | None:
    given = os.environ.get("ANVIL_BIN")
    if given and Path(given).exists():
        return given
    if DEFAULT_BIN.exists():
        return str(DEFAULT_BIN)
    return shutil.which("anvil")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    def __init__(self, chain_id: int, block_time: int | None = None) -> None:
        binary = anvil_binary()
        if binary is None:
            raise RuntimeError("anvil is not installed: run `make test` (it installs it into .tools/)")
        self.chain_id = chain_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [binary, "--port", str(self.port), "--chain-id", str(chain_id), "--silent", "--accounts", "10"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                           timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("anvil did not start")
        self.http = httpx.AsyncClient(timeout=10)
        self.transport = RpcTransport(chain_key=f"anvil-{chain_id}", chain_id=chain_id, urls=[self.url],
                                      client=self.http)
        self.w3 = AsyncWeb3(HttpxProvider(self.transport))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()

    async def rpc(self, method: str, *params: Any) -> Any:
        return await self.transport.call(method, list(params))

    async def send(self, **tx: Any) -> str:
        tx.setdefault("from", ACCOUNTS[0])
        for key in ("value", "gas", "nonce", "maxFeePerGas", "maxPriorityFeePerGas", "gasPrice"):
            if key in tx and isinstance(tx[key], int):
                tx[key] = hex(tx[key])
        return str(await self.rpc("eth_sendTransaction", tx))

    async def mine(self, blocks: int = 1) -> None:
        await self.rpc("anvil_mine", hex(blocks))

    async def automine(self, on: bool) -> None:
        await self.rpc("evm_setAutomine", on)

    async def deploy_token(self, symbol: str = "USDT", decimals: int = 6, supply: int = 10**15) -> str:
        contract = self.w3.eth.contract(abi=TOKEN["abi"], bytecode=TOKEN["bytecode"])
        data = contract.constructor(f"Test {symbol}", symbol, decimals, supply).data_in_transaction
        tx_hash = await self.send(data=data, gas=2_000_000)
        receipt = await self.receipt(tx_hash)
        return str(receipt["contractAddress"]).lower()

    async def receipt(self, tx_hash: str, wait_seconds: float = 10) -> dict[str, Any]:
        """anvil mines asynchronously: the receipt may lag the send by a moment."""
        deadline = time.monotonic() + wait_seconds
        while True:
            receipt = await self.rpc("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return dict(receipt)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no receipt for {tx_hash}")
            await asyncio.sleep(0.02)

    def token_call(self, address: str, fn: str, *args: Any) -> str:
        contract = self.w3.eth.contract(address=self.w3.to_checksum_address(address), abi=TOKEN["abi"])
        return str(contract.encode_abi(fn, args=list(args)))
