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
