"""Bearer API keys with roles: agent (everything), service (service-to-service, ingest), customer."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

from services.common.errors import Forbidden, Unauthorized
from services.common.settings import Settings

Role = Literal["agent", "service", "customer"]
ROLES: tuple[Role, ...] = ("agent", "service", "customer")
log = logging.getLogger("order_support.auth")


@dataclass(frozen=True)
class Principal:
    role: Role
    customer_id: str | None = None
    key_id: str = ""

    @property
    def is_customer(self) -> bool:
        return self.role == "customer"


class KeyRing:
    """Keys are kept as SHA-256 digests and compared in constant time."""

    def __init__(self, entries: dict[str, Principal]) -> None:
        self._by_digest = {hashlib.sha256(k.encode()).digest(): p for k, p in entries.items()}

    def lookup(self, key: str) -> Principal | None:
        digest = hashlib.sha256(key.encode()).digest()
        found: Principal | None = None
        for known, principal in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                found = principal
        return found

    def __len__(self) -> int:
        return len(self._by_digest)

    def issue(self, role: Role) -> str:
        """A key that lives only in this process (the one-process mode's orders → wallet-support calls)."""
        key = f"internal_{secrets.token_urlsafe(24)}"
        self._by_digest[hashlib.sha256(key.encode()).digest()] = Principal(role=role, key_id="internal")
        return key


def parse_api_keys(text: str) -> dict[str, Principal]:
    """`key:role[:customer_id]`, comma-separated. A malformed entry stops start-up with its position."""
    entries: dict[str, Principal] = {}
    for position, raw in enumerate(text.split(","), start=1):
        raw = raw.strip()
        if not raw:
            continue
        parts = raw.split(":")
        if len(parts) < 2 or len(parts) > 3 or not parts[0]:
            raise ValueError(f"API_KEYS entry {position} must be key:role[:customer_id]")
        key, role = parts[0], parts[1]
        if role not in ROLES:
            raise ValueError(f"API_KEYS entry {position}: role must be one of {', '.join(ROLES)}")
        customer_id = parts[2] if len(parts) == 3 and parts[2] else None
        if role == "customer" and not customer_id:
            raise ValueError(f"API_KEYS entry {position}: a customer key needs key:customer:<customer_id>")
        entries[key] = Principal(role=role, customer_id=customer_id,  # type: ignore[arg-type]
                                 key_id=hashlib.sha256(key.encode()).hexdigest()[:8])
    return entries


def load_keyring(settings: Settings, *, announce: bool = True) -> KeyRing:
    """From API_KEYS; when unset, a random agent key kept in a file outside the database."""
    if settings.api_keys:
        return KeyRing(parse_api_keys(settings.api_keys))
    path = settings.api_key_file
    if path.exists():
        key = path.read_text().strip()
    else:
        key = "agent_" + secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        if announce:
            print(f"order-support: no API_KEYS set; generated an agent key (kept in {path}):\n  {key}",
                  flush=True)
    entries = {key: Principal(role="agent", key_id=hashlib.sha256(key.encode()).hexdigest()[:8])}
    return KeyRing(entries)


def bearer_token(request: Request) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, or None without one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def current_principal(request: Request) -> Principal:
    """`async` on purpose: FastAPI runs a plain `def` dependency in its worker threadpool, a thread hop per
    request for a few microseconds of hashing."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("Send Authorization: Bearer <api key>.")
    principal = request.app.state.keyring.lookup(token)
    if principal is None:
        raise Unauthorized("Unknown API key.")
    request.state.principal = principal
    return principal


def require(*roles: Role) -> object:
    # One dependency, not two (a dependency on current_principal): FastAPI solves each level per request.
    async def _check(request: Request) -> Principal:
        principal = await current_principal(request)
        if principal.role not in roles:
            raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
        return principal

    return Depends(_check)


AgentOrService = Annotated[Principal, require("agent", "service")]
AnyRole = Annotated[Principal, Depends(current_principal)]  # every role: a known key is all it takes
