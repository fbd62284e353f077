"""Each sender's own webhook signature scheme over the raw body, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()


def sign_aftership(secret: str, body: bytes) -> str:
    return base64.b64encode(_mac(secret.encode(), body)).decode()


def sign_easypost(secret: str, body: bytes) -> str:
    # EasyPost normalizes the webhook secret with NFKD before using it as the HMAC key.
    key = unicodedata.normalize("NFKD", secret).encode()
    return "hmac-sha256-hex=" + _mac(key, body).hex()


def sign_generic(secret: str, body: bytes) -> str:
    return "sha256=" + _mac(secret.encode(), body).hex()


SCHEMES = {
    "aftership": ("aftership-hmac-sha256", sign_aftership),
    "easypost": ("x-hmac-signature", sign_easypost),
    "generic": ("x-signature", sign_generic),
}


def verify(fmt: str, secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    header, sign = SCHEMES[fmt]
    given = headers.get(header)
    if not given:
        return False
    expected = sign(secret, body)
    if fmt == "easypost":
        # The hex digest may arrive in either case.
        return hmac.compare_digest(given.strip().lower().encode(), expected.lower().encode())
    return hmac.compare_digest(given.strip().encode(), expected.encode())
