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


# Standard Webhooks (standardwebhooks.com), which the generic sender may use instead of X-Signature:
# HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}", base64, listed as "v1,<sig>" entries.
STANDARD_TOLERANCE_SECONDS = 300


def standard_key(secret: str) -> bytes:
    """A `whsec_`-prefixed secret is base64 (as the spec writes them); any other is used as its bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_"):], validate=True)
        except ValueError:
            return secret.encode()
    return secret.encode()


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(standard_key(secret), signed, hashlib.sha256).digest()).decode()


def verify_standard(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    """None when the Standard Webhooks signature holds, else why not."""
    msg_id, stamp, given = (headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not msg_id or not stamp or not given:
        return "webhook-id, webhook-timestamp and webhook-signature are all required"
    try:
        timestamp = int(stamp)
    except ValueError:
        return "webhook-timestamp must be an integer (seconds since the epoch)"
    if abs(now - timestamp) > STANDARD_TOLERANCE_SECONDS:
        return f"webhook-timestamp is more than {STANDARD_TOLERANCE_SECONDS} seconds from now"
    expected = sign_standard(secret, msg_id, timestamp, body).encode()
    for candidate in given.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return None
    return "no webhook-signature entry matches"
