"""Solana over JSON-RPC: `getSignatureStatuses` (with history search) then `getTransaction` (jsonParsed); a
pure function decides.

`processed` → pending, `confirmed` → confirmed, `finalized` → finalized; `meta.err` → failed with the
`InstructionError` decoded (the program, and for the System and SPL Token programs the error's name). A
signature seen once and gone after its blockhash can no longer be valid (150 blocks) is `dropped`: it never
landed and will not; re-send it. Transfers: parsed System transfers and the pre/post token balances.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from services.wallet_support.cache import ResultCache
from services.wallet_support.chains.addresses import b58decode
from services.wallet_support.chains.base import RpcError, status_body
from services.wallet_support.chains.decoding import units
from services.wallet_support.chains.registry import ChainConfig
from services.wallet_support.chains.rest import Identity, RestEndpoints, Technical

SYSTEM_PROGRAM = "11111111111111111111111111111111"
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
TOKEN_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
ATA_PROGRAM = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL"
BLOCKHASH_VALID_BLOCKS = 150  # a tx whose recent blockhash is older than this can never be processed
TECHNICAL_RPC_CODES = {-32005, 429, -32603}
SIGNATURES_PER_CALL = 256  # getSignatureStatuses takes at most 256 signatures

# solana-program SystemError and spl-token TokenError, by their custom error number.
SYSTEM_ERRORS = {0: "AccountAlreadyInUse", 1: "ResultWithNegativeLamports", 2: "InvalidProgramId",
                 3: "InvalidAccountDataLength", 4: "MaxSeedLengthExceeded", 5: "AddressWithSeedMismatch",
                 6: "NonceNoRecentBlockhashes", 7: "NonceBlockhashNotExpired", 8: "NonceUnexpectedBlockhashValue"}
TOKEN_ERRORS = {0: "NotRentExempt", 1: "InsufficientFunds", 2: "InvalidMint", 3: "MintMismatch",
                4: "OwnerMismatch", 5: "FixedSupply", 6: "AlreadyInUse", 7: "InvalidNumberOfProvidedSigners",
                8: "InvalidNumberOfRequiredSigners", 9: "UninitializedState", 10: "NativeNotSupported",
                11: "NonNativeHasBalance", 12: "InvalidInstruction", 13: "InvalidState", 14: "Overflow",
                15: "AuthorityTypeNotSupported", 16: "MintCannotFreeze", 17: "AccountFrozen",
                18: "MintDecimalsMismatch", 19: "NonNativeNotSupported"}
INSUFFICIENT = {"InsufficientFunds", "ResultWithNegativeLamports", "InsufficientFundsForFee",
                "InsufficientFundsForRent", "NotRentExempt", "InvalidRentPayingAccount"}
PROGRAM_NAMES = {SYSTEM_PROGRAM: "System", TOKEN_PROGRAM: "SPL Token", TOKEN_2022_PROGRAM: "SPL Token-2022",
                 ATA_PROGRAM: "Associated Token Account"}


@dataclass
class SolanaFacts:
    tx_hash: str
    signature_status: dict[str, Any] | None
    tx: dict[str, Any] | None = None
    block_height: int | None = None
    sighting: dict[str, Any] | None = None


# -- program-derived addresses (the associated token account) ---------------------------------------------------

_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def on_curve(point: bytes) -> bool:
    """Whether 32 bytes decompress to an ed25519 point (a PDA must not)."""
    y = int.from_bytes(point, "little") & ((1 << 255) - 1)
    if y >= _P:
        return False
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x2 = u * pow(v, _P - 2, _P) % _P
    return x2 == 0 or pow(x2, (_P - 1) // 2, _P) == 1


def b58encode(raw: bytes) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number = int.from_bytes(raw, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = alphabet[rem] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + out


def find_program_address(seeds: list[bytes], program: str) -> str:
    program_bytes = b58decode(program)
    for bump in range(255, -1, -1):
        digest = hashlib.sha256(b"".join(seeds) + bytes([bump]) + program_bytes + b"ProgramDerivedAddress").digest()
        if not on_curve(digest):
            return b58encode(digest)
    raise ValueError("no program address found")


def associated_token_account(owner: str, mint: str, token_program: str = TOKEN_PROGRAM) -> str:
    return find_program_address([b58decode(owner), b58decode(token_program), b58decode(mint)], ATA_PROGRAM)


# -- decoding ---------------------------------------------------------------------------------------------------

def _account_keys(tx: dict[str, Any]) -> list[str]:
    message = (tx.get("transaction") or {}).get("message") or {}
    keys = [k.get("pubkey") if isinstance(k, dict) else k for k in message.get("accountKeys") or []]
    loaded = (tx.get("meta") or {}).get("loadedAddresses") or {}
    return [str(k) for k in keys] + list(loaded.get("writable") or []) + list(loaded.get("readonly") or [])


def decode_error(err: Any, tx: dict[str, Any] | None) -> dict[str, Any]:
    """`meta.err` → failure: reason, message, the instruction, its program and the error's name when known."""
    if isinstance(err, str):
        return {"reason": "insufficient_balance" if err in INSUFFICIENT else "other", "message": err, "code": err}
    if isinstance(err, dict) and "InstructionError" in err:
        index, detail = err["InstructionError"]
        instructions = (((tx or {}).get("transaction") or {}).get("message") or {}).get("instructions") or []
        program = instructions[index].get("programId") if index < len(instructions) else None
        program_name = PROGRAM_NAMES.get(str(program), program)
        name: str | None = None
        code: Any = detail
        if isinstance(detail, dict) and "Custom" in detail:
            code = int(detail["Custom"])
            table = SYSTEM_ERRORS if program == SYSTEM_PROGRAM else TOKEN_ERRORS if program in (
                TOKEN_PROGRAM, TOKEN_2022_PROGRAM) else {}
            name = table.get(code)
            if name is None:
                logs = ((tx or {}).get("meta") or {}).get("logMessages") or []
                said = [line.split("Error: ", 1)[1] for line in logs if "Error: " in line]
                name = f"custom program error 0x{code:x}" + (f" ({said[-1]})" if said else "")
        elif isinstance(detail, str):
            name = detail
        else:
            name = str(detail)
        reason = "insufficient_balance" if name in INSUFFICIENT else "reverted"
        return {"reason": reason, "message": f"instruction {index} ({program_name}): {name}", "code": code,
                "instruction": index, "program": program, "program_name": program_name, "error_name": name}
    return {"reason": "other", "message": str(err), "code": None}


