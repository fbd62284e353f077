"""The chains this service knows: a JSON file plus RPC_URLS_<CHAIN> overrides. A new EVM chain is config."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

DEFAULT_CHAINS_FILE = Path(__file__).with_name("chains.json")
Family = Literal["evm", "tron", "bitcoin", "solana", "aptos", "substrate", "antelope"]


class TokenConfig(BaseModel):
    symbol: str
    contract: str  # EVM/TRON contract, Solana mint, Aptos fungible-asset metadata address, EOS token account
    decimals: int = Field(ge=0, le=36)


class ChainConfig(BaseModel):
    key: str
    chain_id: int | None = None
    family: Family
    name: str
    native_symbol: str
    native_decimals: int = 18
    required_confirmations: int = Field(ge=0)
    # finalized_tag / confirmations (EVM), solidified (TRON), confirmations (Bitcoin: depth), commitment (Solana's
    # `finalized`), immediate (Aptos: committed is final), irreversible (Substrate finalized / Antelope LIB).
    finality: Literal["finalized_tag", "confirmations", "solidified", "commitment", "immediate", "irreversible"]
    block_time_seconds: float = 12
    rpc_urls: list[str]
    tokens: dict[str, TokenConfig]
    # What identifies the network an endpoint serves, checked once per endpoint before it is trusted: the
    # genesis block hash (Bitcoin, Solana), the chain id (Antelope, as hex). EVM and Aptos use `chain_id`,
    # Substrate the SS58 prefix of the addresses the indexer answers with.
    genesis_hash: str | None = None
    ss58_prefix: int | None = None
    bech32_hrp: str | None = None  # Bitcoin: bc (mainnet), tb (testnet/signet), bcrt (regtest)
    backend: Literal["esplora", "bitcoind"] | None = None  # Bitcoin: Esplora REST (default) or Core JSON-RPC
    fee_target_blocks: int = Field(default=6, ge=1, le=1008)  # Bitcoin: "stuck" below the rate for this target
    existential_deposit: str | None = None  # Substrate: the minimum balance, in native units
    memo_required: list[str] = Field(default_factory=list)  # Antelope: accounts that credit deposits by memo
    api_key_header: str | None = None  # Substrate (Subscan): X-API-Key, value from SUBSCAN_API_KEY

    @model_validator(mode="after")
    def _identity(self) -> ChainConfig:
        """Every endpoint's network is checked before it is used: an EVM or TRON chain needs its chain id."""
        if self.family in ("evm", "tron", "aptos") and self.chain_id is None:
            raise ValueError(f"{self.key}: a {self.family} chain needs its chain_id")
        return self

    def token_by_contract(self, contract: str) -> TokenConfig | None:
        wanted = contract.lower()
        for token in self.tokens.values():
            if token.contract.lower() == wanted:
                return token
        return None


def load_chains(path: Path | None = None, environ: dict[str, str] | None = None) -> dict[str, ChainConfig]:
    """The chains file with RPC_URLS_<CHAIN> from the process environment; `environ` entries take precedence
    (a chain it does not name keeps the process's setting, so no chain silently falls back to public endpoints)."""
    env = {**os.environ, **(environ or {})}
    raw = json.loads((path or DEFAULT_CHAINS_FILE).read_text())
    chains: dict[str, ChainConfig] = {}
    for key, entry in raw.items():
        if key.startswith("_"):  # "_comment" entries
            continue
        tokens = {sym.upper(): TokenConfig(symbol=sym.upper(), **tok) for sym, tok in entry.pop("tokens", {}).items()}
        override = env.get(f"RPC_URLS_{key.upper()}")
        if override:
            entry["rpc_urls"] = [u.strip() for u in override.split(",") if u.strip()]
        chains[key.lower()] = ChainConfig(key=key.lower(), tokens=tokens, **entry)
    return chains
