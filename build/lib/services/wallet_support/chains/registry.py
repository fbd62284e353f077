"""The chains this service knows: a JSON file plus RPC_URLS_<CHAIN> overrides. A new EVM chain is config."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

DEFAULT_CHAINS_FILE = Path(__file__).with_name("chains.json")


class TokenConfig(BaseModel):
    symbol: str
    contract: str
    decimals: int = Field(ge=0, le=36)


class ChainConfig(BaseModel):
    key: str
    chain_id: int
    family: Literal["evm", "tron"]
    name: str
    native_symbol: str
    native_decimals: int = 18
    required_confirmations: int = Field(ge=0)
    finality: Literal["finalized_tag", "confirmations", "solidified"]
    block_time_seconds: float = 12
    rpc_urls: list[str]
    tokens: dict[str, TokenConfig]

    def token_by_contract(self, contract: str) -> TokenConfig | None:
        wanted = contract.lower()
        for token in self.tokens.values():
            if token.contract.lower() == wanted:
                return token
        return None


def load_chains(path: Path | None = None, environ: dict[str, str] | None = None) -> dict[str, ChainConfig]:
    env = os.environ if environ is None else environ
    raw = json.loads((path or DEFAULT_CHAINS_FILE).read_text())
    chains: dict[str, ChainConfig] = {}
    for key, entry in raw.items():
        tokens = {sym.upper(): TokenConfig(symbol=sym.upper(), **tok) for sym, tok in entry.pop("tokens", {}).items()}
        override = env.get(f"RPC_URLS_{key.upper()}")
        if override:
            entry["rpc_urls"] = [u.strip() for u in override.split(",") if u.strip()]
        chains[key.lower()] = ChainConfig(key=key.lower(), tokens=tokens, **entry)
    return chains