def token_transfers(tx: dict[str, Any], chain: ChainConfig) -> list[dict[str, Any]]:
    """What each owner gained or lost per mint, from the pre/post token balances."""
    meta = tx.get("meta") or {}
    keys = _account_keys(tx)
    balances: dict[tuple[int, str], dict[str, Any]] = {}
    for side, entries in (("pre", meta.get("preTokenBalances") or []), ("post", meta.get("postTokenBalances") or [])):
        for entry in entries:
            slot = balances.setdefault((int(entry["accountIndex"]), entry["mint"]), {"owner": entry.get("owner"),
                                                                                     "pre": 0, "post": 0})
            slot[side] = int((entry.get("uiTokenAmount") or {}).get("amount") or 0)
            slot["decimals"] = int((entry.get("uiTokenAmount") or {}).get("decimals") or 0)
            slot["owner"] = slot["owner"] or entry.get("owner")
    by_mint: dict[str, list[dict[str, Any]]] = {}
    for (index, mint), slot in balances.items():
        delta = slot["post"] - slot["pre"]
        if delta:
            by_mint.setdefault(mint, []).append({**slot, "delta": delta,
                                                 "account": keys[index] if index < len(keys) else None})
    transfers = []
    for mint, moves in by_mint.items():
        token = chain.token_by_contract(mint)
        decimals = token.decimals if token else moves[0].get("decimals", 0)
        senders = [m for m in moves if m["delta"] < 0]
        for gain in (m for m in moves if m["delta"] > 0):
            transfers.append({"token": token.symbol if token else None, "contract": mint,
                              "from": senders[0]["owner"] if len(senders) == 1 else None,
                              "to": gain["owner"] or gain["account"],
                              "token_account": gain["account"], "amount": units(gain["delta"], decimals),
                              "raw_amount": str(gain["delta"]), "decimals": decimals})
    return transfers


