"""Errors of the orders domain, each carrying its HTTP status."""

from __future__ import annotations

from services.common.errors import Conflict, InvalidInput, NotFound, ProblemError, Unauthorized


class OrderNotFound(NotFound):
    type_slug = "order-not-found"

    def __init__(self, ref: str) -> None:
        super().__init__(f"No order {ref} (or it is not yours to see).")


class PaymentNotFound(NotFound):
    type_slug = "payment-not-found"

    def __init__(self, ref: str) -> None:
        super().__init__(f"No payment {ref}.")


class ShipmentNotFound(NotFound):
    type_slug = "shipment-not-found"

    def __init__(self, ref: str) -> None:
        super().__init__(f"No shipment {ref}.")


class TicketNotFound(NotFound):
    type_slug = "ticket-not-found"

    def __init__(self, ref: str) -> None:
        super().__init__(f"No ticket {ref} (or it is not yours to see).")


class ReturnNotFound(NotFound):
    type_slug = "return-not-found"

    def __init__(self, ref: str) -> None:
        super().__init__(f"No return {ref}.")


class DuplicateOrderNumber(Conflict):
    type_slug = "duplicate-order-number"

    def __init__(self, order_number: str) -> None:
        super().__init__(f"An order with order_number {order_number} already exists.")


class DuplicateShipment(Conflict):
    type_slug = "duplicate-shipment"

    def __init__(self, carrier: str, tracking_number: str) -> None:
        super().__init__(f"Tracking number {tracking_number} of {carrier} is already registered.")


class InvalidTransition(Conflict):
    type_slug = "invalid-status-transition"

    def __init__(self, what: str, current: str, wanted: str, allowed: set[str]) -> None:
        options = ", ".join(sorted(allowed)) or "none (final)"
        super().__init__(f"A {what} in status {current} cannot move to {wanted}; allowed: {options}.")


class TransferAlreadyUsed(Conflict):
    type_slug = "transfer-already-used"

    def __init__(self, chain: str, tx_hash: str) -> None:
        super().__init__(f"The {chain} transaction {tx_hash} already settled another payment; one transfer pays "
                         "at most one payment.")


class ReturnNotAllowed(ProblemError):
    status, title, type_slug = 422, "Return not allowed", "return-not-allowed"


class BadSignature(Unauthorized):
    type_slug = "bad-signature"


class WebhookSecretMissing(ProblemError):
    status, title, type_slug = 503, "Webhooks not configured", "webhooks-not-configured"


class UnsupportedPayload(InvalidInput):
    type_slug = "unsupported-payload"
