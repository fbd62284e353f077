"""What a valid tx hash or address looks like on each family, checked before any RPC call.

Bitcoin (base58check, bech32/bech32m), Solana (base58, 32 bytes), Substrate (SS58 with its blake2b checksum and
network prefix) are checked with the standard library alone; EVM (EIP-55) and TRON (base58check) as before.
"""

from __future__ import annotations

import hashlib
import re

from eth_utils import is_checksum_address
from tronpy import keys as tron_keys

from services.wallet_support.chains.registry import ChainConfig

EVM_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
APTOS_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{1,64}$")
ANTELOPE_ACCOUNT = re.compile(r"^[a-z1-5.]{1,12}$")
B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
B58_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}
BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

HASH_SHAPES = {
    "evm": "0x followed by 64 hex characters",
    "tron": "64 hex characters without 0x",
    "bitcoin": "64 hex characters without 0x (the txid)",
    "solana": "a base58 signature of 64 bytes (87 or 88 characters)",
    "aptos": "0x followed by 64 hex characters",
    "substrate": "0x followed by 64 hex characters (the extrinsic hash)",
    "antelope": "64 hex characters without 0x (the transaction id)",
}
ADDRESS_SHAPES = {
    "evm": "0x followed by 40 hex characters (EIP-55 checksum when mixed case)",
    "tron": "a base58check address starting with T (34 characters)",
    "bitcoin": "a bech32 address (bc1…) or a base58check address starting with 1 or 3",
    "solana": "a base58 public key of 32 bytes (32 to 44 characters)",
    "aptos": "0x followed by up to 64 hex characters",
    "substrate": "an SS58 address of this network",
    "antelope": "an account name: up to 12 characters a-z, 1-5 and dots",
}
SS58_NETWORKS = {0: "Polkadot", 2: "Kusama", 42: "generic Substrate"}


# -- encodings -------------------------------------------------------------------------------------------------

def b58decode(value: str) -> bytes:
    number = 0
    for char in value:
        if char not in B58_INDEX:
            raise ValueError(f"{char!r} is not a base58 character")
        number = number * 58 + B58_INDEX[char]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * (len(value) - len(value.lstrip("1"))) + body


def b58check_decode(value: str) -> bytes:
    raw = b58decode(value)
    payload, checksum = raw[:-4], raw[-4:]
    if len(raw) < 5 or hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        raise ValueError("base58 checksum does not match: a character is probably mistyped")
    return payload


def _bech32_polymod(values: list[int]) -> int:
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def bech32_decode(value: str) -> tuple[str, list[int], str]:
    """(hrp, data without checksum, 'bech32' | 'bech32m'). ValueError when the checksum does not match."""
    if value.lower() != value and value.upper() != value:
        raise ValueError("mixed case")
    value = value.lower()
    pos = value.rfind("1")
    if pos < 1 or pos + 7 > len(value) or len(value) > 90:
        raise ValueError("not a bech32 string")
    hrp, data = value[:pos], value[pos + 1:]
    if any(c not in BECH32_CHARSET for c in data):
        raise ValueError("not a bech32 character")
    values = [BECH32_CHARSET.index(c) for c in data]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _bech32_polymod(expanded + values)
    kind = {1: "bech32", 0x2BC830A3: "bech32m"}.get(polymod)
    if kind is None:
        raise ValueError("bech32 checksum does not match: a character is probably mistyped")
    return hrp, values[:-6], kind


def ss58_decode(value: str) -> tuple[int, bytes]:
    """(network prefix, 32-byte public key). ValueError on a bad checksum or shape."""
    raw = b58decode(value)
    if len(raw) < 35:
        raise ValueError("too short for an SS58 address")
    if raw[0] < 64:
        prefix, rest = raw[0], raw[1:]
        head = raw[:1]
    else:
        lower = ((raw[0] & 0x3F) << 2) | (raw[1] >> 6)
        upper = raw[1] & 0x3F
        prefix, rest, head = lower | (upper << 8), raw[2:], raw[:2]
    if len(rest) != 34:
        raise ValueError("an SS58 account address holds 32 bytes")
    key, checksum = rest[:32], rest[32:]
    if hashlib.blake2b(b"SS58PRE" + head + key, digest_size=64).digest()[:2] != checksum:
        raise ValueError("SS58 checksum does not match: a character is probably mistyped")
    return prefix, key


