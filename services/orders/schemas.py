"""Request and response bodies of the orders service, as the contract names them."""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from services.common.schemas import (
    MONEY_LIMIT,
    ApiModel,
    AwareTimestamp,
    DecimalStr,
    JsonInt,
    NonNegativeDecimalStr,
    PositiveDecimalStr,
    StrictBody,
    Timestamp,
)
from services.orders.tracking.normalized import carrier_slug, tracking_key

OrderStatus = Literal["pending_payment", "paid", "fulfilling", "shipped", "delivered", "completed",
                      "cancelled", "returned", "refunded"]
PaymentMethod = Literal["card", "alipay", "wechat_pay", "bank_transfer", "crypto"]
PaymentStatus = Literal["pending", "succeeded", "failed", "refunded"]
TrackingStatus = Literal["pending", "info_received", "in_transit", "out_for_delivery", "failed_attempt",
                         "available_for_pickup", "delivered", "exception", "returned_to_sender", "expired"]

Code = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/\-]*$")


class Customer(StrictBody):
    id: str = Field(min_length=1, max_length=64)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ()\-]{5,31}$")
    name: str | None = Field(default=None, max_length=200)


class Address(StrictBody):
    recipient: str | None = Field(default=None, max_length=200)
    line1: str | None = Field(default=None, max_length=300)
    line2: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=120)
    district: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$")
    lat: float | None = Field(default=None, ge=-90, le=90, strict=True)
    lon: float | None = Field(default=None, ge=-180, le=180, strict=True)

    @model_validator(mode="after")
    def _coordinates_in_pairs(self) -> Address:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together: give both or neither")
        if self.country:
            self.country = self.country.upper()
        return self


class OrderItemIn(StrictBody):
    sku: str = Code
    name: str = Field(min_length=1, max_length=300)
    category: str = Field(default="default", min_length=1, max_length=64)
    quantity: JsonInt = Field(gt=0, le=100_000)
    unit_price: NonNegativeDecimalStr


class OrderCreate(StrictBody):
    order_number: str = Code
    customer: Customer
    currency: str = Field(min_length=3, max_length=10, pattern=r"^[A-Za-z]{3,10}$")
    placed_at: AwareTimestamp
    items: list[OrderItemIn] = Field(min_length=1, max_length=500)
    shipping_address: Address | None = None
    status: OrderStatus = "pending_payment"

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _unique_skus(self) -> OrderCreate:
        skus = [item.sku for item in self.items]
        if len(skus) != len(set(skus)):
            raise ValueError("each sku appears once per order; add up the quantity instead")
        with localcontext(prec=80):  # exact: the default 28 digits would round a NUMERIC(38, 18) total
            total = sum((item.unit_price * item.quantity for item in self.items), Decimal(0))
        if total >= MONEY_LIMIT:
            raise ValueError("the order total must stay below 10^20")
        return self


class OrderStatusUpdate(StrictBody):
    status: OrderStatus
    note: str | None = Field(default=None, max_length=2000)


class OrderItemPublic(ApiModel):
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: DecimalStr
    line_total: DecimalStr


class CustomerPublic(ApiModel):
    id: str
    email: str | None = None
    phone: str | None = None
    name: str | None = None


class OrderPublic(ApiModel):
    id: str
    order_number: str
    status: OrderStatus
    customer: CustomerPublic
    currency: str
    placed_at: Timestamp
    items: list[OrderItemPublic]
    item_count: int
    total: DecimalStr
    shipping_address: dict[str, Any] | None
    created_at: Timestamp
    updated_at: Timestamp


class OrderList(ApiModel):
    items: list[OrderPublic]
    count: int


class CryptoDetails(StrictBody):
    chain: str = Field(min_length=2, max_length=32)
    tx_hash: str | None = Field(default=None, min_length=10, max_length=100)
    token: str | None = Field(default=None, max_length=32)
    to_address: str | None = Field(default=None, max_length=100)
    from_address: str | None = Field(default=None, max_length=100)

    @field_validator("chain")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class PaymentCreate(StrictBody):
    method: PaymentMethod
    amount: PositiveDecimalStr
    currency: str = Field(min_length=2, max_length=16)
    status: PaymentStatus = "pending"
    failure_code: str | None = Field(default=None, max_length=64)
    crypto: CryptoDetails | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PaymentCreate:
        if self.method == "crypto" and self.crypto is None:
            raise ValueError("a crypto payment needs crypto: {chain, tx_hash, token, to_address}")
        if self.method != "crypto" and self.crypto is not None:
            raise ValueError("crypto details go only with method crypto")
        if self.failure_code and self.status != "failed":
            raise ValueError("failure_code goes only with status failed")
        return self


