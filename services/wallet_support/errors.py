"""Errors of the wallet-support domain."""

from __future__ import annotations

from services.common.errors import InvalidInput


class UnknownChain(InvalidInput):
    type_slug = "unknown-chain"


class BadTxHash(InvalidInput):
    type_slug = "bad-tx-hash"


class BadAddress(InvalidInput):
    type_slug = "bad-address"


class UnknownToken(InvalidInput):
    type_slug = "unknown-token"
