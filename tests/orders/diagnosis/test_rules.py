"""Each finding code, positive and negative; the headline choice; both languages."""

from __future__ import annotations

import pytest

from services.orders.diagnosis import catalog
from services.orders.diagnosis.engine import diagnose, run_rules
from services.orders.diagnosis.rules import RULES
from services.orders.schemas import FindingCode
from tests.orders.diagnosis.builders import ADDRESS, Builder, h


def codes(b: Builder, hours: float) -> list[str]:
    return [f.code for f in run_rules(b.snapshot(h(hours)))]


def finding(b: Builder, hours: float, code: str):  # type: ignore[no-untyped-def]
    return next(f for f in run_rules(b.snapshot(h(hours))) if f.code == code)


class TestPayments:
    def test_payment_failed(self) -> None:
        b = Builder()
        b.payment("failed", failure_code="card_declined", at=h(1))
        f = finding(b, 2, "payment_failed")
        assert f.severity == "critical" and f.contact_channel == "chat"
        assert f.evidence["failure_code"] == "card_declined"
        assert f.evidence["failed_at"] == "2026-11-01T03:00:00Z"

    def test_no_payment_failed_once_a_payment_succeeds_or_retry_pending(self) -> None:
        b = Builder(status="paid")
        b.payment("failed", at=h(1))
        b.payment("succeeded", at=h(2))
        assert "payment_failed" not in codes(b, 3)
        retry = Builder()
        retry.payment("failed", at=h(1))
        retry.payment("pending", at=h(2))
        assert "payment_failed" not in codes(retry, 3)

    def test_payment_pending_too_long(self) -> None:
        b = Builder()
        b.payment("pending", at=h(0))
        assert "payment_pending_too_long" not in codes(b, 23)
        f = finding(b, 25, "payment_pending_too_long")
        assert f.evidence["hours"] == 25.0 and f.severity == "warning"

    @pytest.mark.parametrize(("verdict", "severity", "key"), [
        ("underpaid", "critical", "crypto_payment_unverified.underpaid"),
        ("wrong_recipient", "critical", "crypto_payment_unverified.mismatch"),
        ("failed", "critical", "crypto_payment_unverified.not_paid"),
        ("pending", "warning", "crypto_payment_unverified.waiting")])
    def test_crypto_payment_unverified(self, verdict: str, severity: str, key: str) -> None:
        b = Builder()
        b.payment("pending", method="crypto", chain="tron", tx_hash="ab" * 32, token="USDT",
                  payment_check={"verdict": verdict, "difference": "-1.00", "explanation": "why"})
        f = finding(b, 1, "crypto_payment_unverified")
        assert (f.severity, f.key) == (severity, key)
        assert f.evidence["payment_check"]["verdict"] == verdict

    def test_crypto_paid_is_not_a_finding(self) -> None:
        b = Builder(status="paid")
        b.payment("succeeded", method="crypto", chain="tron", tx_hash="ab" * 32, token="USDT",
                  payment_check={"verdict": "paid"})
        assert "crypto_payment_unverified" not in codes(b, 1)


class TestStatusMismatch:
    def test_paid_order_with_only_failed_payments(self) -> None:
        b = Builder(status="paid")
        b.payment("failed", failure_code="insufficient_funds")
        f = finding(b, 1, "status_mismatch")
        assert f.key == "status_mismatch.paid_without_payment" and f.severity == "critical"
        assert "status_mismatch" not in codes(Builder(status="paid"), 1)  # no payments at all: nothing contradicts

    def test_pending_payment_order_with_succeeded_payment(self) -> None:
        b = Builder(status="pending_payment")
        b.payment("succeeded")
        assert finding(b, 1, "status_mismatch").key == "status_mismatch.unpaid_with_payment"

    def test_shipped_without_scan_after_carrier_gap(self) -> None:
        b = Builder(status="shipped")
        b.payment("succeeded")
        b.shipment([], created=h(0))
        assert "status_mismatch" not in codes(b, 47)
        assert finding(b, 49, "status_mismatch").key == "status_mismatch.shipped_without_scan"

    def test_delivered_but_order_still_shipped(self) -> None:
        b = Builder(status="shipped")
        b.payment("succeeded")
        b.shipment([("in_transit", h(10)), ("delivered", h(30))], location={"lat": 31.2304, "lon": 121.5060})
        f = finding(b, 31, "status_mismatch")
        assert f.key == "status_mismatch.delivered_not_updated"
        b.order.status = "delivered"
        assert "status_mismatch" not in codes(b, 31)

    def test_exception_after_delivery(self) -> None:
        b = Builder(status="delivered")
        b.payment("succeeded")
        b.shipment([("delivered", h(30)), ("exception", h(40))], location={"lat": 31.2304, "lon": 121.5060})
        f = finding(b, 41, "status_mismatch")
        assert f.key == "status_mismatch.event_after_delivery" and f.severity == "critical"
        assert f.evidence["event_status"] == "exception"