class PaymentUpdate(StrictBody):
    status: PaymentStatus
    failure_code: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _failure_code(self) -> PaymentUpdate:
        if self.failure_code and self.status != "failed":
            raise ValueError("failure_code goes only with status failed")
        return self


class PaymentHistoryEntry(ApiModel):
    from_status: str | None
    to_status: str
    failure_code: str | None
    note: str | None
    source: str
    occurred_at: Timestamp


class CryptoPublic(ApiModel):
    chain: str
    tx_hash: str | None
    token: str | None
    to_address: str | None
    from_address: str | None


class PaymentPublic(ApiModel):
    id: str
    order_id: str
    method: PaymentMethod
    amount: DecimalStr
    currency: str
    status: PaymentStatus
    failure_code: str | None
    crypto: CryptoPublic | None
    payment_check: dict[str, Any] | None = None
    history: list[PaymentHistoryEntry]
    created_at: Timestamp
    updated_at: Timestamp


class PaymentList(ApiModel):
    items: list[PaymentPublic]


class ShipmentCreate(StrictBody):
    carrier: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
    tracking_number: str = Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9\-]+$")

    @field_validator("carrier")
    @classmethod
    def _carrier_slug(cls, value: str) -> str:
        return carrier_slug(value)

    @field_validator("tracking_number")
    @classmethod
    def _tracking_upper(cls, value: str) -> str:
        return tracking_key(value)


class ShipmentPublic(ApiModel):
    id: str
    order_id: str
    carrier: str
    tracking_number: str
    status: TrackingStatus
    last_event_at: Timestamp | None
    delivered_at: Timestamp | None
    created_at: Timestamp


class TrackingLocation(StrictBody):
    address: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, max_length=3)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _pairs(self) -> TrackingLocation:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together: give both or neither")
        return self


class TrackingEventIn(StrictBody):
    event_id: str | None = Field(default=None, min_length=1, max_length=190)
    status: TrackingStatus
    substatus: str | None = Field(default=None, max_length=64)
    raw_status: str | None = Field(default=None, max_length=200)
    occurred_at: AwareTimestamp
    description: str | None = Field(default=None, max_length=2000)
    location: TrackingLocation | None = None

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _timestamp_text(cls, value: Any) -> Any:
        # The schema says an ISO 8601 string with an offset; 0 or 1.7e9 would be read as epoch seconds.
        if not isinstance(value, str):
            raise ValueError("must be an ISO 8601 date-time string with an offset, not a number")
        return value


class TrackingBatch(StrictBody):
    carrier: str = Field(min_length=2, max_length=64)
    tracking_number: str = Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9\- ]+$")
    events: list[TrackingEventIn] = Field(min_length=1, max_length=1000)


class RefusedEvent(ApiModel):
    index: int
    occurred_at: Timestamp
    reason: str


class IngestResult(ApiModel):
    carrier: str
    tracking_number: str
    received: int
    stored: int
    duplicates: int
    shipment_id: str | None
    shipment_status: TrackingStatus | None
    waiting_for_shipment: bool
    # Events not stored and why (e.g. stamped more than 24 h after their receipt); the rest of the batch is.
    refused: list[RefusedEvent] = []


class IngestResponse(ApiModel):
    results: list[IngestResult]


class TimelineEvent(ApiModel):
    event_id: str | None
    status: TrackingStatus
    substatus: str | None
    raw_status: str | None
    occurred_at: Timestamp
    description: str | None
    location: dict[str, Any] | None
    source: str
    received_at: Timestamp
    after_delivery: bool


class AddressCheckPublic(ApiModel):
    verdict: Literal["match", "near", "mismatch", "unknown"]
    method: str
    evidence: dict[str, Any]


class ShipmentTimeline(ApiModel):
    shipment: ShipmentPublic
    events: list[TimelineEvent]
    delivered_address_check: AddressCheckPublic | None


# Diagnosis, returns, tickets -----------------------------------------------------------------------------

FindingCode = Literal[
    "payment_failed", "payment_pending_too_long", "crypto_payment_unverified", "status_mismatch", "not_shipped_yet",
    "no_tracking_updates", "delivery_exception", "failed_delivery_attempt", "awaiting_pickup", "returned_to_sender",
    "delivered_to_different_address", "delivered_but_reported_missing", "wrong_item_reported", "return_window_open",
    "return_window_closed"]
ReturnReason = Literal["wrong_item", "damaged", "not_as_described", "changed_mind", "not_received"]
ReturnStatus = Literal["requested", "approved", "rejected", "received", "refunded"]
ReturnCondition = Literal["unopened", "opened", "used", "damaged"]
TicketType = Literal["payment_failed", "order_status", "wrong_item", "not_received", "return_request",
                     "tech_support", "account_change"]
