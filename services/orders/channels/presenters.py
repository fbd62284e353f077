"""Rows → response bodies."""

from __future__ import annotations

from collections.abc import Sequence

from services.orders.channels import schemas
from services.orders.channels.models import DeliveryAttempt, Event, OutboxItem


def event_public(event: Event, items: Sequence[OutboxItem] = (),
                 attempts: Sequence[DeliveryAttempt] = ()) -> schemas.EventPublic:
    return schemas.EventPublic(
        id=event.id, type=event.type, order_id=event.order_id, data=event.data, created_at=event.created_at,
        endpoints=[schemas.EndpointStatePublic(endpoint=i.target, state=i.state, attempts=i.attempts,
                                               next_attempt_at=i.run_at if i.state == "queued" else None,
                                               sent_at=i.sent_at, redelivery=bool(i.payload.get("redelivery")))
                   for i in items],
        deliveries=[schemas.DeliveryPublic(endpoint=a.target, attempt=a.attempt, outcome=a.outcome,
                                           status_code=a.status_code, error=a.error, duration_ms=a.duration_ms,
                                           attempted_at=a.attempted_at) for a in attempts])
