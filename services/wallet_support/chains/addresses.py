"""What a valid tx hash or address looks like on each family, checked before any RPC call."""

from __future__ import annotations

import re

from eth_utils import is_checksum_address
from tronpy import keys as tron_keys

from services.wallet_support.chains.registry import ChainConfig

EVM_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
TRON_HASH = re.compile(r"^[0-9a-fA-F]{64}$")
EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

HASH_SHAPES = {"evm": "0x followed by 64 hex characters", "tron": "64 hex characters without 0x"}
ADDRESS_SHAPES = {"evm": "0x followed by 40 hex characters (EIP-55 checksum when mixed case)",
                  "tron": "a base58check address starting with T (34 characters)"}


def hash_family(value: str) -> str | None:
    if EVM_HASH.match(value):
        return "evm"
    if TRON_HASH.match(value):
        return "tron"
    return None


def normalize_hash(chain: ChainConfig, value: str) -> str | None:
    """The hash as the chain's nodes expect it, or None when it does not fit this chain's family."""
    value = value.strip()
    if hash_family(value) != chain.family:
        return None
    return value.lower()


def tron_to_hex(address: str) -> str:
    """Base58check → 41-prefixed hex (tronpy). ValueError on a bad checksum or shape."""
    try:
        return str(tron_keys.to_hex_address(address))
    except (ValueError, tron_keys.BadAddress) as exc:
        raise ValueError(str(exc) or "bad TRON address") from exc


def tron_from_hex(value: str) -> str:
    """20-byte hex (log topics, no 41) or 21-byte 41-prefixed hex → base58check T… address."""
    raw = value[2:] if value.startswith("0x") else value
    return str(tron_keys.to_base58check_address("41" + raw[-40:]))


def normalize_address(chain: ChainConfig, value: str) -> str:
    """The canonical form used for comparisons (EVM lower case, TRON base58). ValueError with what is wrong."""
    value = value.strip()
    if chain.family == "evm":
        if not EVM_ADDRESS.match(value):
            raise ValueError(f"not an EVM address: expected {ADDRESS_SHAPES['evm']}")
        if value != value.lower() and value[2:] != value[2:].upper() and not is_checksum_address(value):
            raise ValueError("EIP-55 checksum does not match: a character is probably mistyped")
        return value.lower()
    if not value.startswith("T") or len(value) != 34:
        raise ValueError(f"not a TRON address: expected {ADDRESS_SHAPES['tron']}")
    try:
        tron_to_hex(value)
    except ValueError as exc:
        raise ValueError(f"TRON base58 checksum does not match ({exc})") from exc
    return value
