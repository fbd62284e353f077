"""Return eligibility at its edges: day 7 vs day 8, time zones, categories, quantities, refund paths."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from services.orders.diagnosis.returns import deadline_for, order_zone, return_eligibility, snapshot_eligibility
from services.orders.models import OrderItem, Return
from tests.orders.diagnosis.builders import ADDRESS, POLICY, Builder, h


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TestWindow:
    def test_day_7_open_day_8_closed_in_local_time(self) -> None:
        zone = order_zone(ADDRESS)
        delivered = at("2026-11-01T23:30:00+08:00")
        deadline = deadline_for(delivered, 7, zone)
        assert deadline == at("2026-11-09T00:00:00+08:00")
        # The same instant seen from UTC is already the 1st at 15:30; the window still runs on Shanghai days.
        assert deadline_for(delivered.astimezone(UTC), 7, zone) == deadline

    def test_us_address_uses_its_state_zone(self) -> None:
        zone = order_zone({"country": "US", "region": "CA", "city": "San Francisco"})
        assert str(zone) == "America/Los_Angeles"
        assert deadline_for(at("2026-11-01T10:00:00-07:00"), 7, zone) == at("2026-11-09T00:00:00-08:00")
        assert str(order_zone(None)) == "UTC"

    def test_counted_from_placement_when_never_delivered(self) -> None:
        b = Builder(status="paid")
        result = return_eligibility(items=b.items, placed_at=b.order.placed_at, delivered_at=None, returns=[],
                                    payments=[], shipping_address=ADDRESS, now=h(24 * 7 + 13.9), policy=POLICY)
        assert result[0].counted_from == "placement" and result[0].eligible
        assert result[0].refund_method == "no_payment"
        late = return_eligibility(items=b.items, placed_at=b.order.placed_at, delivered_at=None, returns=[],
                                  payments=[], shipping_address=ADDRESS, now=h(24 * 7 + 14), policy=POLICY)
        assert late[0].reasons == ["window_closed"]


class TestReasons:
    def test_categories_quantities_and_prior_returns(self) -> None:
        items = [OrderItem(order_id="o", sku="CARD", name="Gift card", category="gift_card", quantity=1,
                           unit_price=Decimal("100")),
                 OrderItem(order_id="o", sku="TEE", name="T-shirt", category="apparel", quantity=3,
                           unit_price=Decimal("50"))]
        returns = [Return(order_id="o", status="requested", reason="changed_mind", items=[{"sku": "TEE", "quantity": 2}]),
                   Return(order_id="o", status="rejected", reason="changed_mind", items=[{"sku": "TEE", "quantity": 1}])]
        result = {e.sku: e for e in return_eligibility(
            items=items, placed_at=h(0), delivered_at=h(24), returns=returns, payments=[], shipping_address=ADDRESS,
            now=h(48), policy=POLICY)}
        assert result["CARD"].eligible is False and "category_not_returnable" in result["CARD"].reasons
        assert result["TEE"].eligible is True and result["TEE"].returnable_quantity == 1
        assert result["TEE"].window_days == 30

    def test_damaged_and_wrong_item_outside_window(self) -> None:
        b = Builder(status="delivered")
        common = {"items": b.items, "placed_at": h(0), "delivered_at": h(24), "returns": [], "payments": [],
                  "shipping_address": ADDRESS, "now": h(24 * 40), "policy": POLICY}
        assert return_eligibility(**common)[0].eligible is False  # type: ignore[arg-type]
        damaged = return_eligibility(**common, reason="damaged")[0]  # type: ignore[arg-type]
        assert damaged.eligible and damaged.reasons == ["outside_window_allowed_for_damaged"]


class TestOncePerSnapshot:
    def test_computed_once_per_reason_and_never_carried_into_a_replaced_snapshot(self) -> None:
        b = Builder(status="delivered")
        b.shipment([("delivered", h(24))])
        snapshot = b.snapshot(h(48))
        first = snapshot_eligibility(snapshot)
        assert snapshot_eligibility(snapshot) is first  # the rule and the response share one computation
        damaged = snapshot_eligibility(snapshot, "damaged")
        assert damaged is not first and damaged == snapshot_eligibility(snapshot, "damaged")
        assert first[0].returnable_quantity == b.items[0].quantity
        # What create_return does: the same snapshot with the returns re-read under the order's lock.
        returned = [Return(order_id="ord_1", status="requested", reason="changed_mind",
                           items=[{"sku": b.items[0].sku, "quantity": b.items[0].quantity}])]
        again = snapshot_eligibility(dataclasses.replace(snapshot, returns=returned))
        assert again[0].returnable_quantity == 0 and "already_returned" in again[0].reasons
        assert snapshot_eligibility(snapshot)[0].returnable_quantity == b.items[0].quantity
