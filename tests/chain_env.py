"""Chain environments shared by the wallet and integration tests: anvil nodes for Ethereum (chain id 1)
and BSC (chain id 56), with tokens deployed at start with the decimals the real ones have (USDT: 6 on
Ethereum, 18 on BSC)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.wallet_support.chains.registry import ChainConfig, TokenConfig, load_chains
from tests.anvil import ACCOUNTS, Anvil

MERCHANT = ACCOUNTS[5]
TRONGRID = "https://api.trongrid.test"


@dataclass
class Nodes:
    eth: Anvil
    bsc: Anvil
    eth_usdt: str
    eth_usdc: str
    bsc_usdt: str


def wallet_chains(nodes: Nodes) -> dict[str, ChainConfig]:
    chains = load_chains(environ={"RPC_URLS_ETH": nodes.eth.url, "RPC_URLS_BSC": nodes.bsc.url,
                                  "RPC_URLS_POLYGON": "http://127.0.0.1:9", "RPC_URLS_TRON": TRONGRID})
    chains["eth"].tokens["USDT"] = TokenConfig(symbol="USDT", contract=nodes.eth_usdt, decimals=6)
    chains["eth"].tokens["USDC"] = TokenConfig(symbol="USDC", contract=nodes.eth_usdc, decimals=6)
    chains["bsc"].tokens["USDT"] = TokenConfig(symbol="USDT", contract=nodes.bsc_usdt, decimals=18)
    return chains


def token_transfer(node: Anvil, token: str, to: str, amount: int, **tx: Any) -> dict[str, Any]:
    return {"to": token, "data": node.token_call(token, "transfer", node.w3.to_checksum_address(to), amount), **tx}


async def reorg_sender(nodes: Nodes, index: int, usdt: int = 10_000 * 10**6) -> str:
    """An account of its own for a test that reorgs its transfer away: anvil_reorg rolls its nonce back, and a
    transfer re-sent with the same nonce and data has the same hash (belonging to the first order). The funding
    transfer is buried deeper than any reorg the tests make."""
    node = nodes.eth
    funding = await node.send(**token_transfer(node, nodes.eth_usdt, ACCOUNTS[index], usdt))
    await node.receipt(funding)
    await node.mine(30)
    return ACCOUNTS[index]
