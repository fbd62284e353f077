"""Request and response bodies of the wallet-support service."""

from __future__ import annotations

from pydantic import BaseModel


class TokenPublic(BaseModel):
    symbol: str
    contract: str
    decimals: int


class ChainPublic(BaseModel):
    key: str
    name: str
    chain_id: int
    family: str
    native_symbol: str
    native_decimals: int
    required_confirmations: int
    finality: str
    tokens: list[TokenPublic]
    endpoints: int


class ChainList(BaseModel):
    items: list[ChainPublic]