class TestParcel:
    def test_not_shipped_yet(self) -> None:
        b = Builder(status="paid")
        b.payment("succeeded", at=h(0))
        assert finding(b, 10, "not_shipped_yet").severity == "info"
        assert finding(b, 80, "not_shipped_yet").severity == "warning"
        b.shipment([])
        assert "not_shipped_yet" not in codes(b, 80)

    def test_no_tracking_updates_uses_carrier_gap(self) -> None:
        b = Builder(status="shipped")
        b.shipment([("in_transit", h(0))], carrier="sf-express")
        assert "no_tracking_updates" not in codes(b, 47)
        f = finding(b, 49, "no_tracking_updates")
        assert f.evidence["gap_hours"] == 48 and f.evidence["hours"] == 49.0
        other = Builder(status="shipped")
        other.shipment([("in_transit", h(0))], carrier="yunda")
        assert "no_tracking_updates" not in codes(other, 49)  # default gap 72 h

    @pytest.mark.parametrize(("status", "code", "severity"), [
        ("exception", "delivery_exception", "critical"), ("failed_attempt", "failed_delivery_attempt", "warning"),
        ("available_for_pickup", "awaiting_pickup", "warning"), ("returned_to_sender", "returned_to_sender", "critical")])
    def test_parcel_states(self, status: str, code: str, severity: str) -> None:
        b = Builder(status="shipped")
        b.shipment([("in_transit", h(0)), (status, h(5))])
        f = finding(b, 6, code)
        assert f.severity == severity and f.evidence["event_status"] == status
        ok = Builder(status="shipped")
        ok.shipment([(status, h(0)), ("in_transit", h(5))])
        assert code not in codes(ok, 6)

    def test_delivered_to_different_address(self) -> None:
        b = Builder(status="delivered")
        b.shipment([("delivered", h(30))], location={"lat": 31.2304, "lon": 121.4500})
        f = finding(b, 31, "delivered_to_different_address")
        assert f.severity == "critical" and f.key.endswith(".coordinates")
        assert 5.2 < f.evidence["distance_km"] < 5.5
        near = Builder(status="delivered")
        near.shipment([("delivered", h(30))], location={"lat": 31.2390, "lon": 121.5060})
        assert finding(near, 31, "delivered_to_different_address").severity == "warning"
        same = Builder(status="delivered")
        same.shipment([("delivered", h(30))], location={"lat": 31.2305, "lon": 121.5061})
        assert "delivered_to_different_address" not in codes(same, 31)

    def test_delivered_to_different_address_by_text(self) -> None:
        b = Builder(status="delivered", address={k: v for k, v in ADDRESS.items() if k not in ("lat", "lon")})
        b.shipment([("delivered", h(30))], location={"address": "12 Nanjing Rd", "city": "Shanghai",
                                                     "postal_code": "200001", "country": "CN"})
        f = finding(b, 31, "delivered_to_different_address")
        assert f.key.endswith(".text") and "postal_code" in f.evidence["differs"]


class TestCustomerReports:
    def test_delivered_but_reported_missing(self) -> None:
        b = Builder(status="delivered")
        b.shipment([("delivered", h(30))], location={"lat": 31.2304, "lon": 121.5060})
        b.ticket("not_received", at=h(40))
        f = finding(b, 41, "delivered_but_reported_missing")
        assert f.severity == "critical" and f.contact_channel == "phone"
        closed = Builder(status="delivered")
        closed.shipment([("delivered", h(30))])
        closed.ticket("not_received", status="closed")
        assert "delivered_but_reported_missing" not in codes(closed, 41)
        in_transit = Builder(status="shipped")
        in_transit.shipment([("in_transit", h(30))])
        in_transit.ticket("not_received")
        assert "delivered_but_reported_missing" not in codes(in_transit, 31)

    def test_wrong_item_reported(self) -> None:
        b = Builder(status="delivered")
        b.ticket("wrong_item")
        f = finding(b, 1, "wrong_item_reported")
        assert f.contact_channel == "email"
        assert "wrong_item_reported" not in codes(Builder(status="delivered"), 1)