def system_transfers(tx: dict[str, Any], decimals: int) -> list[dict[str, Any]]:
    meta = tx.get("meta") or {}
    message = (tx.get("transaction") or {}).get("message") or {}
    instructions = list(message.get("instructions") or [])
    for inner in meta.get("innerInstructions") or []:
        instructions += inner.get("instructions") or []
    out = []
    for ins in instructions:
        parsed = ins.get("parsed")
        if ins.get("program") == "system" and isinstance(parsed, dict) and parsed.get("type") in (
                "transfer", "transferWithSeed"):
            info = parsed.get("info") or {}
            out.append({"from": info.get("source"), "to": info.get("destination"),
                        "amount": units(int(info.get("lamports") or 0), decimals)})
    return out


def solana_status(chain: ChainConfig, facts: SolanaFacts, checked_at: datetime) -> dict[str, Any]:
    """The contract's tx status from raw Solana facts. Pure."""
    body = status_body(chain.key, facts.tx_hash, chain.required_confirmations, checked_at)
    seen = facts.signature_status
    if seen is None:
        if facts.sighting is not None:
            seen_height = int(facts.sighting.get("block_height") or 0)
            expired = facts.block_height is not None and facts.block_height > seen_height + BLOCKHASH_VALID_BLOCKS
            body.update({"status": "dropped" if expired else "pending",
                         "pending_reason": None if expired else "in_mempool",
                         "blockhash_expired": expired})
        return body
    commitment = seen.get("confirmationStatus") or "processed"
    body["commitment"] = commitment
    body["block_number"] = seen.get("slot")
    tx = facts.tx
    if tx is not None:
        meta = tx.get("meta") or {}
        decimals = chain.native_decimals
        native = system_transfers(tx, decimals)
        keys = _account_keys(tx)
        body.update({"block_number": tx.get("slot", seen.get("slot")),
                     "block_time": datetime.fromtimestamp(int(tx["blockTime"]), UTC) if tx.get("blockTime") else None,
                     "fee": units(int(meta.get("fee") or 0), decimals), "from": keys[0] if keys else None,
                     "to": native[0]["to"] if native else None,
                     "native_value": units(sum(int(Decimal(n["amount"]).scaleb(decimals)) for n in native), decimals),
                     "native_transfers": native, "transfers": token_transfers(tx, chain)})
        if body["to"] is None and body["transfers"]:
            body["to"] = body["transfers"][0]["to"]
    err = seen.get("err") if seen.get("err") is not None else ((tx or {}).get("meta") or {}).get("err")
    if err is not None and commitment != "processed":
        body.update({"status": "failed", "failure": decode_error(err, tx), "transfers": [], "native_transfers": [],
                     "native_value": units(0, chain.native_decimals)})
        return body
    if commitment == "finalized":
        body.update({"status": "finalized", "confirmations": chain.required_confirmations})
    elif commitment == "confirmed":
        body.update({"status": "confirmed", "confirmations": int(seen.get("confirmations") or 1)})
    else:
        body.update({"status": "pending", "pending_reason": "in_mempool", "confirmations": 0})
    return body