TicketStatus = Literal["open", "waiting_customer", "waiting_chain", "resolved", "closed"]
Channel = Literal["chat", "email", "phone", "social"]
Lang = Literal["en", "zh-CN"]


class FindingPublic(ApiModel):
    code: FindingCode
    severity: Literal["info", "warning", "critical"]
    title: str
    detail: str
    evidence: dict[str, Any]
    next_steps: list[str]
    contact_channel: Channel


class ReturnItemEligibility(ApiModel):
    sku: str
    eligible: bool
    window_days: int
    deadline: Timestamp
    counted_from: Literal["delivery", "placement"]
    returnable_quantity: int
    reasons: list[str]
    refund_method: str
    refund_destination: dict[str, Any] | None


class ReturnEligibility(ApiModel):
    items: list[ReturnItemEligibility]
    time_zone: str


class DiagnosisPublic(ApiModel):
    order_id: str
    order_number: str
    computed_at: Timestamp
    lang: Lang
    state: Literal["ok", "watch", "needs_action"]
    headline: str
    findings: list[FindingPublic]
    return_eligibility: ReturnEligibility


class ReturnLineIn(StrictBody):
    sku: str = Code
    quantity: JsonInt = Field(gt=0, le=100_000)


class ReturnCreate(StrictBody):
    items: list[ReturnLineIn] = Field(min_length=1, max_length=500)
    reason: ReturnReason
    condition: ReturnCondition | None = None
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _unique(self) -> ReturnCreate:
        skus = [line.sku for line in self.items]
        if len(skus) != len(set(skus)):
            raise ValueError("each sku appears once per return")
        return self


class ReturnUpdate(StrictBody):
    status: ReturnStatus
    note: str | None = Field(default=None, max_length=2000)


class ReturnPublic(ApiModel):
    id: str
    order_id: str
    status: ReturnStatus
    reason: ReturnReason
    condition: str | None
    items: list[dict[str, Any]]
    refund_method: str | None
    refund_destination: dict[str, Any] | None
    refund_amount: DecimalStr | None
    created_at: Timestamp
    updated_at: Timestamp


class TicketTx(StrictBody):
    chain: str = Field(min_length=2, max_length=32)
    tx_hash: str = Field(min_length=10, max_length=100)
    token: str | None = Field(default=None, max_length=16, description="what was sent, when no payment is on record")

    @field_validator("chain")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class TicketDetails(StrictBody):
    purchase_date: str | None = Field(default=None, max_length=40)
    product: str | None = Field(default=None, max_length=300)
    photos: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(default_factory=list, max_length=20)
    tracking_number: str | None = Field(default=None, max_length=64)
    device_model: str | None = Field(default=None, max_length=120)
    account_email: str | None = Field(default=None, max_length=254)
    problem_kind: Literal["fault", "usage", "software"] | None = Field(default=None, description="tech_support")


class TicketCreate(StrictBody):
    type: TicketType
    channel: Channel
    order_number: str | None = Field(default=None, max_length=64)
    order_id: str | None = Field(default=None, max_length=40)
    customer_id: str | None = Field(default=None, max_length=64)
    description: str = Field(min_length=1, max_length=5000)
    tx: TicketTx | None = None
    lang: Lang | None = None
    details: TicketDetails = Field(default_factory=TicketDetails)


class TicketUpdate(StrictBody):
    status: TicketStatus
    note: str | None = Field(default=None, max_length=2000)


MessageVisibility = Literal["public", "internal"]


class MessageCreate(StrictBody):
    author: Literal["agent", "customer"] | None = None
    channel: Channel | None = None
    text: str = Field(min_length=1, max_length=10_000)
    visibility: MessageVisibility = Field(
        default="public", description="internal: a note for agents, never shown to a customer key")


class MessagePublic(ApiModel):
    id: int
    author: Literal["agent", "customer", "system"]
    channel: str
    text: str
    visibility: MessageVisibility = "public"
    created_at: Timestamp


class TicketPublic(ApiModel):
    id: str
    type: TicketType
    channel: Channel
    status: TicketStatus
    order_id: str | None
    order_number: str | None
    customer_id: str | None
    description: str | None
    lang: Lang
    tx: dict[str, Any] | None
    payment_check: dict[str, Any] | None
    missing_information: list[str]
    details: dict[str, Any] | None
    diagnosis: DiagnosisPublic | None
    messages: list[MessagePublic]
    suggested_articles: list[dict[str, Any]] = Field(default_factory=list, description="top three help articles")
    created_at: Timestamp
    updated_at: Timestamp


class TicketList(ApiModel):
    items: list[TicketPublic]
    count: int