class TestReturnWindow:
    def test_open_then_closed_at_local_midnight(self) -> None:
        b = Builder(status="delivered")
        # delivered 2026-11-01 23:30 in Shanghai (15:30 UTC): electronics window ends 2026-11-09 00:00 Shanghai
        b.shipment([("delivered", h(13.5))], location={"lat": 31.2304, "lon": 121.5060})
        last_minute = finding(b, 13.5 + 7 * 24 + 0.49, "return_window_open")
        assert last_minute.evidence["deadline"] == "2026-11-08T16:00:00Z"
        closed = run_rules(b.snapshot(h(13.5 + 7 * 24 + 0.5)))
        assert "return_window_closed" in [f.code for f in closed]

    def test_the_finding_agrees_with_the_eligibility_it_is_shown_with(self) -> None:
        from services.orders.diagnosis.returns import snapshot_eligibility

        b = Builder(status="pending_payment")  # delivered, but never paid: nothing can go back yet
        b.shipment([("delivered", h(13.5))], location={"lat": 31.2304, "lon": 121.5060})
        snapshot = b.snapshot(h(20))
        assert all("order_not_paid" in e.reasons and not e.eligible for e in snapshot_eligibility(snapshot))
        assert not {"return_window_open", "return_window_closed"} & {f.code for f in run_rules(snapshot)}

    def test_no_window_finding_before_delivery(self) -> None:
        b = Builder(status="shipped")
        b.shipment([("in_transit", h(1))])
        assert not {"return_window_open", "return_window_closed"} & set(codes(b, 2))


class TestEngine:
    def test_every_rule_is_registered_and_every_key_has_texts(self) -> None:
        assert len(RULES) == 11
        contract_codes = set(FindingCode.__args__)  # type: ignore[attr-defined]
        keyed = {key.split(".")[0] for key, entry in catalog.EN.items() if "steps" in entry}
        assert keyed == contract_codes
        for lang in catalog.LANGUAGES:
            for key, entry in catalog.CATALOG[lang].items():
                if "title" in entry and key != "ok":
                    assert entry.get("steps"), (lang, key)

    def test_headline_from_most_severe_finding_and_state(self) -> None:
        b = Builder(status="delivered")
        b.shipment([("delivered", h(30))], location={"lat": 31.2304, "lon": 121.4500})
        b.ticket("wrong_item")
        result = diagnose(b.snapshot(h(31)), "en")
        assert result.state == "needs_action"
        assert [f.severity for f in result.findings][:2] == ["critical", "warning"]
        assert result.headline == result.findings[0].title
        assert result.headline.startswith("Parcel marked delivered 5.3")

    def test_watch_and_ok_states(self) -> None:
        b = Builder(status="shipped")
        b.shipment([("in_transit", h(0))])
        assert diagnose(b.snapshot(h(60)), "en").state == "watch"
        fine = Builder(status="shipped")
        fine.shipment([("in_transit", h(0))])
        result = diagnose(fine.snapshot(h(1)), "en")
        assert (result.state, result.headline, result.findings) == ("ok", "No problems found with this order", [])

    def test_both_languages(self) -> None:
        b = Builder()
        b.payment("failed", failure_code="insufficient_funds")
        en = diagnose(b.snapshot(h(1)), "en").findings[0]
        zh = diagnose(b.snapshot(h(1)), "zh-CN").findings[0]
        assert en.title == "Payment failed: insufficient funds"
        assert zh.title == "支付失败：余额不足"
        assert en.evidence == zh.evidence and en.code == zh.code
        assert len(en.next_steps) == len(zh.next_steps) == 3
        assert "另一" in "".join(zh.next_steps) or "其他" in "".join(zh.next_steps)

    @pytest.mark.parametrize(("header", "lang"), [
        (None, "en"), ("zh-CN", "zh-CN"), ("zh", "zh-CN"), ("zh-Hans-CN,zh;q=0.9", "zh-CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"), ("fr-FR,zh-CN;q=0.5", "zh-CN"), ("de", "en")])
    def test_language_choice(self, header: str | None, lang: str) -> None:
        assert catalog.pick_language(header) == lang
