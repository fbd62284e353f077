"""Pure decoding of what chains return: amounts, token transfers, revert reasons."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eth_abi import decode as abi_decode

from services.wallet_support.chains.registry import ChainConfig

TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
ERROR_SELECTOR = "08c379a0"  # Error(string)
PANIC_SELECTOR = "4e487b71"  # Panic(uint256)
PANIC_CODES = {
    0x00: "generic compiler panic", 0x01: "assert failed", 0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero", 0x21: "invalid enum value", 0x22: "invalid storage byte array",
    0x31: "pop on an empty array", 0x32: "array index out of bounds", 0x41: "out of memory",
    0x51: "call to an uninitialized function",
}


def units(amount: int, decimals: int) -> str:
    """Base units to a decimal string with exactly the token's decimals ("499.000000")."""
    value = Decimal(amount).scaleb(-decimals)
    return f"{value:.{decimals}f}" if decimals else str(amount)


def strip0x(value: str) -> str:
    return value[2:] if value.startswith(("0x", "0X")) else value


def decode_revert(data: str | None) -> str | None:
    """`Error(string)` and `Panic(uint256)` decoded; a custom error named by its selector."""
    if not data:
        return None
    raw = strip0x(data).lower()
    if not raw:
        return None
    selector, body = raw[:8], bytes.fromhex(raw[8:]) if len(raw) > 8 else b""
    try:
        if selector == ERROR_SELECTOR:
            (message,) = abi_decode(["string"], body)
            return str(message)
        if selector == PANIC_SELECTOR:
            (code,) = abi_decode(["uint256"], body)
            return f"Panic(0x{code:02x}): {PANIC_CODES.get(code, 'unknown panic code')}"
    except Exception:  # a malformed revert payload is still a revert; say what we have
        return f"undecodable revert data 0x{raw[:64]}"
    return f"custom error 0x{selector}"


def evm_transfers(logs: list[dict[str, Any]], chain: ChainConfig) -> list[dict[str, Any]]:
    """ERC-20 Transfer logs: topic0 Transfer and exactly three topics (an ERC-721 Transfer has four)."""
    transfers = []
    for entry in logs or []:
        topics = entry.get("topics") or []
        if len(topics) != 3 or strip0x(topics[0]).lower() != TRANSFER_TOPIC:
            continue
        contract = str(entry.get("address", "")).lower()
        token = chain.token_by_contract(contract)
        raw_amount = int(strip0x(entry.get("data") or "0x0") or "0", 16)
        transfers.append({
            "token": token.symbol if token else None,
            "contract": token.contract if token else contract,
            "from": "0x" + strip0x(topics[1])[-40:].lower(),
            "to": "0x" + strip0x(topics[2])[-40:].lower(),
            "amount": units(raw_amount, token.decimals) if token else str(raw_amount),
            "raw_amount": str(raw_amount),
            "decimals": token.decimals if token else None,
        })
    return transfers
