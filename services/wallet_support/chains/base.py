"""The one small interface per chain family, and the errors every chain client speaks.

Technical failures (timeouts, 5xx, 429, refused connections, non-JSON, a node on the wrong chain) mean
"ask elsewhere or later" and end as `unknown` with retry advice; logical answers (the chain says no such
transaction) are data, not errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

from services.wallet_support.chains.registry import ChainConfig


class ChainError(Exception):
    """Root of every chain access failure."""


class ChainUnavailable(ChainError):
    """No configured endpoint could answer (after retries and failover)."""

    def __init__(self, message: str, *, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(ChainUnavailable):
    pass


class WrongChainEndpoint(ChainUnavailable):
    """An endpoint answered eth_chainId with another chain: it is refused, never used."""


class RpcError(ChainError):
    """A JSON-RPC error object: the node understood and said no."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data

    @classmethod
    def of(cls, error: Any) -> RpcError:
        """A JSON-RPC answer's error member in whatever shape a provider wrote it (an object, a bare string)."""
        if not isinstance(error, dict):
            return cls(0, str(error))
        try:
            code = int(error.get("code") or 0)
        except (TypeError, ValueError):
            code = 0
        return cls(code, str(error.get("message", "")), error.get("data"))


class ChainClient(Protocol):
    """What the service needs from a chain, whatever its family."""

    chain: ChainConfig

    async def statuses(self, tx_hashes: Sequence[str]) -> list[dict[str, Any]]:
        """The status of each hash (the contract's tx status body), in order. Raises ChainUnavailable."""
        ...

    async def probe(self) -> bool:
        """True when at least one endpoint answers for the right chain."""
        ...


def status_body(chain_key: str, tx_hash: str, required: int, checked_at: Any) -> dict[str, Any]:
    """The contract's tx status skeleton every family fills in."""
    return {"chain": chain_key, "tx_hash": tx_hash, "status": "not_found", "confirmations": 0,
            "required_confirmations": required, "block_number": None, "block_time": None, "from": None,
            "to": None, "native_value": None, "fee": None, "transfers": [], "failure": None, "replaced_by": None,
            "pending_reason": None, "checked_at": checked_at}


def lagging_answer(body: dict[str, Any], *, node_head: int, block: int, block_time_seconds: float) -> dict[str, Any]:
    """"Not there" from a node whose head is below the block in question says nothing: unknown, ask again in a
    few blocks (never sooner than 2 s, never later than 2 min). Pure."""
    behind = max(block - node_head, 1)
    return {**body, "status": "unknown", "replaced_by": None,
            "retry_after": min(max(math.ceil(behind * block_time_seconds), 2), 120),
            "lagging": {"node_head": node_head, "block_in_question": block}}