# -- hashes ----------------------------------------------------------------------------------------------------

def _is_solana_signature(value: str) -> bool:
    if not 64 <= len(value) <= 90:
        return False
    try:
        return len(b58decode(value)) == 64
    except ValueError:
        return False


def hash_families(value: str) -> list[str]:
    """Every family whose transaction hashes have this shape (0x+64 hex: EVM, Aptos, Substrate; 64 hex: TRON,
    Bitcoin, Antelope)."""
    value = value.strip()
    if EVM_HASH.match(value):
        return ["evm", "aptos", "substrate"]
    if HEX64.match(value):
        return ["tron", "bitcoin", "antelope"]
    if _is_solana_signature(value):
        return ["solana"]
    return []




def normalize_hash(chain: ChainConfig, value: str) -> str | None:
    """The hash as the chain's nodes expect it, or None when it does not fit this chain's family."""
    value = value.strip()
    if chain.family not in hash_families(value):
        return None
    return value if chain.family == "solana" else value.lower()


# -- addresses -------------------------------------------------------------------------------------------------

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


def aptos_address(value: str) -> str:
    """Aptos addresses compare in their long form: 0x + 64 lower-case hex (0x1 → 0x000…01)."""
    value = value.strip().lower()
    if not APTOS_ADDRESS.match(value):
        raise ValueError(f"not an Aptos address: expected {ADDRESS_SHAPES['aptos']}")
    return "0x" + value[2:].rjust(64, "0")


def _bitcoin(chain: ChainConfig, value: str) -> str:
    hrp = chain.bech32_hrp or "bc"
    if value.lower().startswith(hrp + "1"):
        got_hrp, data, kind = bech32_decode(value)
        if got_hrp != hrp or not data:
            raise ValueError(f"not a {chain.name} address (prefix {got_hrp}1)")
        version = data[0]
        if (version == 0) != (kind == "bech32"):
            raise ValueError("segwit v0 addresses use bech32, v1+ bech32m: the checksum variant is wrong")
        return value.lower()
    if value[:1] in ("1", "3", "m", "n", "2"):
        payload = b58check_decode(value)
        mainnet = hrp == "bc"
        allowed = (0x00, 0x05) if mainnet else (0x6F, 0xC4)
        if len(payload) != 21 or payload[0] not in allowed:
            raise ValueError(f"not a {chain.name} address (version byte {payload[0]:#04x})")
        return value
    raise ValueError(f"not a Bitcoin address: expected {ADDRESS_SHAPES['bitcoin']}")


def normalize_address(chain: ChainConfig, value: str) -> str:
    """The canonical form used for comparisons (EVM/Aptos lower case, others as the chain writes them).
    ValueError with what is wrong."""
    value = value.strip()
    family = chain.family
    if family == "evm":
        if not EVM_ADDRESS.match(value):
            raise ValueError(f"not an EVM address: expected {ADDRESS_SHAPES['evm']}")
        if value != value.lower() and value[2:] != value[2:].upper() and not is_checksum_address(value):
            raise ValueError("EIP-55 checksum does not match: a character is probably mistyped")
        return value.lower()
    if family == "tron":
        if not value.startswith("T") or len(value) != 34:
            raise ValueError(f"not a TRON address: expected {ADDRESS_SHAPES['tron']}")
        try:
            tron_to_hex(value)
        except ValueError as exc:
            raise ValueError(f"TRON base58 checksum does not match ({exc})") from exc
        return value
    if family == "bitcoin":
        return _bitcoin(chain, value)
    if family == "solana":
        if not 32 <= len(value) <= 44 or len(b58decode(value)) != 32:
            raise ValueError(f"not a Solana address: expected {ADDRESS_SHAPES['solana']}")
        return value
    if family == "aptos":
        return aptos_address(value)
    if family == "substrate":
        prefix, _ = ss58_decode(value)
        if chain.ss58_prefix is not None and prefix != chain.ss58_prefix:
            network = SS58_NETWORKS.get(prefix, f"SS58 prefix {prefix}")
            raise ValueError(f"this is a {network} address, not a {chain.name} one")
        return value
    if not ANTELOPE_ACCOUNT.match(value):
        raise ValueError(f"not an account name: expected {ADDRESS_SHAPES['antelope']}")
    return value
