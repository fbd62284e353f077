"""`Idempotency-Key` on every POST, once for all routes (an ASGI middleware over the service's database).

The first request with a key runs and its answer (status and body) is kept for 24 hours; the same key with
the same request replays that answer (header `Idempotent-Replayed: true`), with another request it is a 422;
while the first is still running a second one gets a 409 with `Retry-After` and does not run. Keys are scoped
to the caller's credential (the SHA-256 of its Authorization header): one client cannot replay another's.

Not kept: 5xx answers (the request may be retried), 401/403/429 (about the caller, not the request). A process
that dies while a request runs leaves its key locked for LOCK_SECONDS; then, if the request had committed nothing,
the key can be used again, and if it had (the request's transaction marks the key `committed`), a retry is told
that it was carried out and its answer lost (409), never run twice.
"""

from __future__ import annotations

import hashlib
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Index, Integer, LargeBinary, String, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import Field, SQLModel
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import ProblemError
from services.common.types import UTCDateTime, utcnow

log = logging.getLogger("order_support.idempotency")

HEADER = b"idempotency-key"
KEEP_FOR = timedelta(hours=24)
LOCK_SECONDS = 120
MAX_KEY_LENGTH = 255
_NOT_KEPT = frozenset({401, 403, 408, 429})


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    scope: str = Field(sa_column=Column(String(64), primary_key=True))
    key: str = Field(sa_column=Column(String(MAX_KEY_LENGTH), primary_key=True))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(Integer))
    content_type: str | None = Field(default=None, sa_column=Column(String(100)))
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class IdempotencyKeyInvalid(ProblemError):
    status, title, type_slug = 400, "Invalid Idempotency-Key", "idempotency-key-invalid"


class IdempotencyKeyReused(ProblemError):
    status, title, type_slug = 422, "Idempotency-Key reused", "idempotency-key-reused"


class IdempotencyKeyInUse(ProblemError):
    status, title, type_slug = 409, "Idempotency-Key in use", "idempotency-key-in-use"