class SolanaClient:
    """ChainClient for Solana over JSON-RPC."""

    def __init__(self, chain: ChainConfig, *, http: httpx.AsyncClient, cache: ResultCache,
                 urls: Sequence[str] | None = None, attempts: int = 2, backoff: float = 0.1) -> None:
        self.chain = chain
        self.cache = cache
        identity = Identity("POST", "", chain.genesis_hash or "", lambda body: str(body["result"]),
                            body={"jsonrpc": "2.0", "id": 0, "method": "getGenesisHash"}) \
            if chain.genesis_hash else None
        self.api = RestEndpoints(chain_key=chain.key, urls=urls or chain.rpc_urls, http=http, identity=identity,
                                 attempts=attempts, backoff=backoff)
        self.gate = asyncio.Semaphore(16)

    async def call(self, method: str, params: list[Any]) -> Any:
        def check(body: dict[str, Any]) -> None:  # json_rpc has checked that it is an object
            error = body.get("error")
            if error and (code := RpcError.of(error).code) in TECHNICAL_RPC_CODES:
                raise Technical(f"rpc error {code}")

        return await self.api.json_rpc(method, params, check=check)

    async def probe(self) -> bool:
        return await self.api.probe()

    async def statuses(self, tx_hashes: Sequence[str]) -> list[dict[str, Any]]:
        checked_at = datetime.now(UTC)
        chunks = [list(tx_hashes[i:i + SIGNATURES_PER_CALL]) for i in range(0, len(tx_hashes), SIGNATURES_PER_CALL)]
        answers = await asyncio.gather(*(self.call("getSignatureStatuses", [chunk, {"searchTransactionHistory": True}])
                                         for chunk in chunks))
        seen: list[Any] = []
        for chunk, result in zip(chunks, answers, strict=True):
            seen += list((result or {}).get("value") or [None] * len(chunk))
        facts = [SolanaFacts(tx_hash=h, signature_status=s) for h, s in zip(tx_hashes, seen, strict=True)]
        landed = [f for f in facts if f.signature_status and f.signature_status.get("confirmationStatus") in (
            "confirmed", "finalized")]
        async def transaction(sig: str) -> Any:
            async with self.gate:
                return await self.call("getTransaction", [sig, {"encoding": "jsonParsed",
                                                                "maxSupportedTransactionVersion": 0,
                                                                "commitment": "confirmed"}])

        txs = await asyncio.gather(*(transaction(f.tx_hash) for f in landed))
        for f, tx in zip(landed, txs, strict=True):
            f.tx = tx if isinstance(tx, dict) else None
        unseen = [f for f in facts if f.signature_status is None]
        seen_before = await self.cache.sightings_of(self.chain.key, [f.tx_hash for f in unseen])
        for f in unseen:
            f.sighting = seen_before[f.tx_hash]
        processed = [f for f in facts if f.signature_status and f.signature_status.get("confirmationStatus") not in (
            "confirmed", "finalized")]
        if processed or any(f.sighting for f in unseen):
            height = int(await self.call("getBlockHeight", [{"commitment": "processed"}]))
            for f in facts:
                f.block_height = height
            await self.cache.remember_sightings(self.chain.key, {
                f.tx_hash: {"block_height": height, "slot": (f.signature_status or {}).get("slot")}
                for f in processed})
        return [solana_status(self.chain, f, checked_at) for f in facts]

    async def account_facts(self, address: str, status: dict[str, Any]) -> dict[str, Any]:
        """For token_not_showing: the wallet's associated token account for each mint it received, and
        whether it exists."""
        mine = [t for t in status.get("transfers") or [] if t.get("to") == address]
        if not mine:
            return {}
        transfer = mine[0]
        ata = associated_token_account(address, transfer["contract"])
        info = await self.call("getAccountInfo", [ata, {"encoding": "jsonParsed"}])
        exists = bool(isinstance(info, dict) and info.get("value"))
        return {"ata": ata, "ata_exists": exists, "token_account": transfer.get("token_account"),
                "owner": address, "mint": transfer["contract"],
                "in_ata": transfer.get("token_account") == ata}
