"""Request and response bodies of the channels."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from services.common.schemas import ApiModel, StrictBody, Timestamp
from services.orders.channels.catalog import TEXTS

PASSWORD_ADVICE = f"{TEXTS['en']['password']} / {TEXTS['zh-CN']['password']}"


class InboundResult(ApiModel):
    outcome: str = Field(description="ticket_created, appended or ignored")
    message_id: str
    ticket_id: str | None = None
    reason: str | None = Field(default=None, description="why ignored: bounce, auto_submitted, precedence, loop …")
    duplicate: bool = False
    recognised: dict[str, Any] = Field(default_factory=dict)
    attachments: int = 0


class DeliveryPublic(ApiModel):
    endpoint: str | None
    attempt: int
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: int
    attempted_at: Timestamp


class EndpointStatePublic(ApiModel):
    endpoint: str | None
    state: str
    attempts: int
    next_attempt_at: Timestamp | None
    sent_at: Timestamp | None
    redelivery: bool


class EventPublic(ApiModel):
    id: str
    type: str
    order_id: str | None
    data: dict[str, Any]
    created_at: Timestamp
    endpoints: list[EndpointStatePublic] = Field(default_factory=list)
    deliveries: list[DeliveryPublic] = Field(default_factory=list)


class EventList(ApiModel):
    items: list[EventPublic]
    count: int


class AttachmentPublic(ApiModel):
    id: str
    ticket_id: str
    filename: str | None
    content_type: str
    size: int
    sha256: str
    source: str
    created_at: Timestamp


class AddressIn(StrictBody):
    recipient: str | None = Field(default=None, max_length=200)
    line1: str = Field(min_length=1, max_length=300)
    line2: str | None = Field(default=None, max_length=300)
    city: str = Field(min_length=1, max_length=120)
    region: str | None = Field(default=None, max_length=120)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str = Field(min_length=2, max_length=2)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class ChangeCreate(StrictBody):
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ()-]{5,32}$")
    address: AddressIn | None = Field(default=None, description="the new default address")
    shipping_address: AddressIn | None = Field(default=None, description="for orders not yet shipped")
    order_ids: list[str] = Field(default_factory=list, max_length=20,
                                 description="whose shipping address changes (default: every order not yet shipped)")
    ticket_id: str | None = Field(default=None, max_length=40)
    lang: str | None = Field(default=None, pattern=r"^(zh-CN|en)$")

    @model_validator(mode="before")
    @classmethod
    def _no_passwords(cls, data: Any) -> Any:
        """There is no password field: passwords are the identity provider's, and support never handles one."""
        if isinstance(data, dict) and any("password" in str(k).lower() for k in data):
            raise PydanticCustomError("password_not_accepted", PASSWORD_ADVICE)
        return data


class ChangePublic(ApiModel):
    id: str
    customer_id: str
    status: str
    changes: dict[str, Any]
    refused: list[dict[str, Any]] = Field(default_factory=list)
    advice: list[str] = Field(default_factory=list)
    expires_at: Timestamp
    confirmed_at: Timestamp | None
    applied_at: Timestamp | None
    confirmations_needed: int
    created_at: Timestamp


class ConfirmBody(StrictBody):
    token: str = Field(min_length=10, max_length=400)


class AuditPublic(ApiModel):
    change_id: str
    field: str
    old_value: Any
    new_value: Any
    requested_by: str
    requested_at: Timestamp
    confirmed_at: Timestamp


class ArticlePublic(ApiModel):
    id: str
    lang: str
    title: str
    topic: str
    body: str | None = None
    score: float | None = None
    resolutions: int = 0


class ArticleList(ApiModel):
    items: list[ArticlePublic]
    count: int


class ResolutionCreate(StrictBody):
    ticket_id: str = Field(min_length=1, max_length=40)