class IdempotencyAnswerLost(ProblemError):
    status, title, type_slug = 409, "Idempotent request done, answer lost", "idempotency-answer-lost"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class IdempotencyMiddleware:
    """Active on POST requests that carry an Idempotency-Key, in apps whose state has a `sessionmaker`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_key = _header(scope, HEADER) if scope["type"] == "http" and scope.get("method") == "POST" else None
        maker: async_sessionmaker[AsyncSession] | None = (
            getattr(scope["app"].state, "sessionmaker", None) if raw_key is not None and "app" in scope else None)
        if raw_key is None or maker is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("ascii", "replace")
        if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable() or "\ufffd" in key:
            raise IdempotencyKeyInvalid(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.")
        body = await _read_body(receive)
        owner = hashlib.sha256(_header(scope, b"authorization") or b"anonymous").hexdigest()
        fingerprint = hashlib.sha256(b"\n".join([scope["method"].encode(), scope.get("raw_path") or
                                                 scope["path"].encode(), scope.get("query_string", b""),
                                                 body])).hexdigest()
        kept = await self._claim(maker, owner, key, fingerprint)
        if kept is not None:
            await self._replay(kept, scope, receive, send)
            return
        # The request's transaction marks the key carried out when it commits (services/common/db.py).
        scope.setdefault("state", {})["idempotency_key"] = (owner, key)

        sent = False

        async def replay_receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        response: dict[str, Any] = {"status": None, "content_type": None, "body": []}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        response["content_type"] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                response["body"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            await self._release(maker, owner, key)
            raise
        status = response["status"]
        if status is None or status >= 500 or status in _NOT_KEPT:
            await self._release(maker, owner, key)
        else:
            await self._store(maker, owner, key, status, response["content_type"], b"".join(response["body"]))

    async def _claim(self, maker: async_sessionmaker[AsyncSession], owner: str, key: str,
                     fingerprint: str) -> IdempotencyRecord | None:
        """Take the key for this request (None), or return the finished record to replay; raise for the rest."""
        now = utcnow()
        async with maker() as session:
            try:
                async with session.begin():
                    session.add(IdempotencyRecord(scope=owner, key=key, fingerprint=fingerprint, state="running",
                                                  locked_until=now + timedelta(seconds=LOCK_SECONDS),
                                                  created_at=now))
                    if random.random() < 0.01:  # housekeeping, not security
                        await session.execute(delete(IdempotencyRecord)
                                              .where(IdempotencyRecord.created_at < now - KEEP_FOR))  # type: ignore[arg-type]
                return None
            except IntegrityError:
                pass
        async with maker() as session, session.begin():
            record = (await session.execute(
                select(IdempotencyRecord).where(IdempotencyRecord.scope == owner,  # type: ignore[arg-type]
                                                IdempotencyRecord.key == key)  # type: ignore[arg-type]
            )).scalar_one_or_none()
            if record is None:
                raise IdempotencyKeyInUse("A request with this Idempotency-Key has just finished; retry.",
                                          headers={"Retry-After": "1"})
            expired = record.created_at < now - KEEP_FOR
            abandoned = record.state == "running" and (record.locked_until or now) < now
            if expired or abandoned:
                taken = await session.execute(
                    update(IdempotencyRecord)
                    .where(IdempotencyRecord.scope == owner, IdempotencyRecord.key == key,  # type: ignore[arg-type]
                           IdempotencyRecord.created_at == record.created_at,  # type: ignore[arg-type]
                           IdempotencyRecord.state == record.state)  # type: ignore[arg-type]
                    .values(fingerprint=fingerprint, state="running", status_code=None, content_type=None,
                            response_body=None, locked_until=now + timedelta(seconds=LOCK_SECONDS), created_at=now))
                if getattr(taken, "rowcount", 0) == 1:
                    return None
                raise IdempotencyKeyInUse("A request with this Idempotency-Key is being processed.",
                                          headers={"Retry-After": "1"})
            if record.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was used for a different request (method, path or body) in the last "
                    "24 hours; use a new key for a new request.")
            if record.state == "committed" and (record.locked_until or now) < now:
                # Its effects were committed, then the process stopped before the answer was kept: running it
                # again would do it twice.
                raise IdempotencyAnswerLost(
                    "The request with this Idempotency-Key was carried out, but its answer was not kept (the server "
                    "stopped); look the result up instead of sending it again.")
            if record.state != "done":
                raise IdempotencyKeyInUse("A request with this Idempotency-Key is being processed.",
                                          headers={"Retry-After": "1"})
            return record

    async def _store(self, maker: async_sessionmaker[AsyncSession], owner: str, key: str, status: int,
                     content_type: str | None, body: bytes) -> None:
        async with maker() as session, session.begin():
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.scope == owner, IdempotencyRecord.key == key)  # type: ignore[arg-type]
                .values(state="done", status_code=status, content_type=content_type, response_body=body,
                        locked_until=None))

    async def _release(self, maker: async_sessionmaker[AsyncSession], owner: str, key: str) -> None:
        """The request ended without an answer worth keeping: a key it never committed under is freed for a retry;
        one it did commit under (a route's mid-request commit) stops saying "being processed", so the retry hears
        at once that it was carried out."""
        mine = (IdempotencyRecord.scope == owner, IdempotencyRecord.key == key)
        try:
            async with maker() as session, session.begin():
                await session.execute(delete(IdempotencyRecord).where(
                    *mine, IdempotencyRecord.state == "running"))  # type: ignore[arg-type]
                await session.execute(update(IdempotencyRecord).where(
                    *mine, IdempotencyRecord.state == "committed").values(locked_until=utcnow()))  # type: ignore[arg-type]
        except Exception as exc:  # the lock expires by itself; the request's own error matters more
            log.warning("could not release an idempotency key", extra={"error": type(exc).__name__})

    @staticmethod
    async def _replay(record: IdempotencyRecord, scope: Scope, receive: Receive, send: Send) -> None:
        body = record.response_body or b""
        headers = [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
        if record.content_type:
            headers.append((b"content-type", record.content_type.encode("latin-1")))
        await send({"type": "http.response.start", "status": record.status_code or 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
