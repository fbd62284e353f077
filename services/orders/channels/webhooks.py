"""Events to the shop: WEBHOOK_ENDPOINTS, Standard Webhooks signatures, one HTTP delivery."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

EVENT_TYPES = ("order.paid", "payment.reconciled", "payment.reversed", "ticket.created", "ticket.status_changed",
               "shipment.delivered", "shipment.exception")


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret: str


def parse_endpoints(text: str | None) -> list[Endpoint]:
    """`url|whsec_…` entries, comma-separated. A malformed entry stops start-up with its position."""
    endpoints: list[Endpoint] = []
    for position, raw in enumerate((text or "").split(","), start=1):
        raw = raw.strip()
        if not raw:
            continue
        url, sep, secret = raw.rpartition("|")
        if not sep or not url.startswith(("http://", "https://")) or not secret.startswith("whsec_"):
            raise ValueError(f"WEBHOOK_ENDPOINTS entry {position} must be https://…|whsec_…")
        Webhook(secret)  # a secret that is not base64 fails here, not at the first delivery
        endpoints.append(Endpoint(url=url, secret=secret))
    return endpoints


def body_of(*, event_id: str, event_type: str, created_at: datetime, data: dict[str, Any]) -> str:
    """The payload as Standard Webhooks recommends: type, timestamp, data (the id travels in webhook-id)."""
    return json.dumps({"id": event_id, "type": event_type, "timestamp": created_at.isoformat(), "data": data},
                      separators=(",", ":"), ensure_ascii=False, default=str)


def signed_headers(*, secret: str, event_id: str, body: str, now: datetime) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id=event_id, timestamp=now, data=body)
    return {"webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature,
            "content-type": "application/json", "user-agent": "order-support-webhooks/1"}


@dataclass
class DeliveryResult:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


async def deliver(client: httpx.AsyncClient, *, url: str, headers: dict[str, str], body: str) -> DeliveryResult:
    """One POST; any 2xx is delivered, everything else (refused, timeout, 3xx, 4xx, 5xx) is retried."""
    try:
        response = await client.post(url, content=body.encode(), headers=headers)
    except httpx.HTTPError as exc:
        return DeliveryResult(False, None, f"{type(exc).__name__}: {exc}"[:500], 0)
    ms = int(response.elapsed.total_seconds() * 1000) if response.elapsed else 0
    if 200 <= response.status_code < 300:
        return DeliveryResult(True, response.status_code, None, ms)
    return DeliveryResult(False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}", ms)
