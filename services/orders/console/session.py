"""The console's session: an API key exchanged once for a signed, HttpOnly, SameSite=Strict cookie with an
expiry, and a CSRF token bound to that session on every form. The key itself is never stored or shown."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from services.common.auth import Principal
from services.common.settings import Settings

COOKIE = "os_console"
SIGN_IN_COOKIE = "os_console_pre"
LANG_COOKIE = "os_console_lang"
PATH = "/console"
SESSION_SECONDS = 8 * 3600
SIGN_IN_SECONDS = 3600
CONSOLE_ROLES = ("agent", "customer")


@dataclass(frozen=True)
class ConsoleSession:
    role: str
    customer_id: str | None
    key_id: str
    expires: int
    nonce: str

    @property
    def principal(self) -> Principal:
        return Principal(role=self.role, customer_id=self.customer_id, key_id=self.key_id)  # type: ignore[arg-type]

    @property
    def is_agent(self) -> bool:
        return self.role == "agent"


def session_secret(settings: Settings) -> bytes:
    """Derived from the configured keys, so that every orders instance of one deployment agrees, and changing
    the keys ends every session. A customer knows only its own key, never the whole set."""
    material = settings.api_keys or ""
    if not material and settings.api_key_file.exists():
        material = settings.api_key_file.read_text().strip()
    return hmac.new(b"order-support/console-session/v1", material.encode(), hashlib.sha256).digest()


def secret_of(request: Request) -> bytes:
    state = request.app.state
    if getattr(state, "console_secret", None) is None:
        state.console_secret = session_secret(state.settings)
    return state.console_secret  # type: ignore[no-any-return]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, purpose: str, payload: str) -> str:
    return _b64(hmac.new(secret, f"{purpose}\0{payload}".encode(), hashlib.sha256).digest())


def encode_session(secret: bytes, principal: Principal, *, now: float | None = None) -> str:
    body = {"r": principal.role, "c": principal.customer_id, "k": principal.key_id,
            "e": int((now or time.time()) + SESSION_SECONDS), "n": secrets.token_urlsafe(16)}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, 'session', payload)}"


def decode_session(secret: bytes, value: str | None, *, now: float | None = None) -> ConsoleSession | None:
    if not value or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(signature, _sign(secret, "session", payload)):
        return None
    try:
        body: dict[str, Any] = json.loads(_unb64(payload))
        found = ConsoleSession(role=str(body["r"]), customer_id=body.get("c"), key_id=str(body["k"]),
                               expires=int(body["e"]), nonce=str(body["n"]))
    except (ValueError, KeyError, TypeError):
        return None
    if found.expires <= (now or time.time()) or found.role not in CONSOLE_ROLES:
        return None
    return found


def current_session(request: Request) -> ConsoleSession | None:
    return decode_session(secret_of(request), request.cookies.get(COOKIE))


def csrf_token(request: Request, session: ConsoleSession | None) -> str:
    """Bound to the session's nonce (or, before sign-in, to the sign-in cookie's)."""
    nonce = session.nonce if session else request.cookies.get(SIGN_IN_COOKIE, "")
    return _sign(secret_of(request), "csrf", nonce) if nonce else ""


def csrf_ok(request: Request, session: ConsoleSession | None, sent: str | None) -> bool:
    if not sent or not same_origin(request):
        return False
    expected = csrf_token(request, session)
    return bool(expected) and hmac.compare_digest(sent, expected)


def same_origin(request: Request) -> bool:
    """A browser says where a POST comes from; another site's is refused even before the token is looked at."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        return origin.split("://", 1)[-1] == host
    return origin != "null"


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def sign_in_nonce(request: Request) -> str:
    return request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(16)


def sign_in_token(request: Request, nonce: str) -> str:
    """The sign-in form's CSRF token, derived from the nonce kept in its own short-lived cookie."""
    return _sign(secret_of(request), "csrf", nonce)


def keep_sign_in(request: Request, response: Response, nonce: str) -> None:
    _cookie(response, request, SIGN_IN_COOKIE, nonce, SIGN_IN_SECONDS)


def set_session(request: Request, response: Response, principal: Principal) -> None:
    _cookie(response, request, COOKIE, encode_session(secret_of(request), principal), SESSION_SECONDS)
    response.delete_cookie(SIGN_IN_COOKIE, path=PATH)


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")


def remember_language(request: Request, response: Response, lang: str) -> None:
    _cookie(response, request, LANG_COOKIE, lang, 365 * 24 * 3600)
